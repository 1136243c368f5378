"""The canonical data contract (docs/DATA_CONTRACT.md) as code.

Every importer produces these tables; the parser, the pandera schemas (derived in schemas.py from the
columns' types, required values, ranges, enumerations and patterns, and from the tables' row rules), the
warehouse schema and the metrics all read them from here, so the contract lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

# Logical column types of the contract.
STRING, DATE, BOOL, FLOAT, INT, ENUM = "string", "date", "bool", "float", "int", "enum"

ACTIVITY_TYPES = ("email", "call", "meeting", "exec_meeting", "qbr", "site_visit", "workshop", "other")
RELATIONSHIP_STAGES = ("exploratory", "basic", "cooperative", "interdependent", "integrated")
SENIORITIES = ("c_level", "vp", "director", "manager", "individual", "unknown")
BUYING_ROLES = (
    "decision_maker", "economic_buyer", "champion", "influencer", "user", "gatekeeper", "blocker", "unknown",
)
COST_CATEGORIES = ("support", "logistics", "account_management", "discount", "travel", "customisation", "other")
CASE_PRIORITIES = ("low", "medium", "high", "critical")
CONFIDENCES = ("low", "medium", "high")
HORIZONS = ("short", "mid", "long")
REVIEW_TYPES = ("plan_90_day", "review_30_day", "qbr", "strategy_day", "other")

# DuckDB column type for each logical type.
DUCKDB_TYPES = {STRING: "VARCHAR", DATE: "DATE", BOOL: "BOOLEAN", FLOAT: "DOUBLE", INT: "BIGINT", ENUM: "VARCHAR"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str = STRING
    required: bool = False
    enum: tuple[str, ...] = ()
    fallback: str | None = None  # enum value used for empty or unknown values ("else `other`")
    default: object = None  # value used when the cell is empty
    is_money: bool = False  # converted to the reporting currency through fx_rates
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    pattern: str | None = None  # regular expression a given value must match

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class RowRule:
    """A rule on two or more columns of one row; a row where `holds` is false is quarantined."""

    reason: str  # what the quarantine says
    column: str  # the column the quarantine names
    holds: pl.Expr = field(compare=False)  # true (or null-safe true) for a good row


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    key: tuple[str, ...] = ()  # unique key; later duplicates are rejected
    date_column: str | None = None  # the date that places a row in time (as_of filter, fx rate date)
    references: tuple[tuple[str, str], ...] = ()  # (column, referenced table)
    row_rules: tuple[RowRule, ...] = ()
    doc: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def money_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.is_money]

    @property
    def has_currency(self) -> bool:
        return "currency" in self.column_names

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = Column
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "accounts",
            (
                C("account_id", required=True),
                C("account_name", required=True),
                C("is_key_account", BOOL, required=True),
                C("parent_account_id"),
                C("industry"),
                C("region"),
                C("segment"),
                C("kam_owner"),
                C("executive_sponsor"),
                C("key_account_since", DATE),
                C("relationship_stage", ENUM, enum=RELATIONSHIP_STAGES),
                C("created_date", DATE),
            ),
            required=True,
            key=("account_id",),
            references=(("parent_account_id", "accounts"),),
            row_rules=(RowRule("an account cannot be its own parent", "parent_account_id",
                               pl.col("parent_account_id").ne_missing(pl.col("account_id"))),),
            doc="The customers; is_key_account marks the KAM programme.",
        ),
        Table(
            "contacts",
            (
                C("contact_id", required=True),
                C("account_id", required=True),
                C("full_name", required=True),
                C("title"),
                C("seniority", ENUM, enum=SENIORITIES, fallback="unknown"),
                C("buying_role", ENUM, enum=BUYING_ROLES, fallback="unknown"),
                C("attitude", INT, min=-2, max=2),
                C("is_active", BOOL, default=True),
                C("left_date", DATE),
            ),
            key=("contact_id",),
            references=(("account_id", "accounts"),),
            doc="People at the customer, with seniority and buying role.",
        ),
        Table(
            "activities",
            (
                C("activity_id", required=True),
                C("account_id", required=True),
                C("activity_date", DATE, required=True),
                C("activity_type", ENUM, required=True, enum=ACTIVITY_TYPES, fallback="other"),
                C("contact_id"),
                C("owner"),
                C("duration_minutes", FLOAT, min=0, max=1440),
                C("subject"),
            ),
            required=True,
            key=("activity_id",),
            date_column="activity_date",
            references=(("account_id", "accounts"), ("contact_id", "contacts")),
            doc="Completed interactions with the customer.",
        ),
        Table(
            "revenue",
            (
                C("revenue_id", required=True),
                C("account_id", required=True),
                C("revenue_date", DATE, required=True),
                C("amount", FLOAT, required=True, is_money=True),
                C("cost_of_goods", FLOAT, min=0, is_money=True),
                C("product_line", default="unassigned"),
                C("currency"),
            ),
            required=True,
            key=("revenue_id",),
            date_column="revenue_date",
            references=(("account_id", "accounts"),),
            doc="Booked net revenue (invoice lines or closed-won deals).",
        ),
        Table(
            "opportunities",
            (
                C("opportunity_id", required=True),
                C("account_id", required=True),
                C("name"),
                C("stage", required=True),
                C("amount", FLOAT, min=0, is_money=True),
                C("close_date", DATE, required=True),
                C("is_closed", BOOL, required=True),
                C("is_won", BOOL, required=True),
                C("product_line"),
                C("currency"),
                C("created_date", DATE),
            ),
            key=("opportunity_id",),
            date_column="close_date",
            references=(("account_id", "accounts"),),
            row_rules=(RowRule("is_won is true but is_closed is false", "is_won",
                               ~pl.col("is_won") | pl.col("is_closed")),),
            doc="Deals, open and closed.",
        ),
        Table(
            "service_costs",
            (
                C("cost_id", required=True),
                C("account_id", required=True),
                C("cost_date", DATE, required=True),
                C("category", ENUM, enum=COST_CATEGORIES, fallback="other"),
                C("amount", FLOAT, required=True, min=0, is_money=True),
                C("currency"),
            ),
            key=("cost_id",),
            date_column="cost_date",
            references=(("account_id", "accounts"),),
            doc="Costs of serving an account (support, logistics, discounts, travel, …).",
        ),
        Table(
            "cases",
            (
                C("case_id", required=True),
                C("account_id", required=True),
                C("opened_date", DATE, required=True),
                C("closed_date", DATE),
                C("priority", ENUM, enum=CASE_PRIORITIES, fallback="medium"),
                C("status"),
            ),
            key=("case_id",),
            date_column="opened_date",
            references=(("account_id", "accounts"),),
            row_rules=(RowRule("closed_date is before opened_date", "closed_date",
                               pl.col("closed_date").is_null() | (pl.col("closed_date") >= pl.col("opened_date"))),),
            doc="Support tickets, costed by priority.",
        ),
        Table(
            "surveys",
            (
                C("response_id", required=True),
                C("account_id", required=True),
                C("response_date", DATE, required=True),
                C("contact_id"),
                C("nps", INT, min=0, max=10),
                C("csat", INT, min=1, max=5),
            ),
            key=("response_id",),
            date_column="response_date",
            references=(("account_id", "accounts"),),
            row_rules=(RowRule("a response needs an nps or a csat", "nps",
                               pl.col("nps").is_not_null() | pl.col("csat").is_not_null()),),
            doc="NPS and CSAT responses.",
        ),
        Table(
            "wallet",
            (
                C("account_id", required=True),
                C("year", INT, required=True, min=1900, max=2200),
                C("wallet_amount", FLOAT, required=True, min=0),
                C("product_line"),
                C("source"),
                C("confidence", ENUM, enum=CONFIDENCES),
            ),
            key=("account_id", "year", "product_line"),
            references=(("account_id", "accounts"),),
            doc="The customer's estimated total yearly spend on what we sell.",
        ),
        Table(
            "goals",
            (
                C("goal_id", required=True),
                C("title", required=True),
                C("account_id"),
                C("metric"),
                C("baseline", FLOAT, default=0.0),
                C("target", FLOAT, required=True),
                C("current", FLOAT),
                C("start_date", DATE, required=True),
                C("due_date", DATE, required=True),
                C("owner"),
                C("horizon", ENUM, enum=HORIZONS),
            ),
            key=("goal_id",),
            references=(("account_id", "accounts"),),
            row_rules=(
                RowRule("start_date is after due_date", "start_date", pl.col("start_date") <= pl.col("due_date")),
                RowRule("a goal needs a metric or a current value", "current",
                        pl.col("metric").is_not_null() | pl.col("current").is_not_null()),
            ),
            doc="Programme goals (no account_id) and account goals.",
        ),
        Table(
            "actions",
            (
                C("action_id", required=True),
                C("goal_id", required=True),
                C("title", required=True),
                C("owner"),
                C("due_date", DATE),
                C("completed_date", DATE),
            ),
            key=("action_id",),
            references=(("goal_id", "goals"),),
            doc="Steps toward a goal.",
        ),
        Table(
            "reviews",
            (
                C("review_id", required=True),
                C("account_id", required=True),
                C("review_date", DATE, required=True),
                C("review_type", ENUM, enum=REVIEW_TYPES, fallback="other"),
                C("rating", INT, min=1, max=5),
            ),
            key=("review_id",),
            date_column="review_date",
            references=(("account_id", "accounts"),),
            doc="The 90-day plans and 30-day reviews of each key account.",
        ),
        Table(
            "fx_rates",
            (
                C("currency", required=True, pattern=r"^[A-Z]{3}$"),  # ISO 4217
                C("rate", FLOAT, required=True, min=0, min_exclusive=True),
                C("valid_from", DATE),
            ),
            key=("currency", "valid_from"),
            doc="Units of reporting currency per unit of `currency`.",
        ),
    )
}

# Load order: referenced tables first.
TABLE_ORDER = [
    "fx_rates", "accounts", "contacts", "goals", "activities", "revenue", "opportunities",
    "service_costs", "cases", "surveys", "wallet", "actions", "reviews",
]
assert sorted(TABLE_ORDER) == sorted(TABLES)

REQUIRED_TABLES = [t for t in TABLE_ORDER if TABLES[t].required]
OPTIONAL_TABLES = [t for t in TABLE_ORDER if not TABLES[t].required]

# Provenance columns every staged and checked row carries.
SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"

# Columns the warehouse adds to a table with money columns: the amount as given and its currency.
ORIGINAL_SUFFIX = "_original"


def warehouse_columns(table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a checked table in the snapshot, provenance columns last."""
    spec = TABLES[table]
    cols = [(c.name, c.duckdb_type) for c in spec.columns]
    cols += [(m + ORIGINAL_SUFFIX, "DOUBLE") for m in spec.money_columns]
    if spec.money_columns and not spec.has_currency:
        cols.append(("currency", "VARCHAR"))
    cols += [(SOURCE_FILE, "VARCHAR"), (SOURCE_ROW, "BIGINT")]
    return cols
