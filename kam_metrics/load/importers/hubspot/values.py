"""HubSpot cell values: regions of countries, owners, record IDs and association cells, labels, checkboxes,
numbers, durations, and dates in the portal's time zone. Yes/no words, numbers and the UTC conversion use
the shared parsers (kam_metrics/load/importers/values.py)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kam_metrics.load.importers.values import BOOL_WORDS, finite_float, fixed_offset, utc_datetime
from kam_metrics.load.importers.values import parse_bool as shared_parse_bool

# Country → region (EMEA / Americas / APAC). Names as HubSpot's Country/Region shows them, common aliases,
# a few native names and ISO 3166 alpha-2 codes. Matching ignores case and surrounding spaces.

_REGION_TABLE = {
    "EMEA": (
        "Austria/AT/Österreich", "Belgium/BE/België/Belgique", "Bulgaria/BG", "Croatia/HR", "Cyprus/CY",
        "Czech Republic/Czechia/CZ", "Denmark/DK/Danmark", "Estonia/EE", "Finland/FI/Suomi", "France/FR",
        "Germany/DE/Deutschland", "Greece/GR", "Hungary/HU", "Iceland/IS", "Ireland/IE", "Italy/IT/Italia",
        "Latvia/LV", "Lithuania/LT", "Luxembourg/LU", "Malta/MT", "Netherlands/The Netherlands/NL/Nederland",
        "Norway/NO/Norge", "Poland/PL/Polska", "Portugal/PT", "Romania/RO", "Serbia/RS", "Slovakia/SK",
        "Slovenia/SI", "Spain/ES/España", "Sweden/SE/Sverige", "Switzerland/CH/Schweiz/Suisse",
        "Ukraine/UA", "United Kingdom/UK/GB/Great Britain/England/Scotland/Wales", "Turkey/Türkiye/TR",
        "Israel/IL", "United Arab Emirates/UAE/AE", "Saudi Arabia/SA", "Qatar/QA", "Kuwait/KW", "Egypt/EG",
        "Morocco/MA", "Nigeria/NG", "Kenya/KE", "South Africa/ZA",
    ),
    "Americas": (
        "United States/United States of America/USA/US/U.S./U.S.A.", "Canada/CA", "Mexico/MX/México",
        "Brazil/BR/Brasil", "Argentina/AR", "Chile/CL", "Colombia/CO", "Peru/PE", "Uruguay/UY",
        "Costa Rica/CR", "Panama/PA", "Puerto Rico/PR",
    ),
    "APAC": (
        "Australia/AU", "New Zealand/NZ", "China/CN", "Hong Kong/HK", "Taiwan/TW", "Japan/JP",
        "South Korea/Korea/Republic of Korea/KR", "India/IN", "Singapore/SG", "Malaysia/MY", "Thailand/TH",
        "Indonesia/ID", "Philippines/PH", "Vietnam/Viet Nam/VN", "Pakistan/PK", "Bangladesh/BD",
        "Sri Lanka/LK",
    ),
}
COUNTRY_REGIONS: dict[str, str] = {
    alias.strip().casefold(): region
    for region, entries in _REGION_TABLE.items()
    for entry in entries
    for alias in entry.split("/")
}


def region_for_country(country: str | None, overrides: dict[str, str] | None = None) -> str | None:
    """The sales region of a HubSpot Country/Region value: EMEA / Americas / APAC, else the country itself."""
    if country is None or not country.strip():
        return None
    key = country.strip().casefold()
    for name, region in (overrides or {}).items():
        if name.strip().casefold() == key:
            return region
    return COUNTRY_REGIONS.get(key, country.strip())


# ---------------------------------------------------------------------------------------------------------
# Value helpers.

_DEACTIVATED = re.compile(r"^\s*(\S+@\S+)\s*\(.*\)\s*$")


def clean_owner(value: str | None) -> str | None:
    """An owner's display name; `x@y.com (Deactivated User)` → `x@y.com`."""
    if value is None or not value.strip():
        return None
    m = _DEACTIVATED.match(value)
    return m.group(1) if m else value.strip()


