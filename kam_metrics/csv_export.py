"""CSV exports that are safe to open in a spreadsheet (no formula injection)."""

from __future__ import annotations

import polars as pl

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = r"^[-+]?[0-9]+(\.[0-9]+)?$"  # "-3" cannot be a formula and stays as written


def csv_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe; numbers stay numbers."""
    text_cols = [c for c, t in frame.schema.items() if t == pl.String]
    if not text_cols:
        return frame
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


def to_safe_csv(frame: pl.DataFrame) -> str:
    return csv_safe_frame(frame).write_csv()
