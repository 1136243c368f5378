"""The programme store's tables and the rules every record follows (issue 14).

Seven tables hold what a CRM export lacks: reviews, goals, actions, wallet, account_profile,
contact_roles and notes. Their columns follow docs/DATA_CONTRACT.md where the contract has the
table (goals, actions, wallet, the review columns), plus what the app records (notes and next steps of
a review, an action's account and alert, …).

`validate_record(table, values)` checks one record (the store's `save` and the CSV import use the same
rules) and returns the normalised values and every problem as (column, reason). `validate_csv(path)`
checks a whole `<table>.csv` and returns every problem with file name, row number (the header is row 1),
column and reason.

Stored values are JSON-friendly: text as str, dates as "YYYY-MM-DD", bools as true/false, int and float.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Mapping

import polars as pl

from kam_metrics.csv_export import csv_safe_cell
from kam_metrics.load.contract import BUYING_ROLES, CONFIDENCES, HORIZONS, RELATIONSHIP_STAGES, REVIEW_TYPES
from kam_metrics.load.parse import FALSE_WORDS, TRUE_WORDS

STRING, LONG_TEXT, DATE, BOOL, INT, FLOAT, ENUM = "string", "long_text", "date", "bool", "int", "float", "enum"

ID_MAX_CHARS = 200
TEXT_MAX_CHARS = 500
LONG_TEXT_MAX_CHARS = 5000

POLARS_TYPES = {STRING: pl.String, LONG_TEXT: pl.String, ENUM: pl.String, DATE: pl.Date, BOOL: pl.Boolean,
                INT: pl.Int64, FLOAT: pl.Float64}
KEY_SEPARATOR = "|"


@dataclass(frozen=True)
class Field:
    name: str
    type: str = STRING
    required: bool = False
    enum: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    is_key: bool = False

    @property
    def max_chars(self) -> int:
        if self.is_key:
            return ID_MAX_CHARS
        return LONG_TEXT_MAX_CHARS if self.type == LONG_TEXT else TEXT_MAX_CHARS


@dataclass(frozen=True)
class ProgrammeTable:
    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    # Rules across columns: values → list of (column, reason); run only when every cell is readable.
    row_rules: tuple[Callable[[dict[str, Any]], list[tuple[str, str]]], ...] = field(default=(), compare=False)
    doc: str = ""

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def account_column(self) -> str | None:
        return "account_id" if "account_id" in self.columns else None

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def record_id(self, values: Mapping[str, Any]) -> str:
        """The record's id: its key values joined by "|" (an empty product_line of wallet is "")."""
        return KEY_SEPARATOR.join("" if values.get(k) is None else str(values[k]) for k in self.key)

    def key_values(self, record_id: str) -> dict[str, str]:
        """The key columns as text from a record id (the inverse of record_id)."""
        parts = record_id.split(KEY_SEPARATOR) if len(self.key) > 1 else [record_id]
        if len(parts) != len(self.key):
            raise ValidationError(self.name, [(KEY_SEPARATOR.join(self.key),
                                               f"record id {record_id!r} is not {KEY_SEPARATOR.join(self.key)}")])
        return dict(zip(self.key, parts))

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {f.name: POLARS_TYPES[f.type] for f in self.fields}


class ValidationError(ValueError):
    """A record that breaks the table's rules; `problems` lists every (column, reason)."""

    def __init__(self, table: str, problems: list[tuple[str, str]]):
        self.table = table
        self.problems = problems
        super().__init__(f"{table}: " + "; ".join(f"column {c}: {r}" for c, r in problems))


def _start_before_due(v: dict[str, Any]) -> list[tuple[str, str]]:
    if v.get("start_date") and v.get("due_date") and v["start_date"] > v["due_date"]:
        return [("due_date", f"due_date {v['due_date']} is before start_date {v['start_date']}")]
    return []


def _current_or_metric(v: dict[str, Any]) -> list[tuple[str, str]]:
    if v.get("metric") is None and v.get("current") is None:
        return [("current", "required when metric is empty")]
    return []


