"""How figures are written for people: money, percentages, ratios, safe text and CSV exports.

No Streamlit here; the pages, the CLI and the tests share these functions so a figure reads the
same everywhere. Missing values are written as an em dash.
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import date, datetime
from typing import Any, Iterable

import numpy as np
import polars as pl

from kam_metrics.csv_export import csv_safe_cell  # one escaping rule for the app and the CLI

MISSING = "—"

# The only symbols written; every other currency is written with its ISO code ("MXN 1.2 M"), because "$" or
# "¥" alone would not say which dollar or yen it is.
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

# METRICS.md keys that hold money (in the reporting currency).
MONEY_KEYS = frozenset({
    "revenue_ttm", "revenue_prior_ttm", "wallet_current", "wallet_headroom", "gross_margin_ttm",
    "cost_to_serve_ttm", "net_contribution_ttm", "value_to_date", "lifetime_value", "cost_ttm",
    "wallet_amount", "revenue", "amount", "key_revenue_ttm", "open_pipeline", "key_open_pipeline",
})
# Keys that are ratios (0.25 means 25 %) and are shown as percentages.
RATIO_KEYS = frozenset({"share_of_wallet", "progress", "expected", "action_completion", "win_rate_365d",
                        "pipeline_to_headroom"})
# Keys that are counts.
COUNT_KEYS = frozenset({
    "key_account_count", "touches_90d", "engaged_contacts_90d", "green_count", "amber_count", "red_count",
    "days_since_last_touch", "accounts", "touches", "insufficient_data_count",
})

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:=])")
# C0 and C1 control characters (tab, newline and carriage return kept) and the bidi embeddings, overrides
# and isolates (U+202A–U+202E, U+2066–U+2069), which reorder the text after them ("Trojan Source" spoofing:
# "\u202egnp.exe" reads as "exe.png"). Right-to-left text itself needs none of them and is kept.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def currency_symbol(currency: str | None) -> str:
    """The symbol written before an amount: € for EUR, $ for USD, £ for GBP, else the ISO code and a space."""
    code = (currency or "").upper()
    return CURRENCY_SYMBOLS.get(code, f"{code} " if code else "")


def format_money(value: float | None, currency: str = "EUR", *, compact: bool = True, signed: bool = False) -> str:
    """An amount with its currency symbol; compact writes €1.2 M, €350 k, €950."""
    if _is_missing(value):
        return MISSING
    value = float(value)
    amount = abs(value)
    symbol = currency_symbol(currency)
    if not compact:
        text, suffix = f"{amount:,.0f}", ""
    else:
        text, suffix = f"{amount:.0f}", ""
        for threshold, unit in _MONEY_UNITS:
            if amount >= threshold * 0.9995:
                scaled = amount / threshold
                text, suffix = (f"{scaled:.1f}" if scaled < 100 else f"{scaled:.0f}"), unit
                break
    return f"{_sign(value, text, signed)}{symbol}{text}{suffix}"


_MONEY_UNITS = ((1e9, " bn"), (1e6, " M"), (1e3, " k"))


def _sign(value: float, text: str, signed: bool) -> str:
    """The sign written before a rounded figure: none when it rounds to zero (no "-0.0%", no "+€0")."""
    if not any(ch in "123456789" for ch in text):
        return ""
    return "-" if value < 0 else ("+" if signed and value > 0 else "")


def _fixed(value: float, decimals: int, signed: bool = False, thousands: bool = False) -> str:
    """A number with `decimals` decimals, its sign first (+ when signed), never a negative zero."""
    value = float(value)
    text = f"{abs(value):,.{decimals}f}" if thousands else f"{abs(value):.{decimals}f}"
    return _sign(value, text, signed) + text


def format_money_tick(value: float, currency: str = "EUR", step: float | None = None) -> str:
    """An axis tick of money in k / M / bn ('€500 k', '-€1.5 M', 'MXN 2 bn'), with as many decimals as the
    step between ticks needs; never Plotly's SI prefixes (m for milli, G for giga)."""
    value = float(value)
    amount = abs(value)
    threshold, unit = next(((t, u) for t, u in _MONEY_UNITS if amount >= t * 0.9995), (1.0, ""))
    decimals = 0
    if step:
        scaled_step = abs(step) / threshold
        while decimals < 3 and abs(round(scaled_step, decimals) - scaled_step) > 1e-9 * max(1.0, scaled_step):
            decimals += 1
    text = f"{amount / threshold:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if not any(ch in "123456789" for ch in text):
        text, unit = "0", ""
    return f"{_sign(value, text, False)}{currency_symbol(currency)}{text}{unit}"


