"""The Score check page (pages/8_Score_check.py): does health warn before revenue shrinks? Tiles, the per-band
contraction rates, the misses and false alarms, and the what-if weights with their kam.toml lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Mapping

import polars as pl

from kam_metrics.app import formatting
from kam_metrics.app.widgets import Kpi, metric_help
from kam_metrics.metrics.score_check import (
    HORIZON_DAYS, check_dates, checked_weights, score_check_false_alarms, score_check_hits, score_check_misses,
)
from kam_metrics.settings import HEALTH_COMPONENTS, Settings
from kam_metrics.app.views.plain import verdict_text  # noqa: F401 - pure, shared with the weekly pack

#: The slider range of a health weight on the page (the settings accept any number ≥ 0).
WEIGHT_MAX = 100


def settings_weights(settings: Settings) -> dict[str, float]:
    """The settings' health weights, every component."""
    return {c: float(settings.health_weights.get(c, 0.0)) for c in HEALTH_COMPONENTS}


def is_what_if(weights: Mapping[str, float], settings: Settings) -> bool:
    """Whether the chosen weights differ from the settings' (then the page shows both)."""
    return checked_weights(weights) != settings_weights(settings)


@dataclass(frozen=True)
class SliderSpec:
    """The weight sliders: whole numbers in steps of 1 up to `top`, or halves when a setting is not whole."""

    top: int | float
    step: int | float
    format: str
    is_whole: bool

    def value(self, weight: float) -> int | float:
        """A weight as the sliders take it (int or float, as their min, max and step)."""
        return int(weight) if self.is_whole else float(weight)


def slider_spec(settings: Settings) -> SliderSpec:
    """The sliders for these settings: 0–100 (higher when a setting is), whole steps unless a setting is not whole."""
    values = settings_weights(settings).values()
    whole = all(float(v).is_integer() for v in values)
    top = max([WEIGHT_MAX, *values])
    if whole:
        return SliderSpec(top=int(top), step=1, format="%d", is_whole=True)
    return SliderSpec(top=float(top), step=0.5, format="%.1f", is_whole=False)


def check_window_text(as_of: date) -> str:
    """The check dates in words: 'the 18 month ends from 30 Nov 2024 to 30 Apr 2026'."""
    dates = check_dates(as_of)
    if not dates:
        return "no month end"
    return (f"the {len(dates)} month ends from {formatting.format_date(dates[0])} to "
            f"{formatting.format_date(dates[-1])}")


def _lift_text(value) -> str:
    return formatting.MISSING if value is None else f"{value:.2f}×"


def _lead_text(value) -> str:
    return formatting.MISSING if value is None else f"{value:,.0f} days"


def _ratio_delta(value, base) -> str | None:
    if value is None or base is None:
        return None
    return formatting.format_points(100.0 * (value - base))


def score_check_tiles(summary: Mapping, baseline: Mapping | None = None) -> list[Kpi]:
    """Precision, recall, lift, warning lead and the pairs checked; with `baseline` (the settings' summary) each
    tile's change against it (the what-if row)."""
    b = baseline or {}

    def delta(key: str, fmt):
        if baseline is None or summary.get(key) is None or b.get(key) is None:
            return None
        return fmt(summary[key], b[key])

    return [
        Kpi("warning_precision", "Precision", formatting.format_ratio(summary["warning_precision"]),
            delta=delta("warning_precision", _ratio_delta),
            help=metric_help("warning_precision", f"{summary['warned']:,} account-months red or amber.")),
        Kpi("warning_recall", "Recall", formatting.format_ratio(summary["warning_recall"]),
            delta=delta("warning_recall", _ratio_delta),
            help=metric_help("warning_recall", f"{summary['contracted']:,} account-months shrank.")),
        Kpi("warning_lift", "Lift", _lift_text(summary["warning_lift"]),
            delta=delta("warning_lift", lambda v, w: f"{v - w:+.2f}×"),
            help=metric_help("warning_lift")),
        Kpi("warning_lead_days_median", "Warned for (median)", _lead_text(summary["warning_lead_days_median"]),
            delta=delta("warning_lead_days_median", lambda v, w: f"{v - w:+,.0f} days" if round(v - w) else None),
            help=metric_help("warning_lead_days_median")),
        Kpi("pairs", "Account-months checked", formatting.format_count(summary["pairs"]),
            delta=delta("pairs", lambda v, w: formatting.format_count(v - w, signed=True) if v != w else None),
            delta_color="off",
            help=metric_help("pairs", f"{summary['pairs_insufficient_data']:,} more had too little data for a "
                                      "health score (insufficient_data) and are not counted.")),
    ]


