"""The Engagement page (pages/2_Engagement.py): portfolio engagement tiles, the trend table, recent weeks."""

from __future__ import annotations

import polars as pl

from kam_metrics.app import absence, formatting
from kam_metrics.app.frame import View
from kam_metrics.app.subsets import pick, sort_by
from kam_metrics.app.widgets import Kpi, kpi, metric_help
from kam_metrics.metrics import portfolio

ENGAGEMENT_COLUMNS = [
    "account_name", "is_key_account", "kam_owner", "touches_90d", "weighted_touches_90d", "weighted_touches_prior_90d",
    "engagement_trend_pct", "engaged_contacts_90d", "c_level_engaged_90d", "decision_maker_engaged_90d",
    "single_threaded", "days_since_last_touch", "account_id",
]


def engagement_tiles(view: View, accounts: pl.DataFrame) -> list[Kpi]:
    """Portfolio engagement: touches and weighted touches of the last 90 days against the prior 90, contacts, C-level reach."""
    cur = view.currency
    if accounts.is_empty():
        return []
    absent = {key: absence.account_key_missing(view.presence, key) for key in absence.ENGAGEMENT_NEEDS}
    if absent["touches_90d"]:  # no activities: every engagement figure is absent, none is zero
        return [kpi(key, label, None, cur, absent=absent[key]) for key, label in ENGAGEMENT_TILE_LABELS.items()]
    weighted = portfolio.portfolio_total(accounts, "weighted_touches_90d")
    trend = portfolio.portfolio_engagement_trend_pct(accounts)
    tiles = [
        kpi("touches_90d", "Touches, last 90 days", portfolio.portfolio_total(accounts, "touches_90d"), cur),
        Kpi("weighted_touches_90d", "Weighted touches, last 90 days", formatting.format_number(weighted, decimals=0),
            delta=formatting.format_pct(trend, signed=True) if trend is not None else None,
            help=metric_help("weighted_touches_90d", "Delta: engagement_trend_pct of the summed weighted touches "
                                                     "against the prior 90 days."),
            delta_description="vs prior 90 days"),
        Kpi("engagement_trend_pct", "Engagement down ≥ 25 %",
            formatting.format_count(portfolio.falling_engagement_count(accounts, -25)),
            help=metric_help("engagement_trend_pct", "Counted: accounts whose engagement_trend_pct ≤ −25."),
            delta_color="off"),
        Kpi("c_level_engaged_90d", "C-level reached",
            f"{formatting.format_count(portfolio.c_level_reached_count(accounts))} of "
            f"{formatting.format_count(accounts.height)}",
            help=metric_help("c_level_engaged_90d")),
        Kpi("single_threaded", "Single-threaded key accounts",
            formatting.format_count(portfolio.single_threaded_key_count(accounts)),
            help=metric_help("single_threaded")),
    ]
    # Contacts or activities.contact_id absent: C-level reach and single-threading are absent, not zero.
    return [kpi(t.key, t.label, None, cur, absent=absent[t.key]) if absent.get(t.key) else t for t in tiles]


ENGAGEMENT_TILE_LABELS = {
    "touches_90d": "Touches, last 90 days", "weighted_touches_90d": "Weighted touches, last 90 days",
    "engagement_trend_pct": "Engagement down ≥ 25 %", "c_level_engaged_90d": "C-level reached",
    "single_threaded": "Single-threaded key accounts",
}


def engagement_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """Accounts by engagement trend, steepest fall first (accounts without a prior period last)."""
    return pick(sort_by(accounts, "engagement_trend_pct"), ENGAGEMENT_COLUMNS)


def recent_weeks(weekly: pl.DataFrame, weeks: int) -> pl.DataFrame:
    """The rows of the last `weeks` ISO weeks present in a weekly series."""
    if weekly.is_empty():
        return weekly
    starts = sorted(weekly["week_start"].unique().to_list())[-weeks:]
    return weekly.filter(pl.col("week_start").is_in(starts))
