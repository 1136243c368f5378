"""Staged tables → checked tables + quarantine: parse, pandera row rules, keys, references, currency.

Order per table (tables in contract.TABLE_ORDER, referenced ones first):
1. parse text into types (kam_metrics.load.parse); unreadable cells fail their row;
2. the table's pandera schema (kam_metrics.load.schemas, derived from the contract) with lazy=True,
   so every failure is gathered;
3. duplicate keys among the rows still good: the first is kept, later ones are rejected
   with "duplicate <key> 'X' (first at row N)";
4. references (account_id, contact_id, goal_id, parent_account_id) against the rows kept in the
   referenced table;
5. money columns converted to the reporting currency through fx_rates by the row's date.
A row that fails any step is kept out of the checked table and gets one quarantine entry per failure.
"""

from __future__ import annotations

import re

import pandera.polars as pa
import polars as pl

from kam_metrics.load.contract import ORIGINAL_SUFFIX, SOURCE_FILE, SOURCE_ROW, TABLE_ORDER, TABLES, warehouse_columns
from kam_metrics.load.currency import rate_table, with_rate
from kam_metrics.load.importers.base import QUARANTINE_SCHEMA
from kam_metrics.load.parse import POS, parse_table
from kam_metrics.load.schemas import ROW_CHECKS, SCHEMAS
from kam_metrics.settings import DEFAULT_REPORTING_CURRENCY, Settings

FAIL_SCHEMA = {POS: pl.UInt32, "column": pl.String, "value": pl.String, "reason": pl.String}


def _reason_for_check(check: str, value: str | None) -> str:
    if check == "not_nullable":
        return "required value is empty"
    m = re.fullmatch(r"(greater_than_or_equal_to|less_than_or_equal_to|greater_than|less_than)\((.*)\)", check)
    if m:
        op = {"greater_than_or_equal_to": "≥", "less_than_or_equal_to": "≤", "greater_than": ">", "less_than": "<"}
        return f"out of range: must be {op[m.group(1)]} {m.group(2)}"
    m = re.fullmatch(r"isin\(\[(.*)\]\)", check)
    if m:
        return "not one of: " + m.group(1).replace("'", "")
    if check.startswith("str_matches"):
        return "not a 3-letter ISO 4217 currency code"
    if check.startswith("dtype"):
        return f"wrong type ({check})"
    return check


