"""Alerts (METRICS.md "Alerts", the Weekly review's "Needs attention"): the events a key account manager should
act on this week, each with a plain-text detail. An alert fires only when its inputs are present (METRICS.md
"Data that is not there"): a null flag never fires, and no engagement alert fires without activities, no
cadence alert without reviews, no sponsor alert without accounts.executive_sponsor, no champion alert without
contacts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.load.marts import marts_current
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import HEALTH_OFFSETS, champion_status, full_frame, last_activity_dates, metrics_at
from kam_metrics.metrics.goals import goals_status
from kam_metrics.metrics.presence import Presence, presence
from kam_metrics.metrics.rules import decision_value
from kam_metrics.metrics.selection import promotion_candidates
from kam_metrics.settings import Settings

SEVERITY = {
    "new_red": "high",
    "champion_left": "high",
    "value_destroyer": "high",
    "engagement_drop": "medium",
    "champion_quiet": "medium",
    "single_threaded": "medium",
    "no_touch_30d": "medium",
    "cadence_overdue": "medium",
    "goal_off_track": "medium",
    "no_sponsor": "low",
    "promotion_candidate": "low",
    "share_of_wallet_above_1": "low",
}
ALERT_KINDS = tuple(SEVERITY)
#: The alerts about key accounts; goal_off_track concerns goals, promotion_candidate and share_of_wallet_above_1
#: any account.
KEY_ACCOUNT_ALERTS = ("new_red", "champion_left", "value_destroyer", "engagement_drop", "champion_quiet",
                      "single_threaded", "no_touch_30d", "cadence_overdue", "no_sponsor")
ALERT_COLUMNS = ("account_id", "account_name", "alert", "severity", "detail", "goal_id")
NEW_RED_DAYS = 7  # "new red this week": red at as_of and not red at as_of − 7
ENGAGEMENT_DROP_PCT = -50.0  # engagement_drop: engagement_trend_pct ≤ −50
GOAL_ALERT_STATUSES = ("off_track", "overdue")
LAST_ACTIVITY_LOOKBACK_DAYS = 365  # how far back a quiet champion's last activity is looked up for the detail
#: METRICS.md "Precision": thresholds are decided on values rounded to 6 decimal places.
_SCHEMA = {"account_id": pl.String, "account_name": pl.String, "alert": pl.String, "severity": pl.String,
           "detail": pl.String, "goal_id": pl.String}
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


#: What each alert is built on, every (table, column) of it (column None: the table with data rows). An alert
#: whose input the export lacks never fires (METRICS.md "Data that is not there"); the app names these alerts.
ALERT_INPUTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "champion_left": (("contacts", None),),
    "engagement_drop": (("activities", None),),
    "champion_quiet": (("contacts", None), ("activities", None)),
    "single_threaded": (("activities", None), ("activities", "contact_id")),
    "no_touch_30d": (("activities", None),),
    "cadence_overdue": (("reviews", None),),
    "no_sponsor": (("accounts", "executive_sponsor"),),
    "goal_off_track": (("goals", None),),
    "share_of_wallet_above_1": (("wallet", None),),
}


def can_fire(alert: str, present: Presence) -> bool:
    """Whether the export carries every input of `alert` (ALERT_INPUTS)."""
    return all(present.has(table, column) for table, column in ALERT_INPUTS.get(alert, ()))


def _money(column: str) -> pl.Expr:
    """A money column as text with thousands separators and no decimals (−0 shown as 0)."""
    rounded = pl.col(column).round(0)
    return (pl.when(rounded == 0).then(0.0).otherwise(rounded).cast(pl.Int64)
            .map_elements(lambda x: f"{x:,}", return_dtype=pl.String))


def _fire(frame: pl.DataFrame, kind: str, when: pl.Expr, detail: pl.Expr) -> pl.DataFrame:
    """The alert rows of `kind` for the rows of `frame` where `when` is true (null: not fired)."""
    return frame.filter(when.fill_null(False)).select(
        "account_id", "account_name", alert=pl.lit(kind), severity=pl.lit(SEVERITY[kind]),
        detail=detail.cast(pl.String), goal_id=pl.lit(None, dtype=pl.String))


def _names_by_account(rows: list[tuple[str, str]]) -> pl.DataFrame:
    """account_id → the texts of its contacts joined with ', ' (for the champion details)."""
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "text": pl.String}, orient="row")
    return frame.group_by("account_id", maintain_order=True).agg(pl.col("text").str.join(", "))


def alerts(con, as_of: date | None = None, filters: Filters | None = None,
           settings: Settings | None = None) -> pl.DataFrame:
    """The alerts of METRICS.md "Alerts" (columns account_id, account_name, alert, severity, detail, goal_id),
    sorted by severity (high first), then account name."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    before = as_of - timedelta(days=NEW_RED_DAYS)
    present = presence(con)
    use = marts_current(con)
    key_filters = replace(filters, key_only=True)
    # The champion and decision-maker contacts of the shown key accounts at as_of (the names in the details) on
    # another cursor, while every account at as_of is computed here (ranks, thresholds and goal metrics are over
    # all accounts; the filters pick the rows shown).
    status_job = E.in_background(con, lambda cur: champion_status(cur, [as_of], key_filters, settings, use))
    shown_job = (E.in_background(con, lambda cur: E.accounts_frame(cur, filters)["account_id"])
                 if not filters.is_empty else None)
    everyone = full_frame(con, as_of, settings)
    shown = shown_job.result() if shown_job is not None else everyone["account_id"]
    now = everyone.filter(pl.col("account_id").is_in(shown.implode()))
    key_now = now.filter(pl.col("is_key_account"))
    # new_red needs the band a week ago only of the key accounts red now.
    red_ids = tuple(key_now.filter(pl.col("band") == "red")["account_id"].to_list())
    was = (metrics_at(con, [before], E.AccountFilters(account_ids=red_ids), settings, offsets=HEALTH_OFFSETS)
           if red_ids else pl.DataFrame(schema={"account_id": pl.String, "band": pl.String, "health": pl.Float64}))
    key_now = key_now.join(was.select("account_id", pl.col("band").alias("band_before"),
                                      pl.col("health").alias("health_before")), on="account_id", how="left")
    status = status_job.result()
    parts = [
        *_key_account_alerts(con, key_now, status, as_of, before, settings, present, use),
        *_goal_alerts(con, as_of, filters, settings, present, everyone),
        _promotion_alerts(everyone, shown),
        _fire(now, "share_of_wallet_above_1", decision_value("share_of_wallet") > 1,
              pl.format("share of wallet {}: revenue_ttm {} exceeds wallet_current {}; check the wallet estimate",
                        pl.col("share_of_wallet").round(2), _money("revenue_ttm"), _money("wallet_current")))
        if can_fire("share_of_wallet_above_1", present) else None,
    ]
    out = pl.concat([pl.DataFrame(schema=_SCHEMA), *(p.select(ALERT_COLUMNS) for p in parts if p is not None)],
                    how="vertical_relaxed")
    kinds = {k: i for i, k in enumerate(ALERT_KINDS)}
    return (
        out.with_columns(_s=pl.col("severity").replace_strict(_SEVERITY_ORDER, return_dtype=pl.Int32),
                         _k=pl.col("alert").replace_strict(kinds, return_dtype=pl.Int32))
        .sort("_s", "account_name", "account_id", "_k", "goal_id", nulls_last=True)
        .drop("_s", "_k")
    )


