"""What one HubSpot read carries: the mapping, the identified export files, the output so far (shared
staging.Staging) and the lookups later exports need (company name → account, contact → account)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

from kam_metrics.load.contract import SOURCE_ROW
from kam_metrics.load.importers.base import ImportResult, RawFile
from kam_metrics.load.importers.hubspot.values import DateParser
from kam_metrics.load.importers.mapping import Mapping
from kam_metrics.load.importers.staging import Staging


@dataclass
class HubSpotRead:
    """What a read accumulates: staged rows per table, skipped and quarantined rows, notes."""

    folder: Path
    mapping: Mapping
    user_keys: set[tuple[str, str]]
    mapping_path: Path | None
    dates: DateParser
    export_date: date | None
    result: ImportResult
    out: Staging = field(default_factory=Staging)
    account_ids: set[str] = field(default_factory=set)
    account_names: dict[str, str | None] = field(default_factory=dict)  # casefold name → id (None: ambiguous)
    contact_accounts: dict[str, str] = field(default_factory=dict)  # staged contact id → account id

    def skip(self, table: str, file: str, row: int, rule: str) -> None:
        self.out.skip(table, file, row, rule)

    def reject(self, table: str, file: str, row: int, column: str | None, value: str | None, reason: str) -> None:
        self.out.reject(table, file, row, column, value, reason)

    def stage(self, table: str, row: dict[str, Any]) -> None:
        self.out.stage(table, row)


class RowError(Exception):
    """A cell of a row that cannot be read: the row goes to the quarantine with its column and value."""

    def __init__(self, column: str, value: str | None, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


@dataclass
class ExportFile:
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


def first(cells: dict[str, list[str | None]], key: str) -> str | None:
    """The first non-empty value of a key (over its duplicated columns), trimmed; None when empty."""
    for value in cells.get(key, ()):
        if value is not None and value.strip():
            return value.strip()
    return None


def quarantine_malformed(load: HubSpotRead, f: ExportFile, tables: Iterable[str]) -> None:
    load.out.malformed(f.name, f.malformed, tables, "malformed CSV row")


def parse_cell(cells: dict, key: str, parse: Callable[[str], Any], column: str) -> Any:
    """Parse a key's value, None when empty; RowError naming the column and value when it does not parse."""
    value = first(cells, key)
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise RowError(column, value, str(exc)) from None
