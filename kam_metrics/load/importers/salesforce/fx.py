"""Salesforce currency rates → fx_rates, and the rate of the wallet estimates the importer converts itself.

fx_rates come from an `fx_rates.csv` in the folder, else from CurrencyType.csv and DatedConversionRate.csv:
Salesforce rates are units of the currency per 1 unit of the corporate currency, so rate =
ConversionRate(reporting) / ConversionRate(currency). A dated rate is re-based with the reporting currency's
rate in force on its StartDate; dated rates replace the static rate of their currency.
Which staged rate applies to an amount is the one rule of kam_metrics/load/currency.py.

The reporting currency itself is chosen before the rates are staged (`reporting_currency`, by the rule of
kam_metrics/load/importers/reporting.py): the setting, else the org's corporate currency (CurrencyType,
IsCorporate = 1), else the only currency of the money-bearing rows (opportunities, line items, wallet
estimates, revenue.csv), else EUR.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from kam_metrics.load.contract import SOURCE_ROW, TABLES
from kam_metrics.load.currency import rate_table, with_rate
from kam_metrics.load.importers.reporting import (
    FIX_MISSING_RATE,
    SOURCE_SETTING,
    choose,
    only_currency,
    valid_code,
)
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
        if r.reporting_source != SOURCE_SETTING:
            r.notes.append(
                f"{user_file.name}: its rates are read as units of {r.reporting} (the reporting currency) per unit "
                "of each currency; set reporting_currency in kam.toml if they are to another currency"
            )
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
        found = corporate_of(static_rows, ctype.name)
        corporate = found[0] if found else None
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
        r.notes.append(f"No fx rates: {reason}; {FIX_MISSING_RATE}")
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


def corporate_of(rows: list[dict], file_name: str) -> tuple[str, str] | None:
    """(code, why) of the org's corporate currency among CurrencyType records: the row with IsCorporate = 1
    (the last one, should there be several), else the only currency with ConversionRate 1; None otherwise.
    Rows without a currency code or a positive rate do not count."""
    flagged: str | None = None
    ones: list[str] = []
    for row in rows:
        code, rate = currency_code(row.get("IsoCode")), to_float(row.get("ConversionRate"))
        if not code or not rate or rate <= 0:
            continue
        if parse_flag(row.get("IsCorporate")):
            flagged = code
        if rate == 1.0 and code not in ones:
            ones.append(code)
    if flagged:
        return flagged, f"the org's corporate currency ({file_name}, IsCorporate = 1)"
    if len(ones) == 1:
        return ones[0], f"the org's corporate currency ({file_name}: its only rate of 1, no IsCorporate flag)"
    return None


#: Objects whose rows carry money, and the field that holds their currency.
_MONEY_OBJECTS = (("Opportunity", "CurrencyIsoCode"), ("OpportunityLineItem", "CurrencyIsoCode"),
                  ("Account", "CurrencyIsoCode"), ("revenue", "currency"))
_TRUE_TEXT = ["1", "true", "yes", "y", "t"]


def export_currencies(r: SalesforceRead) -> tuple[list[str], str]:
    """(the valid currencies of the money-bearing rows, where they come from): non-deleted opportunities and
    line items, accounts with a wallet estimate, rows of a revenue.csv. A row without a currency is in the
    mapping's options.currency, when set."""
    default = valid_code(r.mapping["options"]["currency"])
    codes: set[str | None] = set()
    from_column = False
    for obj, fld in _MONEY_OBJECTS:
        src = r.sources.get(obj)
        if src is None or (obj == "Account" and not src.has("Wallet_Estimate__c")):
            continue
        frame = src.raw.frame
        if src.has("IsDeleted"):
            deleted = pl.col(src.columns["IsDeleted"]).str.strip_chars().str.to_lowercase().is_in(_TRUE_TEXT)
            frame = frame.filter(~deleted.fill_null(False))
        if obj == "Account":
            wallet = pl.col(src.columns["Wallet_Estimate__c"]).str.strip_chars()
            frame = frame.filter(wallet.is_not_null() & (wallet != ""))
        if frame.height == 0:
            continue
        header = src.columns.get(fld)
        if header is None:
            codes.add(default)
            continue
        for value in frame[header].unique().to_list():
            code = currency_code(value)
            if code is None:
                codes.add(default)
            elif valid_code(code):
                codes.add(code)
                from_column = True
    _, found = only_currency(codes)
    origin = "CurrencyIsoCode" if from_column else "the mapping's options.currency"
    return found, origin


def reporting_currency(r: SalesforceRead, settings) -> tuple[str, str]:
    """(reporting currency, why): the setting, else the corporate currency of CurrencyType.csv, else the only
    currency of the money-bearing rows, else EUR (kam_metrics/load/importers/reporting.py)."""
    ctype = r.sources.get("CurrencyType")
    corporate = None
    if ctype is not None and ctype.has("IsoCode") and ctype.has("ConversionRate"):
        corporate = corporate_of(ctype.records(), ctype.name)
    currencies, origin = export_currencies(r) if corporate is None else ([], "")
    return choose(settings, corporate=corporate, currencies=currencies, currency_origin=origin)


def missing_rate_counts(r: SalesforceRead, table: str) -> dict[str, int]:
    """currency → staged rows of `table` in it that no staged fx rate converts to the reporting currency."""
    have = {code for code, _, _ in r.fx} | {r.reporting}
    counts: dict[str, int] = {}
    for row in r.out.staged.get(table, []):
        code = currency_code(row.get("currency"))
        if code and code not in have:
            counts[code] = counts.get(code, 0) + 1
    return counts
