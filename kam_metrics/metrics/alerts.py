"""Alerts: the account events a key account manager should act on this week, with a plain-text detail."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.load.marts import marts_current
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import (
    HEALTH_OFFSETS, champion_flags_from_status, champion_status, last_activity_dates, metrics_at, wallet_share_at,
)
from kam_metrics.settings import Settings

SEVERITY = {
    "new_red": "high",
    "champion_left": "high",
    "champion_quiet": "medium",
    "no_touch_30d": "medium",
    "cadence_overdue": "medium",
    "share_of_wallet_above_1": "low",
}
ALERT_KINDS = tuple(SEVERITY)
#: Alerts about the relationship concern key accounts only; the data-issue alert concerns every account.
KEY_ACCOUNT_ALERTS = ("new_red", "champion_left", "champion_quiet", "no_touch_30d", "cadence_overdue")
NEW_RED_DAYS = 7  # "new red this week": red at as_of and not red at as_of − 7
LAST_ACTIVITY_LOOKBACK_DAYS = 365  # how far back a quiet champion's last activity is looked up for the detail
_SCHEMA = {"account_id": pl.String, "account_name": pl.String, "alert": pl.String, "detail": pl.String,
           "severity": pl.String}


def _fmt_money(x: float) -> str:
    return f"{x:,.0f}"


def alerts(con, as_of: date | None = None, filters: Filters | None = None,
           settings: Settings | None = None) -> pl.DataFrame:
    """Alerts new_red, champion_left, champion_quiet, no_touch_30d, cadence_overdue (key accounts) and
    share_of_wallet_above_1 (all accounts), sorted by severity then account."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    before = as_of - timedelta(days=NEW_RED_DAYS)
    # The relationship alerts concern key accounts only, so their health (now and a week ago) is computed for
    # them alone; share_of_wallet_above_1 concerns every account and needs only revenue and wallet.
    key_filters = replace(filters, key_only=True)
    use = marts_current(con)
    # Share of wallet of every account, read meanwhile on a second cursor.
    wallet_job = E.in_background(con, lambda cur: wallet_share_at(cur, as_of, filters, use=use))
    # Champion status once, at both dates: its per-account flags feed the health, its contacts the details.
    status = champion_status(con, [before, as_of], key_filters, settings, use)
    # A quiet champion has no activity in the last champion_quiet_days days: the lookup of its last activity
    # (for the detail) starts before them, and runs meanwhile on another cursor.
    quiet_ids = status.filter((pl.col("as_of") == as_of) & pl.col("is_quiet"))["contact_id"].to_list()
    last_job = E.in_background(con, lambda cur: last_activity_dates(
        cur, quiet_ids, as_of, LAST_ACTIVITY_LOOKBACK_DAYS, use, silent_days=settings.champion_quiet_days))
    f = metrics_at(con, [before, as_of], key_filters, settings, offsets=HEALTH_OFFSETS,
                   champions=champion_flags_from_status(status))
    key_now = f.filter(pl.col("as_of") == as_of)
    prev = f.filter(pl.col("as_of") == before).select(
        "account_id", pl.col("band").alias("band_before"), pl.col("health").alias("health_before"))
    key_now = key_now.join(prev, on="account_id", how="left")
    key_ids = key_now["account_id"]
    over_wallet = wallet_job.result().filter(
        pl.col("is_share_of_wallet_above_1") & ~pl.col("account_id").is_in(key_ids.implode()))
    # Only key accounts and accounts with a share of wallet above 1 can have an alert.
    now = pl.concat([key_now, over_wallet], how="diagonal_relaxed")
    rows: list[dict] = []

    def add(account_id, name, kind, detail):
        rows.append({"account_id": account_id, "account_name": name, "alert": kind, "detail": detail,
                     "severity": SEVERITY[kind]})

    champions = status.filter(
        (pl.col("as_of") == as_of) & pl.col("account_id").is_in(key_ids.implode())
        & (pl.col("is_left") | pl.col("is_quiet")))
    last_dates = last_job.result()
    left_by: dict[str, list[str]] = {}
    quiet_by: dict[str, list[str]] = {}
    for c in champions.iter_rows(named=True):
        if c["is_left"]:
            left_by.setdefault(c["account_id"], []).append(f"{c['full_name']} ({c['buying_role']})")
        if c["is_quiet"]:
            last = last_dates.get(c["contact_id"])
            quiet_by.setdefault(c["account_id"], []).append(
                f"{c['full_name']} (last activity {last.isoformat()})" if last
                else f"{c['full_name']} (no activity in the last {LAST_ACTIVITY_LOOKBACK_DAYS} days)")

    no_touch = settings.no_touch_alert_days
    for r in now.sort("account_id").iter_rows(named=True):
        aid, name = r["account_id"], r["account_name"]
        if r["is_key_account"]:
            if r["band"] == "red" and r["band_before"] != "red":
                was = ("no health score" if r["health_before"] is None
                       else f"{r['health_before']:.0f} ({r['band_before']})")
                add(aid, name, "new_red", f"health {r['health']:.0f} is red; on {before.isoformat()} it was {was}")
            if r["champion_left"]:
                add(aid, name, "champion_left",
                    f"left in the last {settings.champion_left_days} days: " + ", ".join(left_by.get(aid, [])))
            if r["champion_quiet"]:
                add(aid, name, "champion_quiet",
                    f"champion with no activity in the last {settings.champion_quiet_days} days: "
                    + ", ".join(quiet_by.get(aid, [])))
            days = r["days_since_last_touch"]
            if days is None or days >= no_touch:
                add(aid, name, "no_touch_30d",
                    "no activity recorded" if days is None
                    else f"no activity in the last {no_touch} days (last touch {days} days ago)")
            if r["cadence_status"] == "overdue":
                add(aid, name, "cadence_overdue",
                    f"no 90-day plan in the last {settings.plan_window_days} days and no review in the last "
                    f"{settings.review_window_days} days")
        if r["is_share_of_wallet_above_1"]:
            add(aid, name, "share_of_wallet_above_1",
                f"share of wallet {r['share_of_wallet']:.2f}: revenue_ttm {_fmt_money(r['revenue_ttm'])} exceeds "
                f"wallet_current {_fmt_money(r['wallet_current'])}; check the wallet estimate")
    out = pl.DataFrame(rows, schema=_SCHEMA)
    order = {"high": 0, "medium": 1, "low": 2}
    kinds = {k: i for i, k in enumerate(ALERT_KINDS)}
    return (
        out.with_columns(_s=pl.col("severity").replace_strict(order, return_dtype=pl.Int32),
                         _k=pl.col("alert").replace_strict(kinds, return_dtype=pl.Int32))
        .sort("_s", "account_id", "_k")
        .drop("_s", "_k")
    )
