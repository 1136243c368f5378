"""What a CRM importer hands on, row by row: staged rows per table, rows skipped by rule, rows rejected.

`Staging` accumulates the three and turns them into the frames of an `ImportResult` (base.py): one staged
frame per canonical table (every contract column, as text or already typed, plus `_source_file` and
`_source_row`), the skipped frame and the quarantine frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import polars as pl

from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW, TABLES
from kam_metrics.load.importers.base import quarantine_frame, skipped_frame

#: Polars type of a contract column type, for staged columns an importer has typed itself.
TYPED = {"string": pl.String, "enum": pl.String, "date": pl.Date, "bool": pl.Boolean, "float": pl.Float64}


@dataclass
class Staging:
    """Staged rows per table, skipped rows and quarantine rows, in the order they were met."""

    staged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    def stage(self, table: str, row: dict[str, Any]) -> None:
        """A row of `table`: contract columns plus `_source_file` and `_source_row`."""
        self.staged.setdefault(table, []).append(row)

    def skip(self, table: str, src_file: str, src_row: int, rule: str) -> None:
        self.skipped.append({"table": table, SOURCE_FILE: src_file, SOURCE_ROW: src_row, "rule": rule})

    def reject(self, table: str, src_file: str, src_row: int, column: str | None, value: str | None,
               reason: str) -> None:
        self.quarantine.append({"table": table, SOURCE_FILE: src_file, SOURCE_ROW: src_row, "column": column,
                                "value": value, "reason": reason})

    def malformed(self, src_file: str, rows: Iterable[tuple[int, str]], tables: Iterable[str], prefix: str) -> None:
        """Reject the rows the CSV reader could not split (files.read_raw_csv), for every target table."""
        tables = list(tables)
        for row_number, reason in rows:
            for table in tables:
                self.reject(table, src_file, row_number, None, None, f"{prefix}: {reason}")

    def frame(self, table: str, *, typed: bool = False) -> pl.DataFrame:
        """The staged frame of `table`: contract columns as text, or in their own type when `typed`."""
        schema: dict[str, Any] = {
            c.name: (TYPED.get(c.type, pl.String) if typed else pl.String) for c in TABLES[table].columns
        }
        schema |= {SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64}
        rows = self.staged.get(table, [])
        return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)

    def skipped_frame(self) -> pl.DataFrame:
        return skipped_frame(self.skipped)

    def quarantine_frame(self) -> pl.DataFrame:
        return quarantine_frame(self.quarantine)
