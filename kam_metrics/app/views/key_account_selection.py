"""The Key account selection page (pages/7_Key_account_selection.py): scores, candidates, programme size."""

from __future__ import annotations

import polars as pl

from kam_metrics import metrics
from kam_metrics.app import formatting
from kam_metrics.app.frame import View
from kam_metrics.app.subsets import kpi_values, pick, sort_by, where
from kam_metrics.app.widgets import Kpi, kpi, metric_help
from kam_metrics.metrics import portfolio

def with_candidates(accounts: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """Every account with its selection score and, for candidates, 'promote' or 'review' and the reason."""
    if accounts.is_empty():
        return accounts
    extra = pick(candidates, ["account_id", "candidate", "reason"])
    if extra.is_empty():
        extra = pl.DataFrame(schema={"account_id": pl.String, "candidate": pl.String, "reason": pl.String})
    return accounts.join(extra, on="account_id", how="left")


def selection_chart_accounts(scored: pl.DataFrame, limit: int = 40) -> pl.DataFrame:
    """The accounts the selection chart shows: all key accounts and candidates, then the best-scored up to `limit`."""
    if scored.is_empty():
        return scored
    must = scored.filter(pl.col("is_key_account") | pl.col("candidate").is_not_null())
    rest = scored.filter(~pl.col("account_id").is_in(must["account_id"].to_list()))
    rest = rest.sort("selection_score", descending=True, nulls_last=True).head(max(limit - must.height, 0))
    return pl.concat([must, rest], how="diagonal_relaxed")


SELECTION_COLUMNS = ["account_name", "is_key_account", "selection_score", "candidate", "reason", "band", "revenue_ttm",
                     "wallet_current", "net_margin_pct", "revenue_growth_pct", "engaged_contacts_90d", "kam_owner",
                     "account_id"]


def selection_table(scored: pl.DataFrame, candidate: str | None = None) -> pl.DataFrame:
    """Accounts by selection score (optionally only 'promote' or 'review' candidates), best first."""
    data = scored if candidate is None else where(scored, "candidate", candidate)
    return pick(sort_by(data, "selection_score", descending=True), SELECTION_COLUMNS)


def selection_tiles(view: View, scored: pl.DataFrame) -> list[Kpi]:
    """Programme size against the guidance, the lowest key account score and the candidate counts."""
    k = kpi_values(view.metric(metrics.programme_kpis))
    count = k.get("key_account_count", {}).get("value")
    lo, hi = view.settings.key_account_min, view.settings.key_account_max
    lowest = portfolio.lowest_key_selection_score(scored)
    promote = where(scored, "candidate", "promote").height
    review = where(scored, "candidate", "review").height
    return [
        kpi("key_account_count", "Key accounts", count, view.currency, extra_help=f"Guidance: {lo}–{hi}.",
            description=portfolio.key_account_guidance_note(count, lo, hi, view.scoped(None).is_whole_programme),
            delta_color="off"),
        Kpi("selection_score", "Lowest key account score", formatting.format_number(lowest),
            help=metric_help("selection_score", "A non-key account scoring at least this is a promotion candidate.")),
        Kpi("selection_score", "Promotion candidates", formatting.format_count(promote),
            help="Non-key accounts whose selection_score ≥ the lowest selection_score among key accounts."),
        Kpi("selection_score", "Review candidates", formatting.format_count(review),
            help="Key accounts with band red, or a selection_score in the lowest quartile of key accounts."),
    ]
