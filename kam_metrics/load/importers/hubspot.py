"""HubSpot importer: a folder of HubSpot CRM exports → staged canonical tables (DATA_CONTRACT.md).

Files (CRM_FORMATS.md, "HubSpot"). Each CSV file in the folder is identified by its headers, with the
file name as a tie-breaker, never by a fixed name; `[files]` in the mapping can pin a file name per kind:
- companies (required): headers `Record ID` + `Company name`        → accounts (+ wallet)
- contacts: `Record ID` + `First Name` + `Last Name`                → contacts
- deals: `Record ID` + `Deal Name` + `Deal Stage`                   → opportunities (+ revenue)
- calls / meetings / emails: `Record ID` + `Call Title` / `Meeting name` / `Email subject`, or a
  file name containing call / meeting / email with a `Record ID` header → activities
  (HubSpot names exports like `hubspot-crm-exports-all-companies-2024-05-01.csv`; the date in such a
  name is taken as the export date.)
A canonical `<table>.csv` / `<table>.parquet` in the folder is staged as given for the tables HubSpot does
not hold (revenue, wallet, fx_rates, service_costs, cases, surveys, goals, actions, reviews); a canonical
`revenue.csv` wins over revenue from closed-won deals, a canonical `wallet.csv` over the wallet property.

Both export variants are read: view exports (UTF-8 with BOM, CRLF, minimal quoting) and all-properties
exports (no BOM, LF, every field quoted, `Associated …` columns that can appear twice: files.py renames
the second to `<name>_duplicated_0` and this module merges them). Association cells hold several IDs
joined with `;`; the first ID counts (a deal with several companies counts for the first one, and the
notes give the number of such deals).

Values:
- Datetimes `YYYY-MM-DD HH:mm` carry no zone: they are in the portal's time zone, taken as UTC unless
  `[options] portal_time_zone` gives an IANA name (`Europe/Stockholm`) or an offset (`+01:00`); they are
  converted to UTC and truncated to the date. Dates `YYYY-MM-DD` and ISO datetimes are accepted too.
  Dates, numbers and booleans are parsed here into typed columns; a value that does not parse sends the
  row to the quarantine with its column and value.
- Owners are full names; a deactivated owner `x@y.com (Deactivated User)` becomes `x@y.com`.
- region: a `[companies] region` property when mapped, else the country (`Country/Region`) through
  COUNTRY_REGIONS below (EMEA / Americas / APAC), else the country itself; `[regions]` in the mapping adds
  or overrides countries (`"Sverige" = "EMEA"`).
- is_key_account: the mapped property (default header `Key Account`, a HubSpot checkbox); empty = false;
  without that header every account is staged as not key, and the notes say so.
- wallet: the mapped wallet property (default `Wallet Estimate`) → one wallet row per company for the
  export year (source `kam_estimate`); companies without a value are skipped by rule.
- seniority is inferred from the job title by keyword rules (`infer_seniority`, first match wins):
  Vice President / VP / SVP / EVP → vp; Chief / CEO / CFO / CTO / COO / CIO / CMO / CRO / CPO / President /
  Founder / Owner (Swedish VD / verkställande) → c_level; Director / Head (direktör) → director; Manager /
  Lead (…chef, as in Inköpschef) → manager; any other title → individual; no title → unknown. Keywords
  are whole words, so "Director" is not CTO; VP rules come first, so "Vice President" is not c_level.
- buying_role: the mapped property (default `Buying Role`, HubSpot's multi-select), labels translated by
  `[buying_roles]`; of several roles the first in the contract's order counts; unknown labels → unknown.
- Deal stages: the portal's labels through `[stages]` (won / lost / open), matched without regard to case
  and spacing; defaults cover HubSpot's English default pipeline and the internal stage ids. A label not
  in `[stages]` is open; the notes list such labels, and warn when one looks closed (closed/won/lost/…).
  Deals: `Pipeline` → product_line (map `[deals] product_line` to another property, or to "" for none).
- Revenue (when no canonical revenue file): each closed-won deal is one revenue row, id = the deal's
  Record ID, dated its Close Date, with its amount, product line and currency.
- Activities: activity_type by file (call / meeting / email); account = the first associated company,
  else the account of the first associated contact; contact = the first associated contact that is in
  the contacts table (none when no contacts file was read). Duration: the mapped duration column in the
  unit `duration_unit` (calls: `Call duration` in milliseconds, HubSpot's unit; `s` and `minutes` also
  accepted; `HH:MM:SS` values are read as a clock duration), else end time − activity date for meetings
  (`Meeting end time`), in minutes.

Rows left out by rule (`skipped`): contacts and activities with no associated company, deals that are
not closed-won (for revenue), closed-won deals without an amount (for revenue), companies without a
wallet estimate (for wallet), activities that were not held (status/outcome mapped to `not_held` in
`[activity_outcomes]`: canceled, no show, …) and activities dated after the export date (future
meetings). Rows that cannot be translated go to the quarantine: an unparseable date, number or boolean,
a deal without any company, a malformed CSV row. For each target table, every source row read is staged,
skipped or quarantined exactly once.

The mapping file (`kam mapping init --format hubspot` writes the template) can rename any header (a Swedish
export has `Företagsnamn`), pin file names, map stage, buying-role and outcome labels and set options. An
unknown key, a bad value or a header the mapping names that the file lacks is a LoadError naming it; a
default header not found is only reported in the notes (and required ones stop the load).
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from kam_metrics.load.contract import BUYING_ROLES, SOURCE_FILE, SOURCE_ROW, TABLES
from kam_metrics.load.importers.base import ImportResult, LoadError, RawFile, quarantine_frame, skipped_frame
from kam_metrics.load.importers.canonical import read_extra_tables
from kam_metrics.load.importers.rules import seniority_from_title as infer_seniority
from kam_metrics.load.importers.files import read_raw_csv
from kam_metrics.load.importers.mapping import Mapping, load_mapping, mapping_toml

FORMAT = "hubspot"

# ---------------------------------------------------------------------------------------------------------
# Mapping defaults: section → {our key: the export's header (or a value label → our value)}.
# An empty string means "this export has no such column".

KINDS = ("companies", "contacts", "deals", "calls", "meetings", "emails")
ACTIVITY_KINDS = {"calls": "call", "meetings": "meeting", "emails": "email"}

DEFAULT_STAGES = {
    # HubSpot's default sales pipeline (labels as shown in English portals, old and new capitalisation).
    "Appointment Scheduled": "open",
    "Qualified To Buy": "open",
    "Presentation Scheduled": "open",
    "Decision Maker Bought-In": "open",
    "Contract Sent": "open",
    "Closed won": "won",
    "Closed lost": "lost",
    "Closed: abandoned": "lost",
    # Internal stage ids, as some exports and the API show them.
    "appointmentscheduled": "open",
    "qualifiedtobuy": "open",
    "presentationscheduled": "open",
    "decisionmakerboughtin": "open",
    "contractsent": "open",
    "closedwon": "won",
    "closedlost": "lost",
}

DEFAULT_BUYING_ROLES = {
    # HubSpot's built-in "Buying Role" options (hs_buying_role) → contract buying_role.
    "Decision Maker": "decision_maker",
    "Budget Holder": "economic_buyer",
    "Economic Buyer": "economic_buyer",
    "Champion": "champion",
    "Influencer": "influencer",
    "End User": "user",
    "User": "user",
    "Gatekeeper": "gatekeeper",
    "Legal & Compliance": "gatekeeper",
    "Blocker": "blocker",
    "Executive Sponsor": "decision_maker",
    "Other": "unknown",
}

DEFAULT_ACTIVITY_OUTCOMES = {
    # Call status, meeting outcome and e-mail send status labels; unlisted labels count as held.
    "Completed": "held",
    "Sent": "held",
    "Scheduled": "held",
    "Canceled": "not_held",
    "Cancelled": "not_held",
    "No show": "not_held",
    "Rescheduled": "not_held",
    "Failed": "not_held",
    "Busy": "not_held",
    "No answer": "not_held",
    "Missed": "not_held",
    "Bounced": "not_held",
    "Queued": "not_held",
    "Ringing": "not_held",
    "In progress": "not_held",
    "Connecting": "not_held",
}


def _activity_section(subject: str, duration: str, unit: str, end_time: str, status: str) -> dict[str, str]:
    return {
        "activity_id": "Record ID",
        "activity_date": "Activity date",
        "company_ids": "Associated Company IDs",
        "contact_ids": "Associated Contact IDs",
        "owner": "Activity assigned to",
        "subject": subject,
        "duration": duration,
        "duration_unit": unit,
        "end_time": end_time,
        "status": status,
    }


DEFAULT_MAPPING: Mapping = {
    "files": {kind: "" for kind in KINDS},
    "options": {"portal_time_zone": "UTC", "export_date": ""},
    "companies": {
        "account_id": "Record ID",
        "account_name": "Company name",
        "kam_owner": "Company owner",
        "industry": "Industry",
        "country": "Country/Region",
        "region": "",
        "segment": "",
        "created_date": "Create Date",
        "parent_account_id": "",
        "is_key_account": "Key Account",
        "key_account_since": "",
        "executive_sponsor": "Executive Sponsor",
        "relationship_stage": "",
        "wallet_amount": "Wallet Estimate",
    },
    "contacts": {
        "contact_id": "Record ID",
        "first_name": "First Name",
        "last_name": "Last Name",
        "email": "Email",
        "title": "Job Title",
        "primary_company_id": "Primary Associated Company ID",
        "company_ids": "Associated Company IDs",
        "company_names": "Associated Company",
        "buying_role": "Buying Role",
    },
    "deals": {
        "opportunity_id": "Record ID",
        "name": "Deal Name",
        "stage": "Deal Stage",
        "amount": "Amount",
        "close_date": "Close Date",
        "created_date": "Create Date",
        "product_line": "Pipeline",
        "currency": "Currency",
        "company_ids": "Associated Company IDs",
        "company_names": "Associated Company",
    },
    "calls": _activity_section("Call Title", "Call duration", "ms", "", "Call status"),
    "meetings": _activity_section("Meeting name", "", "minutes", "Meeting end time", "Meeting outcome"),
    "emails": _activity_section("Email subject", "", "minutes", "", "Email send status"),
    "stages": dict(DEFAULT_STAGES),
    "buying_roles": dict(DEFAULT_BUYING_ROLES),
    "activity_outcomes": dict(DEFAULT_ACTIVITY_OUTCOMES),
    "regions": {},
}
OPEN_SECTIONS = ("stages", "buying_roles", "activity_outcomes", "regions")
# Keys of a file section that are settings, not headers.
_NOT_HEADERS = {"duration_unit"}

_SECTION_NOTES = {
    "files": "Pin a file name per kind (empty: identified by its headers and name).",
    "options": "portal_time_zone: IANA name (Europe/Stockholm) or offset (+01:00); export_date: YYYY-MM-DD "
    "(default: the date in HubSpot's file names).",
    "companies": "Headers of the companies export (our field = \"the export's header\"; \"\" = not in the export). "
    "region: a region property; empty derives the region from country.",
    "contacts": "Headers of the contacts export.",
    "deals": "Headers of the deals export. product_line defaults to the pipeline.",
    "calls": "Headers of the calls export; duration_unit: ms, s or minutes.",
    "meetings": "Headers of the meetings export; duration from end_time - activity_date when duration is \"\".",
    "emails": "Headers of the e-mails export.",
    "stages": "Deal stage label = won / lost / open (add your portal's own labels).",
    "buying_roles": "Buying Role label = " + " / ".join(BUYING_ROLES) + ".",
    "activity_outcomes": "Call status / meeting outcome / e-mail status label = held / not_held.",
    "regions": "Country = region, e.g. \"Sverige\" = \"EMEA\" (adds to or overrides the built-in table).",
}

# Required headers per kind (a file without them stops the load), and the headers that identify a file.
_REQUIRED = {
    "companies": ("account_id", "account_name"),
    "contacts": ("contact_id",),
    "deals": ("opportunity_id", "stage", "close_date"),
    "calls": ("activity_id", "activity_date"),
    "meetings": ("activity_id", "activity_date"),
    "emails": ("activity_id", "activity_date"),
}
_SIGNATURE = {
    "companies": ("account_id", "account_name"),
    "contacts": ("contact_id", "first_name", "last_name"),
    "deals": ("opportunity_id", "name", "stage"),
    "calls": ("activity_id", "subject"),
    "meetings": ("activity_id", "subject"),
    "emails": ("activity_id", "subject"),
}
_ID_KEY = {"companies": "account_id", "contacts": "contact_id", "deals": "opportunity_id"} | {
    k: "activity_id" for k in ACTIVITY_KINDS
}
_NAME_HINTS = {
    "companies": ("compan", "företag", "foretag"),
    "contacts": ("contact", "kontakt"),
    "deals": ("deal", "affär", "affar"),
    "calls": ("call", "samtal"),
    "meetings": ("meeting", "möte", "mote"),
    "emails": ("email", "e-mail", "e-post", "epost"),
}
# Tables built from HubSpot's own exports; other contract tables may come as canonical files.
_BUILT_HERE = ("accounts", "contacts", "opportunities", "activities")

# ---------------------------------------------------------------------------------------------------------
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


def _norm_label(value: str) -> str:
    """A label for matching: case-folded, `_` as space, whitespace collapsed."""
    return " ".join(value.replace("_", " ").split()).casefold()


_BOOLS = {
    "true": True, "false": False, "yes": True, "no": False, "y": True, "n": False, "1": True, "0": False,
    "ja": True, "nej": False,
}


def parse_bool(value: str) -> bool:
    key = value.strip().casefold()
    if key not in _BOOLS:
        raise ValueError("not a boolean (expected true/false)")
    return _BOOLS[key]


def parse_number(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError("not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
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
_UNIT_ALIASES = {
    "ms": "ms", "milliseconds": "ms", "s": "s", "sec": "s", "seconds": "s",
    "min": "minutes", "mins": "minutes", "minutes": "minutes",
}

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


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
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=self.tz)
            dt = dt.astimezone(timezone.utc)
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
        sign = 1 if m.group(1) == "+" else -1
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(f"offset out of range: {value!r}")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Stockholm or +01:00)") from None


# ---------------------------------------------------------------------------------------------------------
# Files and headers.


def _peek_header(path: Path) -> list[str]:
    """The header row of a CSV file (BOM stripped), without reading the whole file."""
    with path.open("rb") as fh:
        data = fh.read(1 << 20)
    text = data.decode("utf-8-sig", errors="replace")
    try:
        row = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return []
    return [c.strip().lstrip("\ufeff") for c in row]


_DUP = re.compile(r"^(.*)_duplicated_\d+$")


class Headers:
    """Finds a mapping section's headers among a file's columns: exact first, else ignoring case and spacing,
    with the `<name>_duplicated_N` copies files.py makes of repeated headers."""

    def __init__(self, columns: Iterable[str]):
        self.exact: dict[str, list[str]] = {}
        self.loose: dict[str, list[str]] = {}
        for col in columns:
            if col == SOURCE_ROW:
                continue
            m = _DUP.match(col)
            base = m.group(1) if m else col
            self.exact.setdefault(base, []).append(col)
            self.loose.setdefault(_norm_label(base), []).append(col)

    def find(self, header: str) -> list[str]:
        if not header:
            return []
        if header in self.exact:
            return self.exact[header]
        return self.loose.get(_norm_label(header), [])

    def has(self, header: str) -> bool:
        return bool(self.find(header))


def _classify(columns: list[str], name: str, m: Mapping) -> tuple[str | None, str]:
    """(kind, reason) of a file from its headers and name; (None, why) when it is not a HubSpot file."""
    headers = Headers(columns)
    lower = name.casefold()
    hinted = [k for k in KINDS if any(h in lower for h in _NAME_HINTS[k])]
    matches = [k for k in KINDS if all(headers.has(m[k][key]) for key in _SIGNATURE[k])]
    if len(matches) > 1:
        narrowed = [k for k in matches if k in hinted]
        matches = narrowed or matches
    if len(matches) > 1:
        # Prefer the kind whose signature names the most headers (deals need three, companies two).
        top = max(len(_SIGNATURE[k]) for k in matches)
        matches = [k for k in matches if len(_SIGNATURE[k]) == top]
    if len(matches) == 1:
        kind = matches[0]
        shown = " and ".join(f"'{m[kind][key]}'" for key in _SIGNATURE[kind])
        return kind, f"{kind} file with {shown} headers"
    if len(matches) > 1:
        return None, f"headers fit several kinds ({', '.join(matches)})"
    by_name = [k for k in hinted if headers.has(m[k][_ID_KEY[k]])]
    if len(by_name) == 1:
        kind = by_name[0]
        return kind, f"{kind} file by its name and its '{m[kind][_ID_KEY[kind]]}' header"
    return None, "not a HubSpot companies, contacts, deals, calls, meetings or e-mails export"


def _canonical_name(path: Path) -> str | None:
    """The contract table a file is named after (`revenue.csv` → revenue), else None."""
    if path.suffix.lower() not in (".csv", ".parquet"):
        return None
    stem = path.stem.lower()
    return stem if stem in TABLES else None


def _export_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


_NAME_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _date_in_name(name: str) -> date | None:
    found = _NAME_DATE.findall(name)
    for text in reversed(found):
        try:
            return date.fromisoformat(text)
        except ValueError:
            continue
    return None


# ---------------------------------------------------------------------------------------------------------
# Reading.


@dataclass
class _Load:
    """What a read accumulates: staged rows per table, skipped and quarantined rows, notes."""

    folder: Path
    mapping: Mapping
    user_keys: set[tuple[str, str]]
    mapping_path: Path | None
    dates: DateParser
    export_date: date | None
    result: ImportResult
    staged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    account_ids: set[str] = field(default_factory=set)
    account_names: dict[str, str | None] = field(default_factory=dict)  # casefold name → id (None: ambiguous)
    contact_accounts: dict[str, str] = field(default_factory=dict)  # staged contact id → account id

    def skip(self, table: str, file: str, row: int, rule: str) -> None:
        self.skipped.append({"table": table, SOURCE_FILE: file, SOURCE_ROW: row, "rule": rule})

    def reject(self, table: str, file: str, row: int, column: str | None, value: str | None, reason: str) -> None:
        self.quarantined.append(
            {"table": table, SOURCE_FILE: file, SOURCE_ROW: row, "column": column, "value": value, "reason": reason}
        )

    def stage(self, table: str, row: dict[str, Any]) -> None:
        self.staged.setdefault(table, []).append(row)


class _RowError(Exception):
    def __init__(self, column: str, value: str | None, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


@dataclass
class _File:
    """One identified export file: its raw frame and the resolved header of each mapping key."""

    kind: str
    path: Path
    raw: RawFile
    malformed: list[tuple[int, str]]
    columns: dict[str, list[str]]  # mapping key → actual columns (all copies), absent keys → []

    @property
    def name(self) -> str:
        return self.raw.name

    def rows(self) -> Iterable[tuple[int, dict[str, list[str | None]]]]:
        """(source row, {key: cell values of the key's columns}) for every well-formed row."""
        frame = self.raw.frame
        series = {key: [frame[c].to_list() for c in cols] for key, cols in self.columns.items() if cols}
        numbers = frame[SOURCE_ROW].to_list()
        for i, number in enumerate(numbers):
            yield number, {key: [vals[i] for vals in cols] for key, cols in series.items()}


def _first(cells: dict[str, list[str | None]], key: str) -> str | None:
    """The first non-empty value of a key (over its duplicated columns), trimmed; None when empty."""
    for value in cells.get(key, ()):
        if value is not None and value.strip():
            return value.strip()
    return None


class HubSpotImporter:
    name = FORMAT

    def detect(self, folder: Path) -> str | None:
        """A reason when the folder holds a HubSpot companies export (or HubSpot-named export files)."""
        folder = Path(folder)
        if not folder.is_dir():
            return None
        files = [p for p in _export_files(folder) if _canonical_name(p) is None]
        for path in files:
            kind, reason = _classify(_peek_header(path), path.name, DEFAULT_MAPPING)
            if kind == "companies":
                return f"{reason} ({path.name})"
        named = [p.name for p in files if p.name.casefold().startswith("hubspot-crm-exports")]
        if named:
            return f"file names like HubSpot's exports ({named[0]})"
        return None

    def read(self, folder: Path, *, settings: Any = None, mapping: Path | None = None) -> ImportResult:
        """Read a HubSpot export folder into staged canonical tables (see the module doc)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise LoadError(f"{folder}: not a folder")
        m = load_mapping(mapping, DEFAULT_MAPPING, open_sections=OPEN_SECTIONS)
        user_keys = _user_keys(mapping)
        tz = _check_mapping(m, mapping)
        found, ignored = _identify(folder, m, mapping)
        export_date = _export_date(m, found)
        result = ImportResult(format=FORMAT, source_path=str(folder))
        result.export_date = export_date.isoformat() if export_date else None
        for name, why in ignored:
            result.notes.append(f"{name}: ignored ({why})")
        load = _Load(
            folder=folder, mapping=m, user_keys=user_keys, mapping_path=mapping, dates=DateParser(tz),
            export_date=export_date, result=result,
        )
        canonical = _read_canonical(load)
        files = {kind: _open_file(load, kind, path) for kind, path in found.items()}

        _read_companies(load, files["companies"], wallet_from_file="wallet" not in canonical)
        if "contacts" in files:
            _read_contacts(load, files["contacts"])
        if "deals" in files:
            _read_deals(load, files["deals"], revenue_from_deals="revenue" not in canonical)
        activity_files = [files[k] for k in ACTIVITY_KINDS if k in files]
        for f in activity_files:
            _read_activities(load, f, has_contacts="contacts" in files)

        for table, rows in load.staged.items():
            result.tables[table] = _staged_frame(table, rows)
        for table in ("accounts",):
            result.tables.setdefault(table, _staged_frame(table, []))
        if activity_files:
            result.tables.setdefault("activities", _staged_frame("activities", []))
        if "contacts" in files:
            result.tables.setdefault("contacts", _staged_frame("contacts", []))
        if "deals" in files:
            result.tables.setdefault("opportunities", _staged_frame("opportunities", []))
            if "revenue" not in canonical:
                result.tables.setdefault("revenue", _staged_frame("revenue", []))
        result.tables.update(canonical)
        result.skipped = skipped_frame(load.skipped)
        result.quarantine = quarantine_frame(load.quarantined)
        missing_kinds = [k for k in KINDS if k not in files]
        if missing_kinds:
            result.notes.append("no HubSpot " + ", ".join(missing_kinds) + " export in the folder")
        return result


IMPORTER = HubSpotImporter()


def mapping_template() -> str:
    """The HubSpot mapping file with every default commented out, for `kam mapping init --format hubspot`."""
    return mapping_toml(DEFAULT_MAPPING, "KAM Health: mapping for a HubSpot export", _SECTION_NOTES)


# ---------------------------------------------------------------------------------------------------------
# Mapping checks.


def _user_keys(path: Path | None) -> set[tuple[str, str]]:
    """(section, key) pairs the mapping file sets itself (already validated by load_mapping)."""
    if path is None:
        return set()
    data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    return {(section, key) for section, entries in data.items() if isinstance(entries, dict) for key in entries}


def _check_mapping(m: Mapping, path: Path | None) -> timezone | ZoneInfo:
    """Check the mapping's values; returns the portal time zone."""
    where = str(path) if path else "mapping"

    def bad(msg: str) -> LoadError:
        return LoadError(f"{where}: {msg}", file=str(path) if path else None)

    for label, value in m["stages"].items():
        if value.strip().lower() not in ("won", "lost", "open"):
            raise bad(f"[stages] '{label}' = '{value}': expected won, lost or open")
    for label, value in m["buying_roles"].items():
        if value.strip().lower() not in BUYING_ROLES:
            raise bad(f"[buying_roles] '{label}' = '{value}': expected one of {', '.join(BUYING_ROLES)}")
    for label, value in m["activity_outcomes"].items():
        if value.strip().lower() not in ("held", "not_held"):
            raise bad(f"[activity_outcomes] '{label}' = '{value}': expected held or not_held")
    for kind, keys in _REQUIRED.items():
        for key in keys:
            if not m[kind][key].strip():
                raise bad(f"'{kind}.{key}' cannot be empty: the {kind} export needs that column")
    for kind in ACTIVITY_KINDS:
        unit = m[kind]["duration_unit"].strip().lower()
        if unit not in _UNIT_ALIASES:
            raise bad(f"'{kind}.duration_unit' = '{m[kind]['duration_unit']}': expected ms, s or minutes")
    export_date = m["options"]["export_date"].strip()
    if export_date:
        try:
            date.fromisoformat(export_date)
        except ValueError:
            raise bad(f"'options.export_date' = '{export_date}': expected YYYY-MM-DD") from None
    try:
        return parse_time_zone(m["options"]["portal_time_zone"])
    except ValueError as exc:
        raise bad(f"'options.portal_time_zone': {exc}") from None


def _identify(
    folder: Path, m: Mapping, mapping_path: Path | None
) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """kind → file (pinned ones from [files], the others by headers and name) and the CSV files ignored,
    with why. Raises LoadError without a companies file."""
    found: dict[str, Path] = {}
    ignored: list[tuple[str, str]] = []
    pinned: set[str] = set()
    for kind in KINDS:
        name = m["files"][kind].strip()
        if not name:
            continue
        path = folder / name
        if not path.is_file():
            raise LoadError(
                f"{mapping_path}: 'files.{kind}' = '{name}' but {folder} has no such file", file=name
            )
        found[kind] = path
        pinned.add(path.name)
    candidates: dict[str, list[Path]] = {}
    for path in _export_files(folder):
        if path.name in pinned or _canonical_name(path) is not None:
            continue
        kind, reason = _classify(_peek_header(path), path.name, m)
        if kind is None:
            ignored.append((path.name, reason))
        elif kind in found:
            ignored.append((path.name, f"{kind} is pinned to {found[kind].name} in the mapping"))
        else:
            candidates.setdefault(kind, []).append(path)
    for kind, paths in candidates.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            raise LoadError(
                f"{folder}: several HubSpot {kind} exports ({names}); keep one or pin it with [files] {kind} = \"…\"",
                file=paths[1].name,
            )
        found[kind] = paths[0]
    if "companies" not in found:
        others = ", ".join(f"{k}: {p.name}" for k, p in found.items()) or "none"
        spreadsheets = [p.name for p in folder.iterdir() if p.suffix.lower() in (".xlsx", ".xls")]
        hint = (
            f"; spreadsheets are not read, export from HubSpot as CSV ({', '.join(sorted(spreadsheets))})"
            if spreadsheets
            else ""
        )
        heads = " and ".join(f"'{m['companies'][k]}'" for k in _SIGNATURE["companies"])
        raise LoadError(
            f"{folder}: no HubSpot companies export (a CSV file with {heads} headers, or pinned with "
            f"[files] companies = \"…\"); HubSpot files found: {others}{hint}",
            column=m["companies"]["account_name"],
        )
    return found, ignored


def _export_date(m: Mapping, found: dict[str, Path]) -> date | None:
    given = m["options"]["export_date"].strip()
    if given:
        return date.fromisoformat(given)
    dates = [d for d in (_date_in_name(p.name) for p in found.values()) if d is not None]
    return max(dates) if dates else None


def _open_file(load: _Load, kind: str, path: Path) -> _File:
    """Read an identified file, resolve its headers; LoadError for a required or user-named header it lacks."""
    table = read_raw_csv(path)
    raw = table.raw
    load.result.raw_files.append(raw)
    headers = Headers(raw.frame.columns)
    section = load.mapping[kind]
    columns: dict[str, list[str]] = {}
    not_found: list[str] = []
    for key, header in section.items():
        if key in _NOT_HEADERS:
            continue
        cols = headers.find(header)
        columns[key] = cols
        if cols or not header:
            continue
        if key in _REQUIRED[kind]:
            raise LoadError(
                f"{raw.name}: the {kind} file has no '{header}' column (mapping [{kind}] {key}); "
                "rename it in the mapping file if your export calls it differently",
                file=raw.name, column=header,
            )
        if (kind, key) in load.user_keys:
            raise LoadError(
                f"{load.mapping_path}: [{kind}] {key} = '{header}' but {raw.name} has no such column",
                file=raw.name, column=header,
            )
        not_found.append(f"'{header}' ({key})")
    if not_found:
        load.result.notes.append(f"{raw.name}: mapped headers not found, left empty: {', '.join(not_found)}")
    return _File(kind=kind, path=path, raw=raw, malformed=table.malformed, columns=columns)


def _quarantine_malformed(load: _Load, f: _File, tables: Iterable[str]) -> None:
    for row, reason in f.malformed:
        for table in tables:
            load.reject(table, f.name, row, None, None, f"malformed CSV row: {reason}")


def _parse(cells: dict, key: str, parse: Callable[[str], Any], column: str) -> Any:
    """Parse a key's value, None when empty; _RowError naming the column and value when it does not parse."""
    value = _first(cells, key)
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise _RowError(column, value, str(exc)) from None


# ---------------------------------------------------------------------------------------------------------
# Companies → accounts (+ wallet).


def _read_companies(load: _Load, f: _File, *, wallet_from_file: bool) -> None:
    m = load.mapping["companies"]
    has_wallet = wallet_from_file and bool(f.columns["wallet_amount"])
    targets = ["accounts"] + (["wallet"] if has_wallet else [])
    _quarantine_malformed(load, f, targets)
    if not f.columns["is_key_account"]:
        load.result.notes.append(
            f"{f.name}: no key-account property ('{m['is_key_account']}'): every account is staged as "
            "is_key_account = false; map [companies] is_key_account to the property that marks key accounts"
        )
    year = (load.export_date or datetime.now(timezone.utc).date()).year
    if has_wallet and load.export_date is None:
        load.result.notes.append(
            f"wallet estimates staged for {year} (the current year: no export date in the file names; "
            "set [options] export_date)"
        )
    overrides = load.mapping["regions"]
    names: dict[str, list[str]] = {}
    for row, cells in f.rows():
        account_id = normalise_id(_first(cells, "account_id"))
        try:
            is_key = _parse(cells, "is_key_account", parse_bool, m["is_key_account"])
            created = _parse(cells, "created_date", load.dates.date, m["created_date"])
            since = _parse(cells, "key_account_since", load.dates.date, m["key_account_since"])
        except _RowError as err:
            load.reject("accounts", f.name, row, err.column, err.value, err.reason)
        else:
            region = _first(cells, "region") or region_for_country(_first(cells, "country"), overrides)
            name = _first(cells, "account_name")
            load.stage(
                "accounts",
                {
                    "account_id": account_id,
                    "account_name": name,
                    "is_key_account": bool(is_key),
                    "parent_account_id": normalise_id(_first(cells, "parent_account_id")),
                    "industry": _first(cells, "industry"),
                    "region": region,
                    "segment": _first(cells, "segment"),
                    "kam_owner": clean_owner(_first(cells, "kam_owner")),
                    "executive_sponsor": clean_owner(_first(cells, "executive_sponsor")),
                    "key_account_since": since,
                    "relationship_stage": _first(cells, "relationship_stage"),
                    "created_date": created,
                    SOURCE_FILE: f.name,
                    SOURCE_ROW: row,
                },
            )
            if account_id is not None:
                load.account_ids.add(account_id)
                if name:
                    names.setdefault(name.casefold(), []).append(account_id)
        if has_wallet:
            try:
                amount = _parse(cells, "wallet_amount", parse_number, m["wallet_amount"])
            except _RowError as err:
                load.reject("wallet", f.name, row, err.column, err.value, err.reason)
                continue
            if amount is None:
                load.skip("wallet", f.name, row, f"no wallet estimate ('{m['wallet_amount']}' is empty)")
                continue
            load.stage(
                "wallet",
                {
                    "account_id": account_id,
                    "year": str(year),
                    "wallet_amount": amount,
                    "product_line": None,
                    "source": "kam_estimate",
                    "confidence": None,
                    SOURCE_FILE: f.name,
                    SOURCE_ROW: row,
                },
            )
    load.account_names = {n: (ids[0] if len(ids) == 1 else None) for n, ids in names.items()}


def _company_by_name(load: _Load, cells: dict, key: str) -> str | None:
    """The account of the first associated company name that names exactly one company."""
    for value in cells.get(key, ()):
        if value is None:
            continue
        for part in value.split(";"):
            found = load.account_names.get(part.strip().casefold())
            if found:
                return found
    return None


# ---------------------------------------------------------------------------------------------------------
# Contacts → contacts.


def _buying_role(value: str | None, roles: dict[str, str], unknown: set[str]) -> str:
    if value is None:
        return "unknown"
    found: list[str] = []
    for part in value.split(";"):
        label = _norm_label(part)
        if not label:
            continue
        role = roles.get(label)
        if role is None:
            role = label.replace(" ", "_") if label.replace(" ", "_") in BUYING_ROLES else None
        if role is None:
            unknown.add(part.strip())
            continue
        found.append(role)
    ranked = sorted(found, key=BUYING_ROLES.index)
    return ranked[0] if ranked else "unknown"


def _read_contacts(load: _Load, f: _File) -> None:
    m = load.mapping["contacts"]
    _quarantine_malformed(load, f, ["contacts"])
    if not (f.columns["first_name"] or f.columns["last_name"] or f.columns["email"]):
        raise LoadError(
            f"{f.name}: the contacts file has neither '{m['first_name']}', '{m['last_name']}' nor "
            f"'{m['email']}' (mapping [contacts] first_name / last_name / email)",
            file=f.name, column=m["first_name"],
        )
    roles = {_norm_label(k): v.strip().lower() for k, v in load.mapping["buying_roles"].items()}
    unknown_roles: set[str] = set()
    by_name = 0
    for row, cells in f.rows():
        contact_id = normalise_id(_first(cells, "contact_id"))
        account_id = normalise_id(_first(cells, "primary_company_id"))
        if account_id is None:
            ids = split_ids(cells.get("company_ids", ()))
            account_id = ids[0] if ids else None
        if account_id is None:
            account_id = _company_by_name(load, cells, "company_names")
            by_name += account_id is not None
        if account_id is None:
            load.skip("contacts", f.name, row, "contact has no associated company")
            continue
        full_name = " ".join(p for p in (_first(cells, "first_name"), _first(cells, "last_name")) if p)
        title = _first(cells, "title")
        load.stage(
            "contacts",
            {
                "contact_id": contact_id,
                "account_id": account_id,
                "full_name": full_name or _first(cells, "email"),
                "title": title,
                "seniority": infer_seniority(title),
                "buying_role": _buying_role(_first(cells, "buying_role"), roles, unknown_roles),
                "attitude": None,
                "is_active": True,
                "left_date": None,
                SOURCE_FILE: f.name,
                SOURCE_ROW: row,
            },
        )
        if contact_id is not None:
            load.contact_accounts[contact_id] = account_id
    if by_name:
        load.result.notes.append(f"{f.name}: {by_name} contact(s) linked to their company by its name")
    if unknown_roles:
        load.result.notes.append(
            f"{f.name}: buying roles not in [buying_roles], staged as unknown: {', '.join(sorted(unknown_roles))}"
        )


# ---------------------------------------------------------------------------------------------------------
# Deals → opportunities (+ revenue).

_CLOSED_LOOKING = re.compile(r"closed|won|lost|abandon|cancel|stängd|vunnen|förlorad", re.I)


def _read_deals(load: _Load, f: _File, *, revenue_from_deals: bool) -> None:
    m = load.mapping["deals"]
    targets = ["opportunities"] + (["revenue"] if revenue_from_deals else [])
    _quarantine_malformed(load, f, targets)
    stages = {_norm_label(k): v.strip().lower() for k, v in load.mapping["stages"].items()}
    unmapped: dict[str, int] = {}
    multi_company = 0
    by_name = 0
    has_company_column = bool(f.columns["company_ids"] or f.columns["company_names"])
    for row, cells in f.rows():
        deal_id = normalise_id(_first(cells, "opportunity_id"))
        try:
            amount = _parse(cells, "amount", parse_number, m["amount"])
            close = _parse(cells, "close_date", load.dates.date, m["close_date"])
            created = _parse(cells, "created_date", load.dates.date, m["created_date"])
            ids = split_ids(cells.get("company_ids", ()))
            account_id = ids[0] if ids else _company_by_name(load, cells, "company_names")
            if account_id is None:
                raise _RowError(
                    m["company_ids"], _first(cells, "company_names"), "deal has no associated company"
                )
        except _RowError as err:
            for table in targets:
                load.reject(table, f.name, row, err.column, err.value, err.reason)
            continue
        by_name += not ids
        multi_company += len(ids) > 1
        label = _first(cells, "stage")
        state = stages.get(_norm_label(label)) if label else None
        if state is None:
            state = "open"
            if label:
                unmapped[label] = unmapped.get(label, 0) + 1
        currency = _first(cells, "currency")
        product_line = _first(cells, "product_line")
        load.stage(
            "opportunities",
            {
                "opportunity_id": deal_id,
                "account_id": account_id,
                "name": _first(cells, "name"),
                "stage": label,
                "amount": amount,
                "close_date": close,
                "is_closed": state in ("won", "lost"),
                "is_won": state == "won",
                "product_line": product_line,
                "currency": currency,
                "created_date": created,
                SOURCE_FILE: f.name,
                SOURCE_ROW: row,
            },
        )
        if not revenue_from_deals:
            continue
        if state != "won":
            load.skip("revenue", f.name, row, "deal is not closed-won")
        elif amount is None:
            load.skip("revenue", f.name, row, f"closed-won deal without an amount ('{m['amount']}' is empty)")
        else:
            load.stage(
                "revenue",
                {
                    "revenue_id": deal_id,
                    "account_id": account_id,
                    "revenue_date": close,
                    "amount": amount,
                    "cost_of_goods": None,
                    "product_line": product_line,
                    "currency": currency,
                    SOURCE_FILE: f.name,
                    SOURCE_ROW: row,
                },
            )
    notes = load.result.notes
    if not has_company_column:
        notes.append(
            f"{f.name}: no '{m['company_ids']}' column, so deals cannot be linked to companies; "
            "export deals with their associated companies"
        )
    if multi_company:
        notes.append(
            f"{f.name}: {multi_company} deal(s) associated with several companies count for the first company only"
        )
    if by_name:
        notes.append(f"{f.name}: {by_name} deal(s) linked to their company by its name")
    if revenue_from_deals:
        notes.append(f"{f.name}: no revenue file, so closed-won deals are the booked revenue (dated Close Date)")
    closed_looking = sorted(label for label in unmapped if _CLOSED_LOOKING.search(label))
    if closed_looking:
        notes.append(
            f"{f.name}: stage labels that look closed but are not in [stages], staged as open: "
            + ", ".join(f"'{label}' ({unmapped[label]})" for label in closed_looking)
            + "; map them to won or lost in the mapping file"
        )
    others = sorted(label for label in unmapped if label not in closed_looking)
    if others:
        notes.append(
            f"{f.name}: stage labels not in [stages], staged as open: "
            + ", ".join(f"'{label}' ({unmapped[label]})" for label in others)
        )


# ---------------------------------------------------------------------------------------------------------
# Calls / meetings / e-mails → activities.


def _read_activities(load: _Load, f: _File, *, has_contacts: bool) -> None:
    kind = f.kind
    m = load.mapping[kind]
    activity_type = ACTIVITY_KINDS[kind]
    unit = _UNIT_ALIASES[m["duration_unit"].strip().lower()]
    outcomes = {_norm_label(k): v.strip().lower() for k, v in load.mapping["activity_outcomes"].items()}
    cutoff = load.export_date or datetime.now(timezone.utc).date()
    _quarantine_malformed(load, f, ["activities"])
    via_contact = 0
    dropped_contacts = 0
    for row, cells in f.rows():
        status = _first(cells, "status")
        if status is not None and outcomes.get(_norm_label(status)) == "not_held":
            load.skip("activities", f.name, row, f"{activity_type} not held ({m['status']} '{status}')")
            continue
        try:
            start, day = None, None
            when = _first(cells, "activity_date")
            if when is not None:
                try:
                    start, day = load.dates.moment(when)
                except ValueError as exc:
                    raise _RowError(m["activity_date"], when, str(exc)) from None
            duration = _parse(cells, "duration", lambda v: parse_duration_minutes(v, unit), m["duration"])
            if duration is None and start is not None:
                end = _parse(cells, "end_time", lambda v: load.dates.moment(v)[0], m["end_time"])
                if end is not None:
                    duration = (end - start).total_seconds() / 60
        except _RowError as err:
            load.reject("activities", f.name, row, err.column, err.value, err.reason)
            continue
        if day is not None and day > cutoff:
            load.skip("activities", f.name, row, f"{activity_type} dated after the export date ({cutoff})")
            continue
        contact_ids = split_ids(cells.get("contact_ids", ()))
        company_ids = split_ids(cells.get("company_ids", ()))
        account_id = company_ids[0] if company_ids else None
        if account_id is None:
            for cid in contact_ids:
                if cid in load.contact_accounts:
                    account_id = load.contact_accounts[cid]
                    via_contact += 1
                    break
        if account_id is None:
            load.skip("activities", f.name, row, f"{activity_type} has no associated company")
            continue
        contact_id = next((c for c in contact_ids if c in load.contact_accounts), None) if has_contacts else None
        dropped_contacts += bool(contact_ids) and contact_id is None
        load.stage(
            "activities",
            {
                "activity_id": normalise_id(_first(cells, "activity_id")),
                "account_id": account_id,
                "activity_date": day,
                "activity_type": activity_type,
                "contact_id": contact_id,
                "owner": clean_owner(_first(cells, "owner")),
                "duration_minutes": duration,
                "subject": _first(cells, "subject"),
                SOURCE_FILE: f.name,
                SOURCE_ROW: row,
            },
        )
    if via_contact:
        load.result.notes.append(f"{f.name}: {via_contact} {kind} linked to a company through their contact")
    if dropped_contacts:
        why = "no contacts file was read" if not has_contacts else "none of their contacts is in the contacts table"
        load.result.notes.append(f"{f.name}: {dropped_contacts} {kind} staged without a contact ({why})")


# ---------------------------------------------------------------------------------------------------------
# Canonical extras and staged frames.


def _read_canonical(load: _Load) -> dict[str, pl.DataFrame]:
    """Contract tables given as `<table>.csv|.parquet` for what HubSpot does not hold, staged as given."""
    out = read_extra_tables(
        load.folder, built_here=_BUILT_HERE, raw_files=load.result.raw_files, notes=load.result.notes,
        reject=load.reject, importer="HubSpot",
    )
    if "revenue" in out:
        load.result.notes.append("revenue.csv: revenue taken from this file, not from closed-won deals")
    if "wallet" in out:
        load.result.notes.append("wallet.csv: wallet taken from this file, not from the companies export")
    return out


_POLARS_TYPES = {"string": pl.String, "enum": pl.String, "date": pl.Date, "bool": pl.Boolean, "float": pl.Float64}


def _staged_frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a frame with every contract column (text, or typed where parsed here) and provenance."""
    spec = TABLES[table]
    schema: dict[str, Any] = {}
    for col in spec.columns:
        schema[col.name] = _POLARS_TYPES.get(col.type, pl.String)
    schema[SOURCE_FILE] = pl.String
    schema[SOURCE_ROW] = pl.Int64
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema)
