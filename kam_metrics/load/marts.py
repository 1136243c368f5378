"""Per-account daily aggregates ("marts") built once per load, so an as_of query scans aggregates, not raw rows.

A load computes them from the checked frames while it stores them (`kam_metrics.load.mart_frames`, the same rows
as the SELECTs below, tested row for row); `build_marts(con)` builds them with SQL in an existing writable
snapshot. Every mart holds settings-independent counts and sums only (touches by activity type, cases by priority,
revenue with and without a known cost of goods, …); weights, costs and default margins are applied at
query time, so editing kam.toml never needs a reload.

Each mart is a plain SELECT over the canonical tables (`MART_SQL`). `mart_source(con, name)` returns the
stored table when the snapshot has current marts, else the SELECT inline: the metrics work on any snapshot
(also an old or read-only one without marts), only slower. Daily marts share one shape: `account_id`, `d`
(the date), then measures; they are stored in date order (mart_account_daily by week, account, day) so a
date-bounded scan skips row groups.
"""

from __future__ import annotations

import weakref

import duckdb

from kam_metrics.load.contract import ACTIVITY_TYPES, CASE_PRIORITIES, COST_CATEGORIES

MART_VERSION = "10"

#: Days an activity keeps its contact "engaged" (METRICS.md: engaged_contacts_90d). A definition, not a setting.
ENGAGEMENT_WINDOW_DAYS = 90


def _enum_case(column: str, values: tuple[str, ...], fallback: str) -> str:
    """SQL mapping a validated enum column onto its list (anything else to the fallback), values from the contract."""
    listed = ", ".join(f"'{v}'" for v in values)
    return f"CASE WHEN {column} IN ({listed}) THEN {column} ELSE '{fallback}' END"


def _activity_counts(alias: str = "t") -> str:
    typ = _enum_case(f"{alias}.activity_type", ACTIVITY_TYPES, "other")
    cols = [f"count(*) FILTER (WHERE {typ} = '{v}') AS n_{v}" for v in ACTIVITY_TYPES]
    return ", ".join(cols + ["count(*) AS touches"])


def _cost_sums(alias: str = "t") -> str:
    cat = _enum_case(f"{alias}.category", COST_CATEGORIES, "other")
    cols = [f"sum({alias}.amount) FILTER (WHERE {cat} = '{v}') AS sc_c_{v}" for v in COST_CATEGORIES]
    return ", ".join(cols + [f"sum({alias}.amount) AS sc_amount"])


def _case_counts(alias: str = "t") -> str:
    pri = _enum_case(f"{alias}.priority", CASE_PRIORITIES, "medium")
    return ", ".join(f"count(*) FILTER (WHERE {pri} = '{v}') AS case_n_{v}" for v in CASE_PRIORITIES)


_PRODUCT_LINE = "coalesce(nullif(trim(t.product_line), ''), 'unassigned')"

#: Additive measures of mart_account_daily / mart_account_weekly_cum (all DOUBLE, 0 when nothing that day).
ACCOUNT_MEASURES: tuple[str, ...] = (
    *[f"n_{v}" for v in ACTIVITY_TYPES], "touches",
    "rev_amount", "rev_margin_known", "rev_amount_nocogs", "rev_rows",
    *[f"sc_c_{v}" for v in COST_CATEGORIES], "sc_amount",
    *[f"case_n_{v}" for v in CASE_PRIORITIES],
    "promoters", "detractors", "nps_responses", "csat_sum", "csat_responses",
    "reviews", "plans",
    "engaged_delta", "c_level_delta", "dm_delta",
)
#: Date-valued columns of the account marts: the day itself when it had an activity / revenue / review / 90-day
#: plan (in the weekly running totals: the latest such day so far).
ACCOUNT_DATES: tuple[str, ...] = ("act_d", "rev_d", "review_d", "plan_d")

# Where a contact's engaged periods (the union of [activity_date, activity_date + 89] per contact) start (+1 on
# the first day) and end (−1 on the day after): one pass over the contact's activity days, a day starting a
# period when the previous one is more than 90 days before it, ending one when the next is more than 90 after.
_CONTACT_DAYS = """SELECT account_id, contact_id, activity_date AS d FROM activities WHERE contact_id IS NOT NULL
        GROUP BY account_id, contact_id, activity_date"""
