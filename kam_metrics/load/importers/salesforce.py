"""Salesforce importer: a folder of `<Object>.csv` files → staged canonical tables.

Accepts the three variants users have (docs/CRM_FORMATS.md):
1. the weekly Setup > Data Export: Windows-1252, every field quoted, booleans "0"/"1", datetimes
   `YYYY-MM-DD HH:MM:SS` (GMT), the empty-lookup placeholder `000000000000000AAA` (read as empty);
2. Data Loader / API extracts: UTF-8 with or without BOM, `…T…Z` / `…+0000` datetimes, true/false or
   1/empty booleans, header case varying (`ID,NAME`): headers are matched case-insensitively;
3. files re-saved in Excel: TRUE/FALSE, dates `MM/DD/YY`, datetimes `MM/DD/YY hh:mm AM` (US order).

IDs: every ID column is normalised to the 18-character form (sf_ids.normalize_id) before joining.

Rules (each row left out is listed in `skipped` with its rule, every other row is staged or
quarantined, per target table):
- IsDeleted = 1 → skipped (deleted record), for every object.
- Account → accounts (+ wallet from the wallet field, for the year of the export date, converted
  from the account currency to the reporting currency). Owner names come from User.csv when present,
  else the owner Id is kept. Executive_Sponsor__c holding a User Id is resolved to the name too.
- Contact → contacts. A contact without an account (a private contact) is quarantined. Seniority:
  the Seniority field when filled, else from Title by keywords, first match wins:
  VP / SVP / EVP / Vice President → vp; Chief / CEO / CFO / CTO / COO / CIO / President / Founder →
  c_level; Director / Head → director; Manager / Lead → manager; any other title → individual;
  no title → unknown.
- Task → activities when closed (IsClosed = 1; without an IsClosed column: Status = Completed); open
  tasks are skipped. Date: ActivityDate, else CompletedDateTime, else CreatedDate.
- Event → activities when dated on or before the export date (ActivityDate, else ActivityDateTime);
  later events are skipped, as are invitee copies (IsChild = 1) and recurring-series masters
  (IsRecurrence = 1, also for tasks). Duration: DurationInMinutes, or CallDurationInSeconds / 60.
- Activity account: AccountId, else WhatId when it is an account (001), an opportunity (006, its
  account) or a case (500, its account), else the account of the WhoId contact (003). None of these
  → quarantined. The contact is WhoId when it is a contact that was staged (else left empty, noted).
- An account whose ParentId is not among the accounts (deleted, or not in a filtered extract) keeps
  no parent (noted), rather than being rejected with everything that hangs on it.
- Activity type: (1) Type, TaskSubtype or EventSubtype matched exactly (case-insensitive) against the
  `[activity_types]` section of the mapping; a result of email or call is final; (2) otherwise
  keywords in Type, the subtypes and Subject, in this order of rules: qbr (QBR, business review),
  workshop, site_visit (site visit, on-site, visit), email (email, e-mail), call (call, phone),
  exec_meeting (exec, executive, EBR, C-level), meeting (meeting, meet, demo, presentation, lunch,
  dinner); a meeting from step 1 is refined by rules qbr…site_visit and exec_meeting; (3) otherwise
  an Event is a meeting and a Task is other.
- Case → cases; the account is AccountId, else the account of its ContactId; neither → quarantined
  (the reason names both). Priority Urgent → critical, Normal → medium.
- Opportunity → opportunities. IsClosed/IsWon, when missing, come from StageName (noted).
- Revenue: a `revenue.csv` in canonical form in the folder wins. Otherwise each closed-won opportunity
  is revenue dated CloseDate; with OpportunityLineItem.csv its line items are the revenue rows instead
  (amount TotalPrice, product line from Product2 Name via Product2Id, else ProductCode, else the
  line Name); opportunities that are not closed-won are skipped for revenue.
- Currencies: CurrencyIsoCode per row (`000` is not a currency). fx_rates from an `fx_rates.csv` in
  the folder, else CurrencyType.csv and DatedConversionRate.csv: Salesforce rates are units of the
  currency per 1 unit of the corporate currency, so rate = ConversionRate(reporting) /
  ConversionRate(currency). A dated rate is re-based with the reporting currency's rate in force on
  its StartDate; dated rates replace the static rate of their currency.
- The export date is the `options.export_date` of the mapping file, else the latest CreatedDate,
  LastModifiedDate or SystemModstamp in the files read.

File names, every header used and the custom programme fields can be renamed in a TOML mapping file
(`kam mapping init --format salesforce` writes the template). A mapped field that is not in the file
is listed in the notes; a missing required one stops the load with a LoadError naming it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from kam_metrics.load.contract import ACTIVITY_TYPES, SOURCE_FILE, SOURCE_ROW, TABLES
from kam_metrics.load.importers.base import (
    ImportResult,
    LoadError,
    RawFile,
    quarantine_frame,
    skipped_frame,
)
from kam_metrics.load.importers.canonical import read_extra_tables
from kam_metrics.load.importers.rules import seniority_from_title
from kam_metrics.load.importers.files import read_raw_csv
from kam_metrics.load.importers.mapping import Mapping, load_mapping, mapping_toml
from kam_metrics.load.importers.sf_ids import (
    EMPTY_LOOKUP_PLACEHOLDERS,
    key_prefix,
    normalize_id,
)

NAME = "salesforce"

# --------------------------------------------------------------------------------------------------
# Mapping defaults: section per Salesforce object, "our field" → the export's header.
# --------------------------------------------------------------------------------------------------

DEFAULT_MAPPING: Mapping = {
    "files": {
        "Account": "Account.csv",
        "Contact": "Contact.csv",
        "Opportunity": "Opportunity.csv",
        "OpportunityLineItem": "OpportunityLineItem.csv",
        "Product2": "Product2.csv",
        "Task": "Task.csv",
        "Event": "Event.csv",
        "Case": "Case.csv",
        "User": "User.csv",
        "CurrencyType": "CurrencyType.csv",
        "DatedConversionRate": "DatedConversionRate.csv",
        "revenue": "revenue.csv",
        "fx_rates": "fx_rates.csv",
    },
    "options": {
        "export_date": "",
        "currency": "",
        "product_line_field": "Name",
    },
    "Account": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "Name": "Name",
        "ParentId": "ParentId",
        "Type": "Type",
        "Industry": "Industry",
        "BillingCountry": "BillingCountry",
        "OwnerId": "OwnerId",
        "CreatedDate": "CreatedDate",
        "CurrencyIsoCode": "CurrencyIsoCode",
        "Key_Account__c": "Key_Account__c",
        "Key_Account_Since__c": "Key_Account_Since__c",
        "Executive_Sponsor__c": "Executive_Sponsor__c",
        "Wallet_Estimate__c": "Wallet_Estimate__c",
        "Relationship_Stage__c": "Relationship_Stage__c",
    },
    "Contact": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "AccountId": "AccountId",
        "Name": "Name",
        "FirstName": "FirstName",
        "LastName": "LastName",
        "Title": "Title",
        "Seniority__c": "Seniority__c",
        "Buying_Role__c": "Buying_Role__c",
        "Attitude__c": "Attitude__c",
    },
    "Opportunity": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "AccountId": "AccountId",
        "Name": "Name",
        "StageName": "StageName",
        "Amount": "Amount",
        "CloseDate": "CloseDate",
        "IsClosed": "IsClosed",
        "IsWon": "IsWon",
        "CurrencyIsoCode": "CurrencyIsoCode",
        "CreatedDate": "CreatedDate",
        "Product__c": "Product__c",
    },
    "OpportunityLineItem": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "OpportunityId": "OpportunityId",
        "Product2Id": "Product2Id",
        "ProductCode": "ProductCode",
        "Name": "Name",
        "Quantity": "Quantity",
        "UnitPrice": "UnitPrice",
        "TotalPrice": "TotalPrice",
        "CurrencyIsoCode": "CurrencyIsoCode",
    },
    "Product2": {"Id": "Id", "Name": "Name", "ProductCode": "ProductCode", "Family": "Family"},
    "Task": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "WhoId": "WhoId",
        "WhatId": "WhatId",
        "AccountId": "AccountId",
        "Subject": "Subject",
        "ActivityDate": "ActivityDate",
        "CompletedDateTime": "CompletedDateTime",
        "Status": "Status",
        "IsClosed": "IsClosed",
        "Type": "Type",
        "TaskSubtype": "TaskSubtype",
        "CallDurationInSeconds": "CallDurationInSeconds",
        "OwnerId": "OwnerId",
        "IsRecurrence": "IsRecurrence",
        "CreatedDate": "CreatedDate",
    },
    "Event": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "WhoId": "WhoId",
        "WhatId": "WhatId",
        "AccountId": "AccountId",
        "Subject": "Subject",
        "ActivityDate": "ActivityDate",
        "ActivityDateTime": "ActivityDateTime",
        "DurationInMinutes": "DurationInMinutes",
        "Type": "Type",
        "EventSubtype": "EventSubtype",
        "OwnerId": "OwnerId",
        "IsChild": "IsChild",
        "IsRecurrence": "IsRecurrence",
        "CreatedDate": "CreatedDate",
    },
    "Case": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "AccountId": "AccountId",
        "ContactId": "ContactId",
        "CreatedDate": "CreatedDate",
        "ClosedDate": "ClosedDate",
        "Priority": "Priority",
        "Status": "Status",
    },
    "User": {"Id": "Id", "Name": "Name", "FirstName": "FirstName", "LastName": "LastName", "Username": "Username"},
    "CurrencyType": {"IsoCode": "IsoCode", "ConversionRate": "ConversionRate", "IsCorporate": "IsCorporate"},
    "DatedConversionRate": {"IsoCode": "IsoCode", "ConversionRate": "ConversionRate", "StartDate": "StartDate"},
    "activity_types": {
        "Email": "email",
        "ListEmail": "email",
        "List Email": "email",
        "Call": "call",
        "Meeting": "meeting",
        "QBR": "qbr",
        "Site Visit": "site_visit",
        "Workshop": "workshop",
        "Executive Meeting": "exec_meeting",
    },
}
OPEN_SECTIONS = ("activity_types",)

_SECTION_NOTES = {
    "files": "File name of each Salesforce object in the export folder (matched case-insensitively). "
    "revenue.csv / fx_rates.csv: optional files in canonical form that replace the derived tables.",
    "options": "export_date: YYYY-MM-DD, else the latest CreatedDate/LastModifiedDate/SystemModstamp. "
    "currency: ISO code of rows without CurrencyIsoCode (single-currency orgs), else the reporting currency. "
    "product_line_field: Product2 field naming a product line (Name, ProductCode or Family).",
    "Account": "Account → accounts: Name → account_name, ParentId → parent_account_id, BillingCountry → region, "
    "Type → segment, OwnerId → kam_owner (a name from User.csv), Key_Account__c → is_key_account (a checkbox), "
    "Executive_Sponsor__c → executive_sponsor (a name or a User Id), Wallet_Estimate__c → a wallet row for the "
    "year of the export date, Relationship_Stage__c → relationship_stage.",
    "Contact": "Contact → contacts: Name (else FirstName LastName) → full_name; Seniority__c wins over the "
    "seniority inferred from Title; Buying_Role__c → buying_role; Attitude__c → attitude (-2 … 2 or "
    "Opponent … Mentor).",
    "Opportunity": "Opportunity → opportunities, and closed-won ones → revenue dated CloseDate; "
    "Product__c → product_line.",
    "Case": "Case → cases: CreatedDate → opened_date, ClosedDate → closed_date; without AccountId the "
    "account of ContactId.",
    "activity_types": "Exact Type / TaskSubtype / EventSubtype values → activity type "
    "(email, call, meeting, exec_meeting, qbr, site_visit, workshop, other). Add your own values.",
}

# Fields whose absence is normal and not worth a note (alternatives or refinements of other fields).
_QUIET_FIELDS = {
    "Contact": {"Name", "FirstName", "LastName"},
    "Task": {"CompletedDateTime", "IsRecurrence", "CreatedDate", "Status", "CallDurationInSeconds"},
    "Event": {"ActivityDateTime", "ActivityDate", "IsChild", "IsRecurrence", "CreatedDate", "EventSubtype"},
    "OpportunityLineItem": {"Quantity", "UnitPrice", "TotalPrice", "ProductCode", "Name", "Product2Id"},
    "User": {"Name", "FirstName", "LastName", "Username"},
    "Product2": {"ProductCode", "Family"},
    "CurrencyType": {"IsCorporate"},
}
_EXPORT_DATE_COLUMNS = ("createddate", "lastmodifieddate", "systemmodstamp")
_ID_FIELDS = {
    "Id", "AccountId", "ParentId", "OwnerId", "WhoId", "WhatId", "ContactId", "OpportunityId", "Product2Id",
}

RULE_DELETED = "IsDeleted = 1 (deleted record)"
RULE_OPEN_TASK = "open task (IsClosed = 0)"
RULE_CHILD_EVENT = "invitee copy of another event (IsChild = 1)"
RULE_RECURRENCE = "recurring series master (IsRecurrence = 1); its occurrences are separate rows"
RULE_NOT_WON = "opportunity not closed-won (IsWon = 0): not revenue"
RULE_SPLIT = "closed-won opportunity split into its line items (OpportunityLineItem.csv)"
RULE_NO_WALLET = "no wallet estimate on the account"

# --------------------------------------------------------------------------------------------------
# Value parsing (the Salesforce forms of dates, booleans and numbers)
# --------------------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}
_RE_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RE_DATETIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_RE_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?$", re.IGNORECASE
)
_RE_NUMBER_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_flag(value: str | None) -> bool | None:
    """A Salesforce checkbox: 1/0, true/false (any case), yes/no; empty is false; None when unreadable."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


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
                sign = 1 if zone[0] == "+" else -1
                digits = zone[1:].replace(":", "")
                offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                moment = datetime(day.year, day.month, day.day, int(m[4]), int(m[5]), int(m[6] or 0))
                moment = moment.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)
                return moment.date()
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