_INT_FLOAT = re.compile(r"^(\d+)\.0+$")


def normalise_id(value: str | None) -> str | None:
    """A HubSpot record ID as text: trimmed, a numeric `123.0` written as `123`."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    m = _INT_FLOAT.match(value)
    return m.group(1) if m else value


def split_ids(values: Iterable[str | None]) -> list[str]:
    """The IDs of one or more association cells (`;`-joined), in order, without repeats."""
    out: list[str] = []
    for cell in values:
        if cell is None:
            continue
        for part in cell.split(";"):
            pid = normalise_id(part)
            if pid is not None and pid not in out:
                out.append(pid)
    return out


def norm_label(value: str) -> str:
    """A label for matching: case-folded, `_` as space, whitespace collapsed."""
    return " ".join(value.replace("_", " ").split()).casefold()


# HubSpot checkbox words: the contract's, without t/f, with Swedish ja/nej (as HubSpot portals show them).
HUBSPOT_BOOL_WORDS = {w: v for w, v in BOOL_WORDS.items() if w not in ("t", "f")} | {"ja": True, "nej": False}


def parse_bool(value: str) -> bool:
    """A HubSpot checkbox value (shared yes/no parser, HubSpot's words); ValueError when not one."""
    flag = shared_parse_bool(value, words=HUBSPOT_BOOL_WORDS)
    if flag is None:
        raise ValueError("not a boolean (expected true/false)")
    return flag


def parse_number(value: str) -> float:
    """A HubSpot number (the shared finite_float); ValueError naming the problem."""
    return finite_float(value)


def parse_probability(value: str) -> float:
    """A deal probability as a fraction 0 … 1 (HubSpot exports `0.2`, `1.0`; `20` or `100` read as percent)."""
    number = parse_number(value)
    if 1 < number <= 100:
        number /= 100
    if not 0 <= number <= 1:
        raise ValueError("not a probability (expected 0 to 1)")
    return number


_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")


def parse_duration_minutes(value: str, unit: str) -> float:
    """Minutes from a duration in `unit` (ms, s, minutes) or a clock value `HH:MM:SS` / `MM:SS`."""
    m = _CLOCK.match(value.strip())
    if m:
        hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
        return hours * 60 + minutes + seconds / 60
    number = parse_number(value)
    return number / _UNIT_DIVISOR[unit]


_UNIT_DIVISOR = {"ms": 60000.0, "s": 60.0, "minutes": 1.0}
UNIT_ALIASES = {
    "ms": "ms", "milliseconds": "ms", "s": "s", "sec": "s", "seconds": "s",
    "min": "minutes", "mins": "minutes", "minutes": "minutes",
}

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DateParser:
    """HubSpot dates and datetimes → UTC dates; naive datetimes are in the portal's time zone."""

    def __init__(self, tz: timezone | ZoneInfo):
        self.tz = tz
        self._cache: dict[str, tuple[datetime | None, date]] = {}

    def moment(self, value: str) -> tuple[datetime | None, date]:
        """(UTC datetime or None for a plain date, UTC date); ValueError when not a date."""
        text = value.strip()
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        if _DATE_ONLY.match(text):
            out = (None, date.fromisoformat(text))
        else:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError("not a HubSpot date or datetime (expected YYYY-MM-DD HH:mm)") from None
            dt = utc_datetime(dt, self.tz)
            out = (dt, dt.date())
        self._cache[text] = out
        return out

    def date(self, value: str) -> date:
        return self.moment(value)[1]


def parse_time_zone(value: str) -> timezone | ZoneInfo:
    """The portal time zone: `UTC`, an offset `+01:00` / `-0500`, or an IANA name."""
    text = value.strip()
    if text.upper() in ("", "UTC", "Z", "GMT"):
        return timezone.utc
    m = re.match(r"^(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?$", text, re.I)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(f"offset out of range: {value!r}")
        return fixed_offset(1 if m.group(1) == "+" else -1, hours, minutes)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Stockholm or +01:00)") from None
