"""Generic frame helpers of the views: which rows and columns of a metric frame a page shows, and in what order.

No arithmetic here (portfolio figures live in kam_metrics.metrics.portfolio): only selection, joins of names
and ordering.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import polars as pl

from kam_metrics.app.widgets import column_label


def key_accounts(accounts: pl.DataFrame) -> pl.DataFrame:
    """Only the key accounts."""
    if accounts.is_empty() or "is_key_account" not in accounts.columns:
        return accounts
    return accounts.filter(pl.col("is_key_account"))


def focus_accounts(accounts: pl.DataFrame, limit: int = 30, by: str = "revenue_ttm") -> tuple[pl.DataFrame, str]:
    """The accounts a per-account chart shows: the key accounts in the filter, else the top `limit` by revenue."""
    keys = key_accounts(accounts)
    if not keys.is_empty():
        chosen = keys.sort(by, descending=True, nulls_last=True).head(limit)
        note = f"key accounts ({chosen.height})" + (f", top {limit} by {column_label(by)}" if keys.height > limit else "")
        return chosen, note
    chosen = accounts.sort(by, descending=True, nulls_last=True).head(limit)
    return chosen, f"top {chosen.height} accounts by {column_label(by)} (no key account in this filter)"


def rows_for(frame: pl.DataFrame, account_ids: Iterable[str] | str) -> pl.DataFrame:
    """The rows of these accounts."""
    if frame.is_empty() or "account_id" not in frame.columns:
        return frame
    ids = [account_ids] if isinstance(account_ids, str) else list(account_ids)
    return frame.filter(pl.col("account_id").is_in(ids))


def with_names(frame: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """The frame with account_name (and is_key_account) joined from the accounts, name first."""
    if frame.is_empty() or "account_id" not in frame.columns:
        return frame
    extra = [c for c in ("account_name", "is_key_account") if c not in frame.columns and c in accounts.columns]
    if not extra:
        return frame
    joined = frame.join(accounts.select("account_id", *extra), on="account_id", how="left")
    first = [c for c in ("account_name", "account_id", "is_key_account") if c in joined.columns]
    return joined.select(*first, *[c for c in joined.columns if c not in first])


def pick(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """The named columns that exist, in that order."""
    return frame.select([c for c in columns if c in frame.columns])


def sort_by(frame: pl.DataFrame, column: str, descending: bool = False) -> pl.DataFrame:
    """The frame sorted by a column, nulls last (unchanged when the column is missing)."""
    if frame.is_empty() or column not in frame.columns:
        return frame
    return frame.sort(column, descending=descending, nulls_last=True)


def where(frame: pl.DataFrame, column: str, value: Any) -> pl.DataFrame:
    """Rows whose column equals value (None: is null)."""
    if frame.is_empty() or column not in frame.columns:
        return frame
    return frame.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)


def where_not_null(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Rows whose column is not null."""
    if frame.is_empty() or column not in frame.columns:
        return frame
    return frame.filter(pl.col(column).is_not_null())


def first_row(frame: pl.DataFrame) -> dict | None:
    """The first row as a dict (None for an empty frame)."""
    return frame.row(0, named=True) if frame is not None and not frame.is_empty() else None


def kpi_values(kpis: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """programme_kpis as {key: {value, value_7d_ago, change}}."""
    return {row["key"]: row for row in kpis.iter_rows(named=True)} if not kpis.is_empty() else {}


def value_counts(frame: pl.DataFrame, column: str, order: Sequence[Any]) -> tuple[list[str], list[int]]:
    """Counts of a column's values in a given order (others appended), for small bar charts."""
    if frame.is_empty() or column not in frame.columns:
        return [], []
    counts = dict(frame.group_by(column).len().iter_rows())
    keys = [k for k in order if k in counts] + sorted((k for k in counts if k not in order), key=str)
    return [str(k if k is not None else "none").replace("_", " ") for k in keys], [counts[k] for k in keys]


def ids(frame: pl.DataFrame) -> list[str]:
    """The account_id values of a frame, in order."""
    return frame["account_id"].to_list() if not frame.is_empty() and "account_id" in frame.columns else []


