"""The generic widgets every page draws: KPI tiles, charts, tables with a CSV download, help texts, pickers.

A widget knows the METRICS.md keys (labels, formats, definitions) but nothing of a particular page.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterable, Sequence

import polars as pl
import streamlit as st

from kam_metrics.app import formatting
from kam_metrics.app.formatting import (
    currency_symbol, escape_markdown, format_metric, format_metric_delta, frame_to_csv, metric_kind,
)
from kam_metrics.app.frame import View, open_account
from kam_metrics.metrics import queries


# ---------------------------------------------------------------- metric definitions (help tooltips)


@st.cache_resource(show_spinner=False)
def _definitions() -> dict[str, str]:
    try:
        reference = importlib.import_module("kam_metrics.metrics.reference")
        return {key: getattr(d, "definition", str(d)) for key, d in reference.metric_definitions().items()}
    except (ImportError, AttributeError, OSError, ValueError):
        return {}


def metric_help(key: str, extra: str | None = None) -> str | None:
    """The METRICS.md definition of a key, for a help tooltip (None when unknown)."""
    definition = _definitions().get(key)
    text = f"**{key}**: {definition}" if definition else None
    if extra:
        text = f"{text}\n\n{extra}" if text else extra
    return text


# ---------------------------------------------------------------- page notes


def needs(view: View, table: str, what: str | None = None) -> bool:
    """Whether the export has `table`; when not, say which file turns the view on and return False."""
    if view.has(table):
        return True
    what = what or queries.VIEW_NEEDS.get(table, "this view")
    st.info(f"Add {table}.csv to your export to see {what}.", icon=":material/add_notes:")
    return False


def empty(message: str) -> None:
    """An info note in place of a chart or table that has nothing to show."""
    st.info(message, icon=":material/info:")


# ---------------------------------------------------------------- charts and KPI tiles


# programme_kpis report each key's change against 7 days earlier.
WEEK = timedelta(days=7)
DELTA_NOTE = "vs 7 days earlier"


def chart(figure, *, key: str | None = None, select_account: bool = False) -> None:
    """Draw a Plotly figure; with select_account, clicking a point whose customdata is an account opens it."""
    if not select_account:
        st.plotly_chart(figure, key=key, config={"displaylogo": False})
        return
    event = st.plotly_chart(figure, key=key, on_select="rerun", selection_mode=("points",),
                            config={"displaylogo": False})
    points = (getattr(event, "selection", None) or {}).get("points", []) if event else []
    for point in points:
        account_id = point.get("customdata")
        if isinstance(account_id, list):
            account_id = account_id[0] if account_id else None
        if account_id:
            open_account(str(account_id))


@dataclass(frozen=True)
class Kpi:
    """One KPI tile: a METRICS.md key, its label, value, change and help."""

    key: str
    label: str
    value: str
    delta: str | int | None = None
    help: str | None = None
    delta_color: str = "normal"
    delta_description: str | None = None


def kpi_tiles(kpis: Sequence[Kpi], columns: int = 4) -> None:
    """Draw KPI tiles in rows of `columns`."""
    for start in range(0, len(kpis), columns):
        cols = st.columns(columns)
        for col, kpi in zip(cols, kpis[start:start + columns]):
            with col:
                st.metric(kpi.label, kpi.value, delta=kpi.delta, help=kpi.help, delta_color=kpi.delta_color,
                          border=True, delta_description=kpi.delta_description)


def kpi(key: str, label: str, value: Any, currency: str, *, change: Any = None, extra_help: str | None = None,
        delta_color: str = "normal", description: str | None = None, absent: str | None = None) -> Kpi:
    """A KPI tile for a METRICS.md key, its value written the way the key asks and its change as the delta.

    absent: what the export lacks for this figure ("needs reviews.csv"): the tile then shows "—" and says so
    underneath, whatever value it was given (absent is not zero: METRICS.md "Data that is not there").
    """
    if absent:
        return Kpi(key=key, label=label, value=formatting.MISSING, delta=None,
                   help=metric_help(key, f"Not in this export: {absent.removeprefix('needs ')}."),
                   delta_color="off", delta_description=absent)
    delta: Any = format_metric_delta(key, change, currency) if change is not None else None
    if isinstance(delta, str) and not any(ch in "123456789" for ch in delta):
        delta = 0  # no change at the precision shown: grey, no arrow
    return Kpi(key=key, label=label, value=format_metric(key, value, currency), delta=delta,
               help=metric_help(key, extra_help), delta_color=delta_color, delta_description=description)


# ---------------------------------------------------------------- tables


_LABELS = {
    "account_name": "Account", "account_id": "ID", "is_key_account": "Key", "kam_owner": "KAM owner",
    "ttm": "TTM", "pct": "%", "90d": "90 d", "365d": "365 d", "nps": "NPS", "csat": "CSAT", "hhi": "HHI",
    "id": "ID", "c": "C",
}


@st.cache_resource(show_spinner=False)
def _reference_labels() -> dict[str, str]:
    try:
        reference = importlib.import_module("kam_metrics.metrics.reference")
        return {key: d.label for key, d in reference.metric_definitions().items() if getattr(d, "label", None)}
    except (ImportError, AttributeError, OSError, ValueError):
        return {}


def column_label(name: str) -> str:
    """A readable column header for a key: its kam_metrics.metrics.reference label, else the words ('revenue_ttm' → 'Revenue TTM')."""
    if name in _LABELS:
        return _LABELS[name]
    if name in _reference_labels():
        return _reference_labels()[name]
    words = [(_LABELS.get(w, w)) for w in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


_PLAIN_INTEGERS = frozenset({"year", "wallet_year", "source_row", "rating", "attitude", "rank", "position"})


def _column_config(frame: pl.DataFrame, currency: str, labels: dict[str, str] | None) -> dict:
    config: dict[str, Any] = {}
    sym = currency_symbol(currency)
    for name, dtype in frame.schema.items():
        label = (labels or {}).get(name) or column_label(name)
        kind = metric_kind(name)
        if name == "band" and isinstance(dtype, pl.List):
            config[name] = st.column_config.MultiselectColumn(
                label, options=list(BAND_TAG_COLORS), color=list(BAND_TAG_COLORS.values()),
                format_func=lambda band: str(band).replace("_", " "),
                help="Health band; grey = insufficient data: too few of the health inputs in the export for a score.")
        elif dtype == pl.Boolean:
            config[name] = st.column_config.CheckboxColumn(label)
        elif dtype.is_numeric():
            if kind == "money":
                config[name] = st.column_config.NumberColumn(f"{label} ({sym.strip()})", format="%,.0f")
            elif name.endswith("_pct"):
                config[name] = st.column_config.NumberColumn(label, format="%.1f%%")
            elif name in _PLAIN_INTEGERS:
                config[name] = st.column_config.NumberColumn(label, format="%d")
            elif kind == "count" or dtype.is_integer():
                config[name] = st.column_config.NumberColumn(label, format="%,d")
            else:
                config[name] = st.column_config.NumberColumn(label, format="%,.1f")
        elif dtype == pl.Date:
            config[name] = st.column_config.DateColumn(label, format="YYYY-MM-DD")
        elif isinstance(dtype, pl.Datetime):
            config[name] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")
        else:
            config[name] = st.column_config.TextColumn(label)
    return config


# Health bands as coloured tags in tables (charts.BAND_COLORS): insufficient data is grey, never red.
BAND_TAG_COLORS = {"green": "#16a34a", "amber": "#f59e0b", "red": "#dc2626", "insufficient_data": "#94a3b8"}


def band_tags(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its band column as a one-tag list (drawn as a coloured tag on screen; null stays empty)."""
    if "band" not in frame.columns or frame.schema["band"] != pl.String:
        return frame
    return frame.with_columns(pl.concat_list(pl.col("band")).list.drop_nulls().alias("band"))


