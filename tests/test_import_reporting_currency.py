"""The export's own reporting currency (CRM_FORMATS.md, "What real exports taught us": Reporting currency).

Fixture tests/fixtures/salesforce-usd-corporate/ (see its README): a weekly-export-style Salesforce org whose
corporate currency is USD. CurrencyType: USD 1 (IsCorporate = 1), EUR 0.9 and MXN 20 units per 1 USD.
Salesforce rates are units per corporate unit, so a rate into reporting currency R is
ConversionRate(R) / ConversionRate(currency):
- reporting USD: EUR 1 / 0.9, MXN 1 / 20 = 0.05;
- reporting EUR: USD 0.9 / 1 = 0.9, MXN 0.9 / 20 = 0.045.
Closed-won opportunities: 006…31 120,000 USD; 006…32 30,000.50 USD; 006…33 500,000 MXN.
- in USD: 120,000 + 30,000.50 + 500,000 × 0.05 (= 25,000) = 175,000.50;
- in EUR: 120,000 × 0.9 (= 108,000) + 30,000.50 × 0.9 (= 27,000.45) + 500,000 × 0.045 (= 22,500) = 157,500.45.
Wallet estimates: Acme 500,000 USD → 500,000 USD / 450,000 EUR; Minera 2,000,000 MXN → 100,000 USD / 90,000 EUR.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from kam_metrics.load.contract import TABLE_ORDER
from kam_metrics.load.importers import get_importer
from kam_metrics.load.importers.reporting import choose, currency_setting, only_currency
from kam_metrics.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
USD_ORG = FIXTURES / "salesforce-usd-corporate"
HUBSPOT_CUSTOM = FIXTURES / "hubspot-custom-stages"
FIX = "set reporting_currency in kam.toml or add fx_rates.csv"

A_ACME, A_MINERA, A_NORDWIND = "001000000000031AAA", "001000000000032AAA", "001000000000033AAA"
WON = {"006000000000031AAA": 120000.0, "006000000000032AAA": 30000.5, "006000000000033AAA": 500000.0}


def unset() -> Settings:
    """Settings with no reporting currency set (issue 12 makes None the default)."""
    return Settings(reporting_currency=None)


def checked(result, reporting: str) -> dict[str, pl.DataFrame]:
    """The importer's staged tables through validation, converting to `reporting` (as the load does with
    result.reporting_currency): table → checked rows."""
    from kam_metrics.load.validate import TableChecker

    checker = TableChecker(set(result.tables), Settings(reporting_currency=reporting))
    out = {}
    for table in TABLE_ORDER:
        if table in result.tables:
            good, quarantine = checker.check(table, result.tables[table])
            assert quarantine.height == 0, (table, quarantine.rows())
            out[table] = good
    return out


def revenue_by_id(frame: pl.DataFrame) -> dict[str, tuple[float, float, str]]:
    return {rid: (round(a, 6), o, c) for rid, a, o, c in
            frame.select("revenue_id", "amount", "amount_original", "currency").iter_rows()}


# --------------------------------------------------------------------------------------------------
# The rule


def test_the_setting_is_set_only_when_it_is_a_non_empty_string():
    assert currency_setting(Settings(reporting_currency="usd")) == "USD"
    assert currency_setting(Settings(reporting_currency=None)) is None
    assert currency_setting(Settings(reporting_currency=" ")) is None
    assert currency_setting(SimpleNamespace()) is None  # an object without the attribute
    assert currency_setting(None) is None


def test_choose_setting_then_corporate_then_the_only_currency_then_eur():
    corporate = ("USD", "the org's corporate currency (x)")
    assert choose(Settings(reporting_currency="EUR"), corporate=corporate) == ("EUR", "setting reporting_currency")
    assert choose(None, corporate=corporate, currencies=["MXN"]) == corporate
    assert choose(None, currencies=["MXN"], currency_origin="CurrencyIsoCode") == (
        "MXN", "the only currency in the export (CurrencyIsoCode)")
    code, why = choose(None, currencies=["EUR", "USD"])
    assert code == "EUR" and "several currencies (EUR, USD)" in why and "reporting_currency" in why
    assert choose(None) == ("EUR", "the default, as the export names no currency")


def test_only_currency_ignores_empty_and_invalid_codes():
    assert only_currency(["usd", " USD ", None, "", "000"]) == ("USD", ["USD"])
    assert only_currency(["USD", "MXN", "US"]) == (None, ["MXN", "USD"])


# --------------------------------------------------------------------------------------------------
# Salesforce: an org whose corporate currency is USD


def test_fixture_is_a_weekly_export_windows_1252_every_field_quoted():
    data = (USD_ORG / "Account.csv").read_bytes()
    assert "Compañía".encode("cp1252") in data and b"\r\n" not in data
    assert all(line.startswith(b'"') and line.endswith(b'"') for line in data.splitlines())


def test_without_the_setting_the_corporate_currency_is_the_reporting_currency():
    result = get_importer("salesforce").read(USD_ORG, settings=unset())
    assert result.reporting_currency == "USD"
    assert result.reporting_currency_source == "the org's corporate currency (CurrencyType.csv, IsCorporate = 1)"
    assert "reporting currency USD: the org's corporate currency (CurrencyType.csv, IsCorporate = 1)" in result.notes
    # Rates re-based to USD: EUR 1/0.9, MXN 1/20; USD itself is rate 1 and not staged.
    fx = {c: round(float(r), 10) for c, r in result.tables["fx_rates"].select("currency", "rate").iter_rows()}
    assert fx == {"EUR": round(1 / 0.9, 10), "MXN": 0.05}
    # Wallet estimates converted by the importer itself: 500,000 USD; 2,000,000 MXN × 0.05 = 100,000.
    wallet = {a: round(float(w), 6) for a, w in result.tables["wallet"].select("account_id", "wallet_amount").iter_rows()}
    assert wallet == {A_ACME: 500000.0, A_MINERA: 100000.0}
    assert result.quarantine.is_empty()
    assert not any("without an fx rate" in n for n in result.notes)

    tables = checked(result, result.reporting_currency)
    assert revenue_by_id(tables["revenue"]) == {
        "006000000000031AAA": (120000.0, 120000.0, "USD"),
        "006000000000032AAA": (30000.5, 30000.5, "USD"),
        "006000000000033AAA": (25000.0, 500000.0, "MXN"),  # 500,000 MXN × 0.05
    }
    assert round(tables["revenue"]["amount"].sum(), 6) == 175000.5
    # Open and lost opportunities and the deleted duplicate are not revenue, each by its rule.
    rules = dict(result.skipped.filter(pl.col("table") == "revenue").select("_source_row", "rule").iter_rows())
    assert rules == {4: "opportunity not closed-won (IsWon = 0): not revenue",
                     5: "opportunity not closed-won (IsWon = 0): not revenue",
                     6: "opportunity not closed-won (IsWon = 0): not revenue",
                     7: "IsDeleted = 1 (deleted record)"}


def test_with_eur_set_the_amounts_are_converted_to_eur_by_the_currency_type_rates():
    result = get_importer("salesforce").read(USD_ORG, settings=Settings(reporting_currency="EUR"))
    assert (result.reporting_currency, result.reporting_currency_source) == ("EUR", "setting reporting_currency")
    assert "reporting currency EUR: setting reporting_currency" in result.notes
    fx = {c: round(float(r), 10) for c, r in result.tables["fx_rates"].select("currency", "rate").iter_rows()}
    assert fx == {"USD": 0.9, "MXN": 0.045}
    wallet = {a: round(float(w), 6) for a, w in result.tables["wallet"].select("account_id", "wallet_amount").iter_rows()}
    assert wallet == {A_ACME: 450000.0, A_MINERA: 90000.0}  # 500,000 × 0.9; 2,000,000 × 0.045

    tables = checked(result, "EUR")
    assert revenue_by_id(tables["revenue"]) == {
        "006000000000031AAA": (108000.0, 120000.0, "USD"),
        "006000000000032AAA": (27000.45, 30000.5, "USD"),
        "006000000000033AAA": (22500.0, 500000.0, "MXN"),
    }
    assert round(tables["revenue"]["amount"].sum(), 6) == 157500.45
    opps = {o: round(a, 6) for o, a in tables["opportunities"].select("opportunity_id", "amount").iter_rows()}
    assert opps["006000000000036AAA"] == 45000.0  # the open 1,000,000 MXN deal × 0.045


def test_the_load_converts_to_the_set_currency_end_to_end(load_folder):
    from kam_metrics.load import warehouse

    report = load_folder(USD_ORG, fmt="salesforce", settings=Settings(reporting_currency="EUR"))
    assert report.quarantine.is_empty()
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    try:
        total = con.sql("select sum(amount) from revenue").fetchall()[0][0]
    finally:
        con.close()
    assert round(total, 6) == 157500.45


def test_a_currency_without_a_rate_names_the_setting_that_fixes_it(tmp_path):
    # Without MXN in CurrencyType, nothing converts MXN to USD: the wallet row is quarantined and the
    # notes count the revenue and opportunity rows in MXN, each naming the fix.
    folder = tmp_path / "org"
    shutil.copytree(USD_ORG, folder)
    ctype = folder / "CurrencyType.csv"
    lines = ctype.read_bytes().split(b"\n")
    ctype.write_bytes(b"\n".join(line for line in lines if b'"MXN"' not in line))
    result = get_importer("salesforce").read(folder, settings=unset())
    assert result.reporting_currency == "USD"
    reasons = result.quarantine.filter(pl.col("table") == "wallet").select("reason").to_series().to_list()
    assert reasons == [f"wallet estimate in MXN and no fx rate from MXN to USD; {FIX}"]
    assert f"revenue rows in currencies without an fx rate to USD: MXN (1); {FIX}" in result.notes
    assert f"opportunities in currencies without an fx rate to USD: MXN (2); {FIX}" in result.notes


def test_without_currency_type_a_single_currency_export_reports_in_its_currency(tmp_path):
    # Only the USD rows: no CurrencyType.csv, every money-bearing row (opportunities, accounts with a wallet)
    # in USD → USD. The deleted row and the account without a wallet do not count.
    folder = tmp_path / "org"
    folder.mkdir()
    for name in ("Account.csv", "Opportunity.csv"):
        lines = (USD_ORG / name).read_bytes().split(b"\n")
        keep = [lines[0]] + [ln for ln in lines[1:] if b'"MXN"' not in ln]
        (folder / name).write_bytes(b"\n".join(keep))
    result = get_importer("salesforce").read(folder, settings=unset())
    assert (result.reporting_currency, result.reporting_currency_source) == (
        "USD", "the only currency in the export (CurrencyIsoCode)")
    assert "fx_rates" not in result.tables or result.tables["fx_rates"].height == 0
    tables = checked(result, result.reporting_currency)
    assert round(tables["revenue"]["amount"].sum(), 6) == 150000.5  # 120,000 + 30,000.50


def test_without_currency_type_several_currencies_fall_back_to_eur_and_say_so(tmp_path):
    folder = tmp_path / "org"
    shutil.copytree(USD_ORG, folder)
    (folder / "CurrencyType.csv").unlink()
    result = get_importer("salesforce").read(folder, settings=unset())
    assert result.reporting_currency == "EUR"
    assert "several currencies (MXN, USD)" in result.reporting_currency_source
    assert any(n.startswith("revenue rows in currencies without an fx rate to EUR: MXN (1), USD (2)")
               for n in result.notes)


def test_with_the_default_settings_the_org_currency_wins():
    # Settings.reporting_currency is not set by default: the org's corporate currency is taken.
    assert Settings().reporting_currency is None
    result = get_importer("salesforce").read(USD_ORG, settings=Settings())
    assert result.reporting_currency == "USD"


# --------------------------------------------------------------------------------------------------
# HubSpot and canonical


def test_hubspot_deals_in_one_currency_report_in_it():
    result = get_importer("hubspot").read(HUBSPOT_CUSTOM, settings=unset())
    assert result.reporting_currency == "USD"
    assert result.reporting_currency_source == "the only currency in the export (the deals' 'Currency')"
    assert "reporting currency USD: the only currency in the export (the deals' 'Currency')" in result.notes
    assert not any("without an fx rate" in n for n in result.notes)


def test_hubspot_with_eur_set_names_the_fix_for_usd_deals():
    result = get_importer("hubspot").read(HUBSPOT_CUSTOM, settings=Settings(reporting_currency="EUR"))
    assert (result.reporting_currency, result.reporting_currency_source) == ("EUR", "setting reporting_currency")
    # 3 won deals with a company are revenue; 40001–40004 and 40008 are opportunities (40005–40007 have no company).
    assert f"revenue rows in currencies without an fx rate to EUR: USD (3); {FIX}" in result.notes
    assert f"deals in currencies without an fx rate to EUR: USD (5); {FIX}" in result.notes


def test_hubspot_without_a_currency_column_defaults_to_eur():
    result = get_importer("hubspot").read(FIXTURES / "hubspot" / "allprops", settings=unset())
    assert (result.reporting_currency, result.reporting_currency_source) == (
        "EUR", "the default, as the export names no currency")


@pytest.mark.parametrize("setting, expected", [(None, ("EUR", "the default of the canonical format")),
                                               ("SEK", ("SEK", "setting reporting_currency"))])
def test_canonical_export_is_in_the_setting_else_eur(make_export, setting, expected):
    result = get_importer("kam").read(make_export(), settings=Settings(reporting_currency=setting))
    assert (result.reporting_currency, result.reporting_currency_source) == expected
