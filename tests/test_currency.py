"""The one currency-conversion rule (kam_metrics/load/currency.py), on hand-built rates.

Reporting currency EUR. Rates (EUR per unit):
  USD: 0.90 from the beginning (no valid_from), 0.80 from 2024-01-01, 0.85 from 2024-07-01
  SEK: 0.10 from 2024-03-01, 0.09 from 2024-06-01 (no undated rate)
  EUR: 2.0 (the reporting currency itself: ignored, EUR is always 1)
Expected rates worked out by hand from "the latest rate with valid_from ≤ the date, else the earliest".
"""

from datetime import date

import polars as pl
import pytest

from kam_metrics.load.currency import rate_table, with_rate
from kam_metrics.load.validate import TableChecker
from kam_metrics.settings import Settings

FX = pl.DataFrame(
    {
        "currency": ["USD", "USD", "USD", "SEK", "SEK", "EUR"],
        "valid_from": [None, date(2024, 1, 1), date(2024, 7, 1), date(2024, 3, 1), date(2024, 6, 1), None],
        "rate": [0.90, 0.80, 0.85, 0.10, 0.09, 2.0],
    },
    schema={"currency": pl.String, "valid_from": pl.Date, "rate": pl.Float64},
)

CASES = [
    # (row, currency, date, expected rate)
    (1, "USD", date(2023, 6, 1), 0.90),   # before the dated rates: the undated one holds from the beginning
    (2, "USD", date(2024, 1, 1), 0.80),   # on a valid_from day: that rate
    (3, "USD", date(2024, 6, 30), 0.80),  # between two dated rates: the earlier one
    (4, "USD", date(2025, 1, 1), 0.85),   # after the last: the last
    (5, "SEK", date(2024, 1, 15), 0.10),  # before the first SEK rate, none undated: the earliest
    (6, "SEK", date(2024, 6, 1), 0.09),
    (7, "SEK", None, 0.10),               # no date: the earliest
    (8, "EUR", date(2024, 6, 1), 1.0),    # the reporting currency: 1, not the 2.0 in the file
    (9, "NOK", date(2024, 6, 1), None),   # no rate at all: null (the caller rejects the row)
]


def _frame():
    return pl.DataFrame(
        {"row": [c[0] for c in CASES], "currency": [c[1] for c in CASES], "on": [c[2] for c in CASES]},
        schema={"row": pl.Int64, "currency": pl.String, "on": pl.Date},
    )


def test_rate_table_drops_the_reporting_currency_and_dates_undated_rates_from_the_beginning():
    table = rate_table(FX, "EUR")
    assert table["currency"].to_list() == ["SEK", "SEK", "USD", "USD", "USD"]
    assert table["valid_from"].to_list() == [
        date(2024, 3, 1), date(2024, 6, 1), date(1, 1, 1), date(2024, 1, 1), date(2024, 7, 1)
    ]
    assert rate_table(None, "EUR").height == 0


def test_rate_in_force_by_hand():
    out = with_rate(_frame(), rate_table(FX, "EUR"), "EUR", on="on", key="row")
    assert out["row"].to_list() == [c[0] for c in CASES]  # order kept
    assert out.columns == ["row", "currency", "on", "__rate"]
    for (row, currency, on, expected), got in zip(CASES, out["__rate"].to_list()):
        assert got == (pytest.approx(expected) if expected is not None else None), (row, currency, on)


def test_without_any_rate_only_the_reporting_currency_converts():
    out = with_rate(_frame(), rate_table(None, "EUR"), "EUR", on="on", key="row")
    assert out["__rate"].to_list() == [None] * 7 + [1.0, None]


def test_validation_converts_money_with_the_same_rule():
    """The revenue table through TableChecker: amount × the rate in force on revenue_date."""
    checker = TableChecker({"accounts", "fx_rates", "revenue"}, Settings(reporting_currency="EUR"))
    checker.check("accounts", pl.DataFrame({"account_id": ["A"], "account_name": ["Acme"], "is_key_account": ["true"]}))
    checker.check("fx_rates", FX.with_columns(pl.col("valid_from").cast(pl.String), pl.col("rate").cast(pl.String)))
    revenue = pl.DataFrame({
        "revenue_id": ["r1", "r2", "r3", "r4"],
        "account_id": ["A"] * 4,
        "revenue_date": ["2023-06-01", "2024-06-30", "2024-06-01", "2024-06-01"],
        "amount": ["100", "100", "50", "10"],
        "currency": ["USD", "usd", "EUR", "NOK"],
    })
    checked, quarantine = checker.check("revenue", revenue)
    assert checked["revenue_id"].to_list() == ["r1", "r2", "r3"]
    assert checked["amount"].to_list() == pytest.approx([90.0, 80.0, 50.0])  # 100×0.90, 100×0.80, 50×1
    assert checked["amount_original"].to_list() == pytest.approx([100.0, 100.0, 50.0])
    assert quarantine["reason"].to_list() == ["no fx rate from NOK to the reporting currency EUR: add it to fx_rates.csv or set reporting_currency in kam.toml"]
