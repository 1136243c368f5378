"""The DuckDB warehouse: immutable snapshot files and an atomically replaced pointer.

Layout under the data directory:
    snapshots/<load_id>.duckdb      one complete, never-again-written database per load
    snapshots/<load_id>.duckdb.tmp  a load in progress (or the leftover of a killed one)
    CURRENT                         the load_id the app reads; replaced with os.replace, so a
                                    reader sees the old or the new snapshot, never half of one
    .load.lock                      held (flock) while a load runs: one load at a time

A load writes the whole new snapshot under a temporary name, closes it, renames it into place
and only then replaces CURRENT. Readers open snapshots read-only; a running app keeps its old
connection until its next rerun, when it reads CURRENT again. Older snapshots beyond
`keep_snapshots` are deleted (never the current one).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from kam_metrics.load.importers.base import LoadError

SNAPSHOT_DIR = "snapshots"
POINTER = "CURRENT"
LOCK = ".load.lock"
TMP_SUFFIX = ".tmp"


def new_load_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def snapshot_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SNAPSHOT_DIR


def current_load_id(data_dir: Path) -> str | None:
    try:
        text = (Path(data_dir) / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def current_snapshot_path(data_dir: Path) -> Path | None:
    """The snapshot the app should read now, or None before the first load.

    A load may switch CURRENT and prune the snapshot it named between our reading the pointer and
    looking for the file: then the pointer has moved on, so it is read again.
    """
    load_id = current_load_id(data_dir)
    for _ in range(5):
        if not load_id:
            return None
        path = snapshot_dir(data_dir) / f"{load_id}.duckdb"
        if path.is_file():
            return path
        again = current_load_id(data_dir)
        if again == load_id:
            return None
        load_id = again
    return None


def connect_snapshot(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to one snapshot file."""
    return duckdb.connect(str(path), read_only=True)


def connect_current(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current snapshot; LoadError when there is none."""
    for attempt in range(3):
        path = current_snapshot_path(data_dir)
        if path is None:
            raise LoadError(
                f"{data_dir}: no snapshot loaded yet (run `kam load PATH` or `kam demo && kam load demo_export`)"
            )
        try:
            return connect_snapshot(path)
        except duckdb.IOException:
            if attempt == 2:  # pruned between finding and opening it, three times over: give up
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def load_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's load lock; a second load is refused with a clear message."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / LOCK, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            raise LoadError(
                f"{data_dir}: another load is running ({holder or 'unknown process'}); try again when it has finished"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


def leftovers(data_dir: Path) -> list[Path]:
    """Temporary snapshot files of loads that did not finish (or are running now)."""
    folder = snapshot_dir(data_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(TMP_SUFFIX) or p.name.endswith(".tmp.wal"))


def clean_leftovers(data_dir: Path) -> list[Path]:
    """Delete the leftovers of killed loads; call only while holding the load lock."""
    removed = leftovers(data_dir)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_snapshot_path(data_dir: Path, load_id: str) -> Path:
    folder = snapshot_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{load_id}.duckdb{TMP_SUFFIX}"


def finalize_snapshot(data_dir: Path, load_id: str) -> Path:
    """Flush the finished temp snapshot and rename it into place (not yet current)."""
    folder = snapshot_dir(data_dir)
    tmp = folder / f"{load_id}.duckdb{TMP_SUFFIX}"
    final = folder / f"{load_id}.duckdb"
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    _fsync_dir(folder)
    return final


def switch_current(data_dir: Path, load_id: str, keep: int) -> None:
    """Point CURRENT at a finalized snapshot in one atomic rename, then prune old snapshots."""
    data_dir = Path(data_dir)
    pointer_tmp = data_dir / f"{POINTER}.{load_id}{TMP_SUFFIX}"
    with open(pointer_tmp, "w", encoding="utf-8") as fh:
        fh.write(load_id + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer_tmp, data_dir / POINTER)
    _fsync_dir(data_dir)
    prune_snapshots(data_dir, keep)


def list_snapshots(data_dir: Path) -> list[Path]:
    folder = snapshot_dir(data_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".duckdb")


def prune_snapshots(data_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` snapshots; the current one is always kept."""
    current = current_snapshot_path(data_dir)
    snapshots = list_snapshots(data_dir)
    doomed = [p for p in snapshots[: max(len(snapshots) - keep, 0)] if p != current]
    for path in doomed:
        path.unlink(missing_ok=True)
        Path(str(path) + ".wal").unlink(missing_ok=True)
    for stray in Path(data_dir).glob(f"{POINTER}.*{TMP_SUFFIX}"):
        stray.unlink(missing_ok=True)
    return doomed


def write_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, columns: list[tuple[str, str]] | None = None) -> None:
    """Create `table` (with explicit column types when given) and insert the frame."""
    view = f"__frame_{table}"
    con.register(view, _arrow(frame))
    try:
        if columns:
            cols = ", ".join(f'"{c}" {t}' for c, t in columns)
            con.execute(f'CREATE TABLE "{table}" ({cols})')
            names = ", ".join(f'"{c}"' for c, _ in columns)
            con.execute(f'INSERT INTO "{table}" SELECT {names} FROM "{view}"')
        else:
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM "{view}"')
    finally:
        con.unregister(view)


def _arrow(frame):
    """The frame as Arrow with string views, for DuckDB's scan: the default export copies every string.

    (Handing DuckDB a 10-million-row frame in smaller batches was tried: more CPU and no less memory.)
    """
    if isinstance(frame, pl.DataFrame) and not any(
        isinstance(dtype, (pl.Categorical, pl.Enum, pl.Object)) for dtype in frame.schema.values()
    ):
        return frame.to_arrow(compat_level=pl.CompatLevel.newest())
    return frame


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", params=[name]
    ).fetchall()
    return rows[0][0] > 0


def snapshot_info(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if not table_exists(con, "snapshot_info"):
        return {}
    return dict(con.sql("SELECT key, value FROM snapshot_info").fetchall())


def load_history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every load recorded in this snapshot's load_log, newest first."""
    return con.sql("SELECT * FROM load_log ORDER BY started_at DESC").pl()


def table_counts(con: duckdb.DuckDBPyConnection, load_id: str | None = None) -> pl.DataFrame:
    """Rows read / loaded / quarantined / skipped per table for a load (default: this snapshot's)."""
    load_id = load_id or snapshot_info(con).get("load_id")
    return con.sql(
        "SELECT \"table\", is_present, \"read\", loaded, quarantined, skipped FROM load_tables "
        "WHERE load_id = ? ORDER BY position",
        params=[load_id],
    ).pl()


def quarantine_rows(con: duckdb.DuckDBPyConnection, table: str | None = None, reason: str | None = None) -> pl.DataFrame:
    """The quarantine of this snapshot, optionally for one table and reasons containing `reason`."""
    return con.sql(
        "SELECT \"table\", _source_file AS source_file, _source_row AS source_row, \"column\", value, reason "
        "FROM quarantine WHERE (? IS NULL OR \"table\" = ?) AND (? IS NULL OR reason ILIKE '%' || ? || '%') "
        "ORDER BY \"table\", _source_file, _source_row",
        params=[table, table, reason, reason],
    ).pl()
