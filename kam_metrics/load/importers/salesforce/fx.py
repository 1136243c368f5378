"""Salesforce currency rates → fx_rates, and the rate of the wallet estimates the importer converts itself.

fx_rates come from an `fx_rates.csv` in the folder, else from CurrencyType.csv and DatedConversionRate.csv:
Salesforce rates are units of the currency per 1 unit of the corporate currency, so rate =
ConversionRate(reporting) / ConversionRate(currency). A dated rate is re-based with the reporting currency's
rate in force on its StartDate; dated rates replace the static rate of their currency.
Which staged rate applies to an amount is the one rule of kam_metrics/load/currency.py.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from kam_metrics.load.contract import SOURCE_ROW, TABLES
from kam_metrics.load.currency import rate_table, with_rate
from kam_metrics.load.importers.salesforce.context import SalesforceRead
from kam_metrics.load.importers.salesforce.source import Source
from kam_metrics.load.importers.salesforce.values import (
    currency_code,
    fmt_float,
    iso_date,
    parse_date,
    parse_flag,
    to_float,
)


def stage_fx_rates(r: SalesforceRead) -> list[tuple[str, float, date | None]]:
    """Stage fx_rates; returns (currency, rate, valid_from) for conversions made here (wallet)."""
    user_file = r.sources.get("fx_rates")
    ctype = r.sources.get("CurrencyType")
    dated = r.sources.get("DatedConversionRate")
    rates: list[tuple[str, float, date | None]] = []
    if user_file is not None:
        r.malformed(user_file, "fx_rates")
        for row in user_file.records():
            values = {c: row.get(c) for c in TABLES["fx_rates"].column_names}
            values["currency"] = currency_code(values["currency"])
            values["valid_from"] = iso_date(values["valid_from"])
            r.stage("fx_rates", user_file.name, row[SOURCE_ROW], values)
            rate = to_float(values["rate"])
            if values["currency"] and rate and rate > 0:
                rates.append((values["currency"], rate, parse_date(values["valid_from"])))
        for other in (ctype, dated):
            if other is not None:
                r.malformed(other, "fx_rates")
                for row in other.records():
                    r.out.skip("fx_rates", other.name, row[SOURCE_ROW],
                               f"{user_file.name} given: its rates are used")
        r.notes.append(f"fx rates from {user_file.name}")
        return rates
    if ctype is None and dated is None:
        return rates

    R = r.reporting
    static: dict[str, tuple[float, int]] = {}
    static_rows: list[dict] = []
    corporate: str | None = None
    if ctype is not None:
        ctype.require("IsoCode", purpose="fx_rates.currency")
        ctype.require("ConversionRate", purpose="fx_rates.rate")
        r.malformed(ctype, "fx_rates")
        static_rows = ctype.records()
        for row in static_rows:
            code, rate = currency_code(row.get("IsoCode")), to_float(row.get("ConversionRate"))
            if code and rate and rate > 0:
                static[code] = (rate, row[SOURCE_ROW])
                if parse_flag(row.get("IsCorporate")):
                    corporate = code
        if corporate is None:
            ones = [c for c, (r, _) in static.items() if r == 1.0]
            corporate = ones[0] if len(ones) == 1 else None
    dated_rows: list[dict] = []
    by_currency: dict[str, list[tuple[date, float]]] = {}
    if dated is not None:
        dated.require("IsoCode", purpose="fx_rates.currency")
        dated.require("ConversionRate", purpose="fx_rates.rate")
        dated.require("StartDate", purpose="fx_rates.valid_from")
        r.malformed(dated, "fx_rates")
        dated_rows = dated.records()
        for row in dated_rows:
            code, rate, start = (currency_code(row.get("IsoCode")), to_float(row.get("ConversionRate")),
                                 parse_date(row.get("StartDate")))
            if code and rate and rate > 0 and start:
                by_currency.setdefault(code, []).append((start, rate))
        for periods in by_currency.values():
            periods.sort()

    def reporting_rate(on: date | None) -> float | None:
        """ConversionRate of the reporting currency (units per corporate unit) in force on a date."""
        if R == corporate:
            return 1.0
        periods = by_currency.get(R)
        if periods and on is not None:
            in_force = [r for d, r in periods if d <= on]
            return in_force[-1] if in_force else periods[0][1]
        if R in static:
            return static[R][0]
        if periods:
            return periods[-1][1]
        return None

    r_has_dated = R in by_currency and R != corporate
    if reporting_rate(None) is None and not r_has_dated:
        reason = (f"the reporting currency {R} is not in {ctype.name if ctype else 'CurrencyType.csv'}"
                  f"{' or ' + dated.name if dated else ''}, so Salesforce rates cannot be converted to it")
        for src, rows in ((ctype, static_rows), (dated, dated_rows)):
            for row in rows:
                r.out.reject("fx_rates", src.name, row[SOURCE_ROW], "IsoCode", row.get("_raw_IsoCode"),
                             reason)
        r.notes.append(f"No fx rates: {reason}")
        return rates

    def add(src: Source, row: dict, code: str, rate: float, valid_from: date | None) -> None:
        if valid_from is not None and valid_from.year < 1900:
            valid_from = date(1900, 1, 1)  # Salesforce's first period starts 0001-01-01
        values = {"currency": code, "rate": fmt_float(rate),
                  "valid_from": valid_from.isoformat() if valid_from else None}
        r.stage("fx_rates", src.name, row[SOURCE_ROW], values)
        rates.append((code, rate, valid_from))

    for row in static_rows:
        code, rate = currency_code(row.get("IsoCode")), to_float(row.get("ConversionRate"))
        src_row = row[SOURCE_ROW]
        if not code or rate is None or rate <= 0:
            r.out.reject("fx_rates", ctype.name, src_row, "ConversionRate", row.get("_raw_ConversionRate"),
                         "not a positive number" if code else "IsoCode is empty")
        elif code == R:
            r.out.skip("fx_rates", ctype.name, src_row, f"the reporting currency {R} itself (rate 1)")
        elif code in by_currency:
            r.out.skip("fx_rates", ctype.name, src_row,
                       f"dated rates for {code} in {dated.name} are used instead")
        elif code == corporate and r_has_dated:
            r.out.skip("fx_rates", ctype.name, src_row,
                       f"the corporate currency's rate comes from the dated rates of {R} in {dated.name}")
        else:
            add(ctype, row, code, reporting_rate(None) / rate, None)
    for row in dated_rows:
        code, rate, start = (currency_code(row.get("IsoCode")), to_float(row.get("ConversionRate")),
                             parse_date(row.get("StartDate")))
        src_row = row[SOURCE_ROW]
        if not code:
            r.out.reject("fx_rates", dated.name, src_row, "IsoCode", row.get("_raw_IsoCode"), "IsoCode is empty")
        elif rate is None or rate <= 0:
            r.out.reject("fx_rates", dated.name, src_row, "ConversionRate", row.get("_raw_ConversionRate"),
                         "not a positive number")
        elif start is None:
            r.out.reject("fx_rates", dated.name, src_row, "StartDate", row.get("_raw_StartDate"),
                         "not a date")
        elif code == R and R == corporate:
            r.out.skip("fx_rates", dated.name, src_row, f"the reporting currency {R} itself (rate 1)")
        elif code == R:
            if corporate:
                # units of R per corporate unit: the corporate currency's rate from this date on
                add(dated, row, corporate, rate, start)
            else:
                r.out.skip("fx_rates", dated.name, src_row,
                           f"the reporting currency {R} itself (no corporate currency known)")
        elif code == corporate:
            r.out.skip("fx_rates", dated.name, src_row, f"the corporate currency {code} is 1 to itself")
        else:
            add(dated, row, code, reporting_rate(start) / rate, start)
    origin = " and ".join(s.name for s in (ctype, dated) if s is not None)
    r.notes.append(
        f"fx rates to {R} from {origin}" + (f" (corporate currency {corporate})" if corporate else "")
    )
    return rates


def rates_on(r: SalesforceRead, on: date | None) -> dict[str, float]:
    """currency → the staged fx rate in force on `on` (currency.py's rule; no date: the latest rate).
    The reporting currency and currencies without a rate are not in the result."""
    fx = pl.DataFrame(r.fx, schema={"currency": pl.String, "rate": pl.Float64, "valid_from": pl.Date}, orient="row")
    rates = rate_table(fx, r.reporting)
    if rates.height == 0:
        return {}
    day = pl.DataFrame({"currency": rates["currency"].unique(), "on": on or date.max},
                       schema={"currency": pl.String, "on": pl.Date})
    found = with_rate(day, rates, r.reporting, on="on", key="currency")
    return dict(zip(found["currency"].to_list(), found["__rate"].to_list()))