_ENGAGED_EVENTS = f"""
    WITH days AS ({_CONTACT_DAYS}), marked AS (
        SELECT account_id, contact_id, d,
               coalesce(d - lag(d) OVER w > {ENGAGEMENT_WINDOW_DAYS}, true) AS starts_period,
               coalesce(lead(d) OVER w - d > {ENGAGEMENT_WINDOW_DAYS}, true) AS ends_period
        FROM days WINDOW w AS (PARTITION BY account_id, contact_id ORDER BY d)
    )
    SELECT account_id, contact_id, d, 1 AS delta FROM marked WHERE starts_period
    UNION ALL
    SELECT account_id, contact_id, (d + {ENGAGEMENT_WINDOW_DAYS}::INTEGER)::DATE AS d, -1 AS delta
    FROM marked WHERE ends_period
"""

_ACCOUNT_DAILY_PARTS = f"""
    SELECT t.account_id, t.activity_date AS d, {_activity_counts()}
    FROM activities t GROUP BY t.account_id, t.activity_date
    UNION ALL BY NAME
    SELECT t.account_id, t.revenue_date AS d, sum(t.amount) AS rev_amount,
           sum(t.amount - t.cost_of_goods) FILTER (WHERE t.cost_of_goods IS NOT NULL) AS rev_margin_known,
           sum(t.amount) FILTER (WHERE t.cost_of_goods IS NULL) AS rev_amount_nocogs, count(*) AS rev_rows
    FROM revenue t GROUP BY t.account_id, t.revenue_date
    UNION ALL BY NAME
    SELECT t.account_id, t.cost_date AS d, {_cost_sums()}
    FROM service_costs t GROUP BY t.account_id, t.cost_date
    UNION ALL BY NAME
    SELECT t.account_id, t.opened_date AS d, {_case_counts()}
    FROM cases t GROUP BY t.account_id, t.opened_date
    UNION ALL BY NAME
    SELECT t.account_id, t.response_date AS d,
           count(*) FILTER (WHERE t.nps >= 9) AS promoters, count(*) FILTER (WHERE t.nps <= 6) AS detractors,
           count(t.nps) AS nps_responses, sum(t.csat) AS csat_sum, count(t.csat) AS csat_responses
    FROM surveys t GROUP BY t.account_id, t.response_date
    UNION ALL BY NAME
    SELECT t.account_id, t.review_date AS d, count(*) AS reviews,
           count(*) FILTER (WHERE t.review_type = 'plan_90_day') AS plans
    FROM reviews t GROUP BY t.account_id, t.review_date
    UNION ALL BY NAME
    SELECT x.account_id, x.d, sum(x.delta) AS engaged_delta,
           coalesce(sum(x.delta) FILTER (WHERE x.is_c_level), 0) AS c_level_delta,
           coalesce(sum(x.delta) FILTER (WHERE x.is_decision_maker), 0) AS dm_delta
    FROM (
        SELECT e.account_id, e.d, e.delta, coalesce(c.seniority = 'c_level', false) AS is_c_level,
               coalesce(c.buying_role IN ('decision_maker', 'economic_buyer'), false) AS is_decision_maker
        FROM ({_ENGAGED_EVENTS}) e
        LEFT JOIN contacts c ON c.contact_id = e.contact_id
    ) x GROUP BY x.account_id, x.d
"""

_MEASURE_SUMS = ", ".join(f"coalesce(sum(u.{m}), 0)::DOUBLE AS {m}" for m in ACCOUNT_MEASURES)

