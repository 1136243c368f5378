"""One load: export (folder or zip) → importer → checks → a new DuckDB snapshot → switch.

`load_export` is the only writer of the warehouse. It holds the load lock, cleans leftovers of
killed loads, builds the complete snapshot under a temporary name (checked tables, quarantine,
skipped rows, raw rows, load log, precomputed marts) and publishes it atomically. A LoadError
(whole-file problem) leaves the warehouse exactly as it was.
"""

from __future__ import annotations

import importlib
import os
import re
import time
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl

from kam_metrics import warehouse
from kam_metrics.archive import extract_zip
from kam_metrics.contract import SOURCE_FILE, SOURCE_ROW, TABLE_ORDER, TABLES, warehouse_columns
from kam_metrics.importers import detect_format, get_importer
from kam_metrics.importers.base import QUARANTINE_SCHEMA, SKIPPED_SCHEMA, ImportResult, LoadError
from kam_metrics.settings import Settings
from kam_metrics.validate import CheckedTables, check_tables
from kam_metrics.verify import raw_checksum

Progress = Callable[[str, float], None]


@dataclass
class TableCount:
    table: str
    is_present: bool
    read: int
    loaded: int
    quarantined: int
    skipped: int


@dataclass
class LoadReport:
    load_id: str
    format: str
    format_reason: str
    source_path: str
    snapshot_path: Path
    started_at: datetime
    finished_at: datetime
    as_of_default: date | None
    tables: list[TableCount]
    quarantine: pl.DataFrame
    skipped: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    cleaned_leftovers: list[str] = field(default_factory=list)

    @property
    def quarantined_rows(self) -> int:
        return sum(t.quarantined for t in self.tables)

    def top_reasons(self, n: int = 5) -> list[tuple[str, str, int]]:
        """(table, reason, rows) most frequent first; numbers and quoted values folded into one reason."""
        folded = Counter(
            (t, re.sub(r"row \d+", "row …", re.sub(r"'[^']*'", "'…'", r)))
            for t, r in self.quarantine.select("table", "reason").iter_rows()
        )
        return [(t, r, n_) for (t, r), n_ in folded.most_common(n)]

    def as_text(self) -> str:
        lines = [
            f"Loaded {self.source_path} as {self.format} ({self.format_reason})",
            f"Snapshot {self.load_id}; as_of {self.as_of_default or 'n/a'}",
            "",
            f"{'table':<15}{'read':>10}{'loaded':>10}{'quarantined':>13}{'skipped':>9}",
        ]
        for t in self.tables:
            if t.is_present:
                lines.append(f"{t.table:<15}{t.read:>10}{t.loaded:>10}{t.quarantined:>13}{t.skipped:>9}")
        absent = [t.table for t in self.tables if not t.is_present]
        if absent:
            lines.append(f"(not in this export: {', '.join(absent)})")
        reasons = self.top_reasons()
        if reasons:
            lines += ["", "Top quarantine reasons:"]
            lines += [f"  {n:>6}  {t}: {r}" for t, r, n in reasons]
            lines.append("See them all with `kam quarantine`.")
        if not self.skipped.is_empty():
            lines += ["", "Skipped by rule:"]
            for (t, rule), n in Counter(self.skipped.select("table", "rule").iter_rows()).most_common():
                lines.append(f"  {n:>6}  {t}: {rule}")
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        if self.cleaned_leftovers:
            lines.append(f"Removed {len(self.cleaned_leftovers)} leftover file(s) of an interrupted load.")
        return "\n".join(lines)


def _noop(stage: str, fraction: float) -> None:
    pass


PAUSE_ENV = "KAM_PAUSE_AT_STAGE"  # test hook: "<stage>:<marker file>" pauses a load at that stage


def _stage(progress: Progress, stage: str, fraction: float) -> None:
    """Report a stage; when $KAM_PAUSE_AT_STAGE names it, touch the marker and wait (kill tests)."""
    progress(stage, fraction)
    pause = os.environ.get(PAUSE_ENV, "")
    if pause.partition(":")[0] == stage:
        Path(pause.partition(":")[2]).touch()
        time.sleep(300)