def _goal_or_account(v: dict[str, Any]) -> list[tuple[str, str]]:
    if v.get("goal_id") is None and v.get("account_id") is None:
        return [("goal_id", "an action needs a goal_id or an account_id")]
    return []


def _backup_not_self(v: dict[str, Any]) -> list[tuple[str, str]]:
    if v.get("backup_contact_id") is not None and v.get("backup_contact_id") == v.get("contact_id"):
        return [("backup_contact_id", "a contact cannot be their own backup")]
    return []


F = Field
TABLES: dict[str, ProgrammeTable] = {
    t.name: t
    for t in (
        ProgrammeTable(
            "reviews",
            (F("review_id", required=True, is_key=True), F("account_id", required=True),
             F("review_date", DATE, required=True), F("review_type", ENUM, required=True, enum=REVIEW_TYPES),
             F("rating", INT, min=1, max=5), F("notes", LONG_TEXT), F("next_steps", LONG_TEXT)),
            key=("review_id",),
            doc="The 90-day plans, 30-day reviews, QBRs and strategy days of each key account.",
        ),
        ProgrammeTable(
            "goals",
            (F("goal_id", required=True, is_key=True), F("title", required=True), F("account_id"), F("metric"),
             F("baseline", FLOAT), F("target", FLOAT, required=True), F("current", FLOAT),
             F("start_date", DATE, required=True), F("due_date", DATE, required=True), F("owner"),
             F("horizon", ENUM, enum=HORIZONS)),
            key=("goal_id",),
            row_rules=(_start_before_due, _current_or_metric),
            doc="Programme goals (no account_id) and account goals.",
        ),
        ProgrammeTable(
            "actions",
            (F("action_id", required=True, is_key=True), F("goal_id"), F("title", required=True), F("owner"),
             F("due_date", DATE), F("completed_date", DATE), F("account_id"), F("alert")),
            key=("action_id",),
            row_rules=(_goal_or_account,),
            doc="Steps toward a goal, or on an account (e.g. from an alert).",
        ),
        ProgrammeTable(
            "wallet",
            (F("account_id", required=True, is_key=True), F("year", INT, required=True, min=1900, max=2200, is_key=True),
             F("product_line", is_key=True), F("wallet_amount", FLOAT, required=True, min=0), F("source"),
             F("confidence", ENUM, enum=CONFIDENCES)),
            key=("account_id", "year", "product_line"),
            doc="The customer's estimated yearly spend on what we sell; an empty product_line is the whole wallet.",
        ),
        ProgrammeTable(
            "account_profile",
            (F("account_id", required=True, is_key=True), F("is_key_account", BOOL), F("executive_sponsor"),
             F("kam_owner"), F("relationship_stage", ENUM, enum=RELATIONSHIP_STAGES)),
            key=("account_id",),
            doc="What the programme decides about an account: key account or not, sponsor, KAM, stage.",
        ),
        ProgrammeTable(
            "contact_roles",
            (F("contact_id", required=True, is_key=True), F("buying_role", ENUM, enum=BUYING_ROLES),
             F("attitude", INT, min=-2, max=2), F("backup_contact_id")),
            key=("contact_id",),
            row_rules=(_backup_not_self,),
            doc="The relationship map: buying role, attitude (−2 opponent … 2 mentor) and backup of a contact.",
        ),
        ProgrammeTable(
            "notes",
            (F("note_id", required=True, is_key=True), F("account_id", required=True),
             F("note_date", DATE, required=True), F("author"), F("text", LONG_TEXT, required=True)),
            key=("note_id",),
            doc="Free notes on an account.",
        ),
    )
}
TABLE_ORDER = ["account_profile", "contact_roles", "goals", "actions", "reviews", "wallet", "notes"]
assert sorted(TABLE_ORDER) == sorted(TABLES)


def get_table(name: str) -> ProgrammeTable:
    try:
        return TABLES[name]
    except KeyError:
        raise ValidationError(name, [("", f"unknown programme table (expected one of {', '.join(TABLE_ORDER)})")]) \
            from None


_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")


