"""The Programme goals page (pages/5_Programme_goals.py): goals by status, plan cadence, sponsors, multi-threading."""

from __future__ import annotations

import polars as pl

from kam_metrics import metrics
from kam_metrics.app import absence, charts, formatting
from kam_metrics.app.frame import View
from kam_metrics.app.subsets import ids, key_accounts, kpi_values, pick, sort_by, value_counts, where, with_names
from kam_metrics.app.widgets import DELTA_NOTE, Kpi, kpi, metric_help
from kam_metrics.metrics import queries

GOAL_STATUS_ORDER = ("off_track", "overdue", "at_risk", "on_track", "achieved", None)
GOAL_COLUMNS = ["title", "account_name", "metric", "baseline", "target", "current", "progress", "expected", "status",
                "action_completion", "start_date", "due_date", "owner", "goal_id", "account_id"]


def programme_goals(goals: pl.DataFrame) -> pl.DataFrame:
    """Goals without an account (the programme's own), in goal order."""
    return where(goals, "account_id", None).sort("goal_id") if not goals.is_empty() else goals


def account_goals(goals: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Goals of the accounts in the filter, worst status first, with the account name."""
    if goals.is_empty():
        return goals
    data = goals.filter(pl.col("account_id").is_in(ids(accounts)))
    rank = {s: i for i, s in enumerate(GOAL_STATUS_ORDER)}
    data = data.with_columns(pl.col("status").replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
                             .alias("_rank")).sort("_rank", "due_date").drop("_rank")
    return with_names(data, accounts)


def goal_table(goals: pl.DataFrame) -> pl.DataFrame:
    """The goal columns a goals table shows."""
    return pick(goals, GOAL_COLUMNS)


def goal_status_counts(goals: pl.DataFrame) -> tuple[list[str], list[int], list[str]]:
    """Counts of goals per status in the order off track → achieved, with each status's colour."""
    labels, counts = value_counts(goals, "status", GOAL_STATUS_ORDER)
    colors = [charts.STATUS_COLORS.get(l.replace(" ", "_") if l != "none" else None, charts.STATUS_COLORS[None])
              for l in labels]
    return labels, counts, colors


def goal_tiles(view: View, goals: pl.DataFrame) -> list[Kpi]:
    """Goals by status: how many are achieved, on track, at risk, off track or overdue."""
    counts = dict(zip(*value_counts(goals, "status", GOAL_STATUS_ORDER)))
    help_status = metric_help("status")
    return [Kpi("status", label, formatting.format_count(counts.get(name, 0)), help=help_status)
            for name, label in (("achieved", "Achieved"), ("on track", "On track"), ("at risk", "At risk"),
                                ("off track", "Off track"), ("overdue", "Overdue"))]


def relationship_tiles(view: View) -> list[Kpi]:
    """Sponsor coverage, cadence compliance and multi-threading of the key accounts, with the week's change."""
    k = kpi_values(view.metric(metrics.programme_kpis))
    return [kpi(key, label, k.get(key, {}).get("value"), view.currency, change=k.get(key, {}).get("change"),
                description=DELTA_NOTE, absent=absence.kpi_missing(view.presence, key))
            for key, label in (("sponsor_coverage_pct", "Sponsor coverage"),
                               ("cadence_compliance_pct", "Cadence compliance"),
                               ("multithreaded_pct", "Multi-threaded"))]


def cadence_table(view: View, accounts: pl.DataFrame) -> pl.DataFrame:
    """Per key account: last 90-day plan, last review, days since each and the cadence status, overdue first."""
    dates = view.query(queries.cadence_dates, view.as_of, view.filters)
    if dates.is_empty():
        return dates
    status = pick(accounts, ["account_id", "plan_current", "review_current", "cadence_status"])
    data = dates.join(status, on="account_id", how="left")
    rank = {"overdue": 0, "partial": 1, "on_cadence": 2}
    data = data.with_columns(pl.col("cadence_status").replace_strict(rank, default=3, return_dtype=pl.Int64)
                             .alias("_rank")).sort("_rank", pl.col("days_since_review").fill_null(10**6),
                                                   descending=[False, True]).drop("_rank")
    return pick(data, ["account_name", "kam_owner", "cadence_status", "last_plan_date", "days_since_plan",
                       "last_review_date", "days_since_review", "plan_current", "review_current", "account_id"])


def relationship_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """Key accounts' sponsor and multi-threading: engaged contacts, decision maker reached, champion flags."""
    data = key_accounts(accounts)
    data = sort_by(data, "engaged_contacts_90d")
    return pick(data, ["account_name", "kam_owner", "executive_sponsor", "has_sponsor", "engaged_contacts_90d",
                       "decision_maker_engaged_90d", "c_level_engaged_90d", "single_threaded", "champion_left",
                       "champion_quiet", "account_id"])


def programme_goals_scope_note(view: View) -> str | None:
    """Said above the programme goals when the view's filters (or a KAM's scope) narrow the accounts: a programme
    goal's value is the programme's figure over those accounts (METRICS.md goals), not the whole programme's; key
    accounts only too (key_revenue_share_pct over key accounts alone is 100 %)."""
    if view.scoped(None).is_empty:
        return None
    return ("Measured over the accounts in view (the filters, or your accounts): a programme goal's value here is "
            "theirs, not the whole programme's.")
