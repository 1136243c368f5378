"""Weekly engagement series (METRICS.md "Engagement", weekly series on ISO weeks dated by their Monday)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from kam_metrics.load.contract import ACTIVITY_TYPES
from kam_metrics.filters import Filters
from kam_metrics.load.marts import marts_current
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.presence import presence
from kam_metrics.settings import Settings


def engagement_weekly(con, as_of: date | None = None, filters: Filters | None = None,
                      settings: Settings | None = None, weeks: int = 52) -> pl.DataFrame:
    """Touches and weighted touches per account, ISO week and activity type over the last `weeks` weeks.

    The weeks are the one holding as_of and the weeks−1 before it; the current week counts activities up to
    as_of only. The series is sparse: only (account, week, activity_type) with at least one touch are listed.
    No rows when the export carried no activities.
    """
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    if not presence(con).has("activities"):  # absent, not zero: no week is listed
        return pl.DataFrame(schema={"account_id": pl.String, "week_start": pl.Date, "activity_type": pl.String,
                                    "touches": pl.Int64, "weighted_touches": pl.Float64})
    use = marts_current(con)
    monday = as_of - timedelta(days=as_of.isoweekday() - 1)
    first_monday = monday - timedelta(weeks=weeks - 1)
    f_weekly, p_weekly = E.account_filter_sql(filters, "t.account_id")
    f_daily, p_daily = E.account_filter_sql(filters, "t.account_id")
    # Complete weeks come from the weekly mart; the week holding as_of from the daily one, up to as_of.
    current = " UNION ALL ".join(
        f"SELECT t.account_id, '{v}' AS activity_type, sum(t.n_{v}) AS touches "
        f"FROM {E.mart(con, 'mart_account_daily', use)} t WHERE t.d BETWEEN ?::DATE AND ?::DATE AND t.n_{v} > 0 "
        f"{f_daily} GROUP BY t.account_id"
        for v in ACTIVITY_TYPES
    )
    frame = E.query(
        con,
        f"""
        SELECT t.account_id, t.week_start, t.activity_type, t.touches
        FROM {E.mart(con, "mart_activity_weekly", use)} t
        WHERE t.week_start >= ?::DATE AND t.week_start < ?::DATE {f_weekly}
        UNION ALL
        SELECT c.account_id, ?::DATE AS week_start, c.activity_type, c.touches FROM ({current}) c
        ORDER BY account_id, week_start, activity_type
        """,
        [first_monday, monday, *p_weekly, monday,
         *[x for _ in ACTIVITY_TYPES for x in (monday, as_of, *p_daily)]],
    )
    weights = {t: float(settings.activity_weights.get(t, 0.0)) for t in ACTIVITY_TYPES}
    return frame.with_columns(
        pl.col("week_start").cast(pl.Date),
        pl.col("touches").cast(pl.Int64),
    ).with_columns(
        weighted_touches=pl.col("touches") * pl.col("activity_type").replace_strict(weights, return_dtype=pl.Float64)
    )
