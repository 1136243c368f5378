"""The load report's quarantine reasons: source rows counted per (table, column, reason), each said in words.

A row with two empty required cells is one row under each of the two reasons, never two rows under one; the
reason names the column ("2,089 rows: opportunities.close_date is empty"), a row rule the columns it concerns
("opportunities.is_won/is_closed: is_won is true but is_closed is false"), and a problem of the whole source row
(a line the CSV reader could not split) says "whole row". Quoted values and row numbers are folded, so
"unknown account_id 'A7'" and "unknown account_id 'A9'" count as one reason.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import polars as pl

from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW, TABLES

#: (table, reason of a row rule) → the columns the rule reads, the one the quarantine names first.
_ROW_RULE_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    (spec.name, rule.reason): tuple(dict.fromkeys([rule.column, *rule.holds.meta.root_names()]))
    for spec in TABLES.values()
    for rule in spec.row_rules
}
_UNKNOWN = re.compile(r"unknown \S+ '…' \(not in (\w+)\)")
_DUPLICATE = re.compile(r"duplicate (.+?) '…' \(first at row …\)")


class ReasonRows(NamedTuple):
    """How many distinct source rows of `table` failed with `reason` (folded) on `column` (None: the whole row)."""

    table: str
    column: str | None
    reason: str
    rows: int

    def text(self, *, with_table: bool = True) -> str:
        """The reason in words, naming the column: "opportunities.close_date is empty" (or, without the table,
        "close_date is empty")."""
        return describe(self.table, self.column, self.reason, with_table=with_table)

    def line(self) -> str:
        """The load report's line: "2,089 rows: opportunities.close_date is empty"."""
        return f"{self.rows:,} {'row' if self.rows == 1 else 'rows'}: {self.text()}"


def folded(reason: pl.Expr) -> pl.Expr:
    """The reason with quoted values and row numbers folded to "…", so one kind of problem is one reason."""
    return reason.str.replace_all(r"'[^']*'", "'…'").str.replace_all(r"row \d+", "row …")


def reason_rows(quarantine: pl.DataFrame) -> list[ReasonRows]:
    """Distinct source rows per (table, column, folded reason), most rows first (then table, column, reason)."""
    if quarantine.is_empty():
        return []
    counted = (
        quarantine.select("table", "column", folded(pl.col("reason")), SOURCE_FILE, SOURCE_ROW)
        .unique()
        .group_by("table", "column", "reason")
        .len("rows")
        .sort(["rows", "table", "column", "reason"], descending=[True, False, False, False], nulls_last=True)
    )
    return [ReasonRows(t, c, r, n) for t, c, r, n in counted.select("table", "column", "reason", "rows").iter_rows()]


def describe(table: str, column: str | None, reason: str, *, with_table: bool = True) -> str:
    """One (folded) reason in words, naming the column or columns it is about, or "whole row"."""
    rule_columns = _ROW_RULE_COLUMNS.get((table, reason))
    duplicate = _DUPLICATE.fullmatch(reason)
    if rule_columns:
        label = "/".join(rule_columns)
    elif duplicate:
        label = duplicate.group(1)  # the whole key, "account_id + year + product_line"
    else:
        label = column
    if label is None:
        return f"{table}, whole row: {reason}" if with_table else f"whole row: {reason}"
    subject = f"{table}.{label}" if with_table else label
    if rule_columns:
        return f"{subject}: {reason}"
    if duplicate:
        return f"{subject} repeats an earlier row"
    if reason == "required value is empty":
        return f"{subject} is empty"
    if (unknown := _UNKNOWN.fullmatch(reason)) is not None:
        return f"{subject}: unknown {label} (not in {unknown.group(1)})"
    if reason.startswith(("not ", "out of range")):
        return f"{subject} is {reason}"
    if reason.startswith(f"{label} "):  # an importer's own wording, e.g. "IsoCode is empty"
        return f"{table}.{reason}" if with_table else reason
    return f"{subject}: {reason}"
