"""Cell text → Python values, for the CRM importers (which read their exports row by row).

One parser per kind of value, shared by the Salesforce and HubSpot importers:
- yes/no: the contract's words (`parse.TRUE_WORDS` / `parse.FALSE_WORDS`: true/false, 1/0, yes/no, y/n,
  t/f), trimmed, any case; an importer may pass its CRM's own word table (HubSpot adds Swedish ja/nej);
- numbers: Python's float() of the trimmed text, optionally with thousands separators removed
  (`1,234.50`, as Salesforce reports and Excel write them); `finite_float` refuses NaN and infinities;
- datetimes: an aware datetime's UTC date, a naive one taken in a given zone (`utc_date`), and fixed
  UTC offsets (`fixed_offset`).
Each CRM keeps only the recognisers of its own date text forms (Salesforce's US `MM/DD/YY` of Excel,
HubSpot's portal time zone) in its package.

The canonical text forms of whole columns are parsed later, vectorised, by kam_metrics/load/parse.py.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from kam_metrics.load.parse import FALSE_WORDS, TRUE_WORDS

#: yes/no words of the data contract → their value.
BOOL_WORDS: dict[str, bool] = {w: True for w in TRUE_WORDS} | {w: False for w in FALSE_WORDS}

_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_bool(value: str | None, *, words: dict[str, bool] = BOOL_WORDS, empty: bool | None = None) -> bool | None:
    """The value of a yes/no word (trimmed, any case); `empty` for an empty cell; None when not a word."""
    text = (value or "").strip().lower()
    if not text:
        return empty
    return words.get(text)


def number_text(value: str | None) -> str | None:
    """A number as text, trimmed, thousands separators removed (`1,234.50` → `1234.50`); None when empty."""
    if value is None:
        return None
    text = value.strip()
    if _GROUPED.match(text):
        text = text.replace(",", "")
    return text or None


def to_float(value: str | None, *, grouped: bool = True) -> float | None:
    """float() of the trimmed text (thousands separators removed when `grouped`); None when empty or not a number."""
    text = number_text(value) if grouped else ((value or "").strip() or None)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def finite_float(value: str | None) -> float:
    """A finite number written plainly (no thousands separators); ValueError naming the problem."""
    number = to_float(value, grouped=False)
    if number is None:
        raise ValueError("not a number")
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def fixed_offset(sign: int, hours: int, minutes: int) -> timezone:
    """The fixed UTC offset ±HH:MM (ValueError when it is a day or more)."""
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def utc_datetime(moment: datetime, zone: tzinfo = UTC) -> datetime:
    """An aware datetime in UTC; a naive one is taken in `zone`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def utc_date(moment: datetime, zone: tzinfo = UTC) -> date:
    """The UTC calendar date of a datetime; a naive one is taken in `zone`."""
    return utc_datetime(moment, zone).date()