def load_export(
    path: str | Path,
    data_dir: str | Path,
    *,
    fmt: str = "auto",
    settings: Settings | None = None,
    mapping: str | Path | None = None,
    progress: Progress = _noop,
) -> LoadReport:
    """Load one export into a new snapshot and make it current; LoadError leaves the warehouse unchanged."""
    settings = settings or Settings()
    source = Path(path)
    data_dir = Path(data_dir)
    if not source.exists():
        raise LoadError(f"{source}: no such file or folder", file=str(source))
    started = datetime.now(timezone.utc)
    with warehouse.load_lock(data_dir):
        cleaned = [p.name for p in warehouse.clean_leftovers(data_dir)]
        with tempfile.TemporaryDirectory(prefix="kam-load-") as scratch:
            folder = source
            if source.is_file():
                if source.suffix.lower() != ".zip":
                    raise LoadError(
                        f"{source.name}: expected an export folder or a .zip of one, got a '{source.suffix}' file",
                        file=source.name,
                    )
                _stage(progress, "unpacking", 0.02)
                folder = extract_zip(
                    source, Path(scratch) / "export",
                    max_entries=settings.max_zip_entries,
                    max_uncompressed_bytes=settings.max_zip_uncompressed_mb * 1_000_000,
                )
            _stage(progress, "reading", 0.05)
            if fmt == "auto":
                fmt, reason = detect_format(folder)
            else:
                reason = "chosen with --format"
            result = get_importer(fmt).read(folder, settings=settings, mapping=Path(mapping) if mapping else None)
            _stage(progress, "checking", 0.35)
            checked = check_tables(result.tables, settings)
            load_id = warehouse.new_load_id(started)
            _stage(progress, "writing snapshot", 0.6)
            counts = count_rows(result, checked)
            as_of = default_as_of(checked)
            tmp = warehouse.temp_snapshot_path(data_dir, load_id)
            previous = warehouse.current_snapshot_path(data_dir)
            con = duckdb.connect(str(tmp))
            try:
                quarantine = pl.concat([result.quarantine.cast(QUARANTINE_SCHEMA), checked.quarantine]).sort(
                    "table", SOURCE_FILE, SOURCE_ROW, maintain_order=True
                )
                _write_snapshot(con, load_id, result, checked, quarantine, counts, as_of, settings, started,
                                str(source), fmt, previous, progress)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            _stage(progress, "publishing", 0.97)
            snapshot = warehouse.finalize_snapshot(data_dir, load_id)
            _stage(progress, "switching", 0.99)
            warehouse.switch_current(data_dir, load_id, settings.keep_snapshots)
    progress("done", 1.0)
    return LoadReport(
        load_id=load_id, format=fmt, format_reason=reason, source_path=str(source), snapshot_path=snapshot,
        started_at=started, finished_at=datetime.now(timezone.utc), as_of_default=as_of, tables=counts,
        quarantine=quarantine, skipped=result.skipped, notes=list(result.notes), cleaned_leftovers=cleaned,
    )


def count_rows(result: ImportResult, checked: CheckedTables) -> list[TableCount]:
    """Per table: read = loaded + quarantined + skipped, counting distinct source rows."""
    counts = []
    q_all = pl.concat([result.quarantine.cast(QUARANTINE_SCHEMA), checked.quarantine])
    for table in TABLE_ORDER:
        present = table in result.tables or table in set(result.skipped["table"]) or table in set(
            result.quarantine["table"]
        )
        loaded = checked.tables[table].height
        quarantined = q_all.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).unique().height
        skipped = result.skipped.filter(pl.col("table") == table).height
        counts.append(TableCount(table, present, loaded + quarantined + skipped, loaded, quarantined, skipped))
    return counts


def default_as_of(checked: CheckedTables, today: date | None = None) -> date | None:
    """METRICS.md as_of: the latest activity_date or revenue_date that is not after today."""
    today = today or date.today()
    dates = [
        checked.tables["activities"]["activity_date"].filter(checked.tables["activities"]["activity_date"] <= today).max(),
        checked.tables["revenue"]["revenue_date"].filter(checked.tables["revenue"]["revenue_date"] <= today).max(),
    ]
    dates = [d for d in dates if d is not None]
    return max(dates) if dates else None


def _raw_table_name(file_name: str, used: set[str]) -> str:
    stem = re.sub(r"[^0-9a-zA-Z]+", "_", Path(file_name).stem).strip("_").lower() or "file"
    name = f"raw__{stem}"
    n = 2
    while name in used:
        name = f"raw__{stem}_{n}"
        n += 1
    used.add(name)
    return name