MART_SQL: dict[str, str] = {
    # Every additive per-account measure of a day, from all dated tables (one row per account and day).
    "mart_account_daily": f"""
        SELECT account_id, d, {", ".join(ACCOUNT_MEASURES)},
               CASE WHEN touches > 0 THEN d END AS act_d,
               CASE WHEN rev_rows > 0 THEN d END AS rev_d,
               CASE WHEN reviews > 0 THEN d END AS review_d,
               CASE WHEN plans > 0 THEN d END AS plan_d
        FROM (SELECT u.account_id, u.d, {_MEASURE_SUMS} FROM ({_ACCOUNT_DAILY_PARTS}) u GROUP BY u.account_id, u.d)
        ORDER BY d, account_id""",
    # Running totals per account at every Sunday (d, the end of an ISO week), from the account's first week to
    # the last week with data up to the day the marts are built (dense): cum(b) = this row at the latest Sunday
    # ≤ b + the daily rows after it up to b (at most six days). Date columns hold the latest such date so far.
    "mart_account_weekly_cum": f"""
        WITH w AS (
            SELECT u.account_id, (date_trunc('week', u.d) + INTERVAL 6 DAY)::DATE AS d,
                   {", ".join(f"sum(u.{m}) AS {m}" for m in ACCOUNT_MEASURES)},
                   {", ".join(f"max(u.{m}) AS {m}" for m in ACCOUNT_DATES)}
            FROM mart_account_daily u GROUP BY ALL
        ), span AS (
            SELECT account_id, min(d) AS first_week,
                   (SELECT coalesce(max(d) FILTER (WHERE d <= current_date + 6), max(d)) FROM w) AS last_week
            FROM w GROUP BY account_id
        ), grid AS (
            SELECT span.account_id, g.week::DATE AS d
            FROM span, LATERAL generate_series(span.first_week::TIMESTAMP, span.last_week::TIMESTAMP,
                                                INTERVAL 7 DAY) g(week)
        )
        SELECT grid.account_id, grid.d,
               {", ".join(f"sum(coalesce(w.{c}, 0)) OVER run AS {c}" for c in ACCOUNT_MEASURES)},
               {", ".join(f"max(w.{c}) OVER run AS {c}" for c in ACCOUNT_DATES)}
        FROM grid LEFT JOIN w ON w.account_id = grid.account_id AND w.d = grid.d
        WINDOW run AS (PARTITION BY grid.account_id ORDER BY grid.d ROWS UNBOUNDED PRECEDING)
        ORDER BY grid.d, grid.account_id""",
    # Touches per ISO week (dated by its Monday), account and activity type (long), for weekly series.
    "mart_activity_weekly": f"""
        SELECT date_trunc('week', t.activity_date)::DATE AS week_start, t.account_id,
               {_enum_case("t.activity_type", ACTIVITY_TYPES, "other")} AS activity_type, count(*) AS touches
        FROM activities t GROUP BY ALL ORDER BY week_start, t.account_id""",
    # Days on which a champion (buying_role champion, active or not) had an activity: quiet champions and their
    # last activity. A champion logged under two accounts on one day has a row per account.
    "mart_champion_activity": """
        SELECT t.contact_id, t.activity_date AS d, count(*) AS touches
        FROM activities t WHERE t.contact_id IN (SELECT c.contact_id FROM contacts c WHERE c.buying_role = 'champion')
        GROUP BY t.account_id, t.contact_id, t.activity_date ORDER BY d""",
    # Revenue per account, day and product line (whitespace grid).
    "mart_revenue_pl_daily": f"""
        SELECT t.account_id, t.revenue_date AS d, {_PRODUCT_LINE} AS product_line,
               coalesce(sum(t.amount), 0) AS amount, count(*) AS rows
        FROM revenue t GROUP BY t.account_id, t.revenue_date, product_line ORDER BY d, t.account_id""",
}

MART_NAMES = tuple(MART_SQL)
_INFO = "mart_info"


def build_marts(con: duckdb.DuckDBPyConnection, settings=None) -> list[str]:
    """Create (or replace) every mart in the snapshot `con`; returns the mart names. Settings are not used."""
    con.execute("SET enable_progress_bar = false").fetchall()
    for name in MART_NAMES:
        sql = MART_SQL[name]
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}").fetchall()
    mark_current(con)
    return list(MART_NAMES)


def mark_current(con: duckdb.DuckDBPyConnection) -> None:
    """Record that the snapshot's marts are of this code's version (after every mart is stored)."""
    con.execute(f"CREATE OR REPLACE TABLE {_INFO} (key VARCHAR, value VARCHAR)").fetchall()
    con.execute(f"INSERT INTO {_INFO} VALUES ('mart_version', ?)", [MART_VERSION]).fetchall()


_KNOWN_CURRENT: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, bool]" = weakref.WeakKeyDictionary()