def rounded_for_screen(frame: pl.DataFrame) -> pl.DataFrame:
    """Float columns rounded to the decimals the table shows (money 0, others 1), with no negative zero
    (-0.04 % is shown as 0.0 %, not -0.0 %). Only the screen's copy: the CSV keeps every digit."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype.is_float():
            decimals = 0 if metric_kind(name) == "money" else 1
            rounded = pl.col(name).round(decimals)
            exprs.append(pl.when(rounded == 0).then(pl.lit(0.0, dtype=dtype)).otherwise(rounded).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def display_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame ready to show and export: ratio keys become `<key>_pct` (× 100), list and struct columns text."""
    exprs = []
    for name, dtype in frame.schema.items():
        if name in formatting.RATIO_KEYS and dtype.is_numeric():
            exprs.append((pl.col(name) * 100).alias(f"{name}_pct"))
        elif isinstance(dtype, pl.List):
            exprs.append(pl.col(name).list.eval(pl.element().cast(pl.String)).list.join(", ").alias(name))
        elif isinstance(dtype, pl.Struct):
            exprs.append(pl.col(name).struct.json_encode().alias(name))
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


def table(frame: pl.DataFrame, *, key: str, currency: str = "EUR", file_name: str | None = None,
          labels: dict[str, str] | None = None, link_accounts: bool = True, height: int | str = "auto",
          hide: Iterable[str] = (), max_rows: int | None = None) -> None:
    """A table with a CSV download (all rows); with link_accounts, selecting a row opens that account's page."""
    exported = display_frame(frame)
    # On screen, CRM text loses control and bidi-override characters; the CSV keeps the data as loaded.
    shown = band_tags(rounded_for_screen(formatting.safe_text_columns(
        exported.head(max_rows) if max_rows is not None else exported)))
    config = _column_config(shown, currency, labels)
    for name in hide:
        if name in config:
            config[name] = None
    selectable = link_accounts and "account_id" in shown.columns and shown.height > 0
    event = st.dataframe(
        shown, key=key, hide_index=True, column_config=config, height=height, placeholder="—",
        on_select="rerun" if selectable else "ignore", selection_mode="single-row",
    )
    left, right = st.columns([3, 1])
    with left:
        if selectable:
            st.caption("Select a row to open the account.")
    with right:
        # The CSV is written when the button is clicked, not on every render (tens of thousands of rows take
        # a good part of a second to escape and write).
        st.download_button(
            "Download CSV", data=lambda: frame_to_csv(exported), file_name=f"{file_name or key}.csv",
            mime="text/csv", key=f"{key}_csv", icon=":material/download:", on_click="ignore",
        )
    if selectable and event is not None:
        rows = event.selection.rows if hasattr(event, "selection") else []
        if rows:
            open_account(str(shown["account_id"][rows[0]]))


# ---------------------------------------------------------------- account pickers and text


def account_choices(accounts: pl.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Account ids for a picker and their display text ('Name (ID) ★' for key accounts)."""
    if accounts.is_empty():
        return [], {}
    ids = accounts["account_id"].to_list()
    names = accounts["account_name"].to_list()
    keys = accounts["is_key_account"].to_list() if "is_key_account" in accounts.columns else [False] * len(ids)
    return ids, {i: f"{formatting.safe_text(n, max_length=80)} ({i})" + (" ★" if k else "")
                 for i, n, k in zip(ids, names, keys)}


def md(value: Any) -> str:
    """CRM text escaped for st.markdown / st.caption / st.subheader."""
    return escape_markdown(value)


def account_picker(label: str, accounts: pl.DataFrame, *, key: str, default: str | None = None) -> str | None:
    """A select box of accounts (by name); returns the chosen account_id."""
    options, names = account_choices(accounts)
    if not options:
        return None
    index = options.index(default) if default in options else 0
    return st.selectbox(label, options, index=index, format_func=lambda i: names.get(i, i), key=key)


