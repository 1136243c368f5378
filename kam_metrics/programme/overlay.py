"""The export with the programme store laid over it (issue 14): what the metrics read.

`overlay_connection(snapshot_path, store)` returns a DuckDB connection whose tables have the snapshot's names
and hold the snapshot's rows with the store's current records laid over them, so the metrics' SQL runs
unchanged. The rules:

- reviews, goals, actions, wallet: a table is the store's live records plus the export's rows whose id the
  store has never held (wallet's id is account_id|year|product_line). A store record replaces the export's
  row with the same id; a record deleted in the store hides the export's row with its id. Since `kam load`
  imports these tables into the store, after a load they come from the store alone.
- account_profile: a non-empty field (is_key_account, executive_sponsor, kam_owner, relationship_stage)
  overrides the account's value in accounts; an empty field leaves the export's value.
- contact_roles: a non-empty buying_role or attitude overrides the contact's value in contacts.
- notes are not metrics inputs.

Only the current value of a profile or role is kept: a change of sponsor or of a buying role applies at every
as_of. Reviews carry their dates, so time travel holds for them.

When the store holds nothing that differs from the snapshot (no store, an empty store, or one that holds just
what the last load imported), this is the plain read-only snapshot connection: no overlay at all. Otherwise an
in-memory DuckDB attaches the snapshot read-only as `snap`, the unchanged tables are views of it, the changed
ones small in-memory tables, and the parts of the precomputed marts that depend on them are rebuilt for the
accounts concerned only: review and plan counts and dates (mart_account_daily, mart_account_weekly_cum),
decision makers engaged (dm_delta) for contacts whose role moved in or out of decision maker / economic buyer,
and the champion activity days of contacts who became champions.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from kam_metrics.load import warehouse
from kam_metrics.load.marts import ACCOUNT_DATES, ACCOUNT_MEASURES, ENGAGEMENT_WINDOW_DAYS, MART_VERSION
from kam_metrics.programme.schema import TABLES
from kam_metrics.programme.store import ProgrammeStore, is_postgres_url, open_store

#: The programme tables that replace whole rows of the export's table of the same name, with their key.
RECORD_TABLES: dict[str, tuple[str, ...]] = {
    "reviews": ("review_id",), "goals": ("goal_id",), "actions": ("action_id",),
    "wallet": ("account_id", "year", "product_line"),
}
PROFILE_FIELDS = ("is_key_account", "executive_sponsor", "kam_owner", "relationship_stage")
ROLE_FIELDS = ("buying_role", "attitude")
SOURCE_FILE = "programme store"
_DM_ROLES = ("decision_maker", "economic_buyer")


@dataclass
class OverlayPlan:
    """What differs between the snapshot and the snapshot with the store laid over it."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)  # snapshot table name → its whole new rows
    review_accounts: set[str] = field(default_factory=set)  # accounts whose reviews changed
    dm_changes: dict[str, int] = field(default_factory=dict)  # contact_id → +1 became / −1 stopped being a DM
    new_champions: set[str] = field(default_factory=set)
    columns: set[tuple[str, str]] = field(default_factory=set)  # (table, column) the store carries

    @property
    def is_empty(self) -> bool:
        return not self.tables


def store_marker(store: ProgrammeStore | None) -> int:
    """The store's last event id (0 for none): what a cache of overlaid connections is keyed on."""
    return 0 if store is None else store.last_event_id()


def _record_id_expr(table: str) -> pl.Expr:
    key = RECORD_TABLES[table]
    if len(key) == 1:
        return pl.col(key[0]).cast(pl.String)
    return pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in key], separator="|")


def _snapshot_frame(con, name: str) -> pl.DataFrame | None:
    if not _snap_has(con, name):
        return None
    return con.sql(f'SELECT * FROM snap.main."{name}"').pl()


def _snap_has(con, name: str) -> bool:
    return bool(con.sql("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'snap' AND schema_name = 'main' "
                        "AND table_name = ?", params=[name]).fetchall()[0][0])


def _as_snapshot_rows(records: pl.DataFrame, snap: pl.DataFrame) -> pl.DataFrame:
    """Store records in the snapshot table's columns and types (a column the store lacks is null)."""
    cols = []
    for name, dtype in snap.schema.items():
        if name == "_source_file":
            cols.append(pl.lit(SOURCE_FILE, pl.String).alias(name))
        elif name in records.columns:
            cols.append(pl.col(name).cast(dtype, strict=False).alias(name))
        else:
            cols.append(pl.lit(None, dtype).alias(name))
    return records.select(cols)