def nice_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], float]:
    """About `count` round tick values (steps of 1, 2 or 5 × 10^n) covering low..high, and the step."""
    low, high = float(min(low, high)), float(max(low, high))
    if high - low <= 0:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * 0.999)
    first = math.floor(low / step + 1e-9) * step
    ticks, tick = [], first
    while tick <= high + step * 1e-9:
        ticks.append(round(tick, 10) + 0.0)
        tick += step
    if ticks and ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks, step


def money_ticks(low: float, high: float, currency: str = "EUR", count: int = 5) -> tuple[list[float], list[str]]:
    """Tick values and their labels for a money axis from low to high: round steps, labels in k / M / bn."""
    values, step = nice_ticks(low, high, count)
    return values, [format_money_tick(v, currency, step) for v in values]


def format_pct(value: float | None, *, signed: bool = False, decimals: int = 1) -> str:
    """A percentage given in percent (25.0 → '25.0%')."""
    if _is_missing(value):
        return MISSING
    return f"{_fixed(value, decimals, signed)}%"


def _many(values: Iterable[float | None]) -> "np.ndarray":
    """Values as a float array, None (and NaN, inf) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _signed_texts(arr: "np.ndarray", texts: "np.ndarray") -> "np.ndarray":
    """The texts of rounded |values| with the sign first: none where the text is all zeros (_sign's rule)."""
    is_zero = np.char.strip(texts, "0.,") == ""
    return np.char.add(np.where((arr < 0) & ~is_zero, "-", ""), texts)


def _missing_where_not_finite(arr: "np.ndarray", texts: "np.ndarray") -> list[str]:
    out = texts.astype(object)
    out[~np.isfinite(arr)] = MISSING
    return out.tolist()


def format_pct_many(values: Iterable[float | None], *, decimals: int = 1) -> list[str]:
    """format_pct over many values at once (chart hovers of thousands of points): the same texts."""
    arr = _many(values)
    texts = _signed_texts(arr, np.char.mod(f"%.{decimals}f", np.abs(np.nan_to_num(arr))))
    return _missing_where_not_finite(arr, np.char.add(texts, "%"))


def format_money_many(values: Iterable[float | None], currency: str = "EUR") -> list[str]:
    """format_money (compact) over many values at once (chart hovers of thousands of points): the same texts."""
    arr = _many(values)
    amount = np.abs(np.nan_to_num(arr))
    scaled, suffix = amount.copy(), np.full(arr.shape, "", dtype=object)
    unscaled = np.ones(arr.shape, dtype=bool)
    for threshold, unit in _MONEY_UNITS:
        hit = unscaled & (amount >= threshold * 0.9995)
        scaled[hit], suffix[hit] = amount[hit] / threshold, unit
        unscaled &= ~hit
    one_decimal = ~unscaled & (scaled < 100)
    texts = np.where(one_decimal, np.char.mod("%.1f", scaled), np.char.mod("%.0f", scaled))
    texts = _signed_texts(arr, texts.astype(str))
    symbol = currency_symbol(currency)
    signs = np.where(np.char.startswith(texts, "-"), "-", "")
    digits = np.char.lstrip(texts, "-")
    full = np.char.add(np.char.add(np.char.add(signs, symbol), digits), suffix.astype(str))
    return _missing_where_not_finite(arr, full)


def format_ratio(value: float | None, *, signed: bool = False, decimals: int = 1) -> str:
    """A ratio shown as a percentage (0.25 → '25.0%')."""
    if _is_missing(value):
        return MISSING
    return format_pct(float(value) * 100.0, signed=signed, decimals=decimals)


def format_points(value: float | None, *, decimals: int = 1) -> str:
    """A change of a percentage, in percentage points ('+1.5 pp')."""
    if _is_missing(value):
        return MISSING
    return f"{_fixed(value, decimals, True)} pp"


def format_number(value: float | None, *, decimals: int = 1, signed: bool = False) -> str:
    """A plain number with thousands separators ('1,234.5')."""
    if _is_missing(value):
        return MISSING
    return _fixed(value, decimals, signed, thousands=True)


def format_count(value: float | None, *, signed: bool = False) -> str:
    """A whole count ('12')."""
    if _is_missing(value):
        return MISSING
    return _fixed(round(float(value)), 0, signed, thousands=True)


def format_date(value: date | datetime | None) -> str:
    """A date as YYYY-MM-DD (datetimes to the minute, UTC as stored)."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


_UNIT_KINDS = {"money": "money", "pct": "pct", "ratio": "ratio", "count": "count", "days": "count"}


def _reference_units() -> dict[str, str]:
    global _UNITS
    if _UNITS is None:
        try:
            from kam_metrics.metrics.reference import metric_definitions

            _UNITS = {k: getattr(v, "unit", "") for k, v in metric_definitions().items()}
        except Exception:  # the reference is optional for formatting; fall back to the key's shape
            _UNITS = {}
    return _UNITS


_UNITS: dict[str, str] | None = None


def metric_kind(key: str) -> str:
    """How a METRICS.md key is written: 'money', 'pct', 'ratio', 'count' or 'number' (unit from kam_metrics.metrics.reference)."""
    unit = _reference_units().get(key)
    if unit in _UNIT_KINDS:
        return _UNIT_KINDS[unit]
    if unit:
        return "number"
    if key in MONEY_KEYS:
        return "money"
    if key in RATIO_KEYS:
        return "ratio"
    if key in COUNT_KEYS or key.endswith("_count"):
        return "count"
    if key.endswith("_pct"):
        return "pct"
    return "number"


def format_metric(key: str, value: Any, currency: str = "EUR") -> str:
    """A metric's value written the way its key asks (money, percentage, ratio, count, number)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    kind = metric_kind(key)
    if kind == "money":
        return format_money(value, currency)
    if kind == "ratio":
        return format_ratio(value)
    if kind == "pct":
        return format_pct(value)
    if kind == "count":
        return format_count(value)
    return format_number(value)


def format_metric_delta(key: str, change: Any, currency: str = "EUR") -> str | None:
    """A metric's change written for st.metric's delta (sign first); None when there is no change to show."""
    if _is_missing(change) or isinstance(change, bool):
        return None
    kind = metric_kind(key)
    if kind == "money":
        return format_money(change, currency, signed=True)
    if kind == "ratio":
        return format_points(float(change) * 100.0)
    if kind == "pct":
        return format_points(change)
    if kind == "count":
        return format_count(change, signed=True)
    return format_number(change, signed=True)


def safe_text(value: Any, *, max_length: int = 500) -> str:
    """CRM text made safe to show: control and bidi-override characters removed, length capped, never None."""
    if value is None:
        return ""
    text = _CONTROL.sub("", str(value))
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def safe_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with control and bidi-override characters removed from its text columns (for a table on screen)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text or frame.is_empty():
        return frame
    return frame.with_columns(pl.col(text).str.replace_all(_CONTROL.pattern, ""))


# Where Streamlit's Markdown would turn plain text into a link (GFM autolinks: http://, https://, www., e-mail
# addresses, which it finds after escapes are resolved): a word joiner (U+2060, invisible) goes there.
_AUTOLINK = re.compile(r"(?i)(?:(?<=http:)|(?<=https:))(?=//)|(?<=www)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def escape_markdown(value: Any) -> str:
    """CRM text escaped so st.markdown shows it literally (no links, autolinks, HTML, emphasis, LaTeX or emoji codes)."""
    text = safe_text(value).replace("\n", " ")
    text = _AUTOLINK.sub(WORD_JOINER, text)
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text.replace("&", "&amp;")


def code_span(value: Any, max_length: int = 200) -> str:
    """Text as a Markdown code span: shown literally and copyable as it is (no autolink, so an e-mail address needs
    no word joiner that would travel with a copy), fenced by more backticks than any run inside it."""
    text = safe_text(value, max_length=max_length).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(_cell_text(v) for v in value)
    return str(value)


def frame_to_csv(frame: pl.DataFrame | Any) -> bytes:
    """A table as UTF-8 CSV bytes (with BOM, for spreadsheets), every text cell escaped against formula injection."""
    if not isinstance(frame, pl.DataFrame):
        frame = pl.from_pandas(frame) if hasattr(frame, "to_dict") else pl.DataFrame(frame)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_safe_cell(str(name)) for name in frame.columns])
    for row in frame.iter_rows():
        writer.writerow([_escape_text(_cell_text(v), v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _escape_text(text: str, original: Any) -> str:
    # Numbers are written as numbers; everything else is text and escaped.
    if isinstance(original, (int, float)) and not isinstance(original, bool):
        return text
    return csv_safe_cell(text)


def join_names(values: Iterable[Any], limit: int = 5) -> str:
    """A short comma-separated list of names ('A, B, C and 4 more')."""
    names = [safe_text(v, max_length=80) for v in values if v is not None]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