def pandera_failures(table: str, typed: pl.DataFrame) -> pl.DataFrame:
    """Row failures of the table's pandera schema, as (_pos, column, value, reason)."""
    contract_cols = TABLES[table].column_names
    try:
        SCHEMAS[table].validate(typed.select(contract_cols), lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return pl.DataFrame(schema=FAIL_SCHEMA)
    rows = []
    cases = cases.filter(pl.col("index").is_not_null())
    for case, context, column, check, index in cases.select(
        "failure_case", "schema_context", "column", "check", "index"
    ).iter_rows():
        if context == "DataFrameSchema":
            col, reason = ROW_CHECKS.get(check, (None, check))
            value = typed[col][index] if col in typed.columns else None
            rows.append((index, col, None if value is None else str(value), reason))
        else:
            rows.append((index, column, case, _reason_for_check(check, case)))
    return pl.DataFrame(rows, schema=FAIL_SCHEMA, orient="row")


def _to_quarantine(table: str, staged: pl.DataFrame, typed: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    """Failures with provenance; the value shown is the cell as written in the source, where there is one."""
    if failures.height == 0:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    prov = typed.select(POS, SOURCE_FILE, SOURCE_ROW)
    source_values = []
    for column in failures["column"].drop_nulls().unique().to_list():
        if column in staged.columns:
            source_values.append(
                staged.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(POS), pl.col(column).cast(pl.String).alias("__src"))
                .join(failures.filter(pl.col("column") == column).select(POS).unique(), on=POS, how="semi")
                .with_columns(pl.lit(column).alias("column"))
            )
    if source_values:
        src = pl.concat(source_values)
        failures = failures.join(src, on=[POS, "column"], how="left").with_columns(
            pl.coalesce("__src", "value").alias("value")
        ).drop("__src")
    return (
        failures.join(prov, on=POS, how="left")
        .with_columns(pl.lit(table).alias("table"))
        .select(list(QUARANTINE_SCHEMA))
        .cast(QUARANTINE_SCHEMA)
    )


def _duplicates(table: str, good: pl.DataFrame) -> pl.DataFrame:
    """Later occurrences of a key, as failures naming the first row."""
    key = list(TABLES[table].key)
    if not key or good.height == 0:
        return pl.DataFrame(schema=FAIL_SCHEMA)
    # Fast test first: distinct 64-bit hashes of the key mean no duplicates. Otherwise only the rows
    # whose key hash repeats (whole groups of equal keys, plus any hash collision) go on.
    key_hash = (pl.col(key[0]) if len(key) == 1 else pl.struct(key)).hash()
    if good.select(key_hash.n_unique()).item() == good.height:
        return pl.DataFrame(schema=FAIL_SCHEMA)
    # (A contiguous copy of the few columns used: Polars 2.1 can panic formatting strings of a filtered frame.)
    good = good.filter(key_hash.is_duplicated()).select(POS, SOURCE_ROW, *key).rechunk()
    first = pl.col(SOURCE_ROW).first().over(key)
    dup = good.with_columns(first.alias("__first"), pl.int_range(pl.len()).over(key).alias("__n")).filter(
        pl.col("__n") > 0
    )
    if dup.height == 0:
        return pl.DataFrame(schema=FAIL_SCHEMA)
    label = " + ".join(key)
    value = pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in key], separator=" | ")
    return dup.select(
        pl.col(POS),
        pl.lit(key[-1] if len(key) > 1 else key[0]).alias("column"),
        value.alias("value"),
        pl.format(f"duplicate {label} '{{}}' (first at row {{}})", value, pl.col("__first")).alias("reason"),
    ).cast(FAIL_SCHEMA)


def _references(
    table: str, good: pl.DataFrame, kept: dict[str, pl.DataFrame], present: set[str]
) -> pl.DataFrame:
    frames = []
    for column, target in TABLES[table].references:
        if target not in kept or column not in good.columns or target not in present:
            continue
        if target == table and table != "accounts":
            continue
        target_key = TABLES[target].key[0]
        known = (good if target == table else kept[target])[target_key]
        # The mask reads one column; only the bad rows are copied.
        bad = good.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(known.implode()))
        if bad.height:
            # Polars 2.1 can panic formatting strings of a filtered frame ("assertion failed: i < self.len()");
            # the bad rows are few, so a contiguous copy costs nothing and avoids it.
            bad = bad.select(POS, column).rechunk()
            frames.append(
                bad.select(
                    pl.col(POS),
                    pl.lit(column).alias("column"),
                    pl.col(column).alias("value"),
                    pl.format(f"unknown {column} '{{}}' (not in {target})", pl.col(column)).alias("reason"),
                ).cast(FAIL_SCHEMA)
            )
    return pl.concat(frames) if frames else pl.DataFrame(schema=FAIL_SCHEMA)


