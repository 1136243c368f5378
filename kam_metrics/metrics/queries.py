"""Read-only row queries the pages need that are not metrics: data status, load history, quarantine,
filter options and one account's contacts, activities, reviews and actions.

Every function takes a DuckDB connection (or cursor) to a snapshot and returns a Polars frame or plain
values; SQL takes its inputs as parameters. Time travel applies here too: rows dated after as_of are
left out, as if the data ended there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from kam_metrics.load.contract import OPTIONAL_TABLES, REQUIRED_TABLES
from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.metrics import rules
from kam_metrics.metrics.accounts import wallet_share_at
from kam_metrics.settings import Settings
from kam_metrics.load.warehouse import snapshot_info, table_exists
from kam_metrics.metrics.presence import presence

# Which contract file switches on which view; pages use it for their empty states.
VIEW_NEEDS = {
    "contacts": "the relationship map, engaged contacts by seniority and the champion flags",
    "surveys": "NPS and CSAT",
    "wallet": "share of wallet, headroom and the whitespace grid",
    "service_costs": "service costs in cost to serve",
    "cases": "case costs in cost to serve",
    "goals": "programme and account goals",
    "actions": "action completion of goals",
    "reviews": "plan cadence (90-day plans and 30-day reviews)",
    "opportunities": "the pipeline of deals",
    "fx_rates": "revenue in other currencies",
}


@dataclass(frozen=True)
class SnapshotStatus:
    """What the current snapshot holds: which load, which as_of, which tables."""

    load_id: str
    source_path: str
    format: str
    reporting_currency: str
    as_of_default: date | None
    present_tables: frozenset[str]
    loaded_at: datetime | None
    load_status: str
    quarantined_rows: int


def present_tables(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The contract tables the loaded export contained (an optional table absent from it switches views off)."""
    return presence(con).tables


def snapshot_status(con: duckdb.DuckDBPyConnection) -> SnapshotStatus:
    """The snapshot's load, source, reporting currency, default as_of and present tables."""
    info = snapshot_info(con)
    as_of_text = info.get("as_of_default") or ""
    as_of_default = date.fromisoformat(as_of_text) if as_of_text else None
    loaded_at, load_status, quarantined = None, "", 0
    load_id = info.get("load_id", "")
    if table_exists(con, "load_log"):
        rows = con.sql(
            "SELECT finished_at::TIMESTAMP, status, rows_quarantined FROM load_log "
            "WHERE load_id = ? OR ? = '' ORDER BY started_at DESC LIMIT 1",
            params=[load_id, load_id],
        ).pl()
        if rows.height:
            loaded_at, load_status, quarantined = rows.row(0)
    return SnapshotStatus(
        load_id=load_id,
        source_path=info.get("source_path", ""),
        format=info.get("format", ""),
        reporting_currency=info.get("reporting_currency", "EUR") or "EUR",
        as_of_default=as_of_default,
        present_tables=present_tables(con),
        loaded_at=loaded_at,
        load_status=load_status or "",
        quarantined_rows=int(quarantined or 0),
    )


def missing_optional_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Optional contract tables the export did not contain, in load order."""
    present = present_tables(con)
    return [t for t in OPTIONAL_TABLES if t not in present]


def load_history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every load recorded in the snapshot, newest first (times in UTC; the source by its file or folder name)."""
    if not table_exists(con, "load_log"):
        return pl.DataFrame()
    frame = con.sql(
        "SELECT load_id, started_at::TIMESTAMP AS started_at_utc, finished_at::TIMESTAMP AS finished_at_utc, "
        "source_path, format, status, as_of_default, rows_read, rows_loaded, rows_quarantined, rows_skipped, notes "
        "FROM load_log ORDER BY started_at DESC"
    ).pl()
    # Only the export's own name: the server's directories are not the viewers' business.
    return frame.with_columns(
        pl.col("source_path").str.replace(r"^.*[/\\]", "").alias("source_path")
    ).rename({"source_path": "source"})


