"""Cost to serve and portfolio economics (METRICS.md "Cost to serve and lifetime value", "Portfolio economics")."""

from __future__ import annotations

import math
from datetime import date

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.load.marts import marts_current
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics import rules
from kam_metrics.metrics.accounts import DAYS_TTM, WINDOW_DECIMALS, breakdown_measures, metrics_at
from kam_metrics.settings import Settings

TOP_SHARE = 0.2  # top20_revenue_share_pct: the top ceil(0.2 × N) accounts


def cost_to_serve_breakdown(con, as_of: date | None = None, filters: Filters | None = None,
                            settings: Settings | None = None) -> pl.DataFrame:
    """cost_to_serve_ttm per account split into service cost categories, activity types and case priorities.

    Only non-zero parts are listed; per account the cost_ttm values add up to cost_to_serve_ttm.
    """
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    use = marts_current(con)
    f = E.account_cumulative(con, breakdown_measures(settings), [as_of], (0, DAYS_TTM), filters, use)
    parts = []
    for part in rules.cost_parts(settings):  # the parts and unit costs cost_to_serve_ttm is built from
        ttm = (pl.col(f"{part.column}__0") - pl.col(f"{part.column}__{DAYS_TTM}")).round(WINDOW_DECIMALS)
        parts.append(f.select("account_id", component_group=pl.lit(part.group), component=pl.lit(part.component),
                              quantity=pl.lit(None, dtype=pl.Float64) if part.unit_cost is None else ttm,
                              cost_ttm=rules.part_cost(part, ttm)))
    out = pl.concat(parts, how="vertical").with_columns(pl.col("cost_ttm").cast(pl.Float64))
    group_order = {g: i for i, g in enumerate(rules.COST_GROUPS)}
    return (
        out.filter(pl.col("cost_ttm") != 0)
        .with_columns(_g=pl.col("component_group").replace_strict(group_order, return_dtype=pl.Int32))
        .sort("account_id", "_g", "component")
        .select("account_id", "component_group", "component", "cost_ttm", "quantity")
    )


def _whale(f: pl.DataFrame) -> pl.DataFrame:
    n = f.height
    total = f["net_contribution_ttm"].sum() if n else 0.0
    ranked = f.select("account_id", "net_contribution_ttm").sort(
        ["net_contribution_ttm", "account_id"], descending=[True, False]
    ).with_columns(rank=pl.int_range(1, n + 1, dtype=pl.Int64))
    return ranked.with_columns(
        cum_accounts_pct=100.0 * pl.col("rank") / n if n else pl.lit(None, dtype=pl.Float64),
        cum_net_contribution_pct=(100.0 * pl.col("net_contribution_ttm").cum_sum() / total)
        if total > 0 else pl.lit(None, dtype=pl.Float64),
    ).select("account_id", "rank", "net_contribution_ttm", "cum_accounts_pct", "cum_net_contribution_pct")


def whale_curve(con, as_of: date | None = None, filters: Filters | None = None,
                settings: Settings | None = None) -> pl.DataFrame:
    """The whale curve: accounts by net_contribution_ttm (highest first, ties by account_id) with cumulative % of
    accounts and of total net contribution (null when the total is ≤ 0)."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    return _whale(metrics_at(con, [as_of], filters, settings, with_health=False))


def concentration_from(f: pl.DataFrame) -> dict[str, float | None]:
    """whale_peak_pct, profit_erosion_pct, top20_revenue_share_pct and revenue_hhi of a frame of account rows."""
    curve = _whale(f)
    ys = curve["cum_net_contribution_pct"].drop_nulls()
    whale_peak = float(ys.max()) if len(ys) else None
    nc = f["net_contribution_ttm"]
    positive = float(nc.filter(nc > 0).sum())
    negative = float(-nc.filter(nc < 0).sum())
    erosion = 100.0 * negative / positive if positive > 0 else None
    rev = f["revenue_ttm"].filter(f["revenue_ttm"] > 0).sort(descending=True)
    n = len(rev)
    total = float(rev.sum())
    if n and total > 0:
        top_n = math.ceil(TOP_SHARE * n)
        top20 = 100.0 * float(rev.head(top_n).sum()) / total
        hhi = float(((rev / total) ** 2).sum() * 10_000)
    else:
        top20 = hhi = None
    return {"whale_peak_pct": whale_peak, "profit_erosion_pct": erosion,
            "top20_revenue_share_pct": top20, "revenue_hhi": hhi}


def portfolio_concentration(con, as_of: date | None = None, filters: Filters | None = None,
                            settings: Settings | None = None) -> pl.DataFrame:
    """One row: whale_peak_pct, profit_erosion_pct, top20_revenue_share_pct, revenue_hhi over the filtered accounts."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    values = concentration_from(metrics_at(con, [as_of], filters, settings, with_health=False))
    return pl.DataFrame({k: [v] for k, v in values.items()}, schema={k: pl.Float64 for k in values})
