"""The canonical export: one `<table>.csv` or `<table>.parquet` per table of DATA_CONTRACT.md.

Staging here only matches file and column names (case-insensitively, trimmed); every value stays
text for the common parser. Whole-file problems raise LoadError naming the file and column.
The reporting currency is the setting `reporting_currency`, else EUR (the amounts' currency column and
fx_rates.csv are the user's own, so nothing in the export overrides it).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import polars as pl

from kam_metrics.load.contract import REQUIRED_TABLES, SOURCE_FILE, SOURCE_ROW, TABLE_ORDER, TABLES
from kam_metrics.load.importers.base import ImportResult, LoadError, quarantine_frame
from kam_metrics.load.importers.files import read_raw_csv, read_raw_parquet
from kam_metrics.load.importers.reporting import DEFAULT_REPORTING_CURRENCY, SOURCE_SETTING, currency_setting

READABLE = (".csv", ".parquet")
#: Files at least this big are not read ahead beside another big one (see _ReadAhead).
BIG_FILE_BYTES = 64 * 1024 * 1024


def _read_text(path: Path):
    return read_raw_parquet(path) if path.suffix.lower() == ".parquet" else read_raw_csv(path)


class _ReadAhead:
    """Reads an export's files in order on a background thread, ahead of the consumer as long as every file it
    holds that the consumer has not finished with is small: the first big file is read while the small tables
    before it are checked (and while the checks are imported), and a big file never waits beside another.
    `take(i)` hands file i over (raising its read error, if any) and tells the reader the files before i are done.
    """

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.sizes = [p.stat().st_size for p in paths]
        self.done_before = 0  # files before this index are finished with
        self.results: dict[int, tuple] = {}
        self.stopped = False
        self.cond = threading.Condition()
        threading.Thread(target=self._run, name="kam-read-ahead", daemon=True).start()

    def _may_read(self, i: int) -> bool:
        return self.stopped or all(self.sizes[j] < BIG_FILE_BYTES for j in range(self.done_before, i))

    def _run(self) -> None:
        for i, path in enumerate(self.paths):
            with self.cond:
                self.cond.wait_for(lambda: self._may_read(i))
                if self.stopped:
                    return
            try:
                value = (_read_text(path), None)
            except BaseException as error:  # handed to the consumer by take(), in file order
                value = (None, error)
            with self.cond:
                self.results[i] = value
                self.cond.notify_all()
            if value[1] is not None:
                return

    def take(self, i: int):
        with self.cond:
            self.done_before = i
            self.cond.notify_all()
            self.cond.wait_for(lambda: i in self.results)
            text, error = self.results.pop(i)
        if error is not None:
            raise error
        return text

    def close(self) -> None:
        with self.cond:
            self.stopped = True
            self.results.clear()
            self.cond.notify_all()


def find_table_files(folder: Path) -> dict[str, Path]:
    """table → its file in the folder; LoadError for a table given twice or with an unreadable extension."""
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            by_stem.setdefault(path.stem.strip().lower(), []).append(path)
    found: dict[str, Path] = {}
    for table in TABLE_ORDER:
        candidates = by_stem.get(table, [])
        readable = [p for p in candidates if p.suffix.lower() in READABLE]
        if len(readable) > 1:
            names = " and ".join(p.name for p in readable)
            raise LoadError(f"{table}: found both {names}; keep only one file per table", file=readable[0].name)
        if readable:
            found[table] = readable[0]
        elif candidates:
            other = candidates[0]
            raise LoadError(
                f"{other.name}: wrong file extension '{other.suffix}' (save {table} as {table}.csv or {table}.parquet)",
                file=other.name,
            )
    return found


class CanonicalImporter:
    name = "kam"

    def detect(self, folder: Path) -> str | None:
        files = {p.name.lower() for p in folder.iterdir() if p.is_file()}
        hits = [t for t in REQUIRED_TABLES if f"{t}.csv" in files or f"{t}.parquet" in files]
        if "accounts.csv" in files or "accounts.parquet" in files:
            return f"canonical table files ({', '.join(hits)})"
        return None

    def read(self, folder: Path, *, settings=None, mapping: Path | None = None) -> ImportResult:
        result, _present, tables = self.read_lazily(folder, settings=settings, mapping=mapping)
        for table, staged in tables:
            result.tables[table] = staged
        return result

    def read_lazily(
        self, folder: Path, *, settings=None, mapping: Path | None = None
    ) -> tuple[ImportResult, list[str], Iterator[tuple[str, pl.DataFrame]]]:
        """(result without tables, the tables present, an iterator of (table, staged frame) in TABLE_ORDER).

        Each file is read when the iterator reaches it, so a load can check and store one table before
        reading the next; `result.raw_files` and `result.quarantine` grow as the iterator advances.
        Whole-export problems (mapping given, required file missing) raise here, before any file is read.
        """
        if mapping is not None:
            raise LoadError("--mapping applies to CRM formats (salesforce, hubspot), not the canonical format")
        files = find_table_files(folder)
        missing = [t for t in REQUIRED_TABLES if t not in files]
        if missing:
            raise LoadError(
                f"{missing[0]}.csv: required file missing from {folder} "
                f"(an export needs {', '.join(t + '.csv' for t in REQUIRED_TABLES)})",
                file=f"{missing[0]}.csv",
            )
        result = ImportResult(format=self.name, source_path=str(folder))
        setting = currency_setting(settings)
        result.reporting_currency = setting or DEFAULT_REPORTING_CURRENCY
        result.reporting_currency_source = SOURCE_SETTING if setting else "the default of the canonical format"
        ahead = _ReadAhead(list(files.values()))

        def tables() -> Iterator[tuple[str, pl.DataFrame]]:
            try:
                yield from read(ahead)
            finally:
                ahead.close()

        def read(ahead: _ReadAhead) -> Iterator[tuple[str, pl.DataFrame]]:
            for i, table in enumerate(files):
                text = ahead.take(i)
                raw = text.raw
                result.raw_files.append(raw)
                staged = stage_table(table, raw.frame, raw.name)
                if text.malformed:
                    rows = [
                        {"table": table, SOURCE_FILE: raw.name, SOURCE_ROW: row, "column": None, "value": None,
                         "reason": reason}
                        for row, reason in text.malformed
                    ]
                    result.quarantine = pl.concat([result.quarantine, quarantine_frame(rows)])
                yield table, staged

        return result, list(files), tables()


def stage_table(table: str, raw: pl.DataFrame, file_name: str) -> pl.DataFrame:
    """Canonical staging: match header names to the contract, check required columns, keep text."""
    spec = TABLES[table]
    by_name = {c.strip().lower(): c for c in raw.columns if c != SOURCE_ROW}
    for col in spec.required_columns:
        if col not in by_name:
            raise LoadError(f"{file_name}: required column '{col}' is missing", file=file_name, column=col)
    selected = [pl.col(by_name[c]).alias(c) for c in spec.column_names if c in by_name]
    return raw.select(selected + [pl.lit(file_name).alias(SOURCE_FILE), pl.col(SOURCE_ROW)])


IMPORTER = CanonicalImporter()


def read_extra_tables(
    folder: Path,
    *,
    built_here: tuple[str, ...],
    handled: tuple[str, ...] = (),
    raw_files: list,
    notes: list[str],
    reject,
    importer: str,
) -> dict[str, pl.DataFrame]:
    """Canonical `<table>.csv|.parquet` files beside a CRM export, staged as given.

    A CRM holds accounts, contacts, deals and activities, rarely wallet estimates, goals, plans and
    reviews: a KAM programme adds those as canonical files in the same folder. Tables the importer
    builds itself (`built_here`) are ignored with a note, those it reads itself (`handled`) silently.
    Every file read is appended to
    `raw_files`; malformed rows go to `reject(table, file, row, column, value, reason)`.
    """
    out: dict[str, pl.DataFrame] = {}
    for table, path in find_table_files(folder).items():
        if table in handled:
            continue
        if table in built_here:
            notes.append(f"{path.name}: ignored ({importer}'s own export gives {table})")
            continue
        text = _read_text(path)
        raw = text.raw
        raw_files.append(raw)
        for row, reason in text.malformed:
            reject(table, raw.name, row, None, None, f"malformed CSV row: {reason}")
        out[table] = stage_table(table, raw.frame, raw.name)
        notes.append(f"{path.name}: staged as the {table} table")
    return out