def plan_overlay(con, store: ProgrammeStore) -> OverlayPlan:
    """Compare the store's current records with the snapshot attached as `snap` on `con`."""
    plan = OverlayPlan()
    for table in RECORD_TABLES:
        snap = _snapshot_frame(con, table)
        if snap is None:
            continue
        records = store.current(table)
        held = store.record_ids(table, include_deleted=True)
        if not held:
            continue
        compare = [c for c in snap.columns if not c.startswith("_")]
        snap_id = snap.with_columns(_id=_record_id_expr(table))
        store_rows = _as_snapshot_rows(records, snap)
        kept = snap_id.filter(~pl.col("_id").is_in(list(held))).drop("_id")
        merged = pl.concat([kept, store_rows], how="vertical_relaxed") if store_rows.height else kept
        added = store_rows.select(compare).join(snap.select(compare), on=compare, how="anti", nulls_equal=True)
        removed = snap_id.filter(pl.col("_id").is_in(list(held))).select(compare).join(
            store_rows.select(compare), on=compare, how="anti", nulls_equal=True)
        plan.columns |= {(table, c) for c in compare if c in records.columns and records[c].is_not_null().any()}
        if not added.height and not removed.height:
            continue
        plan.tables[table] = merged
        if table == "reviews":
            plan.review_accounts |= set(added["account_id"].drop_nulls().to_list())
            plan.review_accounts |= set(removed["account_id"].drop_nulls().to_list())
    _plan_fields(con, store, plan, "accounts", "account_profile", "account_id", PROFILE_FIELDS)
    before = _snapshot_frame(con, "contacts") if store.record_ids("contact_roles") else None
    _plan_fields(con, store, plan, "contacts", "contact_roles", "contact_id", ROLE_FIELDS, snap=before)
    if "contacts" in plan.tables and before is not None:
        after = plan.tables["contacts"].select("contact_id", new=pl.col("buying_role"))
        moved = before.select("contact_id", old=pl.col("buying_role")).join(after, on="contact_id").filter(
            pl.col("old").ne_missing(pl.col("new")))
        for cid, old, new in moved.iter_rows():
            was, now = old in _DM_ROLES, new in _DM_ROLES
            if was != now:
                plan.dm_changes[cid] = 1 if now else -1
            if new == "champion" and old != "champion":
                plan.new_champions.add(cid)
    return plan


def _plan_fields(con, store, plan: OverlayPlan, table: str, store_table: str, key: str, fields: tuple[str, ...],
                 snap: pl.DataFrame | None = None) -> None:
    """accounts / contacts with the store's non-empty fields laid over them (plan.tables[table] when any differs)."""
    records = store.current(store_table)
    if not records.height:
        return
    snap = snap if snap is not None else _snapshot_frame(con, table)
    if snap is None or not snap.height:
        return
    fields = tuple(f for f in fields if f in snap.columns)
    over = records.select(key, *[pl.col(f).alias(f"_ov_{f}") for f in fields])
    joined = snap.join(over, on=key, how="left")
    new = joined.with_columns(
        [pl.coalesce(pl.col(f"_ov_{f}").cast(snap.schema[f], strict=False), pl.col(f)).alias(f) for f in fields]
    ).select(snap.columns)
    plan.columns |= {(table, f) for f in fields if records[f].is_not_null().any()}
    if fields and any(new[f].ne_missing(snap[f]).any() for f in fields):
        plan.tables[table] = new


def _sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(values)) or "NULL"


def overlay_connection(snapshot_path: str | Path, store: ProgrammeStore | None) -> duckdb.DuckDBPyConnection:
    """A connection to the snapshot with the store laid over it (the plain read-only snapshot connection when the
    store changes nothing). Use it like warehouse.connect_snapshot's: read-only, one cursor per thread."""
    path = Path(snapshot_path)
    if store is None or store.last_event_id() == 0:
        return warehouse.connect_snapshot(path)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("ATTACH '" + str(path).replace("'", "''") + "' AS snap (READ_ONLY)")
        plan = plan_overlay(con, store)
        if plan.is_empty:
            con.close()
            return warehouse.connect_snapshot(path)
        _build(con, plan)
        _OVERLAID[con] = plan
        return con
    except BaseException:
        con.close()
        raise