def table_counts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rows read, loaded, quarantined and skipped per contract table in this snapshot's load."""
    load_id = snapshot_info(con).get("load_id", "")
    frame = con.sql(
        'SELECT "table", is_present, "read", loaded, quarantined, skipped FROM load_tables '
        "WHERE load_id = ? ORDER BY position",
        params=[load_id],
    ).pl()
    required = set(REQUIRED_TABLES)
    return frame.with_columns(
        pl.col("table").is_in(list(required)).alias("is_required"),
    ).select("table", "is_required", "is_present", "read", "loaded", "quarantined", "skipped")


# A quarantine reason with its quoted values and row numbers folded, so equal problems group together.
_FOLDED_REASON = "regexp_replace(regexp_replace(reason, '''[^'']*''', '…', 'g'), '\\(first at row [0-9]+\\)', '(first at row …)', 'g')"


def quarantine_reasons(con: duckdb.DuckDBPyConnection, table: str | None = None) -> pl.DataFrame:
    """Quarantined rows per table and (folded) reason, most frequent first."""
    return con.sql(
        f'SELECT "table", {_FOLDED_REASON} AS reason, count(*) AS rows FROM quarantine '
        'WHERE (? IS NULL OR "table" = ?) GROUP BY ALL ORDER BY rows DESC, "table", reason',
        params=[table, table],
    ).pl()


def quarantine(
    con: duckdb.DuckDBPyConnection, table: str | None = None, reason: str | None = None, limit: int | None = None
) -> pl.DataFrame:
    """Quarantined rows (table, source file and row, column, value, reason), optionally one table and one folded reason."""
    sql = (
        f'SELECT "table", _source_file AS source_file, _source_row AS source_row, "column", value, reason '
        f'FROM quarantine WHERE (? IS NULL OR "table" = ?) AND (? IS NULL OR {_FOLDED_REASON} = ?) '
        'ORDER BY "table", _source_file, _source_row, "column"'
    )
    params: list = [table, table, reason, reason]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return con.sql(sql, params=params).pl()


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The regions, segments and KAM owners present in accounts (for the sidebar filters)."""
    options = {}
    for key, column in (("regions", "region"), ("segments", "segment"), ("kam_owners", "kam_owner")):
        rows = con.sql(
            f"SELECT DISTINCT {column} FROM accounts WHERE {column} IS NOT NULL AND trim({column}) <> '' ORDER BY 1"
        ).fetchall()
        options[key] = [r[0] for r in rows]
    return options


def date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The earliest and latest activity or revenue date (the range time travel makes sense in)."""
    row = con.sql(
        "SELECT min(d), max(d) FROM (SELECT activity_date AS d FROM activities UNION ALL "
        "SELECT revenue_date FROM revenue)"
    ).fetchall()[0]
    return row[0], row[1]


def accounts_list(con: duckdb.DuckDBPyConnection, filters: Filters = NO_FILTERS) -> pl.DataFrame:
    """The accounts the filters cover (id, name, key flag, region, segment, owner), by name."""
    where, params = filters.sql("a")
    return con.sql(
        "SELECT a.account_id, a.account_name, a.is_key_account, a.region, a.segment, a.kam_owner "
        f"FROM accounts a WHERE {where} ORDER BY a.is_key_account DESC, lower(a.account_name), a.account_id",
        params=params,
    ).pl()


def account_profile(con: duckdb.DuckDBPyConnection, account_id: str) -> dict | None:
    """One account's row of the accounts table, or None when there is no such account."""
    frame = con.sql(
        "SELECT account_id, account_name, is_key_account, parent_account_id, industry, region, segment, kam_owner, "
        "executive_sponsor, key_account_since, relationship_stage, created_date FROM accounts WHERE account_id = ?",
        params=[account_id],
    ).pl()
    return frame.row(0, named=True) if frame.height else None