def no_pairs_message(summary: Mapping, as_of: date) -> str | None:
    """Why there is nothing to check, or None when there is."""
    if summary["pairs"]:
        return None
    if summary["pairs_insufficient_data"]:
        return (f"{summary['pairs_insufficient_data']:,} account-months had revenue at the check dates, but too "
                "little data for a health score (insufficient_data): the check needs the inputs of the health "
                "score (activities, contacts, surveys, wallet, reviews) from before those dates.")
    first = check_dates(as_of)
    start = formatting.format_date(first[-1] - timedelta(days=365)) if first else "—"
    return (f"No account had revenue in the 365 days before any check date ({check_window_text(as_of)}): the "
            f"check needs revenue history from {start} on and {HORIZON_DAYS} days of it after each date.")


MISS_COLUMNS = ["account_name", "is_key_account", "missed_check_dates", "first_check_date", "last_check_date",
                "lowest_health", "highest_health", "worst_revenue_change_pct", "kam_owner", "account_id"]
HIT_COLUMNS = ["account_name", "is_key_account", "warned_check_dates", "first_check_date", "last_check_date",
               "lowest_health", "highest_health", "worst_revenue_change_pct", "kam_owner", "account_id"]
ALARM_COLUMNS = ["account_name", "is_key_account", "false_alarm_check_dates", "first_check_date", "last_check_date",
                 "lowest_health", "highest_health", "best_revenue_change_pct", "kam_owner", "account_id"]


def misses_table(pairs: pl.DataFrame) -> pl.DataFrame:
    """The misses per account (score_check_misses), most missed check dates first, in the page's columns."""
    return score_check_misses(pairs).select(MISS_COLUMNS)


def hits_table(pairs: pl.DataFrame) -> pl.DataFrame:
    """The accounts warned in time per account (score_check_hits), most warned check dates first."""
    return score_check_hits(pairs).select(HIT_COLUMNS)


def false_alarms_table(pairs: pl.DataFrame) -> pl.DataFrame:
    """The false alarms per account (score_check_false_alarms), most first, in the page's columns."""
    return score_check_false_alarms(pairs).select(ALARM_COLUMNS)


PAIR_TABLE_COLUMNS = ["account_name", "check_date", "health", "band", "is_warned", "rev_before", "rev_after",
                      "revenue_change_pct", "is_contracted", "health_coverage_pct", "kam_owner", "account_id"]


def pairs_table(pairs: pl.DataFrame) -> pl.DataFrame:
    """Every (account, check date) pair, latest date first, in the page's columns (the rows behind every figure)."""
    return pairs.sort(["check_date", "account_name"], descending=[True, False]).select(PAIR_TABLE_COLUMNS)


TABLE_LABELS = {
    "missed_check_dates": "Missed month ends", "warned_check_dates": "Warned month ends", "false_alarm_check_dates": "False-alarm month ends",
    "first_check_date": "First", "last_check_date": "Last", "lowest_health": "Lowest health then",
    "highest_health": "Highest health then", "worst_revenue_change_pct": "Largest revenue fall",
    "best_revenue_change_pct": "Largest revenue rise", "check_date": "Check date",
}