#: The plan behind each overlaid connection (tests and the benchmark look at it).
_OVERLAID: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def overlay_plan(con) -> OverlayPlan | None:
    try:
        return _OVERLAID.get(con)
    except TypeError:
        return None


def _build(con, plan: OverlayPlan) -> None:
    names = [r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'snap' "
                                   "AND schema_name = 'main' ORDER BY table_name").fetchall()]
    for name, frame in plan.tables.items():
        con.register("_ov_frame", frame)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _ov_frame')
        con.unregister("_ov_frame")
    marts = _marts_current(con) and "mart_account_daily" in names
    accounts = set(plan.review_accounts)
    if marts and plan.dm_changes:
        con.execute("CREATE TABLE _ov_dm_contacts AS SELECT unnest(?::VARCHAR[]) AS contact_id, "
                    "unnest(?::INTEGER[]) AS sign", [list(plan.dm_changes), list(plan.dm_changes.values())])
        # the contacts' engaged periods (marts._ENGAGED_EVENTS for these contacts), signed
        con.execute(f"""CREATE TABLE _ov_dm AS
            WITH days AS (SELECT a.account_id, a.contact_id, a.activity_date AS d FROM snap.main.activities a
                          WHERE a.contact_id IN (SELECT contact_id FROM _ov_dm_contacts) GROUP BY ALL),
            marked AS (SELECT account_id, contact_id, d,
                              coalesce(d - lag(d) OVER w > {ENGAGEMENT_WINDOW_DAYS}, true) AS starts_period,
                              coalesce(lead(d) OVER w - d > {ENGAGEMENT_WINDOW_DAYS}, true) AS ends_period
                       FROM days WINDOW w AS (PARTITION BY account_id, contact_id ORDER BY d)),
            ev AS (SELECT account_id, contact_id, d, 1 AS delta FROM marked WHERE starts_period
                   UNION ALL SELECT account_id, contact_id, (d + {ENGAGEMENT_WINDOW_DAYS}::INTEGER)::DATE, -1
                   FROM marked WHERE ends_period)
            SELECT ev.account_id, ev.d, sum(ev.delta * s.sign)::DOUBLE AS dm_adj
            FROM ev JOIN _ov_dm_contacts s USING (contact_id) GROUP BY ALL""")
        accounts |= {r[0] for r in con.sql("SELECT DISTINCT account_id FROM _ov_dm").fetchall()}
    else:
        con.execute("CREATE TABLE _ov_dm (account_id VARCHAR, d DATE, dm_adj DOUBLE)")
    if marts and plan.new_champions:
        con.execute("CREATE TABLE _ov_champ AS SELECT a.contact_id, a.activity_date AS d, count(*) AS touches "
                    "FROM snap.main.activities a WHERE a.contact_id IN (SELECT unnest(?::VARCHAR[])) "
                    "GROUP BY a.account_id, a.contact_id, a.activity_date", [sorted(plan.new_champions)])
        cols = ", ".join(f'"{c}"' for c in _columns(con, "mart_champion_activity"))
        con.execute(f"CREATE VIEW mart_champion_activity AS SELECT {cols} FROM snap.main.mart_champion_activity "
                    f"UNION ALL SELECT {cols} FROM _ov_champ")
    if marts and accounts:
        _build_account_marts(con, accounts)
    if plan.columns:
        _build_export_columns(con, plan, names)
    existing = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'memory'"
                                      " UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = 'memory'"
                                      " AND NOT internal").fetchall()}
    for name in names:
        if name not in existing:
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM snap.main."{name}"')


def _marts_current(con) -> bool:
    if not _snap_has(con, "mart_info"):
        return False
    rows = con.sql("SELECT value FROM snap.main.mart_info WHERE key = 'mart_version'").fetchall()
    return bool(rows) and rows[0][0] == MART_VERSION


def _columns(con, name: str) -> list[str]:
    return [r[0] for r in con.sql("SELECT column_name FROM duckdb_columns() WHERE database_name = 'snap' "
                                  "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
                                  params=[name]).fetchall()]


_REVIEW_COLS = ("reviews", "plans", "review_d", "plan_d")


