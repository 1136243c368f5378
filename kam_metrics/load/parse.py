"""Text → typed columns by the contract's rules, recording every cell that cannot be read.

`parse_table(table, staged)` returns the typed frame (contract columns in contract order, plus the
provenance columns) and a frame of parse failures (row position, column, value, reason). Columns an
importer already typed (pl.Date, pl.Boolean, …) pass through. All work is vectorised Polars.
"""

from __future__ import annotations

import polars as pl

from kam_metrics.load.contract import BOOL, DATE, ENUM, FLOAT, INT, SOURCE_FILE, SOURCE_ROW, STRING, TABLES, Column

TRUE_WORDS = ("true", "1", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "no", "n", "f")

FAILURE_SCHEMA = {"_pos": pl.UInt32, "column": pl.String, "value": pl.String, "reason": pl.String}
POS = "_pos"

# Datetime forms of the contract: ISO with Z or a numeric offset (converted to UTC), and naive ones (taken as UTC).
_TZ_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S",
                  "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


def date_expr(text: pl.Expr) -> pl.Expr:
    """YYYY-MM-DD or an ISO datetime (Z/offset converted to UTC) → Date; null when unreadable."""
    t = text.str.strip_chars()
    date_only = t.str.to_date("%Y-%m-%d", strict=False)
    # Offsets "+0000"/"+00:00" and "Z": normalise Z so one %z format reads them all.
    tz = t.str.replace(r"Z$", "+0000")
    with_tz = [tz.str.to_datetime(f, strict=False, time_zone="UTC").dt.replace_time_zone(None) for f in _TZ_FORMATS]
    naive = [t.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE_FORMATS]
    return pl.coalesce(
        date_only,
        *[e.cast(pl.Datetime("us")).dt.date() for e in with_tz],
        *[e.dt.date() for e in naive],
    )


def bool_expr(text: pl.Expr) -> pl.Expr:
    t = text.str.strip_chars().str.to_lowercase()
    return pl.when(t.is_in(TRUE_WORDS)).then(True).when(t.is_in(FALSE_WORDS)).then(False).otherwise(None)


def float_expr(text: pl.Expr) -> pl.Expr:
    value = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value).otherwise(None)


def _empty(text: pl.Expr) -> pl.Expr:
    return text.is_null() | (text.str.strip_chars() == "")


def _typed(col: Column, src: pl.Expr, dtype: pl.DataType, clean: bool = False) -> tuple[pl.Expr, pl.Expr, str]:
    """(typed value, failure flag, reason) for one column whose source is `src` of dtype `dtype`.

    `clean`: the text column has no empty cell and no cell with leading or trailing whitespace, so
    trimming would change nothing: text is taken as it is (no copy of its strings), numbers parsed as written.
    """
    if col.type in (STRING, ENUM):
        if clean:
            text = src
        else:
            text = src.cast(pl.String).str.strip_chars()
            text = pl.when(text == "").then(None).otherwise(text)
        if col.type == STRING:
            value = text if col.default is None else text.fill_null(pl.lit(col.default))
            return value, pl.lit(False), ""
        norm = text.str.to_lowercase()
        known = norm.is_in(col.enum)
        if col.fallback is not None:
            value = pl.when(known).then(norm).otherwise(pl.lit(col.fallback))
            return value, pl.lit(False), ""
        return (
            pl.when(known).then(norm).otherwise(None),
            text.is_not_null() & ~known,
            f"not one of: {', '.join(col.enum)}",
        )
    if col.type == DATE:
        if dtype == pl.Date:
            return src, pl.lit(False), ""
        if isinstance(dtype, pl.Datetime):
            value = src.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else src
            return value.dt.date(), pl.lit(False), ""
        value = date_expr(src.cast(pl.String))
        return value, ~_empty(src.cast(pl.String)) & value.is_null(), "not a date (expected YYYY-MM-DD or an ISO datetime)"
    if col.type == BOOL:
        if dtype == pl.Boolean:
            value = src
            flag = pl.lit(False)
        else:
            text = src.cast(pl.String)
            value = bool_expr(text)
            flag = ~_empty(text) & value.is_null()
        if col.default is not None:
            value = value.fill_null(pl.lit(col.default))
        return value, flag, "not a yes/no value (expected true/false, 1/0, yes/no or y/n)"
    if col.type in (FLOAT, INT):
        if dtype.is_numeric():
            value = src.cast(pl.Float64)
            flag = pl.lit(False)
        elif clean:  # nothing to trim: read the text as it is
            text = src.cast(pl.String)
            number = text.cast(pl.Float64, strict=False)
            value = pl.when(number.is_finite()).then(number).otherwise(None)
            flag = text.is_not_null() & value.is_null()
        else:
            text = src.cast(pl.String)
            value = float_expr(text)
            flag = ~_empty(text) & value.is_null()
        if col.default is not None:
            value = value.fill_null(pl.lit(float(col.default)))
        if col.type == FLOAT:
            return value, flag, "not a number"
        whole = value.is_null() | (value == value.round(0))
        return (
            pl.when(whole).then(value).otherwise(None).cast(pl.Int64),
            flag | ~whole,
            "not a whole number",
        )
    raise ValueError(f"unknown column type {col.type}")  # pragma: no cover


