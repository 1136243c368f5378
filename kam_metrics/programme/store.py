"""The programme store: every change to a programme record is an event; the current state is derived.

`open_store(location)` opens (and creates) the store: a file path is an embedded SQLite database (the
standard library's sqlite3, WAL mode), a `postgresql://…` URL a PostgreSQL database (psycopg 3). Both
run the same SQL:

- `events`: append-only; one row per change (event_id, at UTC ISO, actor, source such as "app" or
  "import:reviews.csv", table_name, record_id, account_id, op insert/update/delete, old_values and
  new_values as JSON, the record's version after the change).
- `current_records`: one row per (table_name, record_id): version, values JSON, updated_at, updated_by,
  is_deleted, the event that wrote it. Written in the same transaction as its event, and
  `rebuild_current()` derives it from the events again.
- `store_meta`: one row whose update serialises writers (a row lock on PostgreSQL, the write lock of
  BEGIN IMMEDIATE on SQLite) and which numbers the events.

Writers from several processes wait for each other: SQLite's busy timeout, then retries with backoff;
only when the store has been busy for `busy_timeout` seconds (30 by default) does a write raise
`StoreBusy`, a message for a person rather than "database is locked". A crash in the middle of a write
leaves the last committed state: each save, delete and file import is one transaction.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import polars as pl

from kam_metrics.programme.schema import (
    DATE, TABLE_ORDER, CheckedFile, FileError, ValidationError, get_table, read_csv_file, table_of_file,
    validate_record, write_csv,
)

DEFAULT_BUSY_TIMEOUT = 30.0  # seconds a write waits for other writers before StoreBusy
SCHEMA_VERSION = 1

LOG_SCHEMA = {
    "event_id": pl.Int64, "at": pl.String, "actor": pl.String, "source": pl.String, "table_name": pl.String,
    "record_id": pl.String, "account_id": pl.String, "op": pl.String, "version": pl.Int64,
    "old_values": pl.String, "new_values": pl.String,
}
META_COLUMNS = {"_version": pl.Int64, "_updated_at": pl.String, "_updated_by": pl.String}


class StoreError(Exception):
    """A programme store problem to show to a person."""


class StoreBusy(StoreError):
    """Other writers held the store for longer than the busy timeout."""


class RecordNotFound(StoreError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StaleRecord(StoreError):
    """The record changed since the caller read it (expected_version differs): nothing was written."""

    def __init__(self, table: str, record_id: str, expected: int, stored: int, changed_by: str | None,
                 changed_at: str | None):
        self.table, self.record_id, self.expected, self.stored = table, record_id, expected, stored
        self.changed_by, self.changed_at = changed_by, changed_at
        super().__init__(
            f"{table} {record_id} was changed by {changed_by or 'someone'} at {changed_at or 'an unknown time'} "
            f"since you opened it (your version {expected}, now {stored}); nothing was saved: reload it and "
            f"make your change again"
        )


class ImportRejected(StoreError):
    """A file (or folder) with bad rows: every error, and nothing was written."""

    def __init__(self, errors: list[FileError]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s), nothing imported:\n" + "\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class Record:
    table: str
    record_id: str
    values: dict[str, Any]
    version: int
    updated_at: str
    updated_by: str


@dataclass(frozen=True)
class ImportResult:
    file: str
    table: str
    rows: int
    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class LoadImport:
    """What importing one table of an export into the store did (ProgrammeStore.import_load)."""

    table: str
    inserted: int
    updated: int
    unchanged: int
    kept: int  # export rows not applied because the record was changed or deleted in the store since
    refused: list[str]  # rows the store's rules refuse, each "record id: column: reason"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(values: Mapping[str, Any] | None) -> str | None:
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True)


_DDL = [
    "CREATE TABLE IF NOT EXISTS store_meta (id INTEGER PRIMARY KEY, schema_version INTEGER NOT NULL, "
    "last_event_id BIGINT NOT NULL)",
    "INSERT INTO store_meta (id, schema_version, last_event_id) SELECT 1, ?, 0 "
    "WHERE NOT EXISTS (SELECT 1 FROM store_meta WHERE id = 1)",
    "CREATE TABLE IF NOT EXISTS events (event_id BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, "
    "source TEXT NOT NULL, table_name TEXT NOT NULL, record_id TEXT NOT NULL, account_id TEXT, op TEXT NOT NULL, "
    "old_values TEXT, new_values TEXT, version BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_record ON events (table_name, record_id)",
    "CREATE INDEX IF NOT EXISTS events_account ON events (account_id)",
    "CREATE TABLE IF NOT EXISTS current_records (table_name TEXT NOT NULL, record_id TEXT NOT NULL, "
    "account_id TEXT, version BIGINT NOT NULL, record_values TEXT NOT NULL, updated_at TEXT NOT NULL, "
    "updated_by TEXT NOT NULL, is_deleted INTEGER NOT NULL, event_id BIGINT NOT NULL, "
    "PRIMARY KEY (table_name, record_id))",
]
_UPSERT_CURRENT = (
    "INSERT INTO current_records (table_name, record_id, account_id, version, record_values, updated_at, updated_by, "
    "is_deleted, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (table_name, record_id) DO UPDATE SET "
    "account_id = excluded.account_id, version = excluded.version, record_values = excluded.record_values, "
    "updated_at = excluded.updated_at, updated_by = excluded.updated_by, is_deleted = excluded.is_deleted, "
    "event_id = excluded.event_id"
)
_INSERT_EVENT = (
    "INSERT INTO events (event_id, at, actor, source, table_name, record_id, account_id, op, old_values, new_values, "
    "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CURRENT_COLUMNS = "table_name, record_id, account_id, version, record_values, updated_at, updated_by, is_deleted, event_id"


class _Tx:
    """One write transaction: the cursor, the time of its events and their numbers."""

    def __init__(self, store: "ProgrammeStore", cur: Any, at: str, last_event_id: int):
        self.store, self.cur, self.at, self.next_event_id = store, cur, at, last_event_id + 1

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self.store._execute(self.cur, sql, params)

    def take_event_id(self) -> int:
        n = self.next_event_id
        self.next_event_id += 1
        return n


class ProgrammeStore:
    """Base of the two backends; use open_store()."""

    location: str
    busy_timeout: float

    # --- backend hooks ---
    def _connect(self) -> Any: raise NotImplementedError
    def _begin_write(self, cur: Any) -> None: raise NotImplementedError
    def _is_busy_error(self, exc: BaseException) -> bool: raise NotImplementedError
    def _sql(self, sql: str) -> str: return sql
    def _cursor(self) -> Any: return self._conn.cursor()

    def __init__(self, location: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        self.location = location
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn = self._connect()
        if not self._schema_exists():  # opening an existing store takes no write lock
            self._write(self._create_schema, label="open", numbered=False)

    def _schema_exists(self) -> bool:
        try:
            return bool(self._query("SELECT schema_version FROM store_meta WHERE id = 1"))
        except Exception:  # noqa: BLE001 - no such table yet
            self._rollback(self._cursor())
            return False

    def _create_schema(self, tx: _Tx) -> None:
        self._lock_schema(tx)
        for stmt in _DDL:
            tx.execute(stmt, (SCHEMA_VERSION,) if "?" in stmt else ())

    def _lock_schema(self, tx: _Tx) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "ProgrammeStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _execute(self, cur: Any, sql: str, params: Iterable[Any] = ()) -> Any:
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            cur = self._cursor()
            try:
                rows = self._execute(cur, sql, params).fetchall()
            finally:
                cur.close()
            self._end_read()
            return rows

    def _end_read(self) -> None:
        pass

    def _write(self, work: Callable[[_Tx], Any], label: str = "write", numbered: bool = True) -> Any:
        """Run `work` in one write transaction, waiting (with backoff) while other writers hold the store."""
        deadline = time.monotonic() + self.busy_timeout
        attempt = 0
        with self._lock:
            while True:
                cur = self._cursor()
                try:
                    self._begin_write(cur)
                    try:
                        if not numbered:  # creating the schema
                            tx = _Tx(self, cur, utc_now(), 0)
                            result = work(tx)
                            self._commit(cur)
                            return result
                        # Serialise writers and number the events: the first statement of every write.
                        self._execute(cur, "UPDATE store_meta SET last_event_id = last_event_id WHERE id = 1")
                        row = self._execute(cur, "SELECT last_event_id FROM store_meta WHERE id = 1").fetchone()
                        tx = _Tx(self, cur, utc_now(), int(row[0]) if row else 0)
                        result = work(tx)
                        self._execute(cur, "UPDATE store_meta SET last_event_id = ? WHERE id = 1", (tx.next_event_id - 1,))
                        self._commit(cur)
                        return result
                    except BaseException:
                        self._rollback(cur)
                        raise
                except Exception as exc:  # noqa: BLE001 - only busy errors are retried
                    if not self._is_busy_error(exc):
                        raise
                    attempt += 1
                    if time.monotonic() >= deadline:
                        raise StoreBusy(
                            f"the programme store ({self.location}) has been busy with other writers for "
                            f"{self.busy_timeout:g} s; nothing was saved, try again ({label})"
                        ) from exc
                    time.sleep(min(0.02 * 2 ** min(attempt, 6), 1.0) * (0.5 + random.random()))
                finally:
                    try:
                        cur.close()
                    except Exception:  # noqa: BLE001
                        pass

    def _commit(self, cur: Any) -> None:
        self._execute(cur, "COMMIT")

    def _rollback(self, cur: Any) -> None:
        try:
            self._execute(cur, "ROLLBACK")
        except Exception:  # noqa: BLE001 - no transaction left to roll back
            pass

    # --- reading ---
    def _stored(self, tx_or_none: _Tx | None, table: str, record_id: str) -> tuple | None:
        sql = ("SELECT version, record_values, updated_at, updated_by, is_deleted FROM current_records "
               "WHERE table_name = ? AND record_id = ?")
        if tx_or_none is None:
            rows = self._query(sql, (table, record_id))
            return rows[0] if rows else None
        return tx_or_none.execute(sql, (table, record_id)).fetchone()

    def get(self, table: str, record_id: str) -> Record | None:
        """The record as it is now, or None when there is none (or it was deleted)."""
        get_table(table)
        row = self._stored(None, table, record_id)
        if row is None or row[4]:
            return None
        return Record(table, record_id, json.loads(row[1]), int(row[0]), row[2], row[3])

    def version(self, table: str, record_id: str) -> int:
        """The record's version (0 when it never existed); what a form passes back as expected_version."""
        row = self._stored(None, table, record_id)
        return int(row[0]) if row else 0

    def current(self, table: str) -> pl.DataFrame:
        """The table's current records, typed by its schema, plus _version, _updated_at and _updated_by."""
        t = get_table(table)
        rows = self._query(
            "SELECT record_values, version, updated_at, updated_by FROM current_records "
            "WHERE table_name = ? AND is_deleted = 0 ORDER BY record_id", (table,))
        schema = t.polars_schema()
        text_schema = {c: (pl.String if t.field(c).type == DATE else dt) for c, dt in schema.items()}
        # the JSON values decoded in one vectorised step (the store may hold tens of thousands of records)
        values = pl.Series("values", [r[0] for r in rows], dtype=pl.String)
        frame = (values.str.json_decode(pl.Struct(text_schema)).struct.unnest() if rows
                 else pl.DataFrame(schema=text_schema)).with_columns(
            [pl.col(c).str.to_date("%Y-%m-%d") for c in t.columns if t.field(c).type == DATE]
        )
        meta = {"_version": [int(r[1]) for r in rows], "_updated_at": [r[2] for r in rows],
                "_updated_by": [r[3] for r in rows]}
        return pl.concat([frame, pl.DataFrame(meta, schema=META_COLUMNS)], how="horizontal")

    def log(self, account_id: str | None = None, table: str | None = None,
            record_id: str | None = None) -> pl.DataFrame:
        """The events, newest first; only one account's (or one table's, one record's) when given."""
        where, params = [], []
        for column, value in (("account_id", account_id), ("table_name", table), ("record_id", record_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = ("SELECT event_id, at, actor, source, table_name, record_id, account_id, op, version, old_values, "
               "new_values FROM events" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY event_id DESC")
        rows = self._query(sql, params)
        cols = ["event_id", "at", "actor", "source", "table_name", "record_id", "account_id", "op", "version",
                "old_values", "new_values"]
        return pl.DataFrame([dict(zip(cols, r)) for r in rows], schema={c: LOG_SCHEMA[c] for c in cols})

    def last_event_id(self) -> int:
        """The number of the last event (0 for an empty store): changes whenever anything is written."""
        rows = self._query("SELECT last_event_id FROM store_meta WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def record_ids(self, table: str, include_deleted: bool = False) -> set[str]:
        """The ids of the table's current records (with those deleted since, when asked)."""
        get_table(table)
        sql = "SELECT record_id FROM current_records WHERE table_name = ?" + ("" if include_deleted else " AND is_deleted = 0")
        return {r[0] for r in self._query(sql, (table,))}

    def event_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM events")[0][0])

    # --- writing ---
    def _apply(self, tx: _Tx, table: str, record_id: str, values: Mapping[str, Any], actor: str, source: str,
               expected_version: int | None) -> tuple[int, str | None]:
        """Save one record inside a transaction: (version, op), op None when nothing changed."""
        t = get_table(table)
        row = self._stored(tx, table, record_id)
        stored_version = int(row[0]) if row else 0
        if expected_version is not None and expected_version != stored_version:
            raise StaleRecord(table, record_id, expected_version, stored_version, row[3] if row else None,
                              row[2] if row else None)
        live = row is not None and not row[4]
        stored = json.loads(row[1]) if live else None
        merged: dict[str, Any] = dict(stored) if stored else {c: None for c in t.columns}
        if not stored:
            merged.update(t.key_values(record_id))
        merged.update(values)
        clean, problems = validate_record(table, merged)
        if problems:
            raise ValidationError(table, problems)
        if t.record_id(clean) != record_id:
            raise ValidationError(table, [(",".join(t.key), f"record id {record_id!r} does not match the key "
                                                            f"columns ({t.record_id(clean)!r})")])
        if live and clean == stored:
            return stored_version, None
        op = "update" if live else "insert"
        version = stored_version + 1
        account = clean.get("account_id")
        event_id = tx.take_event_id()
        tx.execute(_INSERT_EVENT, (event_id, tx.at, actor, source, table, record_id, account, op, _dumps(stored),
                                   _dumps(clean), version))
        tx.execute(_UPSERT_CURRENT, (table, record_id, account, version, _dumps(clean), tx.at, actor, 0, event_id))
        return version, op

    def save(self, table: str, record_id: str, values: Mapping[str, Any], actor: str,
             expected_version: int | None = None, source: str = "app") -> int:
        """Save a record (columns not in `values` keep their stored value); the version after the save.

        With expected_version (the version the caller read; 0 for a record it expects not to exist), a record
        changed since is refused with StaleRecord and nothing is written. A save that changes nothing writes
        no event. Bad values raise ValidationError naming every column.
        """
        _check_actor(actor)
        get_table(table)
        return self._write(lambda tx: self._apply(tx, table, record_id, dict(values), actor, source,
                                                  expected_version)[0], label=f"save {table} {record_id}")

    def delete(self, table: str, record_id: str, actor: str, expected_version: int | None = None,
               source: str = "app") -> int:
        """Delete a record (its history stays in the events); the version after the delete."""
        _check_actor(actor)
        get_table(table)

        def work(tx: _Tx) -> int:
            row = self._stored(tx, table, record_id)
            stored_version = int(row[0]) if row else 0
            if expected_version is not None and expected_version != stored_version:
                raise StaleRecord(table, record_id, expected_version, stored_version, row[3] if row else None,
                                  row[2] if row else None)
            if row is None or row[4]:
                raise RecordNotFound(f"{table} {record_id}: no such record")
            stored = json.loads(row[1])
            version = stored_version + 1
            account = stored.get("account_id")
            event_id = tx.take_event_id()
            tx.execute(_INSERT_EVENT, (event_id, tx.at, actor, source, table, record_id, account, "delete",
                                       _dumps(stored), None, version))
            tx.execute(_UPSERT_CURRENT, (table, record_id, account, version, _dumps(stored), tx.at, actor, 1, event_id))
            return version

        return self._write(work, label=f"delete {table} {record_id}")

    def _import_checked(self, checked: CheckedFile, actor: str) -> ImportResult:
        source = f"import:{checked.path.name}"

        def work(tx: _Tx) -> ImportResult:
            counts = {"insert": 0, "update": 0, None: 0}
            errors: list[FileError] = []
            for row_number, record_id, values in checked.records:
                try:
                    _, op = self._apply(tx, checked.table, record_id, values, actor, source, None)
                except ValidationError as exc:  # a rule across columns, with the values the file leaves stored
                    errors += [FileError(checked.path.name, row_number, c, r) for c, r in exc.problems]
                    continue
                counts[op] += 1
            if errors:
                raise ImportRejected(errors)  # rolls the whole file back
            return ImportResult(checked.path.name, checked.table, len(checked.records), counts["insert"],
                                counts["update"], counts[None])

        return self._write(work, label=f"import {checked.path.name}")

    def import_load(self, table: str, rows: Iterable[Mapping[str, Any]], columns: Iterable[str], load_id: str,
                    actor: str) -> "LoadImport":
        """Import a table that came inside an export (`kam load`) by record id, in one transaction, logged with
        source "load:<load_id>". `columns` are those the export carried (the others keep their stored values).

        Store records override the export's: an export row is applied only to a record the store does not hold
        (inserted) or to one whose last change came from a load (updated when the CRM changed it). A record
        recorded, changed or deleted in the app (or by `kam programme import`) keeps the store's values, however
        the export's row reads, so an unchanged export row never overwrites a change made since, a delete made in
        the app is not undone, and nothing is ever deleted by a load. A row the store's rules refuse (e.g. text over
        its size limit) is not imported and counted in `refused` (it still counts from the snapshot, laid under
        the store)."""
        _check_actor(actor)
        t = get_table(table)
        columns = [c for c in columns if c in t.columns]
        source = f"load:{load_id}"

        def work(tx: _Tx) -> LoadImport:
            stored = {r[0]: (json.loads(r[1]), bool(r[2]), str(r[3]).startswith("load:")) for r in tx.execute(
                "SELECT c.record_id, c.record_values, c.is_deleted, e.source FROM current_records c "
                "JOIN events e ON e.event_id = c.event_id WHERE c.table_name = ?", (table,)).fetchall()}
            counts = {"insert": 0, "update": 0, None: 0}
            kept, refused = 0, []
            fresh: dict[str, dict] = {}
            for row in rows:
                values = {c: row.get(c) for c in columns}
                clean, problems = validate_record(table, values)
                if problems:
                    refused.append(f"{t.record_id(clean)}: " + "; ".join(f"{c}: {r}" for c, r in problems))
                    continue
                record_id = t.record_id(clean)
                if record_id in stored:
                    values_now, deleted, from_load = stored[record_id]
                    same = not deleted and all(values_now.get(c) == clean[c] for c in columns)
                    if same:
                        counts[None] += 1
                        continue
                    if deleted or not from_load:
                        kept += 1  # recorded, changed or deleted in the app: the store's word stands
                        continue
                if record_id not in stored:  # new: written below in two statements for all of them
                    if t.record_id(clean) == record_id and record_id not in fresh:
                        fresh[record_id] = clean
                        continue
                _, op = self._apply(tx, table, record_id, {c: clean[c] for c in columns}, actor, source, None)
                counts[op] += 1
            events, currents = [], []
            for record_id, clean in fresh.items():
                event_id = tx.take_event_id()
                values, account = _dumps(clean), clean.get("account_id")
                events.append((event_id, tx.at, actor, source, table, record_id, account, "insert", None, values, 1))
                currents.append((table, record_id, account, 1, values, tx.at, actor, 0, event_id))
            if events:
                tx.cur.executemany(self._sql(_INSERT_EVENT), events)
                tx.cur.executemany(self._sql(_UPSERT_CURRENT), currents)
                counts["insert"] += len(events)
            return LoadImport(table, counts["insert"], counts["update"], counts[None], kept, refused)

        return self._write(work, label=f"load {table}")

    def import_file(self, path: str | Path, actor: str, table: str | None = None) -> ImportResult:
        """Import one `<table>.csv` by record id in one transaction, logged with source import:<file name>.

        Every bad row is reported (ImportRejected) and nothing is written unless the whole file is good. A
        record the file does not change writes no event; columns the file does not carry keep their stored
        value; records not in the file are kept (an import never deletes).
        """
        _check_actor(actor)
        checked = read_csv_file(path, table)
        if checked.errors:
            raise ImportRejected(checked.errors)
        return self._import_checked(checked, actor)

    def import_folder(self, path: str | Path, actor: str) -> list[ImportResult]:
        """Import every programme `<table>.csv` of a folder (other files are ignored). Every file is checked
        first: with any bad row in any file nothing is written; then each file is one transaction."""
        _check_actor(actor)
        folder = Path(path)
        if not folder.is_dir():
            raise StoreError(f"{folder}: not a folder")
        files = sorted((p for p in folder.iterdir() if p.is_file() and table_of_file(p)),
                       key=lambda p: TABLE_ORDER.index(table_of_file(p)))  # type: ignore[arg-type]
        if not files:
            raise StoreError(f"{folder}: no programme table file (expected one of "
                             f"{', '.join(t + '.csv' for t in TABLE_ORDER)})")
        checked = [read_csv_file(p) for p in files]
        errors = [e for c in checked for e in c.errors]
        if errors:
            raise ImportRejected(errors)
        return [self._import_checked(c, actor) for c in checked]

    def import_path(self, path: str | Path, actor: str) -> list[ImportResult]:
        """A folder (import_folder) or one file (import_file)."""
        p = Path(path)
        if p.is_dir():
            return self.import_folder(p, actor)
        if not p.is_file():
            raise StoreError(f"{p}: no such file or folder")
        return [self.import_file(p, actor)]

    def export_folder(self, out_dir: str | Path) -> dict[str, int]:
        """Write every table's current records as `<table>.csv` (the files import reads); rows per table."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        counts = {}
        for table in TABLE_ORDER:
            rows = self._query("SELECT record_values FROM current_records WHERE table_name = ? AND is_deleted = 0 "
                               "ORDER BY record_id", (table,))
            records = [json.loads(r[0]) for r in rows]
            write_csv(out / f"{table}.csv", table, records)
            counts[table] = len(records)
        return counts

    # --- derivation and checks ---
    def derive_current(self) -> dict[tuple[str, str], tuple]:
        """The current state as the events give it: (table, record_id) → the current_records row."""
        return _derive(self._query(_EVENTS_IN_ORDER))

    def stored_current(self) -> dict[tuple[str, str], tuple]:
        rows = self._query(f"SELECT {_CURRENT_COLUMNS} FROM current_records")
        return {(r[0], r[1]): (r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], int(r[7]), int(r[8])) for r in rows}

    def check(self) -> list[str]:
        """Problems of consistency: a current row without its event, or an event whose record's current row
        differs from what the events give. An empty list for a consistent store."""
        derived, stored = self.derive_current(), self.stored_current()
        problems = []
        for key in sorted(set(derived) | set(stored)):
            if key not in stored:
                problems.append(f"{key[0]} {key[1]}: events but no current row")
            elif key not in derived:
                problems.append(f"{key[0]} {key[1]}: a current row but no event")
            elif derived[key] != stored[key]:
                problems.append(f"{key[0]} {key[1]}: current row {stored[key]} differs from the events' {derived[key]}")
        last = self._query("SELECT last_event_id FROM store_meta WHERE id = 1")[0][0]
        top = self._query("SELECT MAX(event_id) FROM events")[0][0] or 0
        if int(last) != int(top):
            problems.append(f"store_meta.last_event_id {last} is not the last event {top}")
        return problems

    def rebuild_current(self) -> int:
        """Derive current_records from the events again (in one transaction); the number of rows."""
        def work(tx: _Tx) -> int:
            derived = _derive(tx.execute(_EVENTS_IN_ORDER).fetchall())
            tx.execute("DELETE FROM current_records")
            for row in derived.values():
                tx.execute(f"INSERT INTO current_records ({_CURRENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return len(derived)

        return self._write(work, label="rebuild")


_EVENTS_IN_ORDER = ("SELECT event_id, at, actor, table_name, record_id, account_id, op, old_values, new_values, "
                    "version FROM events ORDER BY event_id")


def _derive(rows: Iterable[tuple]) -> dict[tuple[str, str], tuple]:
    """Replay events in order: the last event of each record gives its current row (a delete keeps the values
    the record had, flagged is_deleted)."""
    state: dict[tuple[str, str], tuple] = {}
    for event_id, at, actor, table, record_id, account, op, old, new, version in rows:
        deleted = 1 if op == "delete" else 0
        state[(table, record_id)] = (table, record_id, account, int(version), old if deleted else new, at, actor,
                                     deleted, int(event_id))
    return state


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise StoreError("a change needs the name of who makes it (actor)")
    if len(actor) > 200:
        raise StoreError("the actor's name is too long (at most 200 characters)")


class SQLiteStore(ProgrammeStore):
    """The embedded store: one SQLite file in WAL mode (readers never wait; one writer at a time)."""

    def _connect(self) -> sqlite3.Connection:
        path = Path(self.location)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
        # SQLite's own wait for the write lock, a slice of the busy timeout; _write retries it until then.
        wait = min(5.0, self.busy_timeout / 4)
        conn = sqlite3.connect(str(path), timeout=wait, isolation_level=None, check_same_thread=False)
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                return conn
            except sqlite3.OperationalError as exc:
                if not self._is_busy_error(exc) or time.monotonic() >= deadline:
                    conn.close()
                    if self._is_busy_error(exc):
                        raise StoreBusy(f"the programme store ({self.location}) stayed busy for "
                                        f"{self.busy_timeout:g} s while opening") from exc
                    raise
                time.sleep(0.05 + random.random() * 0.1)

    def _begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _is_busy_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc).lower() or "busy" in str(exc).lower())


class PostgresStore(ProgrammeStore):
    """The shared store: a PostgreSQL database, for several app servers."""

    def _connect(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self.location, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to the programme store {_redact(self.location)}: {exc}") from exc
        conn.execute("SET lock_timeout = '5s'")
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN")

    def _lock_schema(self, tx: _Tx) -> None:
        # Concurrent CREATE TABLE IF NOT EXISTS can collide in PostgreSQL's catalog: one creator at a time.
        tx.execute("SELECT pg_advisory_xact_lock(7141400014)")

    def _is_busy_error(self, exc: BaseException) -> bool:
        import psycopg.errors as e

        return isinstance(exc, (e.LockNotAvailable, e.DeadlockDetected, e.SerializationFailure,
                                e.QueryCanceled))


def _redact(url: str) -> str:
    """A URL without its password, for messages."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def open_store(location: str | Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> ProgrammeStore:
    """Open (creating if needed) the programme store at a file path (embedded SQLite) or a postgresql:// URL."""
    location = str(location)
    if is_postgres_url(location):
        return PostgresStore(location, busy_timeout)
    return SQLiteStore(location, busy_timeout)
