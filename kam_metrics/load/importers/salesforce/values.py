"""Salesforce cell values: its date forms, checkboxes, currency codes, picklists, and the derived fields
(seniority, attitude, activity type, case priority). Yes/no words and numbers use the shared parsers
(kam_metrics/load/importers/values.py)."""

from __future__ import annotations

import re
from datetime import date, datetime

from kam_metrics.load.importers.rules import seniority_from_title
from kam_metrics.load.importers.values import fixed_offset, number_text, parse_bool, to_float, utc_date

_RE_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RE_DATETIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_RE_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?$", re.IGNORECASE
)

# The shared parsers under the names this importer's rules use.
clean_number = number_text


def parse_flag(value: str | None) -> bool | None:
    """A Salesforce checkbox: 1/0, true/false (any case), yes/no; empty is false; None when unreadable."""
    return parse_bool(value, empty=False)


def parse_date(value: str | None) -> date | None:
    """The date of a Salesforce date or datetime in any of the three variants; None when not one.

    Datetimes with an offset are converted to UTC first; datetimes without one are GMT (weekly export)
    or local (Excel), and keep their calendar date. `MM/DD/YY` uses the US order Excel writes.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        m = _RE_DATE.match(text)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _RE_DATETIME.match(text)
        if m:
            day = date(int(m[1]), int(m[2]), int(m[3]))
            zone = m[7]
            if zone and zone.upper() != "Z":
                digits = zone[1:].replace(":", "")
                offset = fixed_offset(1 if zone[0] == "+" else -1, int(digits[:2]), int(digits[2:]))
                return utc_date(datetime(day.year, day.month, day.day, int(m[4]), int(m[5]), int(m[6] or 0)), offset)
            return day
        m = _RE_US.match(text)
        if m:
            year = int(m[3])
            if len(m[3]) == 2:
                year += 2000 if year < 69 else 1900
            return date(year, int(m[1]), int(m[2]))
    except ValueError:
        return None
    return None


def iso_date(value: str | None) -> str | None:
    """`YYYY-MM-DD` for a readable date; the text unchanged otherwise, so validation names it."""
    if value is None or not value.strip():
        return None
    parsed = parse_date(value)
    return parsed.isoformat() if parsed else value.strip()


def fmt_float(x: float) -> str:
    return repr(float(x))


def flag_text(value: str | None) -> str | None:
    """A checkbox as `true`/`false` (empty is false); unreadable text is passed on for validation."""
    flag = parse_flag(value)
    if flag is None:
        return value.strip() if value else None
    return "true" if flag else "false"


def currency_code(value: str | None) -> str | None:
    """An ISO currency code; Salesforce's `000` (no currency, on Task/User rows) is None."""
    text = (value or "").strip().upper()
    return None if not text or text == "000" else text


def enum_text(value: str | None) -> str | None:
    """`Decision Maker` → `decision_maker` (validation then checks the enumeration)."""
    if value is None or not value.strip():
        return None
    return re.sub(r"[\s\-/]+", "_", value.strip().lower())


# --------------------------------------------------------------------------------------------------
# Derived fields: seniority, attitude, activity type, case priority
# --------------------------------------------------------------------------------------------------

_SENIORITY_ALIASES = {"c_suite": "c_level", "clevel": "c_level", "c_level_executive": "c_level",
                      "vice_president": "vp", "executive": "c_level", "individual_contributor": "individual"}


def seniority(explicit: str | None, title: str | None) -> str:
    text = enum_text(explicit)
    if text:
        return _SENIORITY_ALIASES.get(text, text)
    return seniority_from_title(title)


_ATTITUDE_WORDS = {
    "opponent": -2, "strong_opponent": -2, "blocker": -2, "non_supporter": -1, "nonsupporter": -1,
    "detractor": -1, "sceptic": -1, "skeptic": -1, "neutral": 0, "supporter": 1, "advocate": 1,
    "mentor": 2, "coach": 2,
}


def attitude(value: str | None) -> str | None:
    text = enum_text(value)
    if text is None:
        return None
    if text in _ATTITUDE_WORDS:
        return str(_ATTITUDE_WORDS[text])
    number = to_float(value)
    if number is not None and number == int(number):
        return str(int(number))
    return value.strip()


_ACTIVITY_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("qbr", re.compile(r"\bqbrs?\b|quarterly business review|\bbusiness reviews?\b", re.IGNORECASE)),
    ("workshop", re.compile(r"\bworkshops?\b", re.IGNORECASE)),
    ("site_visit", re.compile(r"\bsite[\s-]?visits?\b|\bon[\s-]?site\b|\bvisits?\b", re.IGNORECASE)),
    ("email", re.compile(r"\be-?mails?\b|\blist ?email\b", re.IGNORECASE)),
    ("call", re.compile(r"\bcalls?\b|\bphone\b|\bphoned\b", re.IGNORECASE)),
    ("exec_meeting", re.compile(r"\bexec(utive)?s?\b|\bebr\b|\bebc\b|\bc-level\b|\bc-suite\b", re.IGNORECASE)),
    ("meeting", re.compile(r"\bmeetings?\b|\bmeet\b|\bmtg\b|\bdemo\b|\bpresentation\b|\blunch\b|\bdinner\b",
                           re.IGNORECASE)),
)
_REFINES_MEETING = ("qbr", "workshop", "site_visit", "exec_meeting")


_TYPE_LOOKUPS: dict[int, tuple[dict, dict]] = {}


def _type_lookup(type_map: dict[str, str]) -> dict[str, str]:
    """type_map with trimmed, lower-case keys and values (memoised per mapping object)."""
    cached = _TYPE_LOOKUPS.get(id(type_map))
    if cached is None or cached[0] is not type_map:
        cached = (type_map, {k.strip().lower(): v.strip().lower() for k, v in type_map.items()})
        _TYPE_LOOKUPS[id(type_map)] = cached
    return cached[1]


def activity_type(
    type_value: str | None,
    subtypes: tuple[str | None, ...],
    subject: str | None,
    *,
    is_event: bool,
    type_map: dict[str, str],
) -> str:
    """The canonical activity type of a Task or Event (rules in the module docstring).

    `type_map`: exact Type/subtype values → activity type (the mapping's [activity_types]).
    """
    lookup = _type_lookup(type_map)
    base = None
    for value in (type_value, *subtypes):
        if value and value.strip().lower() in lookup:
            base = lookup[value.strip().lower()]
            break
    if base in ("email", "call"):
        return base
    texts = [t for t in (type_value, *subtypes, subject) if t]
    for kind, pattern in _ACTIVITY_RULES:
        if base == "meeting" and kind not in _REFINES_MEETING:
            continue
        if base is not None and base != "meeting":
            break
        if any(pattern.search(t) for t in texts):
            return kind
    if base is not None:
        return base
    return "meeting" if is_event else "other"


def priority(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    return {"urgent": "critical", "normal": "medium", "p1": "critical", "p2": "high", "p3": "medium",
            "p4": "low"}.get(text, text)


