"""Goals and actions (METRICS.md "Goals"): current value, progress, expected progress, status, action completion."""

from __future__ import annotations

from datetime import date

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import full_frame
from kam_metrics.metrics.programme import PROGRAMME_KEYS, programme_values
from kam_metrics.metrics.rules import decision_value
from kam_metrics.settings import Settings

#: Account keys a programme goal may name besides the Programme keys: summed over the (filtered) key accounts.
PROGRAMME_ADDITIVE_KEYS = (
    "revenue_ttm", "revenue_prior_ttm", "gross_margin_ttm", "cost_to_serve_ttm", "net_contribution_ttm",
    "value_to_date", "lifetime_value", "touches_90d", "weighted_touches_90d", "weighted_touches_prior_90d",
)

GOAL_COLUMNS = (
    "goal_id", "current", "progress", "expected", "status", "action_completion", "title", "account_id", "metric",
    "baseline", "target", "start_date", "due_date", "owner", "horizon", "current_source",
)


def _account_metric_keys(frame: pl.DataFrame) -> set[str]:
    numeric = {c for c, t in frame.schema.items() if t.is_numeric() or t == pl.Boolean}
    return numeric - {"as_of"}


def goals_status(con, as_of: date | None = None, filters: Filters | None = None,
                 settings: Settings | None = None, full: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every goal with its current value (the metric at as_of when `metric` names a key, else the current
    column), progress, expected progress, status and action completion. Filters keep the account goals of the
    filtered accounts; programme goals use the programme over the filtered accounts. `full`: the caller's
    full_frame(con, as_of, settings) when it has one (alerts), so it is not computed twice."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    goals = E.query(
        con,
        """SELECT goal_id, title, nullif(trim(account_id), '') AS account_id, nullif(trim(metric), '') AS metric,
                  coalesce(baseline, 0.0) AS baseline, target, current, start_date, due_date, owner, horizon
           FROM goals ORDER BY goal_id"""
    )
    actions = E.query(
        con,
        """SELECT goal_id, count(*) AS actions,
                  count(*) FILTER (WHERE completed_date IS NOT NULL AND completed_date <= ?::DATE) AS completed
           FROM actions GROUP BY goal_id""",
        [as_of],
    )
    if not filters.is_empty:
        keep = E.accounts_frame(con, filters)["account_id"]
        goals = goals.filter(pl.col("account_id").is_null() | pl.col("account_id").is_in(keep.implode()))

    needs_metrics = goals["metric"].drop_nulls().len() > 0
    account_values: dict[tuple[str, str], float | None] = {}
    programme: dict[str, float | None] = {}
    if needs_metrics:
        full = full if full is not None else full_frame(con, as_of, settings)
        metric_keys = _account_metric_keys(full)
        account_goals = goals.filter(pl.col("metric").is_not_null() & pl.col("account_id").is_not_null())
        needed = sorted({m for m in account_goals["metric"].to_list() if m in metric_keys})
        by_account = {
            r["account_id"]: r
            for r in full.filter(pl.col("account_id").is_in(account_goals["account_id"].implode()))
            .select("account_id", *needed).iter_rows(named=True)
        }
        for row in account_goals.iter_rows(named=True):
            m = row["metric"]
            if m in metric_keys:
                value = by_account.get(row["account_id"], {}).get(m)
                account_values[(row["goal_id"], m)] = None if value is None else float(value)
        if goals.filter(pl.col("account_id").is_null() & pl.col("metric").is_not_null()).height:
            shown = full
            if not filters.is_empty:
                shown = full.filter(pl.col("account_id").is_in(E.accounts_frame(con, filters)["account_id"].implode()))
            programme = programme_values(shown, settings)
            key_rows = shown.filter(pl.col("is_key_account"))
            for k in PROGRAMME_ADDITIVE_KEYS:  # null when the key is null for every key account (absent data)
                column = key_rows[k]
                programme[k] = float(column.sum()) if column.null_count() < column.len() else None
    else:
        metric_keys = set()

    def current_of(row) -> tuple[float | None, str]:
        m = row["metric"]
        if m is not None:
            if row["account_id"] is not None and m in metric_keys:
                return account_values.get((row["goal_id"], m)), "metric"
            if row["account_id"] is None and m in programme:
                return programme[m], "metric"
            if m in metric_keys or m in PROGRAMME_KEYS or m in PROGRAMME_ADDITIVE_KEYS:
                return None, "metric"  # a known key that does not apply to this kind of goal
        return row["current"], "column"

    currents = [current_of(r) for r in goals.iter_rows(named=True)]
    goals = goals.with_columns(
        current=pl.Series([c[0] for c in currents], dtype=pl.Float64),
        current_source=pl.Series([c[1] for c in currents], dtype=pl.String),
    )
    span = (pl.col("due_date") - pl.col("start_date")).dt.total_days()
    elapsed = (pl.lit(as_of) - pl.col("start_date")).dt.total_days()
    tol_on, tol_risk = settings.goal_on_track_tolerance, settings.goal_at_risk_tolerance
    goals = goals.with_columns(
        progress=pl.when(pl.col("current").is_null() | (pl.col("target") == pl.col("baseline"))).then(None)
        .otherwise((pl.col("current") - pl.col("baseline")) / (pl.col("target") - pl.col("baseline"))),
        expected=pl.when(span == 0).then(pl.when(pl.lit(as_of) >= pl.col("due_date")).then(1.0).otherwise(0.0))
        .otherwise((elapsed / span).clip(0.0, 1.0)),
    )
    p, e = decision_value("progress"), pl.col("expected")
    goals = goals.with_columns(
        status=pl.when(pl.col("progress").is_null()).then(None)
        .when(p >= 1.0).then(pl.lit("achieved"))
        .when(pl.lit(as_of) > pl.col("due_date")).then(pl.lit("overdue"))
        .when(p >= decision_value(e - tol_on)).then(pl.lit("on_track"))
        .when(p >= decision_value(e - tol_risk)).then(pl.lit("at_risk"))
        .otherwise(pl.lit("off_track"))
    )
    goals = goals.join(actions, on="goal_id", how="left").with_columns(
        action_completion=pl.when(pl.col("actions").fill_null(0) == 0).then(None)
        .otherwise(pl.col("completed") / pl.col("actions"))
    )
    return goals.with_columns(pl.col("expected").cast(pl.Float64), pl.col("progress").cast(pl.Float64),
                              pl.col("action_completion").cast(pl.Float64)).select(GOAL_COLUMNS)