_DATE_REASON = "not a date (expected YYYY-MM-DD or an ISO datetime)"


def _date_text_columns(spec, frame: pl.DataFrame) -> list[str]:
    return [c.name for c in spec.columns if c.type == DATE and c.name in frame.columns
            and frame.schema[c.name] == pl.String]


def _clean_text_columns(spec, frame: pl.DataFrame) -> set[str]:
    """Text columns (string, enum, number) with no empty cell and no cell needing a trim (one cheap scan)."""
    names = [c.name for c in spec.columns if c.type in (STRING, ENUM, FLOAT, INT) and c.name in frame.columns
             and frame.schema[c.name] == pl.String]
    if not names or frame.height == 0:
        return set()
    dirty = frame.select([
        (pl.col(n).str.len_bytes().eq(0) | pl.col(n).str.contains(r"^\s|\s$")).any().alias(n) for n in names
    ]).row(0)
    return {n for n, is_dirty in zip(names, dirty) if not is_dirty}


def _slow_dates(frame: pl.DataFrame, typed: pl.DataFrame, name: str) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Re-read with every contract form the cells the YYYY-MM-DD fast path left null; failures of the column."""
    candidates = frame.filter(typed[name].is_null() & frame[name].is_not_null()).select(POS, name)
    if candidates.height == 0:
        return typed, None
    slow = candidates.with_columns(date_expr(pl.col(name)).alias("__date"))
    typed = typed.with_columns(typed[name].scatter(slow[POS], slow["__date"]))
    bad = slow.filter(pl.col("__date").is_null() & ~_empty(pl.col(name)))
    if bad.height == 0:
        return typed, None
    return typed, bad.select(POS, pl.col(name).alias("value"), pl.lit(name).alias("column"),
                             pl.lit(_DATE_REASON).alias("reason")).select(list(FAILURE_SCHEMA))


def parse_table(table: str, staged: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed frame (row order kept) and parse failures (`_pos` = row position in `staged`)."""
    spec = TABLES[table]
    frame = staged.with_row_index(POS)
    typed_exprs: list[pl.Expr] = [pl.col(POS)]
    failure_frames: list[pl.DataFrame] = []
    checks = []
    # Text dates: YYYY-MM-DD first over the whole column (fast); the other forms only where it failed.
    date_columns = _date_text_columns(spec, frame)
    clean = _clean_text_columns(spec, frame)
    for col in spec.columns:
        if col.name in date_columns:
            typed_exprs.append(pl.col(col.name).str.to_date("%Y-%m-%d", strict=False).alias(col.name))
            checks.append((col.name, None, _DATE_REASON))
            continue
        if col.name in frame.columns:
            src = pl.col(col.name)
            dtype = frame.schema[col.name]
        else:
            src = pl.lit(None, dtype=pl.String)
            dtype = pl.String
        value, flag, reason = _typed(col, src, dtype, clean=col.name in clean)
        typed_exprs.append(value.alias(col.name))
        if reason and col.name in frame.columns:
            checks.append((col.name, flag, reason))
    for name in (SOURCE_FILE, SOURCE_ROW):
        if name in frame.columns:
            typed_exprs.append(pl.col(name))
    # Values and failure flags in one pass, so their common subexpressions are computed once.
    flag_exprs = [flag.alias(f"__bad_{name}") for name, flag, _ in checks if flag is not None]
    both = frame.select(typed_exprs + flag_exprs)
    flags = both.select([pl.col(POS)] + [pl.col(f"__bad_{name}") for name, flag, _ in checks if flag is not None])
    typed = both.drop([f"__bad_{name}" for name, flag, _ in checks if flag is not None])
    del both
    date_failures: dict[str, pl.DataFrame | None] = {}
    for name in date_columns:
        typed, date_failures[name] = _slow_dates(frame, typed, name)
    if checks:
        for name, flag, reason in checks:
            if flag is None:  # a text date column: failures found by _slow_dates
                if date_failures.get(name) is not None:
                    failure_frames.append(date_failures[name])
                continue
            if not flags[f"__bad_{name}"].any():
                continue
            bad = flags.filter(pl.col(f"__bad_{name}"))
            if bad.height:
                values = frame.select(POS, pl.col(name).cast(pl.String).alias("value")).join(
                    bad.select(POS), on=POS, how="semi"
                )
                failure_frames.append(
                    values.with_columns(pl.lit(name).alias("column"), pl.lit(reason).alias("reason")).select(
                        list(FAILURE_SCHEMA)
                    )
                )
    failures = (
        pl.concat(failure_frames) if failure_frames else pl.DataFrame(schema=FAILURE_SCHEMA)
    ).cast(FAILURE_SCHEMA)
    if SOURCE_FILE not in typed.columns:
        typed = typed.with_columns(pl.lit(None, dtype=pl.String).alias(SOURCE_FILE))
    if SOURCE_ROW not in typed.columns:
        typed = typed.with_columns((pl.col(POS).cast(pl.Int64) + 1).alias(SOURCE_ROW))
    return typed, failures
