"""Rules several figures share, each defined once over frames (no connection): share of wallet, wallet_current
and the parts of cost to serve as Polars, the champion flags as contacts × as_of matrices (so that 26 weeks of
health history cost little more than one date). METRICS.md "Share of wallet", "Cost to serve and lifetime
value", "Relationships". The queries read the rows; these functions decide."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

import numpy as np
import polars as pl

from kam_metrics.load.contract import ACTIVITY_TYPES, CASE_PRIORITIES, COST_CATEGORIES
from kam_metrics.settings import Settings


# ---------------------------------------------------------------------------------------------------------
# Precision

#: Decimals every deciding comparison is made at (METRICS.md "Time" → Precision).
DECISION_DECIMALS = 6


def decision_value(value: pl.Expr | str | float) -> pl.Expr | float:
    """A value as compared wherever a rank, tie, threshold, band, status or candidate list is decided: rounded to
    DECISION_DECIMALS, so floating-point noise (35.00000000000001 against 35.0) never changes an outcome. Shown
    values are not rounded. Takes an expression, a column name or a plain number (returned as a float)."""
    if isinstance(value, str):
        value = pl.col(value)
    if isinstance(value, pl.Expr):
        return value.round(DECISION_DECIMALS)
    return round(float(value), DECISION_DECIMALS)


# ---------------------------------------------------------------------------------------------------------
# Share of wallet


def share_of_wallet(revenue: pl.Expr | str, wallet: pl.Expr | str) -> pl.Expr:
    """share_of_wallet: revenue / wallet, null when the wallet is null or 0 (compared as decided)."""
    revenue = pl.col(revenue) if isinstance(revenue, str) else revenue
    wallet = pl.col(wallet) if isinstance(wallet, str) else wallet
    return pl.when(wallet.is_null() | (decision_value(wallet) == 0)).then(None).otherwise(revenue / wallet)


def _is_whole_wallet(product_line: pl.Expr) -> pl.Expr:
    """A wallet row for the whole account: no product line (empty or blank, spaces trimmed as SQL trim does)."""
    return product_line.is_null() | (product_line.str.strip_chars(" ") == "")


def wallet_by_account_year(rows: pl.DataFrame) -> pl.DataFrame:
    """The wallet of each account and year from wallet rows (account_id, year, product_line, wallet_amount):
    the sum of the whole-account rows (no product line) when the year has any, else the sum of its product-line
    rows. Columns account_id, year, wallet_amount, sorted by account and year."""
    whole = pl.col("_whole")
    amount = pl.col("wallet_amount")
    # the sums of the whole-account and of the product-line rows (the other rows add exact zeros)
    return rows.with_columns(_whole=_is_whole_wallet(pl.col("product_line"))).group_by("account_id", "year").agg(
        _has_whole=whole.any(),
        _whole_sum=pl.when(whole).then(amount).otherwise(0.0).sum(),
        _line_sum=pl.when(whole).then(0.0).otherwise(amount).sum(),
    ).select(
        "account_id", "year",
        wallet_amount=pl.when(pl.col("_has_whole")).then(pl.col("_whole_sum")).otherwise(pl.col("_line_sum")),
    ).sort("account_id", "year")


def wallet_current_at(by_year: pl.DataFrame, points: Sequence[date]) -> pl.DataFrame:
    """wallet_current per account and as_of: the wallet of year(as_of), else of the latest earlier year with
    wallet rows (from wallet_by_account_year). Only accounts with such a year are listed; columns account_id,
    as_of, wallet_year, wallet_current."""
    parts = []
    latest_of_year: dict[int, pl.DataFrame] = {}
    ordered = by_year.sort("account_id", "year")
    for p in points:
        if p.year not in latest_of_year:  # each account's last row up to the year is its latest year
            latest_of_year[p.year] = ordered.filter(pl.col("year") <= p.year).unique(
                subset="account_id", keep="last", maintain_order=True)
        parts.append(latest_of_year[p.year].select(
            "account_id", pl.lit(p, dtype=pl.Date).alias("as_of"), pl.col("year").alias("wallet_year"),
            pl.col("wallet_amount").alias("wallet_current")))
    if parts:
        return pl.concat(parts)
    return pl.DataFrame(schema={"account_id": pl.String, "as_of": pl.Date, "wallet_year": by_year.schema["year"],
                                "wallet_current": by_year.schema["wallet_amount"]})


# ---------------------------------------------------------------------------------------------------------
# Cost to serve


@dataclass(frozen=True)
class CostPart:
    """One part of cost_to_serve_ttm: `column` is the account-mart column counted (activities, cases) or summed
    (service cost amounts); its cost is the count × unit_cost, or the amount itself when unit_cost is None."""

    group: str  # service_costs, activities or cases
    component: str
    column: str
    unit_cost: float | None


COST_GROUPS = ("service_costs", "activities", "cases")


def cost_parts(s: Settings) -> list[CostPart]:
    """Every part of cost to serve with its unit cost from the settings: service cost categories (amounts),
    activities by type × activity_costs, cases by priority × case_costs."""
    return [
        *[CostPart("service_costs", c, f"sc_c_{c}", None) for c in COST_CATEGORIES],
        *[CostPart("activities", t, f"n_{t}", float(s.activity_costs.get(t, 0.0))) for t in ACTIVITY_TYPES],
        *[CostPart("cases", p, f"case_n_{p}", float(s.case_costs.get(p, 0.0))) for p in CASE_PRIORITIES],
    ]


def part_cost(part: CostPart, quantity: pl.Expr) -> pl.Expr:
    """The cost of a part from its quantity (a count or, for service costs, the amount)."""
    return quantity if part.unit_cost is None else quantity * part.unit_cost


# ---------------------------------------------------------------------------------------------------------
# Champion flags

#: The buying roles whose leaving raises champion_left.
CHAMPION_LEFT_ROLES = ("champion", "decision_maker")
#: "No date" in the day-number arrays of the champion rules (before every day).
NO_DAY = np.iinfo(np.int64).min
_EPOCH = date(1970, 1, 1)


def day_numbers(dates: pl.Series | Sequence[date]) -> np.ndarray:
    """Dates as days since 1970-01-01 (int64), NO_DAY for a null: the day arithmetic of the champion rules."""
    if not isinstance(dates, pl.Series):
        return np.array([(d - _EPOCH).days for d in dates], dtype=np.int64)
    return dates.cast(pl.Date).cast(pl.Int64).fill_null(NO_DAY).to_numpy()


def _role_is(contacts: pl.DataFrame, roles: Sequence[str]) -> pl.Series:
    role = pl.col("buying_role")
    return contacts.select(pl.any_horizontal([role == r for r in roles]).fill_null(False)).to_series()


def champion_left(contacts: pl.DataFrame, points: Sequence[date], s: Settings) -> np.ndarray:
    """champion_left per contact × as_of (a boolean matrix, rows in the order of `contacts`, columns in the order
    of `points`): a champion or decision maker who is inactive and left in the last champion_left_days up to
    as_of. `contacts` has buying_role, is_active (null counts as active) and left_date."""
    may_leave = (_role_is(contacts, CHAMPION_LEFT_ROLES) & ~contacts["is_active"].fill_null(True)).to_numpy()
    left, as_of = day_numbers(contacts["left_date"])[:, None], day_numbers(points)[None, :]
    return may_leave[:, None] & (left <= as_of) & (left >= as_of - (s.champion_left_days - 1))


def champion_quiet(contacts: pl.DataFrame, points: Sequence[date], last_touch: np.ndarray, s: Settings) -> np.ndarray:
    """champion_quiet per contact × as_of (as champion_left): an active champion with no activity in the last
    champion_quiet_days up to as_of. `last_touch`: contacts × points, the day number (day_numbers) of the
    contact's latest activity on or before each as_of, NO_DAY when none (only the window matters: any day
    before it may stand for an older one)."""
    champion = (_role_is(contacts, ("champion",)) & contacts["is_active"].fill_null(True)).to_numpy()
    touched = last_touch >= day_numbers(points)[None, :] - (s.champion_quiet_days - 1)
    return champion[:, None] & ~touched


# ---------------------------------------------------------------------------------------------------------
# Wallet headroom (issue 12, pipeline against headroom)


def wallet_headroom(revenue: pl.Expr | str, wallet: pl.Expr | str) -> pl.Expr:
    """wallet_headroom: max(wallet_current − revenue_ttm, 0), null when the wallet is null."""
    revenue = pl.col(revenue) if isinstance(revenue, str) else revenue
    wallet = pl.col(wallet) if isinstance(wallet, str) else wallet
    return pl.when(wallet.is_null()).then(None).otherwise(
        pl.max_horizontal(wallet - revenue, pl.lit(0.0))).cast(pl.Float64)
