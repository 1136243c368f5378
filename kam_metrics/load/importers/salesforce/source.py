"""Salesforce export files: finding an object's file, its mapped headers, and its rows as records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kam_metrics.load.contract import SOURCE_ROW, TABLES
from kam_metrics.load.importers.base import LoadError, RawFile
from kam_metrics.load.importers.files import find_file, peek_header, read_raw_csv
from kam_metrics.load.importers.mapping import Mapping
from kam_metrics.load.importers.salesforce.fields import DEFAULT_MAPPING, ID_FIELDS, MISSING_CONSEQUENCE, QUIET_FIELDS
from kam_metrics.load.importers.sf_ids import EMPTY_LOOKUP_PLACEHOLDERS, normalize_id

#: Objects given as canonical files (every contract column under its own name), not Salesforce objects.
CANONICAL_OBJECTS = ("revenue", "fx_rates")


@dataclass
class Source:
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
        for fld in (f for f in present if f in ID_FIELDS):
            normal = {v: normalize_id(v) for v in frame[fld].drop_nulls().unique().to_list()}
            for row in rows:
                value = row[fld]
                if value is not None:
                    row[fld] = normal[value]
        return rows




def open_source(folder: Path, obj: str, mapping: Mapping, notes: list[str]) -> Source | None:
    """Read the file of object `obj` (None when the folder has none); notes name the mapped fields it lacks."""
    path = find_file(folder, mapping["files"][obj])
    if path is None:
        return None
    table = read_raw_csv(path, legacy_encodings=True)
    if obj in CANONICAL_OBJECTS:
        return Source(obj, table.raw, table.malformed, {c.name: c.name for c in TABLES[obj].columns})
    source = Source(obj, table.raw, table.malformed, mapping[obj])
    quiet = QUIET_FIELDS.get(obj, set())
    for fld in source.missing():
        if fld not in quiet:
            notes.append(
                f"{source.name}: no column {source.section[fld]} (mapping {obj}.{fld})"
                + MISSING_CONSEQUENCE.get((obj, fld), "")
            )
    return source


def detect(folder: Path) -> str | None:
    """A reason when the folder holds an Account.csv with Salesforce headers."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    path = find_file(folder, DEFAULT_MAPPING["files"]["Account"])
    if path is None:
        return None
    try:
        header = peek_header(path, legacy_encodings=True)
    except OSError:
        return None
    lower = {h.lower(): h for h in header}
    if "id" not in lower:
        return None
    markers = [lower[m] for m in ("isdeleted", "ownerid", "systemmodstamp", "createddate") if m in lower]
    if not markers:
        return None
    return f"{path.name} with Salesforce headers ({', '.join([lower['id'], *markers])})"
