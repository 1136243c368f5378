"""What the export lacks and which figures that switches off (METRICS.md "Data that is not there"), for the screen.

A figure built on a file or column the export does not carry is absent: "—" with what would turn it on
("needs reviews.csv"), never 0. The mappings below name, for each missing file or column, the figures it switches
off, and for each KPI, alert and health component, the files and columns it is built on. What the export carried
comes from `kam_metrics.metrics.presence` (View.presence). No Streamlit here.
"""

from __future__ import annotations

from typing import Iterable

import polars as pl

from kam_metrics.load.contract import TABLE_ORDER, TABLES
from kam_metrics.metrics.presence import COST_TO_SERVE_SOURCES, KEY_INPUTS, Presence
from kam_metrics.metrics.programme import PROGRAMME_INPUTS

Need = tuple[str, str | None]  # (table, column or None for the whole file)

# Each missing file or column → the figures it switches off (METRICS.md keys; "Data that is not there").
SWITCHED_OFF: dict[Need, str] = {
    ("activities", None): "touches_90d, weighted touches, engagement_trend_pct, days_since_last_touch, the recency, "
                          "trend and breadth components, engaged contacts, multithreaded_pct, activity costs in "
                          "cost_to_serve_ttm, the engagement alerts (engagement_drop, no_touch_30d, single_threaded)",
    ("activities", "contact_id"): "engaged_contacts_90d, c_level_engaged_90d, decision_maker_engaged_90d, the breadth "
                                  "component, single_threaded, multithreaded_pct, champion_quiet",
    ("contacts", None): "champion_left, champion_quiet, the relationship component, the relationship map, "
                        "multithreaded_pct, the champion alerts",
    ("accounts", "executive_sponsor"): "has_sponsor, sponsor_coverage_pct, the no_sponsor alert",
    ("reviews", None): "plan_current, review_current, cadence_status, the cadence component, cadence_compliance_pct, "
                       "the cadence_overdue alerts",
    ("surveys", None): "nps_365d, csat_365d, the loyalty component, programme_nps",
    ("wallet", None): "wallet_current, share_of_wallet, wallet_headroom, the wallet component, the whitespace grid, "
                      "pipeline_to_headroom, the share_of_wallet_above_1 alert",
    ("opportunities", None): "open_pipeline, win_rate_365d, pipeline_to_headroom, key_open_pipeline",
    ("opportunities", "amount"): "open_pipeline, pipeline_to_headroom, key_open_pipeline",
    ("service_costs", None): "service costs in cost_to_serve_ttm (it counts only the sources present)",
    ("cases", None): "case costs in cost_to_serve_ttm (it counts only the sources present)",
    ("goals", None): "programme and account goals: progress, expected, status, the goal_off_track alerts",
    ("actions", None): "action completion of the goals",
    ("fx_rates", None): "revenue in other currencies than the reporting currency (those rows are quarantined)",
    ("revenue", "cost_of_goods"): "nothing: gross margin uses default_gross_margin where cost_of_goods is empty",
}

# Programme KPIs (programme_kpis keys) → what they are built on: the engine's own table.
KPI_NEEDS: dict[str, tuple[Need, ...]] = PROGRAMME_INPUTS

# Account keys (account_metrics columns) → what they are built on: the engine's own definition
# (metrics.presence.KEY_INPUTS), plus the pipeline keys of metrics.opportunities.
ACCOUNT_NEEDS: dict[str, tuple[Need, ...]] = {
    **KEY_INPUTS,
    "open_pipeline": (("opportunities", None),),
    "win_rate_365d": (("opportunities", None),),
    "pipeline_to_headroom": (("opportunities", None), ("wallet", None)),
}

# Engagement figures of the portfolio (the Engagement page's tiles) → what they are built on.
ENGAGEMENT_KEYS = ("touches_90d", "weighted_touches_90d", "engagement_trend_pct", "c_level_engaged_90d",
                   "single_threaded")
ENGAGEMENT_NEEDS: dict[str, tuple[Need, ...]] = {key: KEY_INPUTS[key] for key in ENGAGEMENT_KEYS}

# The sources cost to serve counts (METRICS.md cost_to_serve_ttm); it counts the ones present.
COST_SOURCES = COST_TO_SERVE_SOURCES

# The health components' inputs (METRICS.md "Health score"), for "what is missing" beside a grey band.
HEALTH_NEEDS: tuple[Need, ...] = (
    ("activities", None), ("activities", "contact_id"), ("surveys", None), ("wallet", None), ("reviews", None),
    ("contacts", None),
)


def missing_items(presence: Presence, needs: Iterable[Need]) -> list[str]:
    """What the export lacks of `needs`, as "reviews.csv" / "accounts.executive_sponsor", each once, in order."""
    out: list[str] = []
    for table, column in needs:
        item = presence.missing(table, column)
        if item is not None and item not in out:
            out.append(item)
    return out


def needs_text(items: Iterable[str]) -> str | None:
    """'needs reviews.csv' / 'needs activities.csv, contacts.csv'; None when nothing is missing."""
    items = list(items)
    return f"needs {', '.join(items)}" if items else None


def kpi_missing(presence: Presence, key: str) -> str | None:
    """What a programme KPI lacks ('needs reviews.csv'), None when its inputs are all present."""
    return needs_text(missing_items(presence, KPI_NEEDS.get(key, ())))


def account_key_missing(presence: Presence, key: str) -> str | None:
    """What an account figure lacks ('needs wallet.csv'), None when its inputs are all present."""
    return needs_text(missing_items(presence, ACCOUNT_NEEDS.get(key, ())))


def health_missing(presence: Presence) -> list[str]:
    """The health components' inputs the export lacks ("activities.csv", "contacts.csv", …)."""
    return missing_items(presence, HEALTH_NEEDS)


def export_gaps(presence: Presence) -> pl.DataFrame:
    """What the export lacks (missing optional files, then missing optional columns of the files it has) and the
    figures each switches off."""
    rows: list[tuple[str, str]] = []
    for table in TABLE_ORDER:
        if not presence.has(table):
            # A required file is there but has no data rows (e.g. activities.csv with only a header).
            label = f"{table}.csv (no data rows)" if TABLES[table].required else f"{table}.csv"
            rows.append((label, SWITCHED_OFF.get((table, None), "")))
    for table in TABLE_ORDER:
        if not presence.has(table):
            continue
        for column in TABLES[table].columns:
            if column.required or presence.has(table, column.name):
                continue
            rows.append((f"{table}.{column.name}",
                         SWITCHED_OFF.get((table, column.name), "no figure: shown empty where it is listed")))
    return pl.DataFrame({"missing": [r[0] for r in rows], "switches_off": [r[1] for r in rows]},
                        schema={"missing": pl.String, "switches_off": pl.String})


def cost_sources(presence: Presence) -> tuple[list[str], list[str]]:
    """The cost-to-serve sources the export carries and those it lacks (as file names)."""
    present = [f"{t}.csv" for t in COST_SOURCES if presence.has(t)]
    missing = [f"{t}.csv" for t in COST_SOURCES if not presence.has(t)]
    return present, missing


def cost_to_serve_missing(presence: Presence) -> str | None:
    """'needs service_costs.csv, activities.csv or cases.csv' when the export carries no cost source at all."""
    present, missing = cost_sources(presence)
    if present:
        return None
    return "needs " + ", ".join(missing[:-1]) + " or " + missing[-1]
