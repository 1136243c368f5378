"""Share of wallet by product line (the whitespace grid) and by year (METRICS.md "Share of wallet")."""

from __future__ import annotations

from datetime import date

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.load.marts import marts_current
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics import rules
from kam_metrics.metrics.accounts import wallet_rows
from kam_metrics.metrics.presence import presence

_EMPTY_LINE = "nullif(trim(w.product_line), '') IS NULL"


def wallet_by_product_line(con, as_of: date | None = None, filters: Filters | None = None,
                           settings=None) -> pl.DataFrame:
    """Per account and product line: revenue_ttm of that line, its wallet row and the share of wallet.

    The wallet row of a product line is the one for year(as_of), else for the latest earlier year that has a
    row for that line (wallet_year). Revenue with no product line counts as 'unassigned'. A line with revenue
    but no wallet row has a null wallet_amount and share_of_wallet (whitespace unknown).
    """
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    source = E.mart(con, "mart_revenue_pl_daily", marts_current(con))
    rev_filter, rev_params = E.account_filter_sql(filters, "t.account_id")
    wal_filter, wal_params = E.account_filter_sql(filters, "w.account_id")
    frame = E.query(
        con,
        f"""
        WITH rev AS (
            SELECT t.account_id, t.product_line, sum(t.amount) AS revenue_ttm
            FROM {source} t
            WHERE t.d BETWEEN ?::DATE - 364 AND ?::DATE {rev_filter}
            GROUP BY t.account_id, t.product_line
        ), wal AS (
            SELECT w.account_id, trim(w.product_line) AS product_line,
                   arg_max(w.wallet_amount, w.year) AS wallet_amount, max(w.year) AS wallet_year
            FROM wallet w
            WHERE NOT ({_EMPTY_LINE}) AND w.year <= year(?::DATE) {wal_filter}
            GROUP BY w.account_id, trim(w.product_line)
        )
        SELECT coalesce(rev.account_id, wal.account_id) AS account_id,
               coalesce(rev.product_line, wal.product_line) AS product_line,
               coalesce(rev.revenue_ttm, 0)::DOUBLE AS revenue_ttm,
               wal.wallet_amount::DOUBLE AS wallet_amount, wal.wallet_year
        FROM rev FULL OUTER JOIN wal ON rev.account_id = wal.account_id AND rev.product_line = wal.product_line
        ORDER BY account_id, product_line
        """,
        [as_of, as_of, *rev_params, as_of, *wal_params],
    )
    if not presence(con).has("revenue"):  # no revenue data: revenue and share are null, not 0
        frame = frame.with_columns(revenue_ttm=pl.lit(None, dtype=pl.Float64))
    return frame.with_columns(share_of_wallet=rules.share_of_wallet("revenue_ttm", "wallet_amount")).select(
        "account_id", "product_line", "revenue_ttm", "wallet_amount", "share_of_wallet", "wallet_year")


def wallet_by_year(con, as_of: date | None = None, filters: Filters | None = None, settings=None) -> pl.DataFrame:
    """Per account and calendar year ≤ year(as_of): revenue booked that year up to as_of, the year's wallet
    (rules.wallet_by_account_year: the total row, else the sum of its product-line rows) and
    share_of_wallet = revenue / wallet_amount."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    source = E.mart(con, "mart_account_daily", marts_current(con))
    rev_filter, rev_params = E.account_filter_sql(filters, "t.account_id")
    revenue = E.query(
        con,
        f"""SELECT t.account_id, year(t.d)::BIGINT AS year, sum(t.rev_amount)::DOUBLE AS revenue
            FROM {source} t WHERE t.d <= ?::DATE AND t.rev_rows > 0 {rev_filter}
            GROUP BY t.account_id, year(t.d)""",
        [as_of, *rev_params],
    )
    wallet = rules.wallet_by_account_year(wallet_rows(con, as_of.year, filters)).with_columns(
        pl.col("year").cast(pl.Int64), pl.col("wallet_amount").cast(pl.Float64))
    has_revenue = presence(con).has("revenue")  # without revenue data, revenue and share are null, not 0
    return revenue.join(wallet, on=["account_id", "year"], how="full", coalesce=True).with_columns(
        pl.col("revenue").fill_null(0.0) if has_revenue else pl.lit(None, dtype=pl.Float64).alias("revenue"),
    ).with_columns(share_of_wallet=rules.share_of_wallet("revenue", "wallet_amount")).select(
        "account_id", "year", "revenue", "wallet_amount", "share_of_wallet").sort("account_id", "year")