def _convert_currency(
    table: str, good: pl.DataFrame, rates: pl.DataFrame, reporting: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Money columns into the reporting currency; rows whose currency has no rate fail."""
    spec = TABLES[table]
    money = spec.money_columns
    if not money:
        return good, pl.DataFrame(schema=FAIL_SCHEMA)
    date_col = spec.date_column
    cur = pl.col("currency").str.strip_chars().str.to_uppercase() if spec.has_currency else pl.lit(None, pl.String)
    frame = good.with_columns(cur.fill_null(reporting).alias("currency"))
    frame = frame.with_columns(
        pl.when(pl.col("currency") == "").then(pl.lit(reporting)).otherwise(pl.col("currency")).alias("currency")
    )
    frame = frame.with_columns([pl.col(m).alias(m + ORIGINAL_SUFFIX) for m in money])
    frame = with_rate(frame, rates, reporting, on=date_col, key=POS)
    missing = frame.filter(pl.col("__rate").is_null())
    failures = missing.select(
        pl.col(POS),
        pl.lit("currency").alias("column"),
        pl.col("currency").alias("value"),
        pl.format(
            "no fx rate from {} to the reporting currency {}: add it to fx_rates.csv or set reporting_currency in "
            "kam.toml", pl.col("currency"), pl.lit(reporting),
        ).alias("reason"),
    ).cast(FAIL_SCHEMA)
    frame = frame.filter(pl.col("__rate").is_not_null()).with_columns(
        [(pl.col(m) * pl.col("__rate")).alias(m) for m in money]
    )
    return frame, failures


class TableChecker:
    """Checks one staged table at a time, in contract.TABLE_ORDER, keeping only what later tables need.

    A load streams its tables through `check` so that only one big table is in memory at once; the
    keys of referenced tables (accounts, contacts, goals) and the fx rates are kept for the tables after.
    """

    REFERENCED = {target for spec in TABLES.values() for _, target in spec.references}

    def __init__(self, present: set[str], settings: Settings):
        self.present = set(present)
        self.reporting = (settings.reporting_currency or DEFAULT_REPORTING_CURRENCY).upper()
        self.kept: dict[str, pl.DataFrame] = {}  # key column of the rows kept, for referenced tables
        self.rates: pl.DataFrame | None = None

    @staticmethod
    def empty(table: str) -> pl.DataFrame:
        """The checked frame of a table the export lacks: no rows, warehouse columns."""
        return pl.DataFrame(schema={c: _polars_type(t) for c, t in warehouse_columns(table)})

    def check(self, table: str, staged: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(checked rows in warehouse columns, quarantine rows of this table, unsorted)."""
        columns = [c for c, _ in warehouse_columns(table)]
        typed, parse_fail = parse_table(table, staged)
        failures = [parse_fail, pandera_failures(table, typed)]
        good = _without(typed, pl.concat([f.select(POS) for f in failures]))
        for step in (
            lambda g: _duplicates(table, g),
            lambda g: _references(table, g, self.kept, self.present),
        ):
            step_fail = step(good)
            if step_fail.height:
                failures.append(step_fail)
                good = _without(good, step_fail.select(POS))
        if table == "fx_rates":
            self.rates = rate_table(good, self.reporting)
        else:
            rates = self.rates if self.rates is not None else rate_table(None, self.reporting)
            good, fx_fail = _convert_currency(table, good, rates, self.reporting)
            failures.append(fx_fail)
        all_fail = pl.concat(failures)
        # A cell unreadable at parse time also shows as "required value is empty": keep the first reason only.
        all_fail = all_fail.unique(subset=[POS, "column"], keep="first", maintain_order=True)
        quarantine = _to_quarantine(table, staged, typed, all_fail)
        checked = good.select(columns)
        if table in self.REFERENCED:
            self.kept[table] = checked.select(TABLES[table].key[0])
        return checked, quarantine


def _without(frame: pl.DataFrame, bad: pl.DataFrame) -> pl.DataFrame:
    """The rows of `frame` (sorted by position) whose position is not in `bad`, order kept."""
    if bad.height == 0:
        return frame
    return frame.filter(~pl.col(POS).is_in(bad[POS].unique().implode()))


def _polars_type(duckdb_type: str) -> pl.DataType:
    return {"VARCHAR": pl.String, "DATE": pl.Date, "BOOLEAN": pl.Boolean, "DOUBLE": pl.Float64, "BIGINT": pl.Int64}[
        duckdb_type
    ]
