"""The importer seam: what every CRM importer hands to validation.

An importer reads one export folder and returns an `ImportResult`:
- `raw_files`: every source file exactly as read (all columns as text, plus `_source_row`), so the
  snapshot holds every source row, raw or checked;
- `tables`: one *staged* frame per canonical table it could build. Staging only renames and
  normalises: canonical column names from contract.py, values as text (or already-typed Polars
  columns where the importer had to parse a CRM-specific form), plus `_source_file` and
  `_source_row` pointing at the source row the value came from;
- `skipped`: rows left out by a documented rule (deleted records, open tasks, …), with the rule;
- `quarantine`: rows the importer itself had to reject (e.g. a case whose account cannot be
  resolved), with the usual quarantine columns;
- `notes`: what the user should read in the load report (mapped fields not found, choices made);
- `absent_columns`: per table, the contract columns the export does not carry although the table is staged
  (a mapped field, or the whole file it comes from, is not in the export; or the CRM has no such field): the
  snapshot records them as absent (METRICS.md "Data that is not there"), so figures built on them are null,
  not zero or a default. Tables staged from canonical files need none: their header says what they carry;
- `reporting_currency` / `reporting_currency_source`: the currency the importer's rates and conversions are
  in, and a short sentence saying why (importers/reporting.py: the setting, else the export's own currency,
  else EUR). Validation converts every money column to it.

Parsing of the canonical forms, the pandera checks, cross-table checks, currency conversion and
storage are common to all importers and happen after this seam (kam_metrics/load/validate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl

from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW

QUARANTINE_SCHEMA = {
    "table": pl.String,
    SOURCE_FILE: pl.String,
    SOURCE_ROW: pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "reason": pl.String,
}
SKIPPED_SCHEMA = {"table": pl.String, SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64, "rule": pl.String}


class LoadError(Exception):
    """A whole-file problem that stops the load (exit code 2); the message names the file and column."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None):
        super().__init__(message)
        self.file = file
        self.column = column


@dataclass
class RawFile:
    name: str  # file name as in the export, e.g. "Account.csv"
    sha256: str
    frame: pl.DataFrame  # every column as text, as read, plus _source_row (1-based, header excluded)
    encoding: str = "utf-8"
    size_bytes: int = 0


@dataclass
class ImportResult:
    format: str
    source_path: str
    raw_files: list[RawFile] = field(default_factory=list)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    skipped: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SKIPPED_SCHEMA))
    quarantine: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=QUARANTINE_SCHEMA))
    notes: list[str] = field(default_factory=list)
    export_date: str | None = None  # YYYY-MM-DD, when the export says when it was taken
    #: ISO code of the currency every amount is to be reported in (None: an importer that does not say).
    reporting_currency: str | None = None
    #: Why that currency, e.g. "the org's corporate currency (CurrencyType.IsCorporate)", "setting reporting_currency".
    reporting_currency_source: str | None = None
    #: table → contract columns staged (as empty or a default) although the export does not carry them.
    absent_columns: dict[str, set[str]] = field(default_factory=dict)


class Importer(Protocol):
    name: str

    def detect(self, folder: Path) -> str | None:
        """A short reason when this folder looks like this importer's format, else None."""

    def read(self, folder: Path, *, settings, mapping: Path | None = None) -> ImportResult:
        """Read the export folder into staged canonical tables (see module doc)."""


def absent_from(carried: dict[str, dict[str, bool]]) -> dict[str, set[str]]:
    """{table: {column: whether the export carries it}} → {table: the columns it does not carry}, tables with
    none left out."""
    return {table: {c for c, has in columns.items() if not has} for table, columns in carried.items()
            if not all(columns.values())}


def quarantine_frame(rows: list[dict]) -> pl.DataFrame:
    """A quarantine frame from dicts with the QUARANTINE_SCHEMA keys."""
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA) if rows else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def skipped_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SKIPPED_SCHEMA) if rows else pl.DataFrame(schema=SKIPPED_SCHEMA)
