"""Health over time (METRICS.md "Health score"): the weekly history and "why did it move". The score itself
(components, weighted mean, coverage, band, contributions) is pure scoring: scoring.py."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import HEALTH_OFFSETS, metrics_at
from kam_metrics.metrics.scoring import CONTRIBUTION_COLUMNS, CONTRIBUTION_PARTS, HEALTH_OUTPUT_COLUMNS, SCORE_COLUMNS
from kam_metrics.settings import Settings

__all__ = ["HEALTH_OUTPUT_COLUMNS", "health_history", "health_movement", "last_sundays"]


def last_sundays(as_of: date, weeks: int) -> list[date]:
    """The `weeks` Sundays of health history: the latest Sunday on or before as_of and the weeks−1 before it."""
    latest = as_of - timedelta(days=(as_of.isoweekday() % 7))
    return [latest - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]


def health_history(con, as_of: date | None = None, filters: Filters | None = None, settings: Settings | None = None,
                   weeks: int | None = None, account_id: str | None = None) -> pl.DataFrame:
    """Health per account at each Sunday of the last 26 weeks (METRICS.md "health history"), oldest first.

    With `account_id`, only that account (among those passing the filters) is computed."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    weeks = settings.health_history_weeks if weeks is None else weeks
    points = last_sundays(as_of, weeks)
    frame = metrics_at(con, points, E.only_accounts(filters, account_id), settings, offsets=HEALTH_OFFSETS)
    return frame.select("account_id", "as_of", "health", "band", "health_coverage_pct",
                        *SCORE_COLUMNS, *CONTRIBUTION_COLUMNS).sort("account_id", "as_of")


def health_movement(con, date_from: date, date_to: date, filters: Filters | None = None,
                    settings: Settings | None = None, account_id: str | None = None) -> pl.DataFrame:
    """"Why did health move": per account and component the contribution at date_from and date_to and the change.

    Rows: the eight components, 'cap' (the champion-left cap's effect, ≤ 0) and component 'health'
    (contribution_* = health). A component absent
    (null) on one date counts as 0 in `change`, so the component changes add up to the health change.
    """
    date_from, date_to = E._as_date(date_from), E._as_date(date_to)
    _, filters, settings = E.resolve(con, date_to, filters, settings)
    frame = metrics_at(con, [date_from, date_to], E.only_accounts(filters, account_id), settings,
                       offsets=HEALTH_OFFSETS)
    cols = [*CONTRIBUTION_COLUMNS, "health"]
    components = [*CONTRIBUTION_PARTS, "health"]
    # metrics_at has one row per account and as_of, sorted by account: the rows of each date line up, and
    # account-major × component order is the order of the output (account_id, then the component order).
    start = frame.filter(pl.col("as_of") == date_from)
    end = frame.filter(pl.col("as_of") == date_to)
    if not start["account_id"].equals(end["account_id"]):  # cannot happen; the general way, to be safe
        both = start.select("account_id", *cols).join(end.select("account_id", *cols), on="account_id", how="full",
                                                      coalesce=True, suffix="__to").sort("account_id")
        start = both.select("account_id", *cols)
        end = both.select("account_id", *[pl.col(f"{c}__to").alias(c) for c in cols])

    def flat(rows: pl.DataFrame) -> pl.Series:
        """The contributions of every account, account by account, in the component order (nulls kept)."""
        values = rows.select(pl.col(cols).cast(pl.Float64).fill_null(0.0)).to_numpy().ravel()
        missing = rows.select(pl.col(cols).is_null()).to_numpy().ravel()
        return pl.DataFrame({"v": values, "missing": missing}).select(
            pl.when(pl.col("missing")).then(None).otherwise(pl.col("v"))).to_series()

    n = start.height
    out = pl.DataFrame({
        "account_id": start["account_id"].gather(np.repeat(np.arange(n), len(cols))),
        "component": pl.Series(components * n, dtype=pl.String),
        "contribution_from": flat(start).alias("contribution_from") if n else pl.Series([], dtype=pl.Float64),
        "contribution_to": flat(end).alias("contribution_to") if n else pl.Series([], dtype=pl.Float64),
    })
    is_health = pl.col("component") == "health"
    return out.with_columns(
        change=pl.when(is_health).then(pl.col("contribution_to") - pl.col("contribution_from"))
        .otherwise(pl.col("contribution_to").fill_null(0.0) - pl.col("contribution_from").fill_null(0.0)),
        date_from=pl.lit(date_from), date_to=pl.lit(date_to),
    ).select("account_id", "component", "contribution_from", "contribution_to", "change", "date_from", "date_to")
