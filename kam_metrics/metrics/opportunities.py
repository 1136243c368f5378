"""The pipeline of deals (METRICS.md "Pipeline (opportunities)"): open_pipeline, win_rate_365d and
pipeline_to_headroom per account, at as_of (time travel: a deal created after as_of does not exist yet, a deal
closed after as_of is still open). Every figure is null when the export carries no opportunities."""

from __future__ import annotations

from datetime import date
from typing import Sequence

import polars as pl

from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics import rules
from kam_metrics.metrics.accounts import DAYS_TTM, wallet_share_at
from kam_metrics.metrics.presence import Presence, presence
from kam_metrics.settings import Settings

PIPELINE_KEYS = ("open_pipeline", "open_deal_count", "win_rate_365d", "pipeline_to_headroom")
_SCHEMA = {"account_id": pl.String, "as_of": pl.Date, "open_pipeline": pl.Float64, "open_deal_count": pl.Int64,
           "win_rate_365d": pl.Float64}


def pipeline_at(con, points: Sequence[date], filters: Filters = NO_FILTERS,
                present: Presence | None = None) -> pl.DataFrame:
    """open_pipeline, open_deal_count and win_rate_365d of every account passing `filters` at each as_of in
    `points` (columns account_id, as_of, …); all null when the opportunities table is absent."""
    present = present if present is not None else presence(con)
    points = sorted(set(E._as_date(p) for p in points))
    frame = E.points_frame(E.accounts_frame(con, filters).select("account_id"), points)
    if not present.has("opportunities"):
        return frame.with_columns(*(pl.lit(None, dtype=t).alias(c) for c, t in _SCHEMA.items()
                                    if c not in ("account_id", "as_of")))
    filter_sql, filter_params = E.account_filter_sql(filters, "o.account_id")
    is_open = "(o.created_date IS NULL OR o.created_date <= p.as_of) AND (NOT o.is_closed OR o.close_date > p.as_of)"
    closed = f"o.is_closed AND o.close_date BETWEEN p.as_of - {DAYS_TTM - 1} AND p.as_of"
    sums = E.query(
        con,
        f"""SELECT o.account_id, p.as_of,
                   coalesce(sum(o.amount) FILTER (WHERE {is_open}), 0)::DOUBLE AS open_pipeline,
                   count(*) FILTER (WHERE {is_open}) AS open_deal_count,
                   count(*) FILTER (WHERE {closed}) AS closed_365d,
                   count(*) FILTER (WHERE {closed} AND o.is_won) AS won_365d
            FROM opportunities o CROSS JOIN (SELECT unnest(?::DATE[]) AS as_of) p
            WHERE TRUE {filter_sql}
            GROUP BY ALL""",
        [points, *filter_params],
    )
    frame = frame.join(sums, on=["account_id", "as_of"], how="left")
    return frame.select(
        "account_id", "as_of",
        open_pipeline=pl.col("open_pipeline").fill_null(0.0).cast(pl.Float64),
        open_deal_count=pl.col("open_deal_count").fill_null(0).cast(pl.Int64),
        win_rate_365d=win_rate(pl.col("won_365d").fill_null(0), pl.col("closed_365d").fill_null(0)),
    )


def win_rate(won: pl.Expr, closed: pl.Expr) -> pl.Expr:
    """win_rate_365d: won / closed, null when none closed."""
    return pl.when(closed > 0).then(won.cast(pl.Float64) / closed).otherwise(None).cast(pl.Float64)


def with_pipeline_to_headroom(frame: pl.DataFrame) -> pl.DataFrame:
    """pipeline_to_headroom = open_pipeline / wallet_headroom, null when the headroom is null or 0 (or the
    pipeline is null), added to a frame with open_pipeline and wallet_headroom."""
    headroom = pl.col("wallet_headroom")
    return frame.with_columns(
        pipeline_to_headroom=pl.when(headroom.is_null() | (headroom == 0) | pl.col("open_pipeline").is_null())
        .then(None).otherwise(pl.col("open_pipeline") / headroom).cast(pl.Float64))


def pipeline_by_account(con, as_of: date | None = None, filters: Filters | None = None,
                        settings: Settings | None = None) -> pl.DataFrame:
    """Per account passing the filters: open_pipeline, open_deal_count, win_rate_365d, wallet_headroom and
    pipeline_to_headroom at as_of (METRICS.md "Pipeline"), with the account's name and key flag."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    wallet_job = E.in_background(con, lambda cur: wallet_share_at(cur, as_of, filters))
    pipe = pipeline_at(con, [as_of], filters)
    wallet = wallet_job.result().select(
        "account_id", "account_name", "is_key_account",
        wallet_headroom=rules.wallet_headroom("revenue_ttm", "wallet_current"))
    out = wallet.join(pipe.drop("as_of"), on="account_id", how="left")
    return with_pipeline_to_headroom(out).select(
        "account_id", "account_name", "is_key_account", "open_pipeline", "open_deal_count", "win_rate_365d",
        "wallet_headroom", "pipeline_to_headroom").sort("account_id")


def open_pipeline(con, as_of: date | None = None, filters: Filters | None = None,
                  settings: Settings | None = None) -> pl.DataFrame:
    """open_pipeline per account: Σ amount of its opportunities open at as_of (null without opportunities)."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    return pipeline_at(con, [as_of], filters).select("account_id", "open_pipeline")


def win_rate_365d(con, as_of: date | None = None, filters: Filters | None = None,
                  settings: Settings | None = None) -> pl.DataFrame:
    """win_rate_365d per account: won / closed among opportunities closed in the last 365 days (null when none)."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    return pipeline_at(con, [as_of], filters).select("account_id", "win_rate_365d")


def pipeline_to_headroom(con, as_of: date | None = None, filters: Filters | None = None,
                         settings: Settings | None = None) -> pl.DataFrame:
    """pipeline_to_headroom per account: open_pipeline / wallet_headroom (null when the headroom is null or 0)."""
    return pipeline_by_account(con, as_of, filters, settings).select("account_id", "pipeline_to_headroom")


def key_open_pipeline(frame: pl.DataFrame, has_opportunities: bool = True) -> float | None:
    """key_open_pipeline: Σ open_pipeline of the key accounts of a frame with is_key_account and open_pipeline;
    null when the export carries no opportunities (or the frame has no open_pipeline)."""
    if not has_opportunities or "open_pipeline" not in frame.columns:
        return None
    return float(frame["open_pipeline"].filter(frame["is_key_account"].fill_null(False)).fill_null(0.0).sum())
