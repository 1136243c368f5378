"""Currency conversion: the one rule for which fx rate applies to an amount (DATA_CONTRACT.md, fx_rates).

`rate` in fx_rates is the number of reporting-currency units for 1 unit of `currency`. The rate in force on
a date is the latest one with `valid_from` ≤ that date, else (a date before every rate, or no date) the
earliest; a rate without `valid_from` holds from the beginning. The reporting currency itself has rate 1;
a currency with no rate has none (null), and the caller rejects its rows.

Used by validation (every money column of every table, kam_metrics/load/validate.py) and by the Salesforce
importer (the wallet estimate it converts itself, kam_metrics/load/importers/salesforce/fx.py).
"""

from __future__ import annotations

import polars as pl

RATE_SCHEMA = {"currency": pl.String, "valid_from": pl.Date, "rate": pl.Float64}
#: valid_from of a rate without one: before every real date.
BEGINNING = pl.date(1, 1, 1)


def rate_table(fx: pl.DataFrame | None, reporting: str) -> pl.DataFrame:
    """fx rates (currency, valid_from, rate) ready for `with_rate`: the reporting currency left out, a
    missing valid_from as the beginning of time, sorted by currency and valid_from."""
    if fx is None or fx.height == 0:
        return pl.DataFrame(schema=RATE_SCHEMA)
    return (
        fx.select("currency", "valid_from", "rate")
        .filter(pl.col("currency") != reporting)
        .with_columns(pl.col("valid_from").fill_null(BEGINNING))
        .sort("currency", "valid_from")
    )


def with_rate(
    frame: pl.DataFrame, rates: pl.DataFrame, reporting: str, *, on: str, key: str, rate: str = "__rate"
) -> pl.DataFrame:
    """`frame` plus a column `rate`: the rate in force on date column `on` for its `currency` (rule above).

    `rates` comes from `rate_table`; `key` is a column that identifies each row of `frame`. 1.0 for the
    reporting currency, null for a currency without any rate. Row order is kept.
    """
    is_foreign = pl.col("currency") != reporting
    if rates.height == 0:
        return frame.with_columns(pl.when(is_foreign).then(None).otherwise(pl.lit(1.0)).cast(pl.Float64).alias(rate))
    keys = list(dict.fromkeys([key, "currency"]))
    foreign = frame.filter(is_foreign).select(*keys, pl.col(on).alias("__d")).sort("__d")
    back = foreign.join_asof(
        rates.rename({"valid_from": "__d"}), on="__d", by="currency", strategy="backward", check_sortedness=False
    ).select(key, pl.col("rate").alias("__rate_back"))
    earliest = rates.group_by("currency").agg(pl.col("rate").sort_by("valid_from").first().alias("__rate_first"))
    return (
        frame.join(back, on=key, how="left")
        .join(earliest, on="currency", how="left")
        .with_columns(
            pl.when(is_foreign).then(pl.coalesce("__rate_back", "__rate_first")).otherwise(pl.lit(1.0)).alias(rate)
        )
        .drop("__rate_back", "__rate_first")
    )
