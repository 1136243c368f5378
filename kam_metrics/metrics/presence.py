"""What the loaded export carried: the tables and columns the figures may use (METRICS.md "Data that is not there").

A table is absent when its file was missing or had no data rows; a column is absent when the export did not carry
it. A figure built on something absent is null ("—" on screen, with the file or column that would turn it on),
never zero. The load records what was carried in the snapshot's `export_columns` table; a snapshot written before
that table existed falls back to its present tables, each with every contract column.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kam_metrics.load.contract import TABLE_ORDER, TABLES
from kam_metrics.load.warehouse import snapshot_info, table_exists


@dataclass(frozen=True)
class Presence:
    """The tables and (table, column) pairs an export carried."""

    tables: frozenset[str]
    columns: frozenset[tuple[str, str]]

    def has(self, table: str, column: str | None = None) -> bool:
        """Whether the export carried `table` (with data rows) and, when given, its `column`."""
        if column is None:
            return table in self.tables
        return (table, column) in self.columns

    def missing(self, table: str, column: str | None = None) -> str | None:
        """What would turn a figure on: "reviews.csv" or "accounts.executive_sponsor"; None when present."""
        if table not in self.tables:
            return f"{table}.csv"
        if column is not None and (table, column) not in self.columns:
            return f"{table}.{column}"
        return None

    @classmethod
    def everything(cls) -> "Presence":
        """Every contract table and column (hand-built frames in tests, and metrics computed without a snapshot)."""
        return cls(frozenset(TABLE_ORDER), frozenset((t, c.name) for t in TABLE_ORDER for c in TABLES[t].columns))


def presence(con: duckdb.DuckDBPyConnection) -> Presence:
    """The tables and columns the snapshot's export carried."""
    if table_exists(con, "export_columns"):
        pairs = con.sql("SELECT table_name, column_name FROM export_columns").fetchall()
        return Presence(frozenset(t for t, _ in pairs), frozenset(pairs))
    tables = _present_tables_without_columns(con)
    return Presence(tables, frozenset((t, c.name) for t in tables for c in TABLES[t].columns))


def _present_tables_without_columns(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    info = snapshot_info(con)
    if info.get("present_tables") is not None:
        return frozenset(t for t in info["present_tables"].split(",") if t)
    present = set()
    for table in TABLE_ORDER:
        if table_exists(con, table) and con.sql(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] > 0:
            present.add(table)
    return frozenset(present)