def account_contacts(
    con: duckdb.DuckDBPyConnection, account_id: str, as_of: date, settings: Settings | None = None
) -> pl.DataFrame:
    """The account's contacts at as_of with their last touch, touches in the last 90 days and relationship flags.

    A contact who left after as_of still counts as active at as_of. Flags: `has_left` (left by as_of), and the
    contact's part in the account's champion_left / champion_quiet, by the same rules (rules.champion_left,
    rules.champion_quiet): `is_champion_left` (champion or decision maker who left in the last
    champion_left_days), `is_champion_quiet` (a champion whose is_active flag is set, without activity in the
    last champion_quiet_days).
    """
    settings = settings or Settings()
    start_90d = as_of - timedelta(days=89)
    frame = con.sql(
        """
        WITH touches AS (
            SELECT contact_id, max(activity_date) AS last_touch_date,
                   count(*) FILTER (WHERE activity_date >= ?) AS touches_90d
            FROM activities WHERE account_id = ? AND activity_date <= ? AND contact_id IS NOT NULL
            GROUP BY contact_id
        )
        SELECT c.contact_id, c.full_name, c.title, c.seniority, c.buying_role, c.attitude,
               NOT (coalesce(c.is_active, TRUE) = FALSE AND (c.left_date IS NULL OR c.left_date <= ?)) AS is_active,
               CASE WHEN c.left_date <= ? THEN c.left_date END AS left_date,
               coalesce(c.is_active, TRUE) AS _is_active_flag,
               t.last_touch_date, coalesce(t.touches_90d, 0) AS touches_90d,
               (? - t.last_touch_date) AS days_since_last_touch
        FROM contacts c LEFT JOIN touches t USING (contact_id)
        WHERE c.account_id = ?
        ORDER BY CASE c.seniority WHEN 'c_level' THEN 0 WHEN 'vp' THEN 1 WHEN 'director' THEN 2
                 WHEN 'manager' THEN 3 WHEN 'individual' THEN 4 ELSE 5 END, lower(c.full_name), c.contact_id
        """,
        params=[start_90d, account_id, as_of, as_of, as_of, as_of, account_id],
    ).pl()
    # The rules of the account's champion_left / champion_quiet, on the contact's is_active flag
    contacts = frame.select("buying_role", "left_date", is_active=pl.col("_is_active_flag"))
    last_touch = rules.day_numbers(frame["last_touch_date"])[:, None]
    return frame.drop("_is_active_flag").with_columns(
        (~pl.col("is_active")).alias("has_left"),
        is_champion_left=pl.Series(rules.champion_left(contacts, [as_of], settings)[:, 0], dtype=pl.Boolean),
        is_champion_quiet=pl.Series(rules.champion_quiet(contacts, [as_of], last_touch, settings)[:, 0],
                                    dtype=pl.Boolean),
    )


def account_activities(
    con: duckdb.DuckDBPyConnection, account_id: str, as_of: date, days: int = 365
) -> pl.DataFrame:
    """The account's activities of the last `days` days up to as_of, newest first, with the contact's name."""
    start = as_of - timedelta(days=days - 1)
    return con.sql(
        """
        SELECT a.activity_date, a.activity_type, a.contact_id, c.full_name AS contact_name, c.seniority,
               a.owner, a.duration_minutes, a.subject
        FROM activities a LEFT JOIN contacts c USING (contact_id)
        WHERE a.account_id = ? AND a.activity_date BETWEEN ? AND ?
        ORDER BY a.activity_date DESC, a.activity_id
        """,
        params=[account_id, start, as_of],
    ).pl()


def account_reviews(con: duckdb.DuckDBPyConnection, account_id: str, as_of: date) -> pl.DataFrame:
    """The account's plans and reviews up to as_of, newest first."""
    return con.sql(
        "SELECT review_date, review_type, rating FROM reviews WHERE account_id = ? AND review_date <= ? "
        "ORDER BY review_date DESC, review_id",
        params=[account_id, as_of],
    ).pl()


