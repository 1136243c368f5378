"""The parsers and output wrappers both CRM importers share (importers/values.py, staging.py, files.py),
and the Salesforce wallet's rate through the one currency rule. Expected values worked out by hand."""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW
from kam_metrics.load.importers.files import find_file, peek_header
from kam_metrics.load.importers.hubspot.values import parse_bool as hubspot_bool
from kam_metrics.load.importers.hubspot.values import parse_number as hubspot_number
from kam_metrics.load.importers.salesforce.context import SalesforceRead
from kam_metrics.load.importers.salesforce.fx import rates_on
from kam_metrics.load.importers.salesforce.values import parse_flag
from kam_metrics.load.importers.staging import Staging
from kam_metrics.load.importers.values import (
    finite_float,
    fixed_offset,
    number_text,
    parse_bool,
    to_float,
    utc_date,
)


@pytest.mark.parametrize(
    "text, expected",
    [("true", True), (" YES ", True), ("1", True), ("t", True), ("N", False), ("0", False), ("false", False),
     ("maybe", None), ("ja", None), ("", None), (None, None)],
)
def test_parse_bool_reads_the_contract_words(text, expected):
    assert parse_bool(text) is expected


def test_each_crm_keeps_its_checkbox_rules_on_the_shared_parser():
    # Salesforce: an empty checkbox is false; unreadable text is None (validation names it).
    assert parse_flag("") is False and parse_flag(None) is False and parse_flag("x") is None
    # HubSpot: Swedish ja/nej as well, not t/f; an unreadable value raises with the reason.
    assert hubspot_bool("Ja") is True and hubspot_bool("nej") is False and hubspot_bool("TRUE") is True
    with pytest.raises(ValueError, match="not a boolean"):
        hubspot_bool("t")


@pytest.mark.parametrize(
    "text, as_text, as_float",
    [("1,234.50", "1234.50", 1234.5), (" -12,000 ", "-12000", -12000.0), ("1,23", "1,23", None),
     ("12.5", "12.5", 12.5), ("", None, None), ("abc", "abc", None)],
)
def test_numbers_with_thousands_separators(text, as_text, as_float):
    assert number_text(text) == as_text
    assert to_float(text) == as_float


def test_plain_numbers_refuse_separators_nan_and_infinity():
    assert to_float("1,234", grouped=False) is None
    assert finite_float(" 42.5 ") == 42.5
    assert hubspot_number("7") == 7.0
    with pytest.raises(ValueError, match="^not a number$"):
        finite_float("1,234")
    with pytest.raises(ValueError, match="not a finite number"):
        finite_float("inf")
    with pytest.raises(ValueError, match="not a finite number"):
        hubspot_number("NaN")


def test_utc_date_of_aware_and_naive_datetimes():
    plus_two = fixed_offset(1, 2, 0)
    assert plus_two.utcoffset(None) == timedelta(hours=2)
    # 01:30 at +02:00 is 23:30 UTC the day before.
    assert utc_date(datetime(2024, 3, 2, 1, 30), plus_two) == date(2024, 3, 1)
    assert utc_date(datetime(2024, 3, 2, 1, 30, tzinfo=plus_two)) == date(2024, 3, 1)
    # 22:00 at -05:00 is 03:00 UTC the next day; a naive datetime without a zone is UTC.
    assert utc_date(datetime(2024, 3, 1, 22, 0, tzinfo=timezone(timedelta(hours=-5)))) == date(2024, 3, 2)
    assert utc_date(datetime(2024, 3, 1, 23, 59)) == date(2024, 3, 1)


def test_staging_frames_keep_order_schema_and_provenance():
    out = Staging()
    out.stage("cases", {"case_id": "c1", "account_id": "A", "opened_date": "2024-01-02", SOURCE_FILE: "Case.csv",
                        SOURCE_ROW: 1})
    out.skip("cases", "Case.csv", 2, "IsDeleted = 1 (deleted record)")
    out.malformed("Case.csv", [(3, "row has 9 fields, the header has 8")], ["cases", "activities"], "unreadable CSV row")
    out.reject("cases", "Case.csv", 4, "account_id", "", "no account")
    frame = out.frame("cases")
    assert frame["case_id"].to_list() == ["c1"]
    assert frame.schema["opened_date"] == pl.String and frame.schema[SOURCE_ROW] == pl.Int64
    assert frame.columns[-2:] == [SOURCE_FILE, SOURCE_ROW]
    typed = Staging()
    typed.stage("cases", {"case_id": "c1", "account_id": "A", "opened_date": date(2024, 1, 2), SOURCE_ROW: 1})
    assert typed.frame("cases", typed=True)["opened_date"].to_list() == [date(2024, 1, 2)]
    assert out.frame("activities").height == 0
    assert out.skipped_frame().to_dicts() == [
        {"table": "cases", SOURCE_FILE: "Case.csv", SOURCE_ROW: 2, "rule": "IsDeleted = 1 (deleted record)"}
    ]
    quarantine = out.quarantine_frame()
    assert quarantine.select("table", SOURCE_ROW, "reason").rows() == [
        ("cases", 3, "unreadable CSV row: row has 9 fields, the header has 8"),
        ("activities", 3, "unreadable CSV row: row has 9 fields, the header has 8"),
        ("cases", 4, "no account"),
    ]


def test_peek_header_and_find_file(tmp_path: Path):
    (tmp_path / "Account.csv").write_bytes(b"\xef\xbb\xbf Id ,Name,Caf\xe9\r\n1,a,b\r\n")
    assert find_file(tmp_path, "account.CSV") == tmp_path / "Account.csv"
    assert find_file(tmp_path, "Contact.csv") is None and find_file(tmp_path, " ") is None
    path = tmp_path / "Account.csv"
    assert peek_header(path, legacy_encodings=True) == ["Id", "Name", "Café"]  # Windows-1252 é
    assert peek_header(path) == ["Id", "Name", "Caf\ufffd"]  # not UTF-8: replaced


def test_salesforce_wallet_rate_follows_the_currency_rule(tmp_path: Path):
    """Rates EUR per unit: USD 0.90 undated; SEK 0.10 from 2024-03-01 and 0.09 from 2024-06-01."""
    r = SalesforceRead(folder=tmp_path, mapping={}, reporting="EUR")
    r.fx = [("USD", 0.90, None), ("SEK", 0.10, date(2024, 3, 1)), ("SEK", 0.09, date(2024, 6, 1)),
            ("EUR", 3.0, None)]
    assert rates_on(r, date(2024, 5, 31)) == pytest.approx({"USD": 0.90, "SEK": 0.10})
    assert rates_on(r, date(2024, 6, 1)) == pytest.approx({"USD": 0.90, "SEK": 0.09})
    assert rates_on(r, date(2024, 1, 1)) == pytest.approx({"USD": 0.90, "SEK": 0.10})  # before the first: earliest
    assert rates_on(r, None) == pytest.approx({"USD": 0.90, "SEK": 0.09})  # no export date: the latest
    r.fx = []
    assert rates_on(r, date(2024, 6, 1)) == {}
