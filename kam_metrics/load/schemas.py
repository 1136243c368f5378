"""pandera (Polars) models, one per canonical table: the row rules of DATA_CONTRACT.md.

They run on typed frames (after kam_metrics.load.parse): required values, ranges, enumerations and the
rules that involve two columns of one row. Keys and references across rows and tables are checked in
kam_metrics.load.validate, which also turns every failure into a quarantine row.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

from kam_metrics.load.contract import (
    ACTIVITY_TYPES, BUYING_ROLES, CASE_PRIORITIES, CONFIDENCES, COST_CATEGORIES, HORIZONS, RELATIONSHIP_STAGES,
    REVIEW_TYPES, SENIORITIES,
)

# Row-level (multi-column) checks: error text → (the column the quarantine names, the reason it gives).
ROW_CHECKS: dict[str, tuple[str, str]] = {}


def _row_check(error: str, column: str):
    ROW_CHECKS[error] = (column, error)
    return pa.dataframe_check(error=error)


class _Base(pa.DataFrameModel):
    class Config:
        strict = False  # provenance and extra columns pass through
        coerce = False  # kam_metrics.load.parse has already typed every column


class Accounts(_Base):
    account_id: str = pa.Field(nullable=False)
    account_name: str = pa.Field(nullable=False)
    is_key_account: bool = pa.Field(nullable=False)
    parent_account_id: Optional[str] = pa.Field(nullable=True)
    industry: Optional[str] = pa.Field(nullable=True)
    region: Optional[str] = pa.Field(nullable=True)
    segment: Optional[str] = pa.Field(nullable=True)
    kam_owner: Optional[str] = pa.Field(nullable=True)
    executive_sponsor: Optional[str] = pa.Field(nullable=True)
    key_account_since: Optional[dt.date] = pa.Field(nullable=True)
    relationship_stage: Optional[str] = pa.Field(nullable=True, isin=list(RELATIONSHIP_STAGES))
    created_date: Optional[dt.date] = pa.Field(nullable=True)

    @_row_check("an account cannot be its own parent", "parent_account_id")
    def not_own_parent(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("parent_account_id").ne_missing(pl.col("account_id")))


class Contacts(_Base):
    contact_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    full_name: str = pa.Field(nullable=False)
    title: Optional[str] = pa.Field(nullable=True)
    seniority: str = pa.Field(nullable=False, isin=list(SENIORITIES))
    buying_role: str = pa.Field(nullable=False, isin=list(BUYING_ROLES))
    attitude: Optional[int] = pa.Field(nullable=True, ge=-2, le=2)
    is_active: bool = pa.Field(nullable=False)
    left_date: Optional[dt.date] = pa.Field(nullable=True)


class Activities(_Base):
    activity_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    activity_date: dt.date = pa.Field(nullable=False)
    activity_type: str = pa.Field(nullable=False, isin=list(ACTIVITY_TYPES))
    contact_id: Optional[str] = pa.Field(nullable=True)
    owner: Optional[str] = pa.Field(nullable=True)
    duration_minutes: Optional[float] = pa.Field(nullable=True, ge=0, le=1440)
    subject: Optional[str] = pa.Field(nullable=True)


class Revenue(_Base):
    revenue_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    revenue_date: dt.date = pa.Field(nullable=False)
    amount: float = pa.Field(nullable=False)
    cost_of_goods: Optional[float] = pa.Field(nullable=True, ge=0)
    product_line: str = pa.Field(nullable=False)
    currency: Optional[str] = pa.Field(nullable=True)


class Opportunities(_Base):
    opportunity_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    name: Optional[str] = pa.Field(nullable=True)
    stage: str = pa.Field(nullable=False)
    amount: Optional[float] = pa.Field(nullable=True, ge=0)
    close_date: dt.date = pa.Field(nullable=False)
    is_closed: bool = pa.Field(nullable=False)
    is_won: bool = pa.Field(nullable=False)
    product_line: Optional[str] = pa.Field(nullable=True)
    currency: Optional[str] = pa.Field(nullable=True)
    created_date: Optional[dt.date] = pa.Field(nullable=True)

    @_row_check("is_won is true but is_closed is false", "is_won")
    def won_is_closed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("is_won") | pl.col("is_closed"))


class ServiceCosts(_Base):
    cost_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    cost_date: dt.date = pa.Field(nullable=False)
    category: str = pa.Field(nullable=False, isin=list(COST_CATEGORIES))
    amount: float = pa.Field(nullable=False, ge=0)
    currency: Optional[str] = pa.Field(nullable=True)


class Cases(_Base):
    case_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    opened_date: dt.date = pa.Field(nullable=False)
    closed_date: Optional[dt.date] = pa.Field(nullable=True)
    priority: str = pa.Field(nullable=False, isin=list(CASE_PRIORITIES))
    status: Optional[str] = pa.Field(nullable=True)

    @_row_check("closed_date is before opened_date", "closed_date")
    def closed_after_opened(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("closed_date").is_null() | (pl.col("closed_date") >= pl.col("opened_date")))


class Surveys(_Base):
    response_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    response_date: dt.date = pa.Field(nullable=False)
    contact_id: Optional[str] = pa.Field(nullable=True)
    nps: Optional[int] = pa.Field(nullable=True, ge=0, le=10)
    csat: Optional[int] = pa.Field(nullable=True, ge=1, le=5)

    @_row_check("a response needs an nps or a csat", "nps")
    def has_score(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("nps").is_not_null() | pl.col("csat").is_not_null())


class Wallet(_Base):
    account_id: str = pa.Field(nullable=False)
    year: int = pa.Field(nullable=False, ge=1900, le=2200)
    wallet_amount: float = pa.Field(nullable=False, ge=0)
    product_line: Optional[str] = pa.Field(nullable=True)
    source: Optional[str] = pa.Field(nullable=True)
    confidence: Optional[str] = pa.Field(nullable=True, isin=list(CONFIDENCES))


class Goals(_Base):
    goal_id: str = pa.Field(nullable=False)
    title: str = pa.Field(nullable=False)
    account_id: Optional[str] = pa.Field(nullable=True)
    metric: Optional[str] = pa.Field(nullable=True)
    baseline: float = pa.Field(nullable=False)
    target: float = pa.Field(nullable=False)
    current: Optional[float] = pa.Field(nullable=True)
    start_date: dt.date = pa.Field(nullable=False)
    due_date: dt.date = pa.Field(nullable=False)
    owner: Optional[str] = pa.Field(nullable=True)
    horizon: Optional[str] = pa.Field(nullable=True, isin=list(HORIZONS))

    @_row_check("start_date is after due_date", "start_date")
    def start_before_due(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("start_date") <= pl.col("due_date"))

    @_row_check("a goal needs a metric or a current value", "current")
    def metric_or_current(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("metric").is_not_null() | pl.col("current").is_not_null())


class Actions(_Base):
    action_id: str = pa.Field(nullable=False)
    goal_id: str = pa.Field(nullable=False)
    title: str = pa.Field(nullable=False)
    owner: Optional[str] = pa.Field(nullable=True)
    due_date: Optional[dt.date] = pa.Field(nullable=True)
    completed_date: Optional[dt.date] = pa.Field(nullable=True)


class Reviews(_Base):
    review_id: str = pa.Field(nullable=False)
    account_id: str = pa.Field(nullable=False)
    review_date: dt.date = pa.Field(nullable=False)
    review_type: str = pa.Field(nullable=False, isin=list(REVIEW_TYPES))
    rating: Optional[int] = pa.Field(nullable=True, ge=1, le=5)


class FxRates(_Base):
    currency: str = pa.Field(nullable=False, str_matches=r"^[A-Z]{3}$")
    rate: float = pa.Field(nullable=False, gt=0)
    valid_from: Optional[dt.date] = pa.Field(nullable=True)


MODELS: dict[str, type[_Base]] = {
    "accounts": Accounts, "contacts": Contacts, "activities": Activities, "revenue": Revenue,
    "opportunities": Opportunities, "service_costs": ServiceCosts, "cases": Cases, "surveys": Surveys,
    "wallet": Wallet, "goals": Goals, "actions": Actions, "reviews": Reviews, "fx_rates": FxRates,
}
