"""pandera (Polars) schemas, one per canonical table, derived from the contract (kam_metrics.load.contract).

They run on typed frames (after kam_metrics.load.parse): each column's type, its required values (a column
is nullable unless it is required or something fills it: an enumeration's fallback or a default), its range,
enumeration and pattern, and the table's row rules (on two or more columns of one row). Keys and references
across rows and tables are checked in kam_metrics.load.validate, which also turns every failure into a
quarantine row. Nothing here states a rule of its own: tests/test_schemas.py holds each schema to its table.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from kam_metrics.load.contract import BOOL, DATE, ENUM, FLOAT, INT, STRING, TABLES, Column, RowRule, Table

# Polars type of each logical type of the contract (the types kam_metrics.load.parse gives).
POLARS_TYPES = {STRING: pl.String, ENUM: pl.String, DATE: pl.Date, BOOL: pl.Boolean, FLOAT: pl.Float64, INT: pl.Int64}


def is_nullable(column: Column) -> bool:
    """May the checked value be empty: not required, and neither an enumeration fallback nor a default fills it."""
    return not column.required and column.fallback is None and column.default is None


def column_checks(column: Column) -> list[pa.Check]:
    """The value checks of one column: its range, enumeration and pattern."""
    checks = []
    if column.min is not None:
        checks.append(pa.Check.gt(column.min) if column.min_exclusive else pa.Check.ge(column.min))
    if column.max is not None:
        checks.append(pa.Check.le(column.max))
    if column.enum:
        checks.append(pa.Check.isin(list(column.enum)))
    if column.pattern is not None:
        checks.append(pa.Check.str_matches(column.pattern))
    return checks


def row_check(rule: RowRule) -> pa.Check:
    """A row rule as a dataframe-level check; its failures carry the rule's reason as the check's name."""

    def holds(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(rule.holds)

    return pa.Check(holds, error=rule.reason)


def table_schema(spec: Table) -> pa.DataFrameSchema:
    """The schema of one table: its contract columns (others pass through; values are already typed)."""
    columns = {
        c.name: pa.Column(POLARS_TYPES[c.type], checks=column_checks(c), nullable=is_nullable(c),
                          required=not is_nullable(c), coerce=False)
        for c in spec.columns
    }
    return pa.DataFrameSchema(columns, checks=[row_check(r) for r in spec.row_rules], strict=False, coerce=False,
                              name=spec.name)


SCHEMAS: dict[str, pa.DataFrameSchema] = {name: table_schema(spec) for name, spec in TABLES.items()}

# Row rules by the text their failures carry: reason → (the column the quarantine names, the reason it gives).
ROW_CHECKS: dict[str, tuple[str, str]] = {
    rule.reason: (rule.column, rule.reason) for spec in TABLES.values() for rule in spec.row_rules
}
