"""The Weekly review (app.py): programme KPI tiles against 7 days earlier, band summary, alerts, health movers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl

from kam_metrics import metrics
from kam_metrics.app import absence, formatting
from kam_metrics.app.formatting import format_metric
from kam_metrics.app.frame import View
from kam_metrics.app.subsets import kpi_values, pick, with_names
from kam_metrics.app.widgets import DELTA_NOTE, WEEK, Kpi, kpi, metric_help
from kam_metrics.app.views.plain import mover_title  # noqa: F401 - pure, shared with the weekly pack
from kam_metrics.metrics import portfolio, queries

def programme_tiles(view: View) -> list[Kpi]:
    """The weekly review's KPI tiles: programme keys with their change against 7 days earlier."""
    k = kpi_values(view.metric(metrics.programme_kpis))
    accounts = view.metric(metrics.account_metrics)
    # 7 days earlier only the key accounts' revenue is shown: revenue_ttm alone, not every account key.
    accounts_before = view.query(queries.revenue_at, view.as_of - WEEK, view.filters)
    cur = view.currency

    presence = view.presence

    def tile(key: str, label: str, absent: str | None = None, **kw) -> Kpi:
        row = k.get(key, {})
        absent = absent or absence.kpi_missing(presence, key)
        return kpi(key, label, row.get("value"), cur, change=row.get("change"), description=DELTA_NOTE,
                   absent=absent, **kw)

    count = k.get("key_account_count", {}).get("value")
    lo, hi = view.settings.key_account_min, view.settings.key_account_max
    share = k.get("key_revenue_share_pct", {}).get("value")
    non_key_growth = k.get("non_key_revenue_growth_pct", {}).get("value")
    health_mean = k.get("health_mean", {}).get("value")
    # No key account has a health score: say what would give them one (the grey band's missing inputs).
    health_absent = absence.needs_text(absence.health_missing(presence)) if health_mean is None else None
    tiles = [
        kpi("key_account_count", "Key accounts", count, cur, change=k.get("key_account_count", {}).get("change"),
            extra_help=f"Guidance: {lo}–{hi} key accounts.", delta_color="off",
            description=portfolio.key_account_guidance_note(count, lo, hi, view.scoped(None).is_whole_programme)),
        kpi("revenue_ttm", "Key revenue TTM", portfolio.key_revenue_ttm(accounts), cur,
            change=portfolio.key_revenue_ttm_change(accounts, accounts_before),
            extra_help="Σ revenue_ttm of the key accounts. key_revenue_share_pct: "
                       + (metric_help("key_revenue_share_pct") or "their share of all revenue TTM."),
            description=f"{formatting.format_pct(share)} of all revenue"),
        tile("key_revenue_growth_pct", "Key revenue growth",
             extra_help=f"Non-key accounts: {formatting.format_pct(non_key_growth)} "
                        "(non_key_revenue_growth_pct)."),
        tile("programme_nps", "Programme NPS"),
        tile("health_mean", "Mean health (key accounts)", absent=health_absent),
        tile("sponsor_coverage_pct", "Sponsor coverage"),
        tile("cadence_compliance_pct", "Cadence compliance"),
        tile("multithreaded_pct", "Multi-threaded"),
    ]
    # The open pipeline of the key accounts (METRICS.md key_open_pipeline), once programme_kpis carries it.
    if "key_open_pipeline" in k:
        tiles.append(tile("key_open_pipeline", "Key open pipeline"))
    return tiles


def band_summary(view: View) -> str:
    """'12 green · 3 amber · 2 red' for the key accounts."""
    k = kpi_values(view.metric(metrics.programme_kpis))
    parts = []
    for band in ("green", "amber", "red"):
        value = k.get(f"{band}_count", {}).get("value")
        parts.append(f"{format_metric(f'{band}_count', value)} {band}")
    insufficient = k.get("insufficient_data_count", {}).get("value")
    if insufficient:
        missing = absence.needs_text(absence.health_missing(view.presence))
        parts.append(f"{format_metric('insufficient_data_count', insufficient)} insufficient data"
                     + (f" ({missing})" if missing else ""))
    return " · ".join(parts)


def insufficient_data_note(view: View) -> dict:
    """What the health-bands chart says beside its grey group: the missing inputs and the coverage a score needs."""
    missing = absence.health_missing(view.presence)
    return {"missing": ", ".join(missing) or None,
            "min_coverage_pct": float(view.settings.min_health_coverage_pct)}


def alerts_table(view: View) -> pl.DataFrame:
    """The alerts in the engine's order (most severe first, then account), with the columns the weekly review
    shows; an alert whose input the export lacks never fires (metrics.alerts.ALERT_INPUTS)."""
    return pick(view.metric(metrics.alerts), ["severity", "account_name", "alert", "detail", "account_id"])


def health_movement(view: View, date_from: date) -> pl.DataFrame:
    """Why the key accounts' health moved from date_from to as_of (metrics.health_movement).

    Only key accounts can be movers, so only their movement is computed (health is per account: the same figures).
    """
    return view.movement(date_from, view.as_of, filters=replace(view.filters, key_only=True))


def health_movers(movement: pl.DataFrame, accounts: pl.DataFrame, limit: int = 5) -> pl.DataFrame:
    """The accounts whose health changed most between the two dates (portfolio.health_movers), with their names."""
    return with_names(portfolio.health_movers(movement, accounts, limit=limit), accounts)


def components_only(movement: pl.DataFrame, account_id: str) -> pl.DataFrame:
    """One account's movement rows of the eight components and the champion-left cap (without the health total)."""
    if movement.is_empty():
        return movement
    return movement.filter((pl.col("account_id") == account_id) & (pl.col("component") != "health"))
