"""The pandera schemas say what the contract says, no more and no less.

kam_metrics.load.schemas derives one schema per table from kam_metrics.load.contract. These tests walk
contract.TABLES and check pandera's verdicts, not the derivation: a row built from the contract's own rules
passes, and each rule of each column (required value, range, enumeration, pattern, type) fails exactly the
values the contract forbids, with the quarantine reason the load gives; a column without a rule takes any value
of its type. The row rules (two or more columns) each have a hand-built row that breaks them.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
import pytest

from kam_metrics.load.contract import BOOL, DATE, ENUM, FLOAT, INT, STRING, TABLES, Column
from kam_metrics.load.schemas import ROW_CHECKS, SCHEMAS
from kam_metrics.load.validate import pandera_failures

COLUMNS = [(table, column) for table, spec in TABLES.items() for column in spec.columns]
IDS = [f"{table}.{column.name}" for table, column in COLUMNS]
DTYPES = {STRING: pl.String, ENUM: pl.String, DATE: pl.Date, BOOL: pl.Boolean, FLOAT: pl.Float64, INT: pl.Int64}


def good_value(column: Column):
    """A value every rule of the contract accepts (distinct per column, so no two ids are equal)."""
    if column.enum:
        return column.enum[0]
    if column.pattern is not None:
        return "EUR"
    if column.type == STRING:
        return f"{column.name}-1"
    if column.type == DATE:
        return dt.date(2024, 1, 1)
    if column.type == BOOL:
        return True
    low = column.min if column.min is not None else 0
    value = low + 1 if column.max is None or low + 1 <= column.max else low
    return float(value) if column.type == FLOAT else int(value)


def good_row(table: str) -> dict:
    return {c.name: good_value(c) for c in TABLES[table].columns}


def frame(table: str, **values) -> pl.DataFrame:
    """A one-row typed frame of `table`: the good row with `values` replacing some cells."""
    row = good_row(table) | values
    return pl.DataFrame({c.name: pl.Series([row[c.name]], dtype=DTYPES[c.type]) for c in TABLES[table].columns})


def column_reasons(table: str, column: str, typed: pl.DataFrame) -> list[str]:
    """The quarantine reasons pandera gives for `column` (its own rules, not the row rules)."""
    failures = pandera_failures(table, typed)
    return [r for c, r in failures.select("column", "reason").iter_rows() if c == column and r not in ROW_CHECKS]


@pytest.mark.parametrize("table", list(TABLES))
def test_a_row_built_from_the_contract_passes(table):
    assert pandera_failures(table, frame(table)).height == 0


@pytest.mark.parametrize("table", list(TABLES))
def test_the_schema_has_the_contract_columns_in_order(table):
    assert list(SCHEMAS[table].columns) == TABLES[table].column_names


@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=IDS)
def test_an_empty_value_fails_exactly_when_the_contract_requires_one(table, column):
    """Empty is allowed unless the column is required or the contract fills it (enumeration fallback, default)."""
    must_have = column.required or column.fallback is not None or column.default is not None
    reasons = column_reasons(table, column.name, frame(table, **{column.name: None}))
    assert reasons == (["required value is empty"] if must_have else [])


@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=IDS)
def test_the_range_is_the_contract_range(table, column):
    if column.type not in (INT, FLOAT):
        assert column.min is None and column.max is None
        return
    cast = float if column.type == FLOAT else int
    far = 10**9
    if column.min is None:
        assert column_reasons(table, column.name, frame(table, **{column.name: cast(-far)})) == []
    else:
        at_min = column_reasons(table, column.name, frame(table, **{column.name: cast(column.min)}))
        below = column_reasons(table, column.name, frame(table, **{column.name: cast(column.min - 1)}))
        if column.min_exclusive:
            assert at_min == below == [f"out of range: must be > {column.min}"]
        else:
            assert at_min == []
            assert below == [f"out of range: must be ≥ {column.min}"]
    if column.max is None:
        assert column_reasons(table, column.name, frame(table, **{column.name: cast(far)})) == []
    else:
        assert column_reasons(table, column.name, frame(table, **{column.name: cast(column.max)})) == []
        above = column_reasons(table, column.name, frame(table, **{column.name: cast(column.max + 1)}))
        assert above == [f"out of range: must be ≤ {column.max}"]


@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=IDS)
def test_the_values_allowed_are_the_contract_enumeration_or_pattern(table, column):
    if column.type not in (STRING, ENUM):
        return
    for value in column.enum:
        assert column_reasons(table, column.name, frame(table, **{column.name: value})) == [], value
    reasons = column_reasons(table, column.name, frame(table, **{column.name: "not-in-the-list"}))
    if column.enum:
        assert reasons == ["not one of: " + ", ".join(column.enum)]
    elif column.pattern is not None:
        assert reasons == ["not a 3-letter ISO 4217 currency code"]
        assert column_reasons(table, column.name, frame(table, **{column.name: "USD"})) == []
    else:
        assert reasons == [], "a free text column takes any text"


@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=IDS)
def test_the_type_is_the_contract_type(table, column):
    """(A whole-column failure, which parsing rules out before the checks run: asked of the schema itself.)"""
    wrong = pl.Series([1], dtype=pl.Int64) if column.type in (STRING, ENUM) else pl.Series(["1"], dtype=pl.String)
    with pytest.raises(pa.errors.SchemaErrors) as failed:
        SCHEMAS[table].validate(frame(table).with_columns(wrong.alias(column.name)), lazy=True)
    cases = failed.value.failure_cases.select("column", "check").rows()
    assert [case for case in cases if case[1].startswith("dtype")] == [(column.name, f"dtype('{DTYPES[column.type]}')")]


# One row breaking each row rule of the contract: (table, cells replacing the good row's, column named).
BROKEN_ROWS = {
    "an account cannot be its own parent": ("accounts", {"account_id": "A1", "parent_account_id": "A1"}),
    "is_won is true but is_closed is false": ("opportunities", {"is_won": True, "is_closed": False}),
    "closed_date is before opened_date": ("cases", {"opened_date": dt.date(2024, 3, 2),
                                                    "closed_date": dt.date(2024, 3, 1)}),
    "a response needs an nps or a csat": ("surveys", {"nps": None, "csat": None}),
    "start_date is after due_date": ("goals", {"start_date": dt.date(2024, 3, 2), "due_date": dt.date(2024, 3, 1)}),
    "a goal needs a metric or a current value": ("goals", {"metric": None, "current": None}),
}


def test_every_row_rule_of_the_contract_is_a_check_of_its_schema_and_nothing_else_is():
    for table, spec in TABLES.items():
        assert [check.error for check in SCHEMAS[table].checks] == [rule.reason for rule in spec.row_rules], table
    assert set(BROKEN_ROWS) == set(ROW_CHECKS), "a row rule without a broken row below (or one that is gone)"


@pytest.mark.parametrize("reason", list(BROKEN_ROWS))
def test_a_row_breaking_a_row_rule_fails_it_and_only_it(reason):
    table, cells = BROKEN_ROWS[reason]
    rule = next(r for r in TABLES[table].row_rules if r.reason == reason)
    failures = pandera_failures(table, frame(table, **cells))
    assert failures.select("column", "reason").rows() == [(rule.column, reason)]
    # The same row with the cells the rule reads set back to good values passes.
    assert pandera_failures(table, frame(table)).height == 0