def _cell(f: Field, value: Any) -> tuple[Any, str | None]:
    """One value → (normalised value, None) or (None, reason)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    if f.type in (STRING, LONG_TEXT, ENUM) or isinstance(value, str):
        if not isinstance(value, str):
            if f.type in (STRING, LONG_TEXT, ENUM):
                value = str(value)
        if isinstance(value, str):
            if "\x00" in value:
                return None, "contains a NUL character"
            value = value.strip()
            if value == "":
                return None, None
    if f.type in (STRING, LONG_TEXT):
        if len(value) > f.max_chars:
            return None, f"too long: {len(value):,} characters (at most {f.max_chars:,})"
        return value, None
    if f.type == ENUM:
        v = value.lower()
        if v not in f.enum:
            return None, f"{_short(value)!r} is not one of {', '.join(f.enum)}"
        return v, None
    if f.type == DATE:
        if isinstance(value, datetime):
            return value.date().isoformat(), None
        if isinstance(value, date):
            return value.isoformat(), None
        m = _DATE_PREFIX.match(value) if isinstance(value, str) else None
        try:
            return date.fromisoformat(m.group(1)).isoformat(), None  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            return None, f"not a date: {_short(value)!r} (expected YYYY-MM-DD)"
    if f.type == BOOL:
        if isinstance(value, bool):
            return value, None
        v = str(value).strip().lower()
        if v in TRUE_WORDS:
            return True, None
        if v in FALSE_WORDS:
            return False, None
        return None, f"not a yes/no value: {_short(value)!r} (expected true/false, 1/0, yes/no or y/n)"
    if f.type == INT:
        if isinstance(value, bool):
            return None, f"not a whole number: {value!r}"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                try:
                    as_float = float(str(value).strip())
                except ValueError:
                    return None, f"not a whole number: {_short(value)!r}"
                if not as_float.is_integer():
                    return None, f"not a whole number: {_short(value)!r}"
                value = int(as_float)
    elif f.type == FLOAT:
        if isinstance(value, bool):
            return None, f"not a number: {value!r}"
        try:
            value = float(value) if not isinstance(value, str) else float(value.strip())
        except ValueError:
            return None, f"not a number: {_short(value)!r}"
        if not math.isfinite(value):
            return None, f"not a finite number: {_short(value)!r}"
    if f.min is not None and value < f.min:
        return None, f"{value} is below the minimum {_num(f.min)}"
    if f.max is not None and value > f.max:
        return None, f"{value} is above the maximum {_num(f.max)}"
    return value, None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _short(value: Any, n: int = 60) -> str:
    text = str(value)
    return text if len(text) <= n else text[:n] + "…"


def validate_record(table: str, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Check one record: (normalised values with every column of the table, [(column, reason), …]).

    A column missing from `values` is null; an unknown column is a problem.
    """
    t = get_table(table)
    problems: list[tuple[str, str]] = []
    for name in values:
        if name not in t.columns:
            problems.append((str(name), f"unknown column of {table} (expected {', '.join(t.columns)})"))
    out: dict[str, Any] = {}
    for f in t.fields:
        value, reason = _cell(f, values.get(f.name))
        if reason is None and f.is_key and len(t.key) > 1 and isinstance(value, str) and KEY_SEPARATOR in value:
            reason = f"must not contain {KEY_SEPARATOR!r} (it separates the parts of the record id)"
        if reason:
            problems.append((f.name, reason))
        elif value is None and f.required:
            problems.append((f.name, "required"))
        out[f.name] = value
    if not problems:
        for rule in t.row_rules:
            problems += rule(out)
    return out, problems


