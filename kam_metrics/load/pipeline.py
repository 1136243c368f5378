"""One load: export (folder or zip) → importer → checks → a new DuckDB snapshot → switch.

`load_export` is the only writer of the warehouse. It holds the load lock, cleans leftovers of
killed loads, builds the complete snapshot under a temporary name (checked tables, quarantine,
skipped rows, raw rows, load log, precomputed marts) and publishes it atomically. A LoadError
(whole-file problem) leaves the warehouse exactly as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import duckdb
import numpy as np
import polars as pl

from kam_metrics.load import marts, warehouse
from kam_metrics.load.archive import extract_zip
from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW, TABLE_ORDER, TABLES, warehouse_columns
from kam_metrics.load.importers import detect_format, get_importer
from kam_metrics.load.importers.base import QUARANTINE_SCHEMA, SKIPPED_SCHEMA, ImportResult, LoadError
from kam_metrics.load.mart_frames import MartBuilder, MartsTooLarge
from kam_metrics.load.reasons import ReasonRows, reason_rows
from kam_metrics.settings import DEFAULT_REPORTING_CURRENCY, Settings
from kam_metrics.load.verify import raw_checksum

if TYPE_CHECKING:
    from kam_metrics.load.validate import TableChecker

Progress = Callable[[str, float], None]
BIG_FRAME_ROWS = 1_000_000  # frames this long are stored one at a time (see _Writers)


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
    reporting_currency: str = DEFAULT_REPORTING_CURRENCY
    reporting_currency_source: str = ""
    #: "table.column" of the present tables' contract columns the export did not carry (export_columns).
    absent_columns: list[str] = field(default_factory=list)

    @property
    def quarantined_rows(self) -> int:
        return sum(t.quarantined for t in self.tables)

    def reason_rows(self, n: int | None = None) -> list[ReasonRows]:
        """Distinct source rows per (table, column, reason), most rows first (load/reasons.py)."""
        return reason_rows(self.quarantine)[:n]

    def top_reasons(self, n: int = 5) -> list[tuple[str, str, int]]:
        """(table, reason naming its column, rows) most rows first, e.g. ("opportunities", "close_date is empty",
        2089): distinct source rows, quoted values and row numbers folded into one reason."""
        return [(r.table, r.text(with_table=False), r.rows) for r in self.reason_rows(n)]

    def as_text(self) -> str:
        lines = [
            f"Loaded {self.source_path} as {self.format} ({self.format_reason})",
            f"Snapshot {self.load_id}; as_of {self.as_of_default or 'n/a'}",
            f"Reporting currency {self.reporting_currency}"
            + (f": {self.reporting_currency_source}" if self.reporting_currency_source else ""),
            "",
            f"{'table':<15}{'read':>10}{'loaded':>10}{'quarantined':>13}{'skipped':>9}",
        ]
        for t in self.tables:
            if t.is_present:
                lines.append(f"{t.table:<15}{t.read:>10}{t.loaded:>10}{t.quarantined:>13}{t.skipped:>9}")
        absent = [t.table for t in self.tables if not t.is_present]
        if absent:
            lines.append(f"(not in this export: {', '.join(absent)})")
        empty = [t.table for t in self.tables if t.is_present and t.read == 0]
        if empty:
            lines.append(f"(no data rows, so absent: {', '.join(empty)})")
        if self.absent_columns:
            lines.append(f"(columns not in this export: {', '.join(self.absent_columns)})")
        reasons = self.reason_rows(5)
        if reasons:
            lines += ["", "Top quarantine reasons:"]
            lines += [f"  {r.line()}" for r in reasons]
            lines.append("See them all with `kam quarantine`.")
        if not self.skipped.is_empty():
            lines += ["", "Skipped by rule:"]
            for (t, rule), n in Counter(self.skipped.select("table", "rule").iter_rows()).most_common():
                lines.append(f"  {n:,} {'row' if n == 1 else 'rows'}: {t}: {rule}")
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        if self.cleaned_leftovers:
            lines.append(f"Removed {len(self.cleaned_leftovers)} leftover file(s) of an interrupted load.")
        return "\n".join(lines)


def _noop(stage: str, fraction: float) -> None:
    pass


@dataclass(frozen=True)
class ProgressEvent:
    """One event of a load's progress, as `LoadProgress` tells it to an `on_event` listener (e.g. `kam load`'s
    status line): the event, the named step the load is in, and the rows checked so far."""

    event: str  # "checking activities", or a named step ("publishing") when `is_step`
    step: str  # the named step the load is in ("" before the first)
    is_step: bool  # the event announces the named step itself
    fraction: float
    elapsed_s: float  # since the load began
    rows_done: int  # source rows of the tables checked so far (all of them once "precomputing aggregates" begins)
    table: str | None = None  # the table the event is about
    table_rows: int | None = None  # that table's rows, when known (staged rows while checking, stored while writing)

    @property
    def rows_per_s(self) -> float | None:
        """Rows checked per second since the load began; None before any."""
        return self.rows_done / self.elapsed_s if self.rows_done and self.elapsed_s > 0 else None


@dataclass
class LoadProgress:
    """One load's progress, told to `callback` as (event, fraction) from the main thread only, and to `on_event`
    (when given) as a ProgressEvent with the step, the table, and the rows done.

    `stage` announces a named step of the load (unpacking, reading, checking, writing snapshot, writing raw
    rows, precomputing aggregates, publishing, switching); `report` the finer events within one ("reading
    accounts", "checking accounts", "writing accounts", …), naming their table and its rows where known;
    `rows_checked` counts the rows of each table once checked. The fraction never moves backwards: an event
    reports the larger of its own fraction and the furthest reached so far.
    """

    callback: Progress = _noop
    reached: float = 0.0
    on_event: Callable[[ProgressEvent], None] | None = None
    step: str = ""
    rows_done: int = 0
    started: float = field(default_factory=time.monotonic)

    def stage(self, name: str, fraction: float) -> None:
        """A named step of the load begins."""
        self.step = name
        self._tell(name, fraction, is_step=True)

    def report(self, event: str, fraction: float = 0.0, *, table: str | None = None, rows: int | None = None) -> None:
        """An event within a step, at `fraction` or where the load has reached if further; `table` and its `rows`
        when the event is about one."""
        self._tell(event, fraction, is_step=False, table=table, rows=rows)

    def advance(self, fraction: float) -> None:
        """Move on to `fraction` (if further) without an event."""
        self.reached = max(self.reached, fraction)

    def rows_checked(self, rows: int) -> None:
        """A table's `rows` are checked (no event: the next one carries them)."""
        self.rows_done += rows

    def _tell(self, event: str, fraction: float, *, is_step: bool, table: str | None = None,
              rows: int | None = None) -> None:
        self.advance(fraction)
        self.callback(event, self.reached)
        if self.on_event is not None:
            self.on_event(ProgressEvent(
                event=event, step=self.step, is_step=is_step, fraction=self.reached,
                elapsed_s=time.monotonic() - self.started, rows_done=self.rows_done, table=table, table_rows=rows,
            ))


def load_export(
    path: str | Path,
    data_dir: str | Path,
    *,
    fmt: str = "auto",
    settings: Settings | None = None,
    mapping: str | Path | None = None,
    progress: Progress = _noop,
    source_name: str | None = None,
    on_event: Callable[[ProgressEvent], None] | None = None,
) -> LoadReport:
    """Load one export into a new snapshot and make it current; LoadError leaves the warehouse unchanged.

    `source_name` is what the load log records as the source (default: the path), e.g. the name of an
    uploaded file rather than the scratch folder it was unpacked into. `progress` hears (event, fraction),
    `on_event` the same events with the step, table and rows done (LoadProgress).

    The steps: unpack (a zip) → read (the importer) → open the new snapshot → store each table as it is
    checked, with its raw rows and its part of the marts → store the marts → write the load's records →
    publish (fsync, rename) → switch CURRENT.
    """
    settings = settings or Settings()
    source = Path(path)
    data_dir = Path(data_dir)
    steps = LoadProgress(progress, on_event=on_event)
    if not source.exists():
        raise LoadError(f"{source}: no such file or folder", file=str(source))
    started = datetime.now(timezone.utc)
    with warehouse.load_lock(data_dir):
        cleaned = [p.name for p in warehouse.clean_leftovers(data_dir)]
        with tempfile.TemporaryDirectory(prefix="kam-load-") as scratch:
            folder = _unpack(source, Path(scratch), settings, steps)
            steps.stage("reading", 0.05)
            if fmt == "auto":
                fmt, reason = detect_format(folder)
            else:
                reason = "chosen with --format"
            result, present, tables, is_lazy = _read_tables(
                get_importer(fmt), folder, settings, Path(mapping) if mapping else None
            )
            settings, currency_source = with_reporting_currency(settings, result)
            load_id = warehouse.new_load_id(started)
            previous = warehouse.current_snapshot_path(data_dir)
            with _new_snapshot(data_dir, load_id) as con:
                with _Writers() as writers:
                    build = SnapshotBuild(
                        con=con, writers=writers, load_id=load_id, settings=settings, progress=steps, result=result,
                        present=present, is_lazy=is_lazy,
                    )
                    _store_tables(build, tables)
                    _store_absent_tables(build)
                    _store_mart_frames(build)
                    files = writers.wait()
                quarantine, counts, as_of = _write_load_records(
                    build, files, started=started, source_path=source_name or str(source), fmt=fmt, previous=previous
                )
                _finish_marts(build)
            snapshot = _publish(data_dir, load_id, settings, steps)
            programme_notes = import_programme(data_dir, snapshot, load_id, settings, counts, build.columns)
    steps.report("done", 1.0)
    return LoadReport(
        load_id=load_id, format=fmt, format_reason=reason, source_path=source_name or str(source),
        snapshot_path=snapshot,
        started_at=started, finished_at=datetime.now(timezone.utc), as_of_default=as_of, tables=counts,
        quarantine=quarantine, skipped=result.skipped, notes=[*result.notes, *programme_notes],
        cleaned_leftovers=cleaned,
        reporting_currency=settings.reporting_currency, reporting_currency_source=currency_source,
        absent_columns=missing_columns(counts, build.columns),
    )


#: The programme tables an export may carry; `kam load` imports them into the programme store (goals before the
#: actions toward them).
PROGRAMME_TABLES = ("goals", "actions", "reviews", "wallet")


def load_actor() -> str:
    """Who a load's store events name: $KAM_ACTOR, else the operating system's user name, else "kam load"."""
    actor = os.environ.get("KAM_ACTOR", "").strip()
    if actor:
        return actor[:200]
    try:
        import getpass

        return getpass.getuser()[:200] or "kam load"
    except Exception:  # noqa: BLE001 - no user name (e.g. a container without a passwd entry)
        return "kam load"


def import_programme(data_dir: Path, snapshot: Path, load_id: str, settings: Settings, counts: list[TableCount],
                     columns: dict[str, list[str]]) -> list[str]:
    """Import the programme tables the export carried (goals, actions, reviews, wallet, as loaded into the new
    snapshot, in the columns the export carried) into the programme store by record id, logged with source
    "load:<load_id>" (ProgrammeStore.import_load: what was recorded, changed or deleted in the app stands;
    a load deletes nothing). Runs after the switch: should the store be unavailable, the snapshot's rows still
    count (the overlay keeps export rows the store never held) and the notes say so. Returns the report's notes."""
    from kam_metrics.programme import StoreError, open_store
    from kam_metrics.settings import programme_store_location

    carried = [c.table for c in counts if c.table in PROGRAMME_TABLES and c.is_present and c.loaded > 0]
    if not carried:
        return []
    notes = []
    try:
        store = open_store(programme_store_location(settings, data_dir))
    except (StoreError, OSError) as exc:
        return [f"programme store not updated ({exc}); the export's programme tables count from the snapshot"]
    try:
        con = warehouse.connect_snapshot(snapshot)
        try:
            frames = {t: con.sql(f'SELECT {", ".join(columns.get(t) or [])} FROM "{t}"').pl()
                      for t in PROGRAMME_TABLES if t in carried and columns.get(t)}
        finally:
            con.close()
        actor = load_actor()
        for table, frame in frames.items():
            done = store.import_load(table, frame.iter_rows(named=True), frame.columns, load_id, actor)
            notes.append(f"programme store, {table}: {done.inserted} new, {done.updated} updated, {done.unchanged} "
                         f"unchanged, {done.kept} kept as recorded in the app")
            if done.refused:
                notes.append(f"programme store, {table}: {len(done.refused)} row(s) not imported (they still count "
                             f"from the snapshot), e.g. {done.refused[0]}")
    except (StoreError, duckdb.Error, OSError) as exc:
        notes.append(f"programme store not fully updated ({exc}); the export's rows the store lacks count from "
                     "the snapshot")
    finally:
        store.close()
    return notes


def with_reporting_currency(settings: Settings, result: ImportResult) -> tuple[Settings, str]:
    """The settings of this load with the reporting currency resolved, and why it is that one.

    The importer chose it (the setting when set, else the export's own currency); an importer that does not say
    leaves the setting, else the default."""
    if result.reporting_currency:
        chosen, why = result.reporting_currency.upper(), result.reporting_currency_source or ""
    elif settings.reporting_currency:
        chosen, why = settings.reporting_currency.upper(), "setting reporting_currency"
    else:
        chosen, why = DEFAULT_REPORTING_CURRENCY, "the default"
    return settings.replace(reporting_currency=chosen), why


def _unpack(source: Path, scratch: Path, settings: Settings, progress: LoadProgress) -> Path:
    """The export folder: `source` itself, or a .zip of one unpacked into `scratch` with the archive checks."""
    if not source.is_file():
        return source
    if source.suffix.lower() != ".zip":
        raise LoadError(
            f"{source.name}: expected an export folder or a .zip of one, got a '{source.suffix}' file",
            file=source.name,
        )
    progress.stage("unpacking", 0.02)
    return extract_zip(
        source, scratch / "export",
        max_entries=settings.max_zip_entries,
        max_uncompressed_bytes=settings.max_zip_uncompressed_mb * 1_000_000,
    )


@contextmanager
def _new_snapshot(data_dir: Path, load_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the new snapshot under its temporary name, checkpointed and closed after the block.

    A whole-file problem found while streaming (or an interruption) leaves no half snapshot: its files go.
    """
    tmp = warehouse.temp_snapshot_path(data_dir, load_id)
    con = duckdb.connect(str(tmp))
    try:
        yield con
        con.execute("CHECKPOINT").fetchall()
    except BaseException:
        con.close()
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    con.close()


def _publish(data_dir: Path, load_id: str, settings: Settings, progress: LoadProgress) -> Path:
    """fsync the finished snapshot and rename it into place, then make it current (pruning old ones)."""
    progress.stage("publishing", 0.97)
    snapshot = warehouse.finalize_snapshot(data_dir, load_id)
    progress.stage("switching", 0.99)
    warehouse.switch_current(data_dir, load_id, settings.keep_snapshots)
    return snapshot


def count_rows(result: ImportResult, present, loaded: dict[str, int], quarantine: pl.DataFrame) -> list[TableCount]:
    """Per table: read = loaded + quarantined + skipped, counting distinct source rows of the whole quarantine."""
    present = set(present)
    skipped_tables = set(result.skipped["table"])
    importer_q_tables = set(result.quarantine["table"])
    q_rows = quarantine.select("table", SOURCE_FILE, SOURCE_ROW).unique().group_by("table").len()
    q_by_table = dict(q_rows.iter_rows())
    s_by_table = dict(result.skipped.group_by("table").len().iter_rows())
    counts = []
    for table in TABLE_ORDER:
        is_present = table in present or table in skipped_tables or table in importer_q_tables
        quarantined = q_by_table.get(table, 0)
        skipped = s_by_table.get(table, 0)
        counts.append(TableCount(table, is_present, loaded[table] + quarantined + skipped, loaded[table],
                                 quarantined, skipped))
    return counts


def _raw_table_name(file_name: str, used: set[str]) -> str:
    stem = re.sub(r"[^0-9a-zA-Z]+", "_", Path(file_name).stem).strip("_").lower() or "file"
    name = f"raw__{stem}"
    n = 2
    while name in used:
        name = f"raw__{stem}_{n}"
        n += 1
    used.add(name)
    return name


def _read_tables(importer, folder: Path, settings: Settings, mapping: Path | None):
    """(result, tables present, iterator of (table, staged frame) in TABLE_ORDER, is_lazy).

    Importers with `read_lazily` (the canonical one) read a file when the iterator reaches it, so a
    load holds one big table at a time, and the files read for a table feed that table only
    (`is_lazy`); the others read everything first and hand their tables out one by one, dropping
    each once it is handed out.
    """
    if hasattr(importer, "read_lazily"):
        return (*importer.read_lazily(folder, settings=settings, mapping=mapping), True)
    result = importer.read(folder, settings=settings, mapping=mapping)
    present = [t for t in TABLE_ORDER if t in result.tables]

    def tables():
        for table in present:
            yield table, result.tables.pop(table)

    return result, present, tables(), False


class _LoadedRows:
    """Which source rows of each file made it into a checked table (a bit per row)."""

    def __init__(self) -> None:
        self.by_file: dict[str, np.ndarray] = {}

    def mark(self, checked: pl.DataFrame) -> None:
        if checked.is_empty():
            return
        files = checked[SOURCE_FILE]
        first = files[0]
        if first is not None and bool((files == first).all()):
            groups = {first: checked[SOURCE_ROW]}
        else:
            groups = {key[0]: part[SOURCE_ROW] for key, part in
                      checked.select(SOURCE_FILE, SOURCE_ROW).partition_by(SOURCE_FILE, as_dict=True).items()}
        for file, rows in groups.items():
            rows = rows.drop_nulls().to_numpy()
            if not len(rows):
                continue
            mask = self.by_file.get(file, np.zeros(0, dtype=bool))
            if mask.size <= rows.max():
                mask = np.concatenate([mask, np.zeros(int(rows.max()) + 1 - mask.size, dtype=bool)])
            mask[rows] = True
            self.by_file[file] = mask

    def not_loaded(self, raw) -> pl.DataFrame:
        """The raw rows of `raw` that are in no checked table (quarantined, skipped, or never used)."""
        mask = self.by_file.get(raw.name)
        if mask is None:
            return raw.frame
        rows = raw.frame[SOURCE_ROW].to_numpy()
        inside = rows < mask.size
        is_loaded = np.zeros(rows.size, dtype=bool)
        is_loaded[inside] = mask[rows[inside]]
        return raw.frame.filter(pl.Series(~is_loaded))


def _announced(tables, present: list[str], report):
    """The (table, staged) iterator, reporting "reading <table>" before each is asked for (tables come in the
    order of `present`): the main thread's time per table runs from one such event to the next."""
    iterator = iter(tables)
    for table in present:
        report(f"reading {table}", 0.0, table=table)
        item = next(iterator, None)
        if item is None:
            return
        yield item
    yield from iterator  # to its end, so the importer's read-ahead is closed now


def _latest_date(frame: pl.DataFrame, column: str, today: date) -> date | None:
    return frame[column].filter(frame[column] <= today).max()


class _Writers:
    """The writer threads of one load, each store on its own cursor (closed after).

    DuckDB stores one frame on little more than one core, so the stores run here while the main thread reads
    and checks the next table. Big frames are stored one at a time (each store holds about a gigabyte of
    DuckDB buffers per ten million rows), small ones and raw rows on a second writer alongside, and each mart
    by whichever of two mart writers is free. Leaving the block waits for them (cancelling what has not begun).
    """

    def __init__(self) -> None:
        self.big = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kam-store-big")
        self.small = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kam-store-small")
        self.marts = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kam-store-marts")
        self.stores: list[Future] = []
        self.raw_stores: list[Future] = []

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, *exc) -> None:
        for pool in (self.big, self.small, self.marts):
            pool.shutdown(wait=True, cancel_futures=True)

    def store_checked(self, con, table: str, frame: pl.DataFrame) -> None:
        pool = self.big if frame.height >= BIG_FRAME_ROWS else self.small
        self.stores.append(pool.submit(_store_frame, con.cursor(), table, frame, warehouse_columns(table)))

    def store_mart(self, con, name: str, frame: pl.DataFrame) -> None:
        self.stores.append(self.marts.submit(_store_frame, con.cursor(), name, frame))

    def store_raw(self, con, load_id: str, raw, kept: pl.DataFrame, name: str) -> None:
        self.raw_stores.append(self.small.submit(_store_raw, con.cursor(), load_id, raw, raw.frame.height, kept, name))

    def wait(self) -> list[dict]:
        """Wait for every store (raising the first failure); the load_files rows of the raw stores."""
        for job in self.stores:
            job.result()
        return [job.result() for job in self.raw_stores]


def _store_raw(cursor, load_id: str, raw, rows: int, kept: pl.DataFrame, name: str) -> dict:
    """Store the raw rows of one file that did not load (`kept`) as table `name` on `cursor` (closed after),
    with their checksum."""
    try:
        warehouse.write_frame(cursor, name, kept)
        return {"load_id": load_id, "file": raw.name, "raw_table": name, "sha256": raw.sha256,
                "size_bytes": raw.size_bytes, "rows": rows, "raw_rows": kept.height,
                "encoding": raw.encoding, "raw_checksum": raw_checksum(cursor, name)}
    finally:
        cursor.close()


def _store_frame(cursor, table: str, frame: pl.DataFrame, columns: list[tuple[str, str]] | None = None) -> None:
    """Store a frame as `table` on `cursor` (closed after); column types from the frame unless given."""
    try:
        warehouse.write_frame(cursor, table, frame, columns)
    finally:
        cursor.close()


@dataclass
class SnapshotBuild:
    """What the steps that write one new snapshot share: where they write, and what they have done so far."""

    con: duckdb.DuckDBPyConnection
    writers: _Writers
    load_id: str
    settings: Settings
    progress: LoadProgress
    result: ImportResult
    present: list[str]
    is_lazy: bool  # files read for a table feed that table only (see _read_tables)
    today: date = field(default_factory=date.today)
    checker: TableChecker = field(init=False)
    marts: MartBuilder | None = field(init=False)  # None once the marts are too large to pack: built with SQL instead
    marts_by_sql: bool = False
    loaded: dict[str, int] = field(default_factory=dict)  # checked rows per table
    quarantines: list[pl.DataFrame] = field(default_factory=list)
    latest_dates: list[date] = field(default_factory=list)  # of activities and revenue, up to today
    loaded_rows: _LoadedRows = field(default_factory=_LoadedRows)
    raw_files_stored: int = 0  # result.raw_files[:raw_files_stored] are handed to a writer
    raw_names: set[str] = field(default_factory=set)
    columns: dict[str, list[str]] = field(default_factory=dict)  # contract columns each staged table carried

    def __post_init__(self) -> None:
        # Imported here, not at the top: importing the checks (pandera, pandas) takes about a second, which the
        # canonical importer spends reading the first big file.
        from kam_metrics.load import validate

        self.checker = validate.TableChecker(set(self.present), self.settings)
        self.marts = MartBuilder(today=self.today)


CHECKING_FROM, CHECKING_TO = 0.35, 0.8  # the share of the progress bar the tables take


def _store_tables(build: SnapshotBuild, tables) -> None:
    """Check each table as it comes and hand it to a writer with its raw rows and its part of the marts."""
    build.progress.advance(CHECKING_FROM)
    for i, (table, staged) in enumerate(_announced(tables, build.present, build.progress.report)):
        fraction = CHECKING_FROM + (CHECKING_TO - CHECKING_FROM) * i / max(len(build.present), 1)
        if i == 0:
            build.progress.stage("checking", fraction)
        staged_rows = staged.height if isinstance(staged, pl.DataFrame) else None
        build.progress.report(f"checking {table}", fraction, table=table, rows=staged_rows)
        build.columns[table] = carried_columns(table, staged, build.result)
        checked, table_quarantine = build.checker.check(table, staged)
        del staged
        build.progress.rows_checked(staged_rows if staged_rows is not None else
                                    checked.height + table_quarantine.select(SOURCE_FILE, SOURCE_ROW).unique().height)
        _store_table(build, table, checked, is_first=i == 0, fraction=fraction)
        build.quarantines.append(table_quarantine)
        del checked
    _store_raw_rows(build)


def carried_columns(table: str, staged, result: ImportResult) -> list[str]:
    """The contract columns of `table` that the export carried (METRICS.md "Data that is not there"): those in the
    staged frame (canonical: the file's header), less those an importer declares absent (a mapped CRM field that
    is not in the export)."""
    names = staged.collect_schema().names() if isinstance(staged, pl.LazyFrame) else staged.columns
    declared = set(getattr(result, "absent_columns", {}).get(table, ()))
    return [c.name for c in TABLES[table].columns if c.name in names and c.name not in declared]


def export_columns(counts: list[TableCount], columns: dict[str, list[str]]) -> pl.DataFrame:
    """One row per (table, column) the export carried. A table is present when its file had data rows; a present
    table that staged no frame (e.g. every row skipped by rule) counts every contract column as carried."""
    rows = [
        {"table_name": c.table, "column_name": name}
        for c in counts if c.is_present and c.read > 0
        for name in columns.get(c.table, [col.name for col in TABLES[c.table].columns])
    ]
    return pl.DataFrame(rows, schema={"table_name": pl.String, "column_name": pl.String})


def _store_table(build: SnapshotBuild, table: str, checked: pl.DataFrame, *, is_first: bool, fraction: float) -> None:
    """One checked table: its files' raw rows (lazy importers), the table itself, its part of the marts, its tally."""
    build.loaded_rows.mark(checked)
    if build.is_lazy:
        _store_raw_rows(build)
    if is_first:
        build.progress.stage("writing snapshot", fraction)
    build.progress.report(f"writing {table}", fraction, table=table, rows=checked.height)
    build.writers.store_checked(build.con, table, checked)
    if build.marts is not None:
        try:
            build.marts.add(table, checked)  # while the writer stores it
        except MartsTooLarge:
            build.marts, build.marts_by_sql = None, True  # built with SQL once the tables are stored
    build.loaded[table] = checked.height
    if table in ("activities", "revenue"):
        day = _latest_date(checked, TABLES[table].date_column, build.today)
        if day is not None:
            build.latest_dates.append(day)


def _store_raw_rows(build: SnapshotBuild) -> None:
    """Store the raw rows that did not load of every file whose tables are all checked.

    Every source row is then in the snapshot once: loaded (a checked row points at it with
    _source_file/_source_row) or raw, as read. Files of a lazy importer feed only the table read
    with them; the others' files are settled once every table is checked.
    """
    raw_files = build.result.raw_files
    for raw in raw_files[build.raw_files_stored:]:
        if not build.writers.raw_stores:
            build.progress.stage("writing raw rows", build.progress.reached)
        build.progress.report(f"writing raw rows {raw.name}")
        kept = build.loaded_rows.not_loaded(raw)
        build.writers.store_raw(build.con, build.load_id, raw, kept, _raw_table_name(raw.name, build.raw_names))
        raw.frame = raw.frame.clear()  # its rows are in a checked table or in `kept` now
    build.raw_files_stored = len(raw_files)


def missing_columns(counts: list[TableCount], columns: dict[str, list[str]]) -> list[str]:
    """"table.column" of each contract column a present table's export did not carry, in contract order (the
    complement of export_columns within the present tables)."""
    carried = export_columns(counts, columns)
    pairs = set(zip(carried["table_name"], carried["column_name"]))
    present = [t for t in TABLE_ORDER if t in set(carried["table_name"])]
    return [f"{t}.{c.name}" for t in present for c in TABLES[t].columns if (t, c.name) not in pairs]


def _store_absent_tables(build: SnapshotBuild) -> None:
    """The tables the export lacks, stored empty with their warehouse columns."""
    for table in TABLE_ORDER:
        if table not in build.loaded:
            build.writers.store_checked(build.con, table, build.checker.empty(table))
            build.loaded[table] = 0


def _store_mart_frames(build: SnapshotBuild) -> None:
    """Assemble the marts from the checked frames while the writers finish, each handed to a mart writer."""
    build.progress.stage("precomputing aggregates", max(build.progress.reached, CHECKING_TO))
    for name, frame in build.marts.frames() if build.marts is not None else ():
        build.writers.store_mart(build.con, name, frame)
    build.marts = None  # what it held is in the marts now


def _finish_marts(build: SnapshotBuild) -> None:
    """Marts too large to pack are built with SQL from the stored tables; either way they are marked current."""
    if build.marts_by_sql:
        marts.build_marts(build.con)  # (marks them current)
    else:
        marts.mark_current(build.con)


def _write_load_records(
    build: SnapshotBuild, files: list[dict], *, started: datetime, source_path: str, fmt: str, previous: Path | None
) -> tuple[pl.DataFrame, list[TableCount], date | None]:
    """The load's own tables: quarantine, skipped, load_files, load_tables, load_log (with the history of the
    snapshot it replaces) and snapshot_info. Returns (quarantine, counts per table, as_of)."""
    con, load_id, result = build.con, build.load_id, build.result
    as_of = max(build.latest_dates) if build.latest_dates else None
    checked_quarantine = pl.concat(build.quarantines) if build.quarantines else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    quarantine = pl.concat([result.quarantine.cast(QUARANTINE_SCHEMA), checked_quarantine]).sort(
        "table", SOURCE_FILE, SOURCE_ROW, maintain_order=True
    )
    counts = count_rows(result, build.present, build.loaded, quarantine)
    carried = export_columns(counts, build.columns)
    warehouse.write_frame(con, "export_columns", carried, [("table_name", "VARCHAR"), ("column_name", "VARCHAR")])
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
    warehouse.write_frame(
        con, "load_files",
        pl.DataFrame(files, schema={"load_id": pl.String, "file": pl.String, "raw_table": pl.String,
                                    "sha256": pl.String, "size_bytes": pl.Int64, "rows": pl.Int64,
                                    "raw_rows": pl.Int64, "encoding": pl.String, "raw_checksum": pl.String}),
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
        "as_of_default": as_of.isoformat() if as_of else "", "reporting_currency": build.settings.reporting_currency,
        "reporting_currency_source": result.reporting_currency_source or "",
        "present_tables": ",".join(t for t in TABLE_ORDER if t in set(carried["table_name"])),
        "export_date": result.export_date or "",
    }
    warehouse.write_frame(con, "snapshot_info", pl.DataFrame({"key": list(info), "value": list(info.values())}))
    return quarantine, counts, as_of


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
