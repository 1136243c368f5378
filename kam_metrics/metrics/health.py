"""The health score (METRICS.md "Health score"): seven 0–100 components, their weighted mean, coverage, band,
the contributions that add up to it, the weekly history and "why did it move"."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.settings import HEALTH_COMPONENTS, Settings

SCORE_COLUMNS = tuple(f"score_{c}" for c in HEALTH_COMPONENTS)
CONTRIBUTION_COLUMNS = tuple(f"contribution_{c}" for c in HEALTH_COMPONENTS)
HEALTH_OUTPUT_COLUMNS = (*SCORE_COLUMNS, *CONTRIBUTION_COLUMNS, "health", "health_coverage_pct", "band")
# Decimal places health is rounded to before banding, so 69.99999999999999 from float sums bands as 70.
_BAND_ROUNDING = 9


def _clamp(e: pl.Expr, lo: float, hi: float) -> pl.Expr:
    return pl.when(e < lo).then(lo).when(e > hi).then(hi).otherwise(e)


def component_scores(s: Settings) -> dict[str, pl.Expr]:
    """Each component's 0–100 score expression over the account columns (null when its input is null)."""
    days = pl.col("days_since_last_touch")
    full, zero = s.recency_full_days, s.recency_zero_days
    recency = (
        pl.when(days.is_null() | (days >= zero)).then(0.0)
        .when(days <= full).then(100.0)
        .otherwise(100.0 * (zero - days) / (zero - full))
    )
    trend_pct = pl.col("engagement_trend_pct")
    trend = (
        pl.when(trend_pct.is_not_null()).then(50.0 + 0.5 * _clamp(trend_pct, -100.0, 100.0))
        .when((pl.col("touches_prior_90d") == 0) & (pl.col("touches_90d") > 0)).then(100.0)
        .otherwise(None)
    )
    breadth = 100.0 * pl.min_horizontal(pl.col("engaged_contacts_90d") / s.breadth_full_contacts, pl.lit(1.0))
    loyalty = (pl.col("nps_365d") + 100.0) / 2.0
    sow = pl.col("share_of_wallet")
    # "each 0–100": a negative share (credit notes exceeding sales) scores 0, not below.
    wallet = pl.when(sow.is_null()).then(None).otherwise(_clamp(100.0 * sow / s.wallet_full_share, 0.0, 100.0))
    margin = pl.col("net_margin_pct")
    hi, lo = s.profitability_full_pct, s.profitability_zero_pct
    profitability = (
        pl.when(margin.is_null()).then(None)
        .when(margin >= hi).then(100.0)
        .when(margin <= lo).then(0.0)
        .otherwise(100.0 * (margin - lo) / (hi - lo))
    )
    status = pl.col("cadence_status")
    cadence = (
        pl.when(~pl.col("is_key_account").fill_null(False)).then(None)
        .when(status == "on_cadence").then(100.0)
        .when(status == "partial").then(50.0)
        .when(status == "overdue").then(0.0)
        .otherwise(None)
    )
    return {
        "recency": recency, "trend": trend, "breadth": breadth, "loyalty": loyalty,
        "wallet": wallet, "profitability": profitability, "cadence": cadence,
    }


def add_health(f: pl.DataFrame, s: Settings) -> pl.DataFrame:
    """score_*, contribution_*, health, health_coverage_pct and band for each row of account keys."""
    scores = component_scores(s)
    f = f.with_columns([scores[c].cast(pl.Float64).alias(f"score_{c}") for c in HEALTH_COMPONENTS])
    weights = {c: float(s.health_weights.get(c, 0.0)) for c in HEALTH_COMPONENTS}
    present_weight = pl.sum_horizontal(
        [pl.when(pl.col(f"score_{c}").is_not_null()).then(weights[c]).otherwise(0.0) for c in HEALTH_COMPONENTS]
    )
    applicable_weight = pl.sum_horizontal(
        [
            (pl.when(pl.col("is_key_account").fill_null(False)).then(weights[c]).otherwise(0.0)
             if c == "cadence" else pl.lit(weights[c]))
            for c in HEALTH_COMPONENTS
        ]
    )
    f = f.with_columns(_present_weight=present_weight, _applicable_weight=applicable_weight)
    f = f.with_columns(
        [
            pl.when((pl.col("_present_weight") > 0) & pl.col(f"score_{c}").is_not_null())
            .then(weights[c] * pl.col(f"score_{c}") / pl.col("_present_weight"))
            .otherwise(None)
            .alias(f"contribution_{c}")
            for c in HEALTH_COMPONENTS
        ]
    )
    health = (
        pl.when(pl.col("_present_weight") > 0)
        .then(pl.sum_horizontal([pl.col(f"contribution_{c}") for c in HEALTH_COMPONENTS]))
        .otherwise(None)
    )
    f = f.with_columns(
        health=health,
        health_coverage_pct=pl.when(pl.col("_applicable_weight") > 0)
        .then(100.0 * pl.col("_present_weight") / pl.col("_applicable_weight"))
        .otherwise(None),
    )
    rounded = pl.col("health").round(_BAND_ROUNDING)
    f = f.with_columns(
        band=pl.when(pl.col("health").is_null()).then(None)
        .when(rounded >= s.band_green_min).then(pl.lit("green"))
        .when(rounded >= s.band_amber_min).then(pl.lit("amber"))
        .otherwise(pl.lit("red"))
    )
    return f.drop("_present_weight", "_applicable_weight")


def last_sundays(as_of: date, weeks: int) -> list[date]:
    """The `weeks` Sundays of health history: the latest Sunday on or before as_of and the weeks−1 before it."""
    latest = as_of - timedelta(days=(as_of.isoweekday() % 7))
    return [latest - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]


def health_history(con, as_of: date | None = None, filters: Filters | None = None, settings: Settings | None = None,
                   weeks: int | None = None, account_id: str | None = None) -> pl.DataFrame:
    """Health per account at each Sunday of the last 26 weeks (METRICS.md "health history"), oldest first.

    With `account_id`, only that account (among those passing the filters) is computed."""
    from kam_metrics.metrics.accounts import HEALTH_OFFSETS, metrics_at

    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    weeks = settings.health_history_weeks if weeks is None else weeks
    points = last_sundays(as_of, weeks)
    frame = metrics_at(con, points, E.only_accounts(filters, account_id), settings, offsets=HEALTH_OFFSETS)
    return frame.select("account_id", "as_of", "health", "band", "health_coverage_pct",
                        *SCORE_COLUMNS, *CONTRIBUTION_COLUMNS).sort("account_id", "as_of")


def health_movement(con, date_from: date, date_to: date, filters: Filters | None = None,
                    settings: Settings | None = None, account_id: str | None = None) -> pl.DataFrame:
    """"Why did health move": per account and component the contribution at date_from and date_to and the change.

    Rows: the seven components plus component 'health' (contribution_* = health). A component absent
    (null) on one date counts as 0 in `change`, so the component changes add up to the health change.
    """
    from kam_metrics.metrics.accounts import HEALTH_OFFSETS, metrics_at

    date_from, date_to = E._as_date(date_from), E._as_date(date_to)
    _, filters, settings = E.resolve(con, date_to, filters, settings)
    frame = metrics_at(con, [date_from, date_to], E.only_accounts(filters, account_id), settings,
                       offsets=HEALTH_OFFSETS)
    cols = [*CONTRIBUTION_COLUMNS, "health"]
    components = [*HEALTH_COMPONENTS, "health"]
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