def _key_account_alerts(con, key_now: pl.DataFrame, status: pl.DataFrame, as_of: date, before: date,
                        settings: Settings, present: Presence, use: bool) -> list[pl.DataFrame | None]:
    """new_red, champion_left, value_destroyer, engagement_drop, champion_quiet, single_threaded, no_touch_30d,
    cadence_overdue and no_sponsor of the key accounts shown (one row each, at as_of)."""
    s = settings
    has_activities = present.has("activities")
    key_ids = key_now["account_id"].implode()
    champions = status.filter((pl.col("as_of") == as_of) & pl.col("account_id").is_in(key_ids)
                              & (pl.col("is_left") | pl.col("is_quiet")))
    quiet_ids = champions.filter(pl.col("is_quiet"))["contact_id"].to_list() if has_activities else []
    last_dates = last_activity_dates(con, quiet_ids, as_of, LAST_ACTIVITY_LOOKBACK_DAYS, use,
                                     silent_days=s.champion_quiet_days)
    left_rows, quiet_rows = [], []
    for c in champions.iter_rows(named=True):
        if c["is_left"]:
            left_rows.append((c["account_id"], f"{c['full_name']} ({c['buying_role']})"))
        if c["is_quiet"]:
            last = last_dates.get(c["contact_id"])
            quiet_rows.append((c["account_id"], f"{c['full_name']} (last activity {last.isoformat()})" if last
                               else f"{c['full_name']} (no activity in the last {LAST_ACTIVITY_LOOKBACK_DAYS} days)"))
    k = key_now.join(_names_by_account(left_rows).rename({"text": "left_names"}), on="account_id", how="left").join(
        _names_by_account(quiet_rows).rename({"text": "quiet_names"}), on="account_id", how="left")
    days = pl.col("days_since_last_touch")
    was = (pl.when(pl.col("health_before").is_null()).then(pl.lit("no health score"))
           .otherwise(pl.format("{} ({})", pl.col("health_before").round(0).cast(pl.Int64), pl.col("band_before"))))
    return [
        _fire(k, "new_red", (pl.col("band") == "red") & (pl.col("band_before").fill_null("") != "red"),
              pl.format("health {} is red; on {} it was {}", pl.col("health").round(0).cast(pl.Int64),
                        pl.lit(before.isoformat()), was)),
        _fire(k, "champion_left", pl.col("champion_left"),
              pl.format("left in the last {} days: {}", pl.lit(s.champion_left_days),
                        pl.col("left_names").fill_null("")))
        if can_fire("champion_left", present) else None,
        _fire(k, "value_destroyer", decision_value("net_contribution_ttm") < 0,
              pl.format("net contribution TTM {}: gross margin {} less cost to serve {}",
                        _money("net_contribution_ttm"), _money("gross_margin_ttm"), _money("cost_to_serve_ttm"))),
        _fire(k, "engagement_drop", decision_value("engagement_trend_pct") <= ENGAGEMENT_DROP_PCT,
              pl.format("weighted touches {} in the last 90 days against {} in the prior 90 days ({} %)",
                        pl.col("weighted_touches_90d").round(1), pl.col("weighted_touches_prior_90d").round(1),
                        pl.col("engagement_trend_pct").round(0).cast(pl.Int64)))
        if can_fire("engagement_drop", present) else None,
        _fire(k, "champion_quiet", pl.col("champion_quiet"),
              pl.format("champion with no activity in the last {} days: {}", pl.lit(s.champion_quiet_days),
                        pl.col("quiet_names").fill_null("")))
        if can_fire("champion_quiet", present) else None,
        _fire(k, "single_threaded", pl.col("single_threaded"),
              pl.format("{} engaged contacts in the last 90 days (fewer than {})", pl.col("engaged_contacts_90d"),
                        pl.lit(s.multithread_min_contacts)))
        if can_fire("single_threaded", present) else None,
        _fire(k, "no_touch_30d", days.is_null() | (days > s.no_touch_alert_days),
              pl.when(days.is_null()).then(pl.lit("no activity recorded"))
              .otherwise(pl.format("no activity in the last {} days (last touch {} days ago)",
                                   pl.lit(s.no_touch_alert_days), days)))
        if can_fire("no_touch_30d", present) else None,
        _fire(k, "cadence_overdue", pl.col("cadence_status") == "overdue",
              pl.lit(f"no 90-day plan in the last {s.plan_window_days} days and no review in the last "
                     f"{s.review_window_days} days"))
        if can_fire("cadence_overdue", present) else None,
        _fire(k, "no_sponsor", pl.col("has_sponsor") == False,  # noqa: E712 (null: not fired)
              pl.lit("no executive sponsor named (accounts.executive_sponsor is empty)"))
        if can_fire("no_sponsor", present) else None,
    ]