def _write_snapshot(con, load_id, result, checked, quarantine, counts, as_of, settings, started, source_path, fmt,
                    previous, progress) -> None:
    for i, table in enumerate(TABLE_ORDER):
        warehouse.write_frame(con, table, checked.tables[table], warehouse_columns(table))
        progress("writing snapshot", 0.6 + 0.2 * (i + 1) / len(TABLE_ORDER))
    warehouse.write_frame(
        con, "quarantine", quarantine.with_columns(pl.lit(load_id).alias("load_id")),
        [("load_id", "VARCHAR"), ("table", "VARCHAR"), (SOURCE_FILE, "VARCHAR"), (SOURCE_ROW, "BIGINT"),
         ("column", "VARCHAR"), ("value", "VARCHAR"), ("reason", "VARCHAR")],
    )
    warehouse.write_frame(
        con, "skipped", result.skipped.cast(SKIPPED_SCHEMA).with_columns(pl.lit(load_id).alias("load_id")),
        [("load_id", "VARCHAR"), ("table", "VARCHAR"), (SOURCE_FILE, "VARCHAR"), (SOURCE_ROW, "BIGINT"),
         ("rule", "VARCHAR")],
    )
    _stage(progress, "writing raw rows", 0.8)
    used: set[str] = set()
    files = []
    for raw in result.raw_files:
        name = _raw_table_name(raw.name, used)
        warehouse.write_frame(con, name, raw.frame)
        files.append(
            {"load_id": load_id, "file": raw.name, "raw_table": name, "sha256": raw.sha256,
             "size_bytes": raw.size_bytes, "rows": raw.frame.height, "encoding": raw.encoding,
             "raw_checksum": raw_checksum(con, name)}
        )
    warehouse.write_frame(
        con, "load_files",
        pl.DataFrame(files, schema={"load_id": pl.String, "file": pl.String, "raw_table": pl.String,
                                    "sha256": pl.String, "size_bytes": pl.Int64, "rows": pl.Int64,
                                    "encoding": pl.String, "raw_checksum": pl.String}),
    )
    warehouse.write_frame(
        con, "load_tables",
        pl.DataFrame(
            [{"load_id": load_id, "position": i, "table": c.table, "is_present": c.is_present, "read": c.read,
              "loaded": c.loaded, "quarantined": c.quarantined, "skipped": c.skipped} for i, c in enumerate(counts)],
            schema={"load_id": pl.String, "position": pl.Int64, "table": pl.String, "is_present": pl.Boolean,
                    "read": pl.Int64, "loaded": pl.Int64, "quarantined": pl.Int64, "skipped": pl.Int64},
        ),
    )
    log_schema = {
        "load_id": pl.String, "started_at": pl.Datetime("us", "UTC"), "finished_at": pl.Datetime("us", "UTC"),
        "source_path": pl.String, "format": pl.String, "status": pl.String, "as_of_default": pl.Date,
        "rows_read": pl.Int64, "rows_loaded": pl.Int64, "rows_quarantined": pl.Int64, "rows_skipped": pl.Int64,
        "notes": pl.String,
    }
    this_load = pl.DataFrame(
        [{
            "load_id": load_id, "started_at": started, "finished_at": datetime.now(timezone.utc),
            "source_path": source_path, "format": fmt, "status": "ok", "as_of_default": as_of,
            "rows_read": sum(c.read for c in counts), "rows_loaded": sum(c.loaded for c in counts),
            "rows_quarantined": sum(c.quarantined for c in counts), "rows_skipped": sum(c.skipped for c in counts),
            "notes": "\n".join(result.notes),
        }],
        schema=log_schema,
    )
    history = _previous_history(previous, log_schema)
    warehouse.write_frame(con, "load_log", pl.concat([history, this_load]))
    info = {
        "load_id": load_id, "format": fmt, "source_path": source_path,
        "as_of_default": as_of.isoformat() if as_of else "", "reporting_currency": settings.reporting_currency,
        "present_tables": ",".join(t for t in TABLE_ORDER if t in checked.present),
        "export_date": result.export_date or "",
    }
    warehouse.write_frame(con, "snapshot_info", pl.DataFrame({"key": list(info), "value": list(info.values())}))
    _stage(progress, "precomputing aggregates", 0.85)
    build_marts = _marts_builder()
    if build_marts is not None:
        build_marts(con, settings)


def _marts_builder():
    try:
        module = importlib.import_module("kam_metrics.marts")
    except ModuleNotFoundError:
        return None
    return getattr(module, "build_marts", None)


def _previous_history(previous: Path | None, schema: dict) -> pl.DataFrame:
    """load_log rows of the snapshot being replaced, so every snapshot carries the load history."""
    if previous is None:
        return pl.DataFrame(schema=schema)
    try:
        con = warehouse.connect_snapshot(previous)
    except duckdb.Error:
        return pl.DataFrame(schema=schema)
    try:
        old = con.sql("SELECT * FROM load_log").pl()
    except duckdb.Error:
        return pl.DataFrame(schema=schema)
    finally:
        con.close()
    old = old.select([pl.col(c) if c in old.columns else pl.lit(None).alias(c) for c in schema])
    return old.cast(schema)
