"""`kam verify`: prove that the current snapshot lost nothing.

Checks, for the current snapshot:
- per table: rows read = loaded + quarantined + skipped, and each count matches the rows stored;
- per source file: every row is in the snapshot once, loaded (a checked row points at it) or raw (the
  rows that did not load, as read); the raw table's checksum (computed when it was stored) still matches;
- every checked and quarantined row points at a source file of this load;
- the precomputed metrics tables agree with the checked tables (kam_metrics.load.marts.verify_marts).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kam_metrics.load import warehouse


def raw_checksum(con, raw_table: str) -> str:
    """An order-independent checksum of a raw table's rows (each row includes its _source_row)."""
    rows = con.sql(f'SELECT CAST(coalesce(sum(hash(t)::HUGEINT), 0) AS VARCHAR) FROM "{raw_table}" t').fetchall()
    return rows[0][0]


def _loaded_source_rows(con, tables: list[str], file: str) -> int:
    """Distinct rows of source file `file` that some checked table holds."""
    union = " UNION ".join(f'SELECT _source_row FROM "{t}" WHERE _source_file = ?' for t in tables)
    if not union:
        return 0
    return con.sql(f"SELECT count(*) FROM ({union})", params=[file] * len(tables)).fetchall()[0][0]


def verify_snapshot(data_dir: Path) -> list[str]:
    """Problems found in the current snapshot; empty when everything adds up."""
    path = warehouse.current_snapshot_path(data_dir)
    if path is None:
        return [f"{data_dir}: no current snapshot"]
    con = warehouse.connect_snapshot(path)
    try:
        return _verify(con)
    finally:
        con.close()


def _verify(con) -> list[str]:
    problems: list[str] = []
    load_id = warehouse.snapshot_info(con).get("load_id")
    for table, read, loaded, quarantined, skipped in con.sql(
        'SELECT "table", "read", loaded, quarantined, skipped FROM load_tables WHERE load_id = ?', params=[load_id]
    ).fetchall():
        if read != loaded + quarantined + skipped:
            problems.append(f"{table}: read {read} ≠ loaded {loaded} + quarantined {quarantined} + skipped {skipped}")
        stored = con.sql(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
        if stored != loaded:
            problems.append(f"{table}: load log says {loaded} rows loaded, the table holds {stored}")
        q = con.sql(
            'SELECT count(*) FROM (SELECT DISTINCT _source_file, _source_row FROM quarantine WHERE "table" = ?)',
            params=[table],
        ).fetchall()[0][0]
        if q != quarantined:
            problems.append(f"{table}: load log says {quarantined} rows quarantined, the quarantine holds {q}")
        s = con.sql('SELECT count(*) FROM skipped WHERE "table" = ?', params=[table]).fetchall()[0][0]
        if s != skipped:
            problems.append(f"{table}: load log says {skipped} rows skipped, the skipped list holds {s}")
        orphans = con.sql(
            f'SELECT count(*) FROM "{table}" WHERE _source_file NOT IN (SELECT file FROM load_files WHERE load_id = ?)',
            params=[load_id],
        ).fetchall()[0][0]
        if orphans:
            problems.append(f"{table}: {orphans} rows point at no source file of this load")
    checked_tables = [t for (t,) in con.sql(
        'SELECT "table" FROM load_tables WHERE load_id = ?', params=[load_id]).fetchall()]
    for file, raw_table, rows, raw_rows, checksum in con.sql(
        "SELECT file, raw_table, rows, raw_rows, raw_checksum FROM load_files WHERE load_id = ?", params=[load_id]
    ).fetchall():
        if not warehouse.table_exists(con, raw_table):
            problems.append(f"{file}: raw table {raw_table} is missing")
            continue
        stored = con.sql(f'SELECT count(*) FROM "{raw_table}"').fetchall()[0][0]
        if stored != raw_rows:
            problems.append(f"{file}: {raw_rows} raw rows kept, {stored} raw rows stored")
        if raw_checksum(con, raw_table) != checksum:
            problems.append(f"{file}: raw rows do not match their stored checksum")
        loaded_rows = _loaded_source_rows(con, checked_tables, file)
        if loaded_rows + raw_rows != rows:
            problems.append(f"{file}: {rows} rows read, {loaded_rows} loaded + {raw_rows} kept raw")
    try:
        marts = importlib.import_module("kam_metrics.load.marts")
    except ModuleNotFoundError:
        marts = None
    if marts is not None and hasattr(marts, "verify_marts"):
        problems += list(marts.verify_marts(con))
    return problems