def _build_account_marts(con, accounts: set[str]) -> None:
    """mart_account_daily and mart_account_weekly_cum with the rows of `accounts` rebuilt: their review and plan
    columns from the reviews as laid over (the table `reviews` of this connection), dm_delta adjusted."""
    con.execute("CREATE TABLE _ov_accounts AS SELECT unnest(?::VARCHAR[]) AS account_id", [sorted(accounts)])
    daily_cols = _columns(con, "mart_account_daily")
    weekly_cols = _columns(con, "mart_account_weekly_cum")
    reviews = "reviews" if con.sql("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'memory' "
                                   "AND table_name = 'reviews'").fetchall()[0][0] else "snap.main.reviews"

    def pick(c: str, alias: str) -> str:
        if c in ("account_id", "d"):
            return f"k.{c}"
        if c in ("reviews", "plans"):
            return f"coalesce(r.{c}, 0)::DOUBLE AS {c}"
        if c == "review_d":
            return "CASE WHEN coalesce(r.reviews, 0) > 0 THEN k.d END AS review_d"
        if c == "plan_d":
            return "CASE WHEN coalesce(r.plans, 0) > 0 THEN k.d END AS plan_d"
        if c == "dm_delta":
            return f"(coalesce({alias}.dm_delta, 0) + coalesce(m.dm_adj, 0))::DOUBLE AS dm_delta"
        if c in ACCOUNT_MEASURES:
            return f"coalesce({alias}.{c}, 0)::DOUBLE AS {c}"
        return f"{alias}.{c}"

    con.execute(f"""CREATE TABLE _ov_daily AS
        WITH b AS (SELECT * FROM snap.main.mart_account_daily WHERE account_id IN (SELECT account_id FROM _ov_accounts)),
        r AS (SELECT account_id, review_date AS d, count(*) AS reviews,
                     count(*) FILTER (WHERE review_type = 'plan_90_day') AS plans
              FROM {reviews} WHERE account_id IN (SELECT account_id FROM _ov_accounts) AND review_date IS NOT NULL
              GROUP BY ALL),
        m AS (SELECT account_id, d, sum(dm_adj) AS dm_adj FROM _ov_dm GROUP BY ALL),
        k AS (SELECT account_id, d FROM b UNION SELECT account_id, d FROM r UNION SELECT account_id, d FROM m)
        SELECT * FROM (
            SELECT {", ".join(pick(c, "b") for c in daily_cols)}
            FROM k LEFT JOIN b USING (account_id, d) LEFT JOIN r USING (account_id, d) LEFT JOIN m USING (account_id, d))
        -- a day that held only reviews the store moved or deleted has nothing left (every measure 0, no date)
        WHERE NOT ({" AND ".join(f"{c} = 0" for c in ACCOUNT_MEASURES if c in daily_cols)}
                   AND {" AND ".join(f"{c} IS NULL" for c in ACCOUNT_DATES if c in daily_cols)})
        ORDER BY d, account_id""")
    cols = ", ".join(f'"{c}"' for c in daily_cols)
    con.execute(f"""CREATE VIEW mart_account_daily AS
        SELECT {cols} FROM snap.main.mart_account_daily WHERE account_id NOT IN (SELECT account_id FROM _ov_accounts)
        UNION ALL SELECT {cols} FROM _ov_daily""")

    # Running totals at every Sunday from the account's first week (now perhaps earlier, a store review's) to the
    # snapshot's last week; the columns the overlay does not touch come from the snapshot's rows (0 / null before
    # the account's first snapshot week, as its running totals were then).
    def wpick(c: str) -> str:
        if c in ("account_id", "d"):
            return f"run.{c}"
        if c in (*_REVIEW_COLS, "dm_delta"):
            return f"run.{c}"
        if c in ACCOUNT_MEASURES:
            return f"coalesce(b.{c}, 0)::DOUBLE AS {c}"
        return f"b.{c}"

    con.execute(f"""CREATE TABLE _ov_weekly AS
        WITH b AS (SELECT * FROM snap.main.mart_account_weekly_cum
                   WHERE account_id IN (SELECT account_id FROM _ov_accounts)),
        lw AS (SELECT max(d) AS last_week FROM snap.main.mart_account_weekly_cum),
        wk AS (SELECT account_id, (date_trunc('week', d) + INTERVAL 6 DAY)::DATE AS d, sum(reviews) AS reviews,
                      sum(plans) AS plans, sum(dm_delta) AS dm_delta, max(review_d) AS review_d, max(plan_d) AS plan_d
               FROM _ov_daily GROUP BY ALL),
        firsts AS (SELECT account_id, min(d) AS first_week FROM wk GROUP BY account_id),
        grid AS (SELECT f.account_id, g.week::DATE AS d FROM firsts f, lw,
                 LATERAL generate_series(f.first_week::TIMESTAMP, lw.last_week::TIMESTAMP, INTERVAL 7 DAY) g(week)),
        run AS (SELECT grid.account_id, grid.d,
                       sum(coalesce(wk.reviews, 0)) OVER w::DOUBLE AS reviews,
                       sum(coalesce(wk.plans, 0)) OVER w::DOUBLE AS plans,
                       sum(coalesce(wk.dm_delta, 0)) OVER w::DOUBLE AS dm_delta,
                       max(wk.review_d) OVER w AS review_d, max(wk.plan_d) OVER w AS plan_d
                FROM grid LEFT JOIN wk USING (account_id, d)
                WINDOW w AS (PARTITION BY grid.account_id ORDER BY grid.d ROWS UNBOUNDED PRECEDING))
        SELECT {", ".join(wpick(c) for c in weekly_cols)}
        FROM run LEFT JOIN b USING (account_id, d) ORDER BY run.d, run.account_id""")
    cols = ", ".join(f'"{c}"' for c in weekly_cols)
    con.execute(f"""CREATE VIEW mart_account_weekly_cum AS
        SELECT {cols} FROM snap.main.mart_account_weekly_cum
        WHERE account_id NOT IN (SELECT account_id FROM _ov_accounts)
        UNION ALL SELECT {cols} FROM _ov_weekly""")
    assert set(_REVIEW_COLS) <= set(ACCOUNT_MEASURES) | set(ACCOUNT_DATES)


