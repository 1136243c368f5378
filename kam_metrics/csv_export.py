"""CSV exports that are safe to open in a spreadsheet (no formula injection): the one rule, two forms.

A text cell starting with =, +, -, @, tab or CR would be run as a formula by a spreadsheet, so it
gets a leading apostrophe; a cell that is just a signed number ("-3") cannot be a formula and stays
as written. `csv_safe_cell` applies the rule to one value (the app's downloads), `csv_safe_frame`
to every text column of a frame at once (the CLI's exports).
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = r"^[-+]?[0-9]+(\.[0-9]+)?$"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def csv_safe_cell(value: Any) -> Any:
    """One cell for a CSV export: formula-like text gets a leading apostrophe; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def csv_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of a frame with csv_safe_cell's rule applied; numbers stay numbers."""
    text_cols = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        [
            pl.when(
                pl.any_horizontal([pl.col(c).str.starts_with(p) for p in FORMULA_PREFIXES])
                & ~pl.col(c).str.contains(PLAIN_NUMBER)
            )
            .then(pl.lit("'") + pl.col(c))
            .otherwise(pl.col(c))
            .alias(c)
            for c in text_cols
        ]
    )