def clean_number(value: str | None) -> str | None:
    """A number as text, thousands separators removed (`1,234.50` → `1234.50`)."""
    if value is None:
        return None
    text = value.strip()
    if _RE_NUMBER_GROUPED.match(text):
        text = text.replace(",", "")
    return text or None


def to_float(value: str | None) -> float | None:
    text = clean_number(value)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _fmt_float(x: float) -> str:
    return repr(float(x))


def _flag_text(value: str | None) -> str | None:
    """A checkbox as `true`/`false` (empty is false); unreadable text is passed on for validation."""
    flag = parse_flag(value)
    if flag is None:
        return value.strip() if value else None
    return "true" if flag else "false"


def _currency(value: str | None) -> str | None:
    """An ISO currency code; Salesforce's `000` (no currency, on Task/User rows) is None."""
    text = (value or "").strip().upper()
    return None if not text or text == "000" else text


def _enum_text(value: str | None) -> str | None:
    """`Decision Maker` → `decision_maker` (validation then checks the enumeration)."""
    if value is None or not value.strip():
        return None
    return re.sub(r"[\s\-/]+", "_", value.strip().lower())


# --------------------------------------------------------------------------------------------------
# Derived fields: seniority, attitude, activity type, case priority
# --------------------------------------------------------------------------------------------------

