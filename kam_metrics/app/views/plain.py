"""Pure texts the app and the weekly pack (kam_metrics.pack) share: an account's flags, a health mover's title and
the score check's verdict. No Streamlit, so the pack computes the same words as the pages."""

from __future__ import annotations

from typing import Iterable, Mapping

from kam_metrics.app import formatting
from kam_metrics.app.formatting import format_metric
from kam_metrics.settings import Settings


def account_flags(row: dict, settings: Settings, present: Iterable[str] = ("contacts", "reviews", "wallet")) -> list[str]:
    """Plain-language warnings about the account (champion left or quiet, single-threaded, overdue, value-destroying).

    `present`: the contract tables the export has; a flag whose table is missing is not raised.
    """
    present = set(present)
    flags = []
    if row.get("champion_left"):
        flags.append(f"A champion or decision maker left in the last {settings.champion_left_days} days.")
    if row.get("champion_quiet"):
        flags.append(f"An active champion has had no activity for {settings.champion_quiet_days} days.")
    if row.get("single_threaded") and "contacts" in present:
        flags.append(f"Single-threaded: fewer than {settings.multithread_min_contacts} engaged contacts in the last 90 days.")
    if row.get("is_key_account") and row.get("cadence_status") == "overdue" and "reviews" in present:
        flags.append("Plan cadence overdue: no 90-day plan in the last 90 days and no review in the last 30.")
    if (row.get("net_contribution_ttm") or 0) < 0:
        flags.append("Destroys value: the cost to serve exceeds the gross margin over the last 12 months.")
    if (row.get("engagement_trend_pct") or 0) <= -50:
        flags.append(f"Engagement collapsing: weighted touches down {abs(row['engagement_trend_pct']):.0f}% "
                     "against the prior 90 days.")
    if row.get("is_share_of_wallet_above_1") and "wallet" in present:
        flags.append("Revenue exceeds the wallet estimate (share of wallet above 100 %): check wallet.csv.")
    return flags


def mover_title(mover: dict) -> str:
    """'Name: 61.0 → 55.5 (−5.5)' for one row of health_movers."""
    return (f"{mover['account_name']}: {format_metric('health', mover['health_from'])} → "
            f"{format_metric('health', mover['health_to'])} ({formatting.format_number(mover['health_change'], signed=True)})")


def verdict_text(summary: Mapping) -> str | None:
    """The check in one plain sentence: whether red or amber accounts shrank more often than the rest."""
    lift, recall = summary["warning_lift"], summary["warning_recall"]
    if lift is None:
        return None
    caught = "" if recall is None else (f" {formatting.format_ratio(recall, decimals=0)} of the account-months that "
                                        "shrank had been red or amber.")
    if lift >= 1.5:
        return (f"Red or amber accounts shrank {lift:.1f}× as often as accounts overall: the warning carries "
                f"information.{caught}")
    if lift >= 1.1:
        return (f"Red or amber accounts shrank somewhat more often than accounts overall ({lift:.2f}×): a weak "
                f"warning.{caught}")
    return (f"Red or amber accounts shrank about as often as accounts overall ({lift:.2f}×): on this data the band "
            f"does not warn of shrinking revenue. Compare other weights below and read the misses.{caught}")