def _goal_alerts(con, as_of: date, filters: Filters, settings: Settings, present: Presence,
                 everyone: pl.DataFrame) -> list[pl.DataFrame]:
    """goal_off_track: every goal (of the filtered accounts, or of the programme) with status off_track or
    overdue; a programme goal has no account."""
    if not can_fire("goal_off_track", present):
        return []
    goals = goals_status(con, as_of, filters, settings, full=everyone)
    late = goals.filter(pl.col("status").is_in(GOAL_ALERT_STATUSES))
    if late.is_empty():
        return []
    late = late.join(everyone.select("account_id", "account_name"), on="account_id", how="left")
    progress = pl.format("{} %", (100.0 * pl.col("progress")).round(0).cast(pl.Int64))
    expected = pl.format("{} %", (100.0 * pl.col("expected")).round(0).cast(pl.Int64))
    return [late.select(
        "account_id", "account_name", alert=pl.lit("goal_off_track"), severity=pl.lit(SEVERITY["goal_off_track"]),
        detail=pl.format("goal {} \"{}\" is {}: progress {} against {} expected by now (due {})",
                         pl.col("goal_id"), pl.col("title").fill_null(""), pl.col("status"), progress, expected,
                         pl.col("due_date").cast(pl.String)),
        goal_id=pl.col("goal_id").cast(pl.String))]


def _promotion_alerts(everyone: pl.DataFrame, shown: pl.Series) -> pl.DataFrame:
    """promotion_candidate: the promotion candidates (Key account selection) among the accounts shown."""
    candidates = promotion_candidates(everyone).filter(pl.col("account_id").is_in(shown.implode()))
    return _fire(candidates, "promotion_candidate", pl.lit(True), pl.col("reason"))