def check_record(table: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """validate_record that raises ValidationError on any problem."""
    out, problems = validate_record(table, values)
    if problems:
        raise ValidationError(table, problems)
    return out


# --- CSV files --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileError:
    file: str
    row: int  # as in the file: the header is row 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column or '-'}: {self.reason}"


@dataclass
class CheckedFile:
    path: Path
    table: str
    columns: list[str]  # the table's columns the file carries (the others keep their stored value)
    records: list[tuple[int, str, dict[str, Any]]]  # (row, record_id, values of `columns`)
    errors: list[FileError]


# Spreadsheet safety of exported CSV files (the rule of kam_metrics/csv_export.py, made reversible): a text
# cell that starts with an apostrophe, or with what a spreadsheet would run as a formula, gets a leading
# apostrophe on export, and the import takes one leading apostrophe off again.
def csv_escape(value: str) -> str:
    return "'" + value if value.startswith("'") else csv_safe_cell(value)


def csv_unescape(value: str) -> str:
    return value[1:] if value.startswith("'") else value


def table_of_file(path: Path) -> str | None:
    """The programme table a file holds: `<table>.csv`, else None."""
    name = path.name.lower()
    if name.endswith(".csv") and name[:-4] in TABLES:
        return name[:-4]
    return None


def read_csv_file(path: str | Path, table: str | None = None) -> CheckedFile:
    """Read and check one `<table>.csv`: every problem with file name, row, column and reason.

    Columns of the table that the file does not carry are left out of the records (an import keeps their
    stored value); the key columns and the required ones must be there. Unknown extra columns are ignored,
    as in the data contract. Two rows with the same record id are an error on the second.
    """
    path = Path(path)
    name = path.name
    table = table or table_of_file(path)
    if table is None:
        return CheckedFile(path, "", [], [], [FileError(
            name, 1, "", f"not a programme table file (expected one of {', '.join(t + '.csv' for t in TABLE_ORDER)})")])
    t = TABLES[table]
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return CheckedFile(path, table, [], [], [FileError(name, 1, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")])
    except OSError as exc:
        return CheckedFile(path, table, [], [], [FileError(name, 1, "", f"cannot be read: {exc.strerror}")])
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return CheckedFile(path, table, [], [], [FileError(name, 1, "", f"not a readable CSV file: {exc}")])
    if not rows:
        return CheckedFile(path, table, [], [], [FileError(name, 1, "", "empty file: no header row")])
    header = [h.strip().lower() for h in rows[0]]
    errors: list[FileError] = []
    seen_header: set[str] = set()
    for h in header:
        if h in seen_header and h in t.columns:
            errors.append(FileError(name, 1, h, "column appears twice in the header"))
        seen_header.add(h)
    for f in t.fields:
        if (f.required or f.is_key) and f.name not in header:
            errors.append(FileError(name, 1, f.name, "required column missing from the header"))
    if errors:
        return CheckedFile(path, table, [], [], errors)
    columns = [c for c in t.columns if c in header]
    index = {c: header.index(c) for c in columns}
    records: list[tuple[int, str, dict[str, Any]]] = []
    first_row_of: dict[str, int] = {}
    for row_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) > len(header):
            errors.append(FileError(name, row_number, "", f"{len(row)} cells but the header has {len(header)} columns"))
            continue
        raw = {c: csv_unescape(row[i]) if i < len(row) else None for c, i in index.items()}
        values, problems = validate_record(table, raw)
        for column, reason in problems:
            errors.append(FileError(name, row_number, column, reason))
        if problems:
            continue
        record_id = t.record_id(values)
        if record_id in first_row_of:
            errors.append(FileError(name, row_number, ",".join(t.key),
                                    f"record {record_id!r} appears twice (first in row {first_row_of[record_id]})"))
            continue
        first_row_of[record_id] = row_number
        records.append((row_number, record_id, {c: values[c] for c in columns}))
    return CheckedFile(path, table, columns, records, errors)


def validate_csv(path: str | Path, table: str | None = None) -> list[FileError]:
    """Every problem of one programme CSV file (file name, row as in the file with the header as row 1,
    column, reason); an empty list when the whole file is good."""
    return read_csv_file(path, table).errors


def write_csv(path: Path, table: str, records: list[dict[str, Any]]) -> None:
    """Write records as `<table>.csv`, the form read_csv_file reads back to the same values."""
    t = TABLES[table]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(t.columns)
        for rec in records:
            w.writerow([_csv_text(t.field(c), rec.get(c)) for c in t.columns])


def _csv_text(f: Field, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return csv_escape(value)
    return str(value)