_SENIORITY_ALIASES = {"c_suite": "c_level", "clevel": "c_level", "c_level_executive": "c_level",
                      "vice_president": "vp", "executive": "c_level", "individual_contributor": "individual"}


def _seniority(explicit: str | None, title: str | None) -> str:
    text = _enum_text(explicit)
    if text:
        return _SENIORITY_ALIASES.get(text, text)
    return seniority_from_title(title)


_ATTITUDE_WORDS = {
    "opponent": -2, "strong_opponent": -2, "blocker": -2, "non_supporter": -1, "nonsupporter": -1,
    "detractor": -1, "sceptic": -1, "skeptic": -1, "neutral": 0, "supporter": 1, "advocate": 1,
    "mentor": 2, "coach": 2,
}


def _attitude(value: str | None) -> str | None:
    text = _enum_text(value)
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


def _priority(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    return {"urgent": "critical", "normal": "medium", "p1": "critical", "p2": "high", "p3": "medium",
            "p4": "low"}.get(text, text)


# --------------------------------------------------------------------------------------------------
# Source files
# --------------------------------------------------------------------------------------------------


@dataclass
class _Source:
    """One object file with its mapped header lookup."""

    obj: str
    raw: RawFile
    malformed: list[tuple[int, str]]
    section: dict[str, str]
    columns: dict[str, str | None] = field(default_factory=dict)  # our field → actual header

    def __post_init__(self) -> None:
        lower = {c.lower(): c for c in self.raw.frame.columns if c != SOURCE_ROW}
        for fld, header in self.section.items():
            header = header.strip()
            self.columns[fld] = lower.get(header.lower()) if header else None

    @property
    def name(self) -> str:
        return self.raw.name

    def has(self, fld: str) -> bool:
        return self.columns.get(fld) is not None

    def missing(self) -> list[str]:
        """Mapped fields (with a header configured) that the file does not have."""
        return [f for f, h in self.section.items() if h.strip() and self.columns.get(f) is None]

    def require(self, *alternatives: str, purpose: str) -> None:
        if any(self.has(f) for f in alternatives):
            return
        shown = " or ".join(
            f"'{self.section.get(f, f) or f}' (mapping {self.obj}.{f})" for f in alternatives
        )
        raise LoadError(
            f"{self.name}: no column {shown}; it is required for {purpose}",
            file=self.name,
            column=self.section.get(alternatives[0], alternatives[0]),
        )

    def records(self) -> list[dict]:
        """Rows as dicts of our field → trimmed text (None for empty and the empty-lookup placeholder);
        ID fields in 18-character form; raw text under `_raw_<field>`; `_source_row`."""
        present = {f: h for f, h in self.columns.items() if h is not None}
        exprs = []
        for fld, header in present.items():
            col = pl.col(header).str.strip_chars()
            exprs.append(col.alias("_raw_" + fld))
            exprs.append(
                pl.when(col.is_null() | (col == "") | col.is_in(list(EMPTY_LOOKUP_PLACEHOLDERS)))
                .then(None)
                .otherwise(col)
                .alias(fld)
            )
        frame = self.raw.frame.select(*exprs, pl.col(SOURCE_ROW))
        rows = frame.to_dicts()
        # IDs repeat (owners, accounts): normalise each distinct value once.
        for fld in (f for f in present if f in _ID_FIELDS):
            normal = {v: normalize_id(v) for v in frame[fld].drop_nulls().unique().to_list()}
            for row in rows:
                value = row[fld]
                if value is not None:
                    row[fld] = normal[value]
        return rows


@dataclass
class _Out:
    """Accumulates staged rows, skipped rows and quarantine rows."""

    staged: dict[str, list[dict]] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)

    def stage(self, table: str, src_file: str, src_row: int, values: dict) -> None:
        row = dict(values)
        row[SOURCE_FILE] = src_file
        row[SOURCE_ROW] = src_row
        self.staged.setdefault(table, []).append(row)

    def skip(self, table: str, src_file: str, src_row: int, rule: str) -> None:
        self.skipped.append({"table": table, SOURCE_FILE: src_file, SOURCE_ROW: src_row, "rule": rule})

    def reject(self, table: str, src_file: str, src_row: int, column: str | None, value: str | None,
               reason: str) -> None:
        self.quarantine.append({"table": table, SOURCE_FILE: src_file, SOURCE_ROW: src_row, "column": column,
                                "value": value, "reason": reason})

    def malformed(self, source: _Source, *tables: str) -> None:
        for row_number, reason in source.malformed:
            for table in tables:
                self.reject(table, source.name, row_number, None, None, f"unreadable CSV row: {reason}")

    def frame(self, table: str) -> pl.DataFrame:
        columns = TABLES[table].column_names
        schema = {c: pl.String for c in columns} | {SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64}
        rows = self.staged.get(table, [])
        return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


# --------------------------------------------------------------------------------------------------
# The importer
# --------------------------------------------------------------------------------------------------


def _find_file(folder: Path, wanted: str) -> Path | None:
    """The file in `folder` whose name equals `wanted`, case-insensitively."""
    if not wanted.strip():
        return None
    exact = folder / wanted
    if exact.is_file():
        return exact
    lowered = wanted.strip().lower()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.lower() == lowered:
            return path
    return None


def _header_of(path: Path) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(65536)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("cp1252", errors="replace")
    first = next(csv.reader(io.StringIO(text)), [])
    return [h.strip() for h in first]


def mapping_template() -> str:
    """The default Salesforce mapping as commented TOML, for `kam mapping init --format salesforce`."""
    return mapping_toml(
        DEFAULT_MAPPING,
        "Salesforce mapping for `kam load --format salesforce`: [Object] sections map our field names "
        "(keys) to the headers of your export (values), matched case-insensitively. Set a value to \"\" "
        "to ignore a field.",
        notes=_SECTION_NOTES,
    )


class SalesforceImporter:
    name = NAME

    def detect(self, folder: Path) -> str | None:
        """A reason when the folder holds an Account.csv with Salesforce headers."""
        folder = Path(folder)
        if not folder.is_dir():
            return None
        path = _find_file(folder, DEFAULT_MAPPING["files"]["Account"])
        if path is None:
            return None
        try:
            header = _header_of(path)
        except OSError:
            return None
        lower = {h.lower(): h for h in header}
        if "id" not in lower:
            return None
        markers = [lower[m] for m in ("isdeleted", "ownerid", "systemmodstamp", "createddate") if m in lower]
        if not markers:
            return None
        return f"{path.name} with Salesforce headers ({', '.join([lower['id'], *markers])})"

    def read(self, folder: Path, *, settings=None, mapping: Path | None = None) -> ImportResult:
        return _Reader(Path(folder), settings, mapping).run()