def account_actions(con: duckdb.DuckDBPyConnection, account_id: str, as_of: date) -> pl.DataFrame:
    """Actions of the account's goals at as_of: done (completed by as_of), overdue (due before as_of) or open."""
    return con.sql(
        """
        SELECT g.goal_id, g.title AS goal_title, x.action_id, x.title AS action_title, x.owner, x.due_date,
               CASE WHEN x.completed_date <= ? THEN x.completed_date END AS completed_date,
               CASE WHEN x.completed_date <= ? THEN 'done'
                    WHEN x.due_date < ? THEN 'overdue' ELSE 'open' END AS action_status
        FROM actions x JOIN goals g USING (goal_id)
        WHERE g.account_id = ?
        ORDER BY g.goal_id, x.due_date NULLS LAST, x.action_id
        """,
        params=[as_of, as_of, as_of, account_id],
    ).pl()


def cadence_dates(
    con: duckdb.DuckDBPyConnection, as_of: date, filters: Filters = NO_FILTERS
) -> pl.DataFrame:
    """Per key account the date of its last 90-day plan and last review up to as_of, and days since each."""
    where, params = filters.sql("a")
    return con.sql(
        f"""
        WITH r AS (
            SELECT account_id,
                   max(review_date) FILTER (WHERE review_type = 'plan_90_day') AS last_plan_date,
                   max(review_date) AS last_review_date
            FROM reviews WHERE review_date <= ? GROUP BY account_id
        )
        SELECT a.account_id, a.account_name, a.kam_owner, r.last_plan_date, (? - r.last_plan_date) AS days_since_plan,
               r.last_review_date, (? - r.last_review_date) AS days_since_review
        FROM accounts a LEFT JOIN r USING (account_id)
        WHERE a.is_key_account AND {where}
        ORDER BY days_since_review DESC NULLS FIRST, lower(a.account_name)
        """,
        params=[as_of, as_of, as_of, *params],
    ).pl()


def account_revenue_monthly(
    con: duckdb.DuckDBPyConnection, account_id: str, as_of: date, months: int = 24
) -> pl.DataFrame:
    """The account's revenue per month and product line over the last `months` months up to as_of."""
    start = (as_of.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    return con.sql(
        """
        SELECT date_trunc('month', revenue_date)::DATE AS month,
               coalesce(nullif(trim(product_line), ''), 'unassigned') AS product_line, sum(amount) AS revenue
        FROM revenue WHERE account_id = ? AND revenue_date BETWEEN ? AND ?
        GROUP BY ALL ORDER BY month, product_line
        """,
        params=[account_id, start, as_of],
    ).pl()


def revenue_at(con: duckdb.DuckDBPyConnection, as_of: date, filters: Filters = NO_FILTERS) -> pl.DataFrame:
    """revenue_ttm, wallet_current and share_of_wallet (METRICS.md) per account passing the filters at as_of, with
    the account columns: the figures of account_metrics a tile needs at another date, without every other key."""
    return wallet_share_at(con, as_of, filters)


def open_deals(con: duckdb.DuckDBPyConnection, account_id: str, as_of: date) -> pl.DataFrame:
    """The account's opportunities open at as_of (METRICS.md "Pipeline": created_date ≤ as_of or empty, and not
    closed or closed after as_of): opportunity_id, name, stage, amount, close_date, product_line and probability
    when the snapshot carries it; largest amount first. Empty when the table is absent."""
    columns = {r[0] for r in con.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'opportunities'").fetchall()}
    probability = ", o.probability" if "probability" in columns else ""
    if not columns:
        return pl.DataFrame(schema={"opportunity_id": pl.String, "name": pl.String, "stage": pl.String,
                                    "amount": pl.Float64, "close_date": pl.Date, "product_line": pl.String})
    return con.sql(
        f"""
        SELECT o.opportunity_id, o.name, o.stage, o.amount, o.close_date, o.product_line{probability}
        FROM opportunities o
        WHERE o.account_id = ? AND (o.created_date IS NULL OR o.created_date <= ?::DATE)
          AND (NOT o.is_closed OR o.close_date > ?::DATE)
        ORDER BY o.amount DESC NULLS LAST, o.close_date, o.opportunity_id
        """,
        params=[account_id, as_of, as_of],
    ).pl()