def _build_export_columns(con, plan: OverlayPlan, names: list[str]) -> None:
    """export_columns (what the figures may use, metrics.presence) with the store's tables and fields added, and
    snapshot_info's present_tables with them."""
    extra = sorted(plan.columns)
    if "export_columns" in names:
        con.execute("CREATE TABLE export_columns AS SELECT * FROM snap.main.export_columns")
        have = set(con.sql("SELECT table_name, column_name FROM export_columns").fetchall())
        schema = _columns(con, "export_columns")
        for t, c in extra:
            if (t, c) not in have:
                row = {"table_name": t, "column_name": c}
                con.execute(f"INSERT INTO export_columns ({', '.join(schema)}) VALUES "
                            f"({', '.join('?' for _ in schema)})", [row.get(k) for k in schema])
    if "snapshot_info" in names:
        con.execute("CREATE TABLE snapshot_info AS SELECT * FROM snap.main.snapshot_info")
        rows = con.sql("SELECT value FROM snapshot_info WHERE key = 'present_tables'").fetchall()
        if rows and rows[0][0] is not None:
            present = [t for t in rows[0][0].split(",") if t]
            present += [t for t in sorted({t for t, _ in extra}) if t not in present]
            con.execute("UPDATE snapshot_info SET value = ? WHERE key = 'present_tables'", [",".join(present)])


# ------------------------------------------------------------------------------------------------- wiring

def store_exists(location: str) -> bool:
    """Whether there may be a store at `location` (a PostgreSQL URL, or an embedded file that exists)."""
    return is_postgres_url(location) or Path(location).is_file()


def open_existing_store(location: str) -> ProgrammeStore | None:
    """The store at `location`, or None when it is an embedded file that does not exist yet (reading never
    creates one)."""
    if not store_exists(location):
        return None
    return open_store(location)


def connect_current(data_dir: Path, settings=None) -> duckdb.DuckDBPyConnection:
    """warehouse.connect_current with the programme store (the settings' programme_store) laid over it."""
    from kam_metrics.settings import Settings, programme_store_location

    location = programme_store_location(settings or Settings(), data_dir)
    store = open_existing_store(location)
    if store is None:
        return warehouse.connect_current(data_dir)
    try:
        for attempt in range(3):
            path = warehouse.current_snapshot_path(data_dir)
            if path is None:
                return warehouse.connect_current(data_dir)  # raises the usual "no snapshot" error
            try:
                return overlay_connection(path, store)
            except (duckdb.IOException, duckdb.BinderException, duckdb.CatalogException):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        store.close()