IMPORTER = SalesforceImporter()


# Tables the Salesforce objects (or the importer's own revenue.csv / fx_rates.csv handling) give.
_BUILT_HERE = ("accounts", "contacts", "activities", "opportunities", "cases")
_READ_HERE = ("revenue", "fx_rates")  # canonical files the reader itself takes (see files.revenue / files.fx_rates)


class _Reader:
    def __init__(self, folder: Path, settings, mapping: Path | None):
        if not folder.is_dir():
            raise LoadError(f"{folder}: not a folder")
        self.folder = folder
        self.mapping = load_mapping(mapping, DEFAULT_MAPPING, open_sections=OPEN_SECTIONS)
        self.reporting = (getattr(settings, "reporting_currency", None) or "EUR").upper()
        self.notes: list[str] = []
        self.out = _Out()
        self.raw_files: list[RawFile] = []
        self.sources: dict[str, _Source] = {}
        self._people: dict[str, str] = {}  # owner/sponsor value → display name
        self._check_mapping_values()

    # -- mapping and files ------------------------------------------------------------------------

    def _check_mapping_values(self) -> None:
        for key, value in self.mapping["activity_types"].items():
            if value.strip().lower() not in ACTIVITY_TYPES:
                raise LoadError(
                    f"mapping: activity_types.'{key}' = '{value}' is not an activity type "
                    f"(expected one of: {', '.join(ACTIVITY_TYPES)})"
                )
        s = self.mapping["options"]
        if s["export_date"].strip():
            try:
                date.fromisoformat(s["export_date"].strip())
            except ValueError:
                raise LoadError(
                    f"mapping: options.export_date = '{s['export_date']}' is not a date YYYY-MM-DD"
                ) from None
        if s["currency"].strip() and not re.fullmatch(r"[A-Za-z]{3}", s["currency"].strip()):
            raise LoadError(f"mapping: options.currency = '{s['currency']}' is not a 3-letter ISO currency code")
        if s["product_line_field"] not in DEFAULT_MAPPING["Product2"]:
            raise LoadError(
                f"mapping: options.product_line_field = '{s['product_line_field']}' "
                f"(expected one of: Name, ProductCode, Family)"
            )

    def _open(self, obj: str) -> _Source | None:
        wanted = self.mapping["files"][obj]
        path = _find_file(self.folder, wanted)
        if path is None:
            return None
        table = read_raw_csv(path, legacy_encodings=True)
        self.raw_files.append(table.raw)
        if obj in ("revenue", "fx_rates"):
            section = {c.name: c.name for c in TABLES[obj].columns}
        else:
            section = self.mapping[obj]
        source = _Source(obj, table.raw, table.malformed, section)
        quiet = _QUIET_FIELDS.get(obj, set()) if obj not in ("revenue", "fx_rates") else None
        if quiet is not None:
            for fld in source.missing():
                if fld not in quiet:
                    self.notes.append(
                        f"{source.name}: no column {source.section[fld]} (mapping {obj}.{fld})"
                        + _MISSING_CONSEQUENCE.get((obj, fld), "")
                    )
        self.sources[obj] = source
        return source

    # -- run ----------------------------------------------------------------------------------------

    def run(self) -> ImportResult:
        files = self.mapping["files"]
        if _find_file(self.folder, files["Account"]) is None:
            raise LoadError(
                f"{self.folder}: no {files['Account']} (mapping files.Account); a Salesforce export needs "
                "the Account object",
                file=files["Account"],
            )
        for obj in files:
            self._open(obj)
        legacy = [s.name for s in self.sources.values() if s.raw.encoding not in ("utf-8", "utf-8-sig")]
        if legacy:
            self.notes.append("Read as Windows-1252 (not UTF-8, as in the weekly Data Export): " + ", ".join(legacy))
        # Programme tables a CRM does not hold (wallet, goals, actions, reviews, surveys, service costs)
        # may sit beside the export as canonical files.
        self.extra = read_extra_tables(
            self.folder, built_here=_BUILT_HERE, handled=_READ_HERE, raw_files=self.raw_files, notes=self.notes,
            reject=self.out.reject, importer="Salesforce",
        )
        used = {s.name.lower() for s in self.sources.values()} | {
            r.name.lower() for r in self.raw_files
        }
        ignored = sorted(p.name for p in self.folder.iterdir()
                         if p.is_file() and p.suffix.lower() == ".csv" and p.name.lower() not in used)
        if ignored:
            self.notes.append("Files not used by the Salesforce importer: " + ", ".join(ignored))

        self.export_date = self._export_date()
        self.users = self._users()
        self.fx = self._fx_rates()
        self._accounts()
        self._contacts()
        self._opportunities_and_revenue()
        self._cases()
        self._activities()

        tables = {t: self.out.frame(t) for t in self.out.staged}
        for table in self._present_tables:
            tables.setdefault(table, self.out.frame(table))
        for table, frame in self.extra.items():
            # IDs in companion files may be the 15-character ones the Salesforce UI shows.
            ids = [c for c in ("account_id", "contact_id", "parent_account_id") if c in frame.columns]
            self.extra[table] = frame.with_columns(
                [pl.col(c).map_elements(normalize_id, return_dtype=pl.String, skip_nulls=True) for c in ids]
            )
        if "wallet" in self.extra and "wallet" in tables:
            self.notes.append("wallet.csv: wallet taken from this file, not from Wallet_Estimate__c")
        tables.update(self.extra)
        return ImportResult(
            format=NAME,
            source_path=str(self.folder),
            raw_files=self.raw_files,
            tables=tables,
            skipped=skipped_frame(self.out.skipped),
            quarantine=quarantine_frame(self.out.quarantine),
            notes=self.notes,
            export_date=self.export_date.isoformat() if self.export_date else None,
        )

    @property
    def _present_tables(self) -> list[str]:
        present = ["accounts"]
        s = self.sources
        if "Contact" in s:
            present.append("contacts")
        if "Opportunity" in s:
            present.append("opportunities")
        if "Opportunity" in s or "revenue" in s:
            present.append("revenue")
        if "Task" in s or "Event" in s:
            present.append("activities")
        if "Case" in s:
            present.append("cases")
        if s["Account"].has("Wallet_Estimate__c"):
            present.append("wallet")
        if any(k in s for k in ("fx_rates", "CurrencyType", "DatedConversionRate")):
            present.append("fx_rates")
        return present

    # -- export date, users ------------------------------------------------------------------------

    def _export_date(self) -> date | None:
        setting = self.mapping["options"]["export_date"].strip()
        if setting:
            self.notes.append(f"Export date {setting} (mapping options.export_date)")
            return date.fromisoformat(setting)
        latest: date | None = None
        for source in self.sources.values():
            frame = source.raw.frame
            for col in frame.columns:
                if col.lower() not in _EXPORT_DATE_COLUMNS:
                    continue
                for value in frame[col].drop_nulls().unique().to_list():
                    parsed = parse_date(value)
                    if parsed and (latest is None or parsed > latest):
                        latest = parsed
        if latest is None:
            self.notes.append(
                "No CreatedDate/LastModifiedDate/SystemModstamp in the files: export date unknown; events are "
                "not filtered by date (set options.export_date in the mapping file)"
            )
        else:
            self.notes.append(f"Export date {latest.isoformat()} (the latest CreatedDate/LastModifiedDate/"
                              "SystemModstamp in the files)")
        return latest

    def _users(self) -> dict[str, str]:
        source = self.sources.get("User")
        if source is None:
            self.notes.append("No User.csv: owners are shown as Salesforce User Ids")
            return {}
        source.require("Id", purpose="owner names")
        names: dict[str, str] = {}
        for row in source.records():
            if not row.get("Id"):
                continue
            name = row.get("Name") or " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
            name = name or row.get("Username")
            if name:
                names[row["Id"]] = name
        return names

    def _person(self, value: str | None) -> str | None:
        """A user's name for a User Id (prefix 005), else the value as given."""
        if value is None:
            return None
        person = self._people.get(value)
        if person is None:
            ident = normalize_id(value)
            person = self.users.get(ident, ident) if key_prefix(ident) == "005" else value
            self._people[value] = person
        return person

    def _row_currency(self, value: str | None) -> str | None:
        return _currency(value) or (self.mapping["options"]["currency"].strip().upper() or None)

    # -- fx rates ------------------------------------------------------------------------------------

    def _fx_rates(self) -> list[tuple[str, float, date | None]]:
        """Stage fx_rates; returns (currency, rate, valid_from) for conversions made here (wallet)."""
        user_file = self.sources.get("fx_rates")
        ctype = self.sources.get("CurrencyType")
        dated = self.sources.get("DatedConversionRate")
        rates: list[tuple[str, float, date | None]] = []
        if user_file is not None:
            self.out.malformed(user_file, "fx_rates")
            for row in user_file.records():
                values = {c: row.get(c) for c in TABLES["fx_rates"].column_names}
                values["currency"] = _currency(values["currency"])
                values["valid_from"] = iso_date(values["valid_from"])
                self.out.stage("fx_rates", user_file.name, row[SOURCE_ROW], values)
                rate = to_float(values["rate"])
                if values["currency"] and rate and rate > 0:
                    rates.append((values["currency"], rate, parse_date(values["valid_from"])))
            for other in (ctype, dated):
                if other is not None:
                    self.out.malformed(other, "fx_rates")
                    for row in other.records():
                        self.out.skip("fx_rates", other.name, row[SOURCE_ROW],
                                      f"{user_file.name} given: its rates are used")
            self.notes.append(f"fx rates from {user_file.name}")
            return rates
        if ctype is None and dated is None:
            return rates

        R = self.reporting
        static: dict[str, tuple[float, int]] = {}
        static_rows: list[dict] = []
        corporate: str | None = None
        if ctype is not None:
            ctype.require("IsoCode", purpose="fx_rates.currency")
            ctype.require("ConversionRate", purpose="fx_rates.rate")
            self.out.malformed(ctype, "fx_rates")
            static_rows = ctype.records()
            for row in static_rows:
                code, rate = _currency(row.get("IsoCode")), to_float(row.get("ConversionRate"))
                if code and rate and rate > 0:
                    static[code] = (rate, row[SOURCE_ROW])
                    if parse_flag(row.get("IsCorporate")):
                        corporate = code
            if corporate is None:
                ones = [c for c, (r, _) in static.items() if r == 1.0]
                corporate = ones[0] if len(ones) == 1 else None
        dated_rows: list[dict] = []
        by_currency: dict[str, list[tuple[date, float]]] = {}
        if dated is not None:
            dated.require("IsoCode", purpose="fx_rates.currency")
            dated.require("ConversionRate", purpose="fx_rates.rate")
            dated.require("StartDate", purpose="fx_rates.valid_from")
            self.out.malformed(dated, "fx_rates")
            dated_rows = dated.records()
            for row in dated_rows:
                code, rate, start = (_currency(row.get("IsoCode")), to_float(row.get("ConversionRate")),
                                     parse_date(row.get("StartDate")))
                if code and rate and rate > 0 and start:
                    by_currency.setdefault(code, []).append((start, rate))
            for periods in by_currency.values():
                periods.sort()

        def reporting_rate(on: date | None) -> float | None:
            """ConversionRate of the reporting currency (units per corporate unit) in force on a date."""
            if R == corporate:
                return 1.0
            periods = by_currency.get(R)
            if periods and on is not None:
                in_force = [r for d, r in periods if d <= on]
                return in_force[-1] if in_force else periods[0][1]
            if R in static:
                return static[R][0]
            if periods:
                return periods[-1][1]
            return None

        r_has_dated = R in by_currency and R != corporate
        if reporting_rate(None) is None and not r_has_dated:
            reason = (f"the reporting currency {R} is not in {ctype.name if ctype else 'CurrencyType.csv'}"
                      f"{' or ' + dated.name if dated else ''}, so Salesforce rates cannot be converted to it")
            for src, rows in ((ctype, static_rows), (dated, dated_rows)):
                for row in rows:
                    self.out.reject("fx_rates", src.name, row[SOURCE_ROW], "IsoCode", row.get("_raw_IsoCode"),
                                    reason)
            self.notes.append(f"No fx rates: {reason}")
            return rates

        def add(src: _Source, row: dict, code: str, rate: float, valid_from: date | None) -> None:
            if valid_from is not None and valid_from.year < 1900:
                valid_from = date(1900, 1, 1)  # Salesforce's first period starts 0001-01-01
            values = {"currency": code, "rate": _fmt_float(rate),
                      "valid_from": valid_from.isoformat() if valid_from else None}
            self.out.stage("fx_rates", src.name, row[SOURCE_ROW], values)
            rates.append((code, rate, valid_from))

        for row in static_rows:
            code, rate = _currency(row.get("IsoCode")), to_float(row.get("ConversionRate"))
            src_row = row[SOURCE_ROW]
            if not code or rate is None or rate <= 0:
                self.out.reject("fx_rates", ctype.name, src_row, "ConversionRate", row.get("_raw_ConversionRate"),
                                "not a positive number" if code else "IsoCode is empty")
            elif code == R:
                self.out.skip("fx_rates", ctype.name, src_row, f"the reporting currency {R} itself (rate 1)")
            elif code in by_currency:
                self.out.skip("fx_rates", ctype.name, src_row,
                              f"dated rates for {code} in {dated.name} are used instead")
            elif code == corporate and r_has_dated:
                self.out.skip("fx_rates", ctype.name, src_row,
                              f"the corporate currency's rate comes from the dated rates of {R} in {dated.name}")
            else:
                add(ctype, row, code, reporting_rate(None) / rate, None)
        for row in dated_rows:
            code, rate, start = (_currency(row.get("IsoCode")), to_float(row.get("ConversionRate")),
                                 parse_date(row.get("StartDate")))
            src_row = row[SOURCE_ROW]
            if not code:
                self.out.reject("fx_rates", dated.name, src_row, "IsoCode", row.get("_raw_IsoCode"), "IsoCode is empty")
            elif rate is None or rate <= 0:
                self.out.reject("fx_rates", dated.name, src_row, "ConversionRate", row.get("_raw_ConversionRate"),
                                "not a positive number")
            elif start is None:
                self.out.reject("fx_rates", dated.name, src_row, "StartDate", row.get("_raw_StartDate"),
                                "not a date")
            elif code == R and R == corporate:
                self.out.skip("fx_rates", dated.name, src_row, f"the reporting currency {R} itself (rate 1)")
            elif code == R:
                if corporate:
                    # units of R per corporate unit: the corporate currency's rate from this date on
                    add(dated, row, corporate, rate, start)
                else:
                    self.out.skip("fx_rates", dated.name, src_row,
                                  f"the reporting currency {R} itself (no corporate currency known)")
            elif code == corporate:
                self.out.skip("fx_rates", dated.name, src_row, f"the corporate currency {code} is 1 to itself")
            else:
                add(dated, row, code, reporting_rate(start) / rate, start)
        origin = " and ".join(s.name for s in (ctype, dated) if s is not None)
        self.notes.append(
            f"fx rates to {R} from {origin}" + (f" (corporate currency {corporate})" if corporate else "")
        )
        return rates

    def _to_reporting(self, amount: float, currency: str | None, on: date | None) -> float | None:
        if currency is None or currency == self.reporting:
            return amount
        candidates = [(d, r) for c, r, d in self.fx if c == currency]
        if not candidates:
            return None
        dated = sorted((d, r) for d, r in candidates if d is not None)
        undated = [r for d, r in candidates if d is None]
        if dated and on is not None:
            in_force = [r for d, r in dated if d <= on]
            return amount * (in_force[-1] if in_force else dated[0][1])
        return amount * (undated[0] if undated else dated[-1][1])

    # -- accounts and wallet ------------------------------------------------------------------------

    def _accounts(self) -> None:
        src = self.sources["Account"]
        src.require("Id", purpose="accounts.account_id")
        src.require("Name", purpose="accounts.account_name")
        has_wallet = src.has("Wallet_Estimate__c")
        tables = ("accounts", "wallet") if has_wallet else ("accounts",)
        self.out.malformed(src, *tables)
        self.account_ids: set[str] = set()
        wallet_year = (self.export_date or date.today()).year
        for row in src.records():
            n = row[SOURCE_ROW]
            if parse_flag(row.get("IsDeleted")):
                for table in tables:
                    self.out.skip(table, src.name, n, RULE_DELETED)
                continue
            account_id = row.get("Id")
            if account_id:
                self.account_ids.add(account_id)
            key_flag = _flag_text(row.get("Key_Account__c")) if src.has("Key_Account__c") else "false"
            self.out.stage("accounts", src.name, n, {
                "account_id": account_id,
                "account_name": row.get("Name"),
                "is_key_account": key_flag or "false",
                "parent_account_id": row.get("ParentId"),
                "industry": row.get("Industry"),
                "region": row.get("BillingCountry"),
                "segment": row.get("Type"),
                "kam_owner": self._person(row.get("OwnerId")),
                "executive_sponsor": self._person(row.get("Executive_Sponsor__c")),
                "key_account_since": iso_date(row.get("Key_Account_Since__c")),
                "relationship_stage": _enum_text(row.get("Relationship_Stage__c")),
                "created_date": iso_date(row.get("CreatedDate")),
            })
            if has_wallet:
                self._wallet_row(src, row, wallet_year)
        # A parent that is not among the accounts (deleted, or outside a filtered extract) would reject
        # the whole account; the account is kept without its parent instead.
        orphans = 0
        for staged in self.out.staged.get("accounts", []):
            parent = staged["parent_account_id"]
            if parent is not None and parent not in self.account_ids:
                staged["parent_account_id"] = None
                orphans += 1
        if orphans:
            self.notes.append(
                f"{src.name}: {orphans} accounts name a parent that is not among the accounts (deleted or not "
                "exported); their parent_account_id is left empty"
            )

    def _wallet_row(self, src: _Source, row: dict, year: int) -> None:
        n = row[SOURCE_ROW]
        raw = row.get("Wallet_Estimate__c")
        if raw is None:
            self.out.skip("wallet", src.name, n, RULE_NO_WALLET + f" ({src.columns['Wallet_Estimate__c']} empty)")
            return
        amount_text = clean_number(raw)
        amount = to_float(raw)
        currency = self._row_currency(row.get("CurrencyIsoCode"))
        if amount is not None and currency and currency != self.reporting:
            converted = self._to_reporting(amount, currency, self.export_date)
            if converted is None:
                self.out.reject("wallet", src.name, n, "wallet_amount", raw,
                                f"wallet estimate in {currency} and no fx rate from {currency} to {self.reporting}")
                return
            amount_text = _fmt_float(converted)
        self.out.stage("wallet", src.name, n, {
            "account_id": row.get("Id"),
            "year": str(year),
            "wallet_amount": amount_text,
            "source": "kam_estimate",
        })

    # -- contacts -----------------------------------------------------------------------------------

    def _contacts(self) -> None:
        self.contact_account: dict[str, str] = {}  # every non-deleted contact with an account
        self.contact_ids: set[str] = set()  # contacts staged
        self.contact_rows: dict[str, bool] = {}  # contact Id → has an account (non-deleted contacts)
        src = self.sources.get("Contact")
        if src is None:
            self.notes.append("No Contact.csv: no contacts; activities and cases get no contact")
            return
        src.require("Id", purpose="contacts.contact_id")
        src.require("AccountId", purpose="contacts.account_id")
        src.require("Name", "LastName", purpose="contacts.full_name")
        self.out.malformed(src, "contacts")
        for row in src.records():
            n = row[SOURCE_ROW]
            if parse_flag(row.get("IsDeleted")):
                self.out.skip("contacts", src.name, n, RULE_DELETED)
                continue
            contact_id, account_id = row.get("Id"), row.get("AccountId")
            if contact_id:
                self.contact_rows[contact_id] = account_id is not None
            if account_id is None:
                self.out.reject("contacts", src.name, n, "account_id", row.get("_raw_AccountId") or "",
                                "contact has no AccountId (a private contact); a contact must belong to an account")
                continue
            if contact_id:
                self.contact_account[contact_id] = account_id
                self.contact_ids.add(contact_id)
            full_name = row.get("Name") or " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
            self.out.stage("contacts", src.name, n, {
                "contact_id": contact_id,
                "account_id": account_id,
                "full_name": full_name or None,
                "title": row.get("Title"),
                "seniority": _seniority(row.get("Seniority__c"), row.get("Title")),
                "buying_role": _enum_text(row.get("Buying_Role__c")),
                "attitude": _attitude(row.get("Attitude__c")),
            })

    # -- opportunities and revenue -----------------------------------------------------------------

    def _opportunities_and_revenue(self) -> None:
        self.opportunity_account: dict[str, str] = {}
        src = self.sources.get("Opportunity")
        revenue_file = self.sources.get("revenue")
        if revenue_file is not None:
            self._revenue_file(revenue_file)
        if src is None:
            if revenue_file is None:
                self.notes.append("No Opportunity.csv and no revenue.csv: no revenue")
            return
        src.require("Id", purpose="opportunities.opportunity_id")
        src.require("AccountId", purpose="opportunities.account_id")
        src.require("StageName", purpose="opportunities.stage")
        src.require("CloseDate", purpose="opportunities.close_date")
        derive_revenue = revenue_file is None
        tables = ("opportunities", "revenue") if derive_revenue else ("opportunities",)
        self.out.malformed(src, *tables)
        if not src.has("IsClosed") or not src.has("IsWon"):
            self.notes.append(f"{src.name}: IsClosed/IsWon taken from StageName (Closed … / Closed Won)")

        rows = src.records()
        opps: dict[str, dict] = {}
        for row in rows:
            if row.get("Id"):
                opps[row["Id"]] = row
                if row.get("AccountId"):
                    self.opportunity_account[row["Id"]] = row["AccountId"]
        lines_by_opp = self._line_items(opps) if derive_revenue else {}

        for row in rows:
            n = row[SOURCE_ROW]
            if parse_flag(row.get("IsDeleted")):
                for table in tables:
                    self.out.skip(table, src.name, n, RULE_DELETED)
                continue
            stage = row.get("StageName") or ""
            is_closed = (parse_flag(row.get("IsClosed")) if src.has("IsClosed")
                         else stage.lower().startswith("closed"))
            is_won = parse_flag(row.get("IsWon")) if src.has("IsWon") else stage.lower() == "closed won"
            currency = self._row_currency(row.get("CurrencyIsoCode"))
            close_date = iso_date(row.get("CloseDate"))
            lines = lines_by_opp.get(row.get("Id") or "", [])
            product_line = row.get("Product__c")
            if product_line is None and lines:
                distinct = {ln["product_line"] for ln in lines if ln["product_line"]}
                product_line = distinct.pop() if len(distinct) == 1 else None
            self.out.stage("opportunities", src.name, n, {
                "opportunity_id": row.get("Id"),
                "account_id": row.get("AccountId"),
                "name": row.get("Name"),
                "stage": row.get("StageName"),
                "amount": clean_number(row.get("Amount")),
                "close_date": close_date,
                "is_closed": _flag_text(row.get("IsClosed")) if src.has("IsClosed") else str(is_closed).lower(),
                "is_won": _flag_text(row.get("IsWon")) if src.has("IsWon") else str(is_won).lower(),
                "product_line": product_line,
                "currency": currency,
                "created_date": iso_date(row.get("CreatedDate")),
            })
            if not derive_revenue:
                continue
            if not is_won:
                self.out.skip("revenue", src.name, n, RULE_NOT_WON)
            elif lines:
                self.out.skip("revenue", src.name, n, RULE_SPLIT)
            else:
                self.out.stage("revenue", src.name, n, {
                    "revenue_id": row.get("Id"),
                    "account_id": row.get("AccountId"),
                    "revenue_date": close_date,
                    "amount": clean_number(row.get("Amount")),
                    "product_line": row.get("Product__c"),
                    "currency": currency,
                })
        if derive_revenue:
            self.notes.append("Revenue: closed-won opportunities dated CloseDate"
                              + (" split by OpportunityLineItem" if "OpportunityLineItem" in self.sources else ""))

    def _line_items(self, opps: dict[str, dict]) -> dict[str, list[dict]]:
        """Stage the revenue rows of line items of closed-won opportunities; lines per opportunity."""
        src = self.sources.get("OpportunityLineItem")
        if src is None:
            return {}
        src.require("Id", purpose="revenue.revenue_id")
        src.require("OpportunityId", purpose="revenue.account_id (through the opportunity)")
        src.require("TotalPrice", "UnitPrice", purpose="revenue.amount")
        self.out.malformed(src, "revenue")
        products = self._products()
        field_name = self.mapping["options"]["product_line_field"]
        by_opp: dict[str, list[dict]] = {}
        pending: list[tuple[dict, dict]] = []
        for row in src.records():
            n = row[SOURCE_ROW]
            if parse_flag(row.get("IsDeleted")):
                self.out.skip("revenue", src.name, n, RULE_DELETED)
                continue
            opp = opps.get(row.get("OpportunityId") or "")
            if opp is None:
                self.out.reject("revenue", src.name, n, "OpportunityId", row.get("_raw_OpportunityId"),
                                f"line item of an opportunity that is not in {self.sources['Opportunity'].name}")
                continue
            product = products.get(row.get("Product2Id") or "", {})
            product_line = (product.get(field_name) or product.get("Name") or row.get("ProductCode")
                            or row.get("Name"))
            line = {"row": row, "product_line": product_line}
            if parse_flag(opp.get("IsDeleted")):
                self.out.skip("revenue", src.name, n, "line item of a deleted opportunity")
                continue
            by_opp.setdefault(opp["Id"], []).append(line)
            pending.append((line, opp))
        opp_src = self.sources["Opportunity"]
        for line, opp in pending:
            row, n = line["row"], line["row"][SOURCE_ROW]
            stage = (opp.get("StageName") or "").lower()
            is_won = parse_flag(opp.get("IsWon")) if opp_src.has("IsWon") else stage == "closed won"
            if not is_won:
                self.out.skip("revenue", src.name, n, "line item of an opportunity not closed-won (IsWon = 0)")
                continue
            amount = clean_number(row.get("TotalPrice"))
            if amount is None:
                qty, price = to_float(row.get("Quantity")) or 1.0, to_float(row.get("UnitPrice"))
                amount = _fmt_float(qty * price) if price is not None else row.get("UnitPrice")
            self.out.stage("revenue", src.name, n, {
                "revenue_id": row.get("Id"),
                "account_id": opp.get("AccountId"),
                "revenue_date": iso_date(opp.get("CloseDate")),
                "amount": amount,
                "product_line": line["product_line"],
                "currency": self._row_currency(row.get("CurrencyIsoCode") or opp.get("CurrencyIsoCode")),
            })
        return by_opp

    def _products(self) -> dict[str, dict]:
        src = self.sources.get("Product2")
        if src is None:
            return {}
        src.require("Id", purpose="product lines")
        return {row["Id"]: row for row in src.records() if row.get("Id")}

    def _revenue_file(self, src: _Source) -> None:
        self.out.malformed(src, "revenue")
        for row in src.records():
            values = {c: row.get(c) for c in TABLES["revenue"].column_names}
            values["account_id"] = normalize_id(values["account_id"])
            values["revenue_date"] = iso_date(values["revenue_date"])
            values["amount"] = clean_number(values["amount"])
            values["cost_of_goods"] = clean_number(values["cost_of_goods"])
            values["currency"] = _currency(values["currency"])
            self.out.stage("revenue", src.name, row[SOURCE_ROW], values)
        self.notes.append(f"Revenue from {src.name}; closed-won opportunities are not counted as revenue")

    # -- cases --------------------------------------------------------------------------------------

    def _cases(self) -> None:
        self.case_account: dict[str, str] = {}
        src = self.sources.get("Case")
        if src is None:
            return
        src.require("Id", purpose="cases.case_id")
        src.require("CreatedDate", purpose="cases.opened_date")
        src.require("AccountId", "ContactId", purpose="cases.account_id")
        self.out.malformed(src, "cases")
        via_contact = 0
        for row in src.records():
            n = row[SOURCE_ROW]
            if parse_flag(row.get("IsDeleted")):
                self.out.skip("cases", src.name, n, RULE_DELETED)
                continue
            account_id = row.get("AccountId")
            if account_id is None:
                contact_id = row.get("ContactId")
                account_id = self.contact_account.get(contact_id or "")
                if account_id is None:
                    self.out.reject("cases", src.name, n, "account_id", row.get("_raw_AccountId") or "",
                                    "case has no AccountId and " + self._contact_problem(contact_id))
                    continue
                via_contact += 1
            if row.get("Id"):
                self.case_account[row["Id"]] = account_id
            self.out.stage("cases", src.name, n, {
                "case_id": row.get("Id"),
                "account_id": account_id,
                "opened_date": iso_date(row.get("CreatedDate")),
                "closed_date": iso_date(row.get("ClosedDate")),
                "priority": _priority(row.get("Priority")),
                "status": row.get("Status"),
            })
        if via_contact:
            self.notes.append(f"{src.name}: {via_contact} cases without AccountId took their contact's account")

    def _contact_problem(self, contact_id: str | None) -> str:
        if contact_id is None:
            return "no ContactId"
        if "Contact" not in self.sources:
            return f"its contact '{contact_id}' cannot be looked up (no Contact.csv)"
        if contact_id not in self.contact_rows:
            return f"its contact '{contact_id}' is not in {self.sources['Contact'].name}"
        return f"its contact '{contact_id}' has no AccountId"

    # -- activities ---------------------------------------------------------------------------------

    def _activities(self) -> None:
        type_map = self.mapping["activity_types"]
        self.dropped_contacts = 0
        self._type_cache: dict[tuple, str] = {}
        files = self.mapping["files"]
        if "Task" not in self.sources and "Event" not in self.sources:
            self.notes.append(f"No {files['Task']} or {files['Event']}: no activities")
            return
        for obj in ("Task", "Event"):
            src = self.sources.get(obj)
            if src is None:
                self.notes.append(f"No {files[obj]}: no activities from {obj}s")
                continue
            src.require("Id", purpose="activities.activity_id")
            if obj == "Task":
                src.require("ActivityDate", "CompletedDateTime", "CreatedDate", purpose="activities.activity_date")
                if not src.has("IsClosed"):
                    self.notes.append(f"{src.name}: no IsClosed column; tasks with Status = Completed are closed")
            else:
                src.require("ActivityDate", "ActivityDateTime", purpose="activities.activity_date")
            self.out.malformed(src, "activities")
            for row in src.records():
                self._activity(src, row, obj == "Event", type_map)
        if self.dropped_contacts:
            self.notes.append(
                f"{self.dropped_contacts} activities name a contact that is not among the contacts loaded; "
                "their contact_id is left empty"
            )

    def _activity(self, src: _Source, row: dict, is_event: bool, type_map: dict[str, str]) -> None:
        n = row[SOURCE_ROW]
        if parse_flag(row.get("IsDeleted")):
            self.out.skip("activities", src.name, n, RULE_DELETED)
            return
        if is_event and parse_flag(row.get("IsChild")):
            self.out.skip("activities", src.name, n, RULE_CHILD_EVENT)
            return
        if parse_flag(row.get("IsRecurrence")):
            self.out.skip("activities", src.name, n, RULE_RECURRENCE)
            return
        if is_event:
            day_text = row.get("ActivityDate") or row.get("ActivityDateTime")
            day = parse_date(day_text)
            if day and self.export_date and day > self.export_date:
                self.out.skip("activities", src.name, n,
                              f"event after the export date ({self.export_date.isoformat()})")
                return
            duration = clean_number(row.get("DurationInMinutes"))
        else:
            if src.has("IsClosed"):
                closed = parse_flag(row.get("IsClosed"))
            else:
                closed = (row.get("Status") or "").strip().lower() == "completed"
            if closed is None:
                self.out.reject("activities", src.name, n, "IsClosed", row.get("_raw_IsClosed"),
                                "not a checkbox value (expected 1/0 or true/false)")
                return
            if not closed:
                self.out.skip("activities", src.name, n, RULE_OPEN_TASK)
                return
            day_text = row.get("ActivityDate") or row.get("CompletedDateTime") or row.get("CreatedDate")
            seconds = to_float(row.get("CallDurationInSeconds"))
            duration = _fmt_float(seconds / 60.0) if seconds is not None else clean_number(
                row.get("CallDurationInSeconds"))

        who, what = row.get("WhoId"), row.get("WhatId")
        contact_id = who if key_prefix(who) == "003" else None
        account_id = row.get("AccountId")
        if account_id is None and what:
            prefix = key_prefix(what)
            if prefix == "001":
                account_id = what
            elif prefix == "006":
                account_id = self.opportunity_account.get(what)
            elif prefix == "500":
                account_id = self.case_account.get(what)
        if account_id is None and contact_id:
            account_id = self.contact_account.get(contact_id)
        if account_id is None:
            what_text = f"WhatId '{what}' does not lead to an account" if what else "WhatId is empty"
            who_text = (self._contact_problem(contact_id).replace("its contact", "contact") if contact_id
                        else (f"WhoId '{who}' is not a contact" if who else "WhoId is empty"))
            self.out.reject("activities", src.name, n, "account_id", row.get("_raw_AccountId") or "",
                            f"activity has no account: AccountId is empty, {what_text}, {who_text}")
            return
        if contact_id and contact_id not in self.contact_ids:
            contact_id = None
            self.dropped_contacts += 1
        type_key = (row.get("Type"), row.get("TaskSubtype"), row.get("EventSubtype"), row.get("Subject"), is_event)
        kind = self._type_cache.get(type_key)
        if kind is None:
            kind = activity_type(type_key[0], type_key[1:3], type_key[3], is_event=is_event, type_map=type_map)
            self._type_cache[type_key] = kind
        self.out.stage("activities", src.name, n, {
            "activity_id": row.get("Id"),
            "account_id": account_id,
            "activity_date": iso_date(day_text),
            "activity_type": kind,
            "contact_id": contact_id,
            "owner": self._person(row.get("OwnerId")),
            "duration_minutes": duration,
            "subject": row.get("Subject"),
        })


_MISSING_CONSEQUENCE = {
    ("Account", "Key_Account__c"): "; is_key_account set to false for all accounts",
    ("Account", "Wallet_Estimate__c"): "; no wallet rows",
    ("Account", "Executive_Sponsor__c"): "; executive_sponsor left empty",
    ("Account", "Relationship_Stage__c"): "; relationship_stage left empty",
    ("Account", "Key_Account_Since__c"): "; key_account_since left empty",
    ("Account", "OwnerId"): "; kam_owner left empty",
    ("Account", "CurrencyIsoCode"): "; amounts are in the options.currency of the mapping, else the reporting "
    "currency",
    ("Opportunity", "CurrencyIsoCode"): "; amounts are in the options.currency of the mapping, else the "
    "reporting currency",
    ("Contact", "Title"): "; seniority from the Seniority field only",
    ("Contact", "Seniority__c"): "; seniority inferred from Title",
    ("Contact", "Buying_Role__c"): "; buying_role set to unknown",
    ("Contact", "Attitude__c"): "; attitude left empty",
    ("Opportunity", "Product__c"): "; product_line from line items only",
    ("Task", "Type"): "; activity type from TaskSubtype and Subject",
    ("Event", "Type"): "; activity type from Subject",
}