def marts_current(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the snapshot holds marts of this code's version (a positive answer is remembered per connection)."""
    try:
        if _KNOWN_CURRENT.get(con):
            return True
    except TypeError:  # a connection-like object that cannot be weakly referenced
        pass
    current = _check_current(con)
    if current:
        try:
            _KNOWN_CURRENT[con] = True
        except TypeError:
            pass
    return current


def _check_current(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        rows = con.sql(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = current_schema()",
            params=[_INFO],
        ).fetchall()
        if not rows[0][0]:
            return False
        version = con.sql(f"SELECT value FROM {_INFO} WHERE key = 'mart_version'").fetchall()
    except duckdb.Error:
        return False
    return bool(version) and version[0][0] == MART_VERSION


def mart_source(con: duckdb.DuckDBPyConnection, name: str, use_marts: bool | None = None) -> str:
    """FROM-clause text for a mart: the stored table when current, else its SELECT as a subquery."""
    if name not in MART_SQL:
        raise KeyError(name)
    if use_marts is None:
        use_marts = marts_current(con)
    if use_marts:
        return name
    sql = MART_SQL[name]
    if name == "mart_account_weekly_cum":
        sql = sql.replace("FROM mart_account_daily u", f"FROM ({MART_SQL['mart_account_daily']}) u")
    return f"({sql})"


# Totals each mart must share with the checked tables: (label, SQL over the mart, SQL over the checked tables).
_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("mart_account_daily touches", "SELECT sum(touches) FROM mart_account_daily", "SELECT count(*) FROM activities"),
    ("mart_account_daily revenue", "SELECT sum(rev_amount) FROM mart_account_daily", "SELECT sum(amount) FROM revenue"),
    ("mart_account_daily revenue rows", "SELECT sum(rev_rows) FROM mart_account_daily", "SELECT count(*) FROM revenue"),
    ("mart_account_daily gross margin with cost of goods", "SELECT sum(rev_margin_known) FROM mart_account_daily",
     "SELECT sum(amount - cost_of_goods) FROM revenue WHERE cost_of_goods IS NOT NULL"),
    ("mart_account_daily service costs", "SELECT sum(sc_amount) FROM mart_account_daily",
     "SELECT sum(amount) FROM service_costs"),
    ("mart_account_daily cases",
     f"SELECT sum({' + '.join(f'case_n_{p}' for p in CASE_PRIORITIES)}) FROM mart_account_daily",
     "SELECT count(*) FROM cases"),
    ("mart_account_daily survey responses with nps", "SELECT sum(nps_responses) FROM mart_account_daily",
     "SELECT count(nps) FROM surveys"),
    ("mart_account_daily reviews", "SELECT sum(reviews) FROM mart_account_daily", "SELECT count(*) FROM reviews"),
    ("mart_account_daily engaged periods (starts − ends)", "SELECT sum(engaged_delta) FROM mart_account_daily",
     "SELECT 0"),
    ("mart_activity_weekly touches", "SELECT sum(touches) FROM mart_activity_weekly", "SELECT count(*) FROM activities"),
    ("mart_champion_activity touches", "SELECT sum(touches) FROM mart_champion_activity",
     "SELECT count(*) FROM activities WHERE contact_id IN "
     "(SELECT contact_id FROM contacts WHERE buying_role = 'champion')"),
    ("mart_revenue_pl_daily revenue", "SELECT sum(amount) FROM mart_revenue_pl_daily", "SELECT sum(amount) FROM revenue"),
    # the weekly running totals at each account's last week = its daily rows up to that Sunday
    ("mart_account_weekly_cum final running totals",
     "SELECT sum(w.touches + w.rev_amount + w.sc_amount) FROM mart_account_weekly_cum w "
     "WHERE w.d = (SELECT max(d) FROM mart_account_weekly_cum)",
     "SELECT sum(touches + rev_amount + sc_amount) FROM mart_account_daily "
     "WHERE d <= (SELECT max(d) FROM mart_account_weekly_cum)"),
)


def verify_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Problems with the snapshot's marts: missing or of another version, or totals that disagree with the
    checked tables (counts exactly, money within 1e-6 relative). Empty when they agree."""
    if not marts_current(con):
        return [f"marts missing or not of version {MART_VERSION}: the metrics read the checked tables directly "
                "(slower); reload the export to rebuild them"]
    problems = []
    for label, mart_sql, table_sql in _CHECKS:
        got = con.execute(mart_sql).fetchall()[0][0] or 0
        want = con.execute(table_sql).fetchall()[0][0] or 0
        if abs(float(got) - float(want)) > 1e-6 * max(1.0, abs(float(want))):
            problems.append(f"{label}: {got} in the mart, {want} in the checked tables")
    return problems
