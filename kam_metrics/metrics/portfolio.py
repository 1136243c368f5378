"""Portfolio figures over the account_metrics frame: sums, ratios of sums and counts the pages show in tiles.

Pure Polars functions (no connection, no Streamlit): each takes the frame that account_metrics (or another
metric) returned for the accounts in the filter and returns one figure or a small frame. Where METRICS.md
defines a ratio per account, the portfolio ratio applies the same rule to the sums (said in the docstring).
"""

from __future__ import annotations

import polars as pl

from kam_metrics.metrics import rules

HEALTH_MOVERS_SCHEMA = {"account_id": pl.String, "health_from": pl.Float64, "health_to": pl.Float64,
                        "health_change": pl.Float64}


def _has(frame: pl.DataFrame, *columns: str) -> bool:
    return not frame.is_empty() and all(c in frame.columns for c in columns)


def portfolio_total(accounts: pl.DataFrame, column: str) -> float | None:
    """Σ of one account key (e.g. revenue_ttm) over the accounts; None when there is no account or no such column."""
    if not _has(accounts, column):
        return None
    return accounts[column].sum()


def key_revenue_ttm(accounts: pl.DataFrame) -> float | None:
    """Σ revenue_ttm over the key accounts (is_key_account); None when either column is missing."""
    if accounts.is_empty() or "revenue_ttm" not in accounts.columns or "is_key_account" not in accounts.columns:
        return None
    return float(accounts.filter(pl.col("is_key_account")).select(pl.col("revenue_ttm").sum()).item() or 0.0)


def key_revenue_ttm_change(accounts: pl.DataFrame, accounts_before: pl.DataFrame) -> float | None:
    """key_revenue_ttm now minus key_revenue_ttm of an earlier frame (e.g. 7 days before); None when either is None."""
    now, before = key_revenue_ttm(accounts), key_revenue_ttm(accounts_before)
    return None if now is None or before is None else now - before


def positive_revenue_total(accounts: pl.DataFrame) -> float:
    """Σ revenue_ttm over the accounts with revenue_ttm > 0 (the denominator of 'their share of our revenue')."""
    if accounts.is_empty() or "revenue_ttm" not in accounts.columns:
        return 0.0
    return float(accounts.filter(pl.col("revenue_ttm") > 0)["revenue_ttm"].sum())


# ---------------------------------------------------------------- engagement


def portfolio_engagement_trend_pct(accounts: pl.DataFrame) -> float | None:
    """engagement_trend_pct of the sums: 100 × (Σ weighted_touches_90d − Σ prior) / Σ prior; null when Σ prior = 0 (METRICS.md rule)."""
    if not _has(accounts, "weighted_touches_90d", "weighted_touches_prior_90d"):
        return None
    weighted = accounts["weighted_touches_90d"].sum()
    prior = accounts["weighted_touches_prior_90d"].sum()
    return None if not prior else 100.0 * (weighted - prior) / prior


def falling_engagement_count(accounts: pl.DataFrame, threshold_pct: float = -25.0) -> int:
    """How many accounts have engagement_trend_pct ≤ threshold_pct (default −25: engagement down a quarter or more)."""
    if not _has(accounts, "engagement_trend_pct"):
        return 0
    return accounts.filter(pl.col("engagement_trend_pct") <= threshold_pct).height


def c_level_reached_count(accounts: pl.DataFrame) -> int:
    """How many accounts have c_level_engaged_90d true (null counts as not reached)."""
    if not _has(accounts, "c_level_engaged_90d"):
        return 0
    return accounts.filter(pl.col("c_level_engaged_90d").fill_null(False)).height


def single_threaded_key_count(accounts: pl.DataFrame) -> int:
    """How many key accounts are single_threaded (null counts as not single-threaded)."""
    if not _has(accounts, "is_key_account", "single_threaded"):
        return 0
    return accounts.filter(pl.col("is_key_account") & pl.col("single_threaded").fill_null(False)).height


# ---------------------------------------------------------------- share of wallet


def accounts_with_wallet(accounts: pl.DataFrame) -> pl.DataFrame:
    """The accounts with a wallet estimate (wallet_current not null): the base of every portfolio wallet figure."""
    if accounts.is_empty() or "wallet_current" not in accounts.columns:
        return accounts
    return accounts.filter(pl.col("wallet_current").is_not_null())


def portfolio_wallet_current(accounts: pl.DataFrame) -> float | None:
    """Σ wallet_current over the accounts with a wallet estimate; None when none has one."""
    return portfolio_total(accounts_with_wallet(accounts), "wallet_current")


def portfolio_wallet_headroom(accounts: pl.DataFrame) -> float | None:
    """Σ wallet_headroom (max(wallet_current − revenue_ttm, 0) per account) over the accounts with a wallet estimate."""
    return portfolio_total(accounts_with_wallet(accounts), "wallet_headroom")


