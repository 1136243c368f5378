"""The Share of wallet page (pages/3_Share_of_wallet.py): wallet tiles, the wallet and whitespace tables."""

from __future__ import annotations

import polars as pl

from kam_metrics.app import formatting
from kam_metrics.app.frame import View
from kam_metrics.app.subsets import ids, pick, rows_for, sort_by, where_not_null, with_names
from kam_metrics.app.widgets import Kpi, kpi
from kam_metrics import metrics
from kam_metrics.filters import Filters
from kam_metrics.metrics import portfolio

WALLET_COLUMNS = ["account_name", "is_key_account", "kam_owner", "revenue_ttm", "wallet_current", "share_of_wallet",
                  "wallet_headroom", "open_pipeline", "pipeline_to_headroom", "win_rate_365d", "revenue_growth_pct",
                  "is_share_of_wallet_above_1", "account_id"]
# The pipeline columns (METRICS.md "Pipeline"), joined on by with_pipeline when the export carries opportunities
# (the pick skips columns that are not there).
PIPELINE_COLUMNS = ("open_pipeline", "open_deal_count", "win_rate_365d", "pipeline_to_headroom")


def with_pipeline(view: View, accounts: pl.DataFrame, *, filters: Filters | None = None) -> pl.DataFrame:
    """The account frame with the pipeline figures of metrics.pipeline_by_account (open_pipeline, win_rate_365d,
    pipeline_to_headroom) joined on; unchanged when the export carries no opportunities."""
    if not view.presence.has("opportunities"):
        return accounts
    pipeline = view.metric(metrics.pipeline_by_account, filters=filters).select("account_id", *PIPELINE_COLUMNS)
    return accounts.join(pipeline, on="account_id", how="left")


def has_pipeline(accounts: pl.DataFrame) -> bool:
    """Whether the account frame carries the pipeline figures (open_pipeline per account)."""
    return "open_pipeline" in accounts.columns


def wallet_tiles(view: View, accounts: pl.DataFrame) -> list[Kpi]:
    """Wallet totals over the accounts with a wallet estimate: wallet, our share of it, headroom, shares above 100 %."""
    cur = view.currency
    counted = portfolio.accounts_with_wallet(accounts).height
    return [
        kpi("wallet_current", "Wallet of these accounts", portfolio.portfolio_wallet_current(accounts), cur,
            extra_help=f"Σ wallet_current over the {counted} accounts with a wallet estimate."),
        kpi("share_of_wallet", "Our share of it", portfolio.portfolio_share_of_wallet(accounts), cur,
            extra_help="Σ revenue_ttm / Σ wallet_current over the accounts with a wallet estimate."),
        kpi("wallet_headroom", "Headroom", portfolio.portfolio_wallet_headroom(accounts), cur,
            extra_help="Σ wallet_headroom."),
        Kpi("share_of_wallet", "Share of wallet above 100 %",
            formatting.format_count(portfolio.share_of_wallet_above_1_count(accounts)),
            help="Accounts whose revenue TTM exceeds the wallet estimate: a data issue to check in wallet.csv.",
            delta_color="off"),
    ]


def wallet_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """Accounts with a wallet estimate, largest headroom first."""
    return pick(sort_by(portfolio.accounts_with_wallet(accounts), "wallet_headroom", descending=True), WALLET_COLUMNS)


def whitespace_table(wallet_by_product_line: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Product-line wallets of the accounts, largest headroom (portfolio.product_line_headroom) first."""
    data = where_not_null(rows_for(wallet_by_product_line, ids(accounts)), "wallet_amount")
    if data.is_empty():
        return data
    return with_names(portfolio.product_line_headroom(data), accounts).sort("wallet_headroom", descending=True)