def portfolio_share_of_wallet(accounts: pl.DataFrame) -> float | None:
    """share_of_wallet of the sums: Σ revenue_ttm / Σ wallet_current over the accounts with a wallet estimate; null when Σ wallet is null or 0 (METRICS.md rule)."""
    with_wallet = accounts_with_wallet(accounts)
    wallet = portfolio_total(with_wallet, "wallet_current")
    revenue = portfolio_total(with_wallet, "revenue_ttm")
    return pl.select(rules.share_of_wallet(pl.lit(revenue, pl.Float64), pl.lit(wallet, pl.Float64))).item()


def share_of_wallet_above_1_count(accounts: pl.DataFrame) -> int:
    """How many accounts have share_of_wallet > 1 (revenue above the wallet estimate: a data issue)."""
    if not _has(accounts, "share_of_wallet"):
        return 0
    return accounts.filter(pl.col("share_of_wallet") > 1).height


def product_line_headroom(wallet_by_product_line: pl.DataFrame) -> pl.DataFrame:
    """wallet_by_product_line with wallet_headroom = max(wallet_amount − revenue_ttm, 0) per line (revenue null = 0)."""
    if wallet_by_product_line.is_empty():
        return wallet_by_product_line
    return wallet_by_product_line.with_columns(
        (pl.col("wallet_amount") - pl.col("revenue_ttm").fill_null(0)).clip(lower_bound=0).alias("wallet_headroom"))


# ---------------------------------------------------------------- cost to serve and value


def portfolio_cost_to_serve_pct(accounts: pl.DataFrame) -> float | None:
    """cost_to_serve_pct of the sums: 100 × Σ cost_to_serve_ttm / Σ revenue_ttm; null when Σ revenue_ttm ≤ 0 (METRICS.md rule)."""
    revenue = portfolio_total(accounts, "revenue_ttm")
    cost = portfolio_total(accounts, "cost_to_serve_ttm")
    if revenue is None or cost is None or revenue <= 0:
        return None
    return 100.0 * cost / revenue


def value_destroyers(accounts: pl.DataFrame) -> pl.DataFrame:
    """Accounts whose net_contribution_ttm is negative (cost to serve above gross margin), most negative first."""
    if accounts.is_empty() or "net_contribution_ttm" not in accounts.columns:
        return accounts.clear() if not accounts.is_empty() else accounts
    return accounts.filter(pl.col("net_contribution_ttm") < 0).sort("net_contribution_ttm")


# ---------------------------------------------------------------- health and selection


def health_movers(movement: pl.DataFrame, accounts: pl.DataFrame, limit: int = 5) -> pl.DataFrame:
    """The accounts (of `accounts`) whose health changed most in a health_movement frame, |change| largest first.

    Columns: account_id, health_from, health_to, health_change (the movement's health row); no change = not a mover.
    """
    if movement.is_empty():
        return pl.DataFrame(schema=HEALTH_MOVERS_SCHEMA)
    rows = movement.filter((pl.col("component") == "health") & pl.col("change").is_not_null()
                           & (pl.col("change") != 0))
    rows = rows.filter(pl.col("account_id").is_in(accounts["account_id"].to_list()))
    top = rows.with_columns(pl.col("change").abs().alias("_size")).sort("_size", descending=True).head(limit)
    return top.select("account_id", pl.col("contribution_from").alias("health_from"),
                      pl.col("contribution_to").alias("health_to"), pl.col("change").alias("health_change"))


def lowest_key_selection_score(accounts: pl.DataFrame) -> float | None:
    """The lowest selection_score among the key accounts (the bar a promotion candidate must reach); None without key accounts."""
    if not _has(accounts, "is_key_account", "selection_score"):
        return None
    keys = accounts.filter(pl.col("is_key_account"))
    return keys["selection_score"].min() if not keys.is_empty() else None


def is_within_key_account_guidance(count: int | None, minimum: int, maximum: int) -> bool:
    """Whether key_account_count lies within the programme's guidance (key_account_min–key_account_max)."""
    return count is not None and minimum <= count <= maximum


def key_account_guidance_note(count: int | None, minimum: int, maximum: int, is_whole_programme: bool) -> str:
    """The Key accounts tile's note: within or outside the guidance for the whole programme; for a part of it (a
    region, segment or KAM's accounts) the programme-wide guidance is not judged on the part's count."""
    if not is_whole_programme:
        return f"of a part; the {minimum}–{maximum} guidance is programme-wide"
    return f"{'within' if is_within_key_account_guidance(count, minimum, maximum) else 'outside'} the {minimum}–{maximum} guidance"
