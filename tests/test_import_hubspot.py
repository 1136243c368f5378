"""HubSpot importer: view and all-properties exports, mapping files, accounting, end-to-end loads.

Fixtures (tests/fixtures/hubspot/, hand-written, byte-exact):
- view/: view exports (UTF-8 with BOM, CRLF, minimal quoting) of companies, contacts and deals;
- allprops/: all-properties exports (no BOM, LF, all quoted) with duplicated `Associated Company IDs`
  columns, `;`-joined IDs, a deactivated owner, custom and closed-looking stage labels, and calls,
  meetings and e-mails exports;
- swedish/: a Swedish-language export whose headers the mapping renames;
- mappings/: custom_stages.toml and swedish.toml.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tomllib
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.importers.hubspot import (
    DEFAULT_MAPPING,
    IMPORTER,
    OPEN_SECTIONS,
    clean_owner,
    infer_seniority,
    mapping_template,
    parse_duration_minutes,
    region_for_country,
    split_ids,
)
from kam_metrics.load.importers.mapping import load_mapping

FIXTURES = Path(__file__).parent / "fixtures" / "hubspot"
VIEW = FIXTURES / "view"
ALLPROPS = FIXTURES / "allprops"
SWEDISH = FIXTURES / "swedish"
CUSTOM_STAGES = FIXTURES / "mappings" / "custom_stages.toml"
SWEDISH_MAPPING = FIXTURES / "mappings" / "swedish.toml"

AP_COMPANIES = "hubspot-crm-exports-key-accounts-2024-06-15.csv"
AP_CONTACTS = "hubspot-crm-exports-all-contacts-2024-06-15.csv"
AP_DEALS = "hubspot-crm-exports-all-deals-2024-06-15.csv"
AP_CALLS = "hubspot-crm-exports-all-calls-2024-06-15.csv"
AP_MEETINGS = "hubspot-crm-exports-all-meetings-2024-06-15.csv"
AP_EMAILS = "hubspot-crm-exports-all-emails-2024-06-15.csv"
V_COMPANIES = "hubspot-crm-exports-all-companies-2024-05-01.csv"
V_CONTACTS = "hubspot-crm-exports-all-contacts-2024-05-01.csv"
V_DEALS = "hubspot-crm-exports-all-deals-2024-05-01.csv"


def read(folder: Path, mapping: Path | None = None):
    return IMPORTER.read(folder, settings=None, mapping=mapping)


def by_id(frame: pl.DataFrame, key: str) -> dict[str, dict]:
    return {row[key]: row for row in frame.iter_rows(named=True)}


def copy_fixture(src: Path, tmp_path: Path, name: str = "export") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def write_mapping(tmp_path: Path, text: str, name: str = "mapping.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def data_rows(path: Path) -> int:
    """Data rows of a CSV file as the csv module sees them (header excluded)."""
    text = path.read_bytes().decode("utf-8-sig")
    return len(list(csv.reader(io.StringIO(text, newline="")))) - 1


def accounting(result, table: str) -> tuple[int, int, int]:
    """(staged, skipped, quarantined distinct rows) of one target table."""
    staged = result.tables[table].height if table in result.tables else 0
    skipped = result.skipped.filter(pl.col("table") == table).height
    quarantined = (
        result.quarantine.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).unique().height
    )
    return staged, skipped, quarantined


def assert_accounts_for_every_row(result, folder: Path, sources: dict[str, list[str]]) -> None:
    """For each target table: staged + skipped + quarantined = the data rows of its source files."""
    for table, files in sources.items():
        read_rows = sum(data_rows(folder / f) for f in files)
        staged, skipped, quarantined = accounting(result, table)
        assert staged + skipped + quarantined == read_rows, (table, staged, skipped, quarantined, read_rows)
        # Nothing is counted twice: a source row is in exactly one of the three.
        keys = []
        if table in result.tables:
            keys += result.tables[table].select(SOURCE_FILE, SOURCE_ROW).rows()
        keys += result.skipped.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).rows()
        keys += (
            result.quarantine.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).unique().rows()
        )
        assert len(keys) == len(set(keys)) == read_rows, table


ALLPROPS_SOURCES = {
    "accounts": [AP_COMPANIES],
    "wallet": [AP_COMPANIES],
    "contacts": [AP_CONTACTS],
    "opportunities": [AP_DEALS],
    "revenue": [AP_DEALS],
    "activities": [AP_CALLS, AP_MEETINGS, AP_EMAILS],
}


# ---------------------------------------------------------------------------------------------------------
# Detection


def test_detect_names_the_companies_file_and_its_headers():
    reason = IMPORTER.detect(VIEW)
    assert reason is not None and "'Record ID'" in reason and "'Company name'" in reason
    assert V_COMPANIES in reason
    # The all-properties companies file is found by its headers although its name has no "compan".
    assert AP_COMPANIES in IMPORTER.detect(ALLPROPS)


def test_detect_ignores_canonical_and_salesforce_folders(tmp_path):
    canonical = tmp_path / "canonical"
    canonical.mkdir()
    (canonical / "accounts.csv").write_text("account_id,account_name,is_key_account\nA1,Acme,true\n")
    salesforce = tmp_path / "sf"
    salesforce.mkdir()
    (salesforce / "Account.csv").write_text('"Id","Name","OwnerId"\n"001000000000001AAA","Acme","005"\n')
    assert IMPORTER.detect(canonical) is None
    assert IMPORTER.detect(salesforce) is None


# ---------------------------------------------------------------------------------------------------------
# View export (BOM, CRLF)


def test_view_export_fixture_has_bom_and_crlf():
    data = (VIEW / V_COMPANIES).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 5 and data.count(b"\n") == 5  # header + 4 rows, every line CRLF
    assert b'"Globex, Inc."' in data and b'"101"' not in data  # quoting only where needed


def test_view_export_accounts():
    result = read(VIEW)
    assert result.format == "hubspot"
    assert result.export_date == "2024-05-01"
    assert sorted(r.name for r in result.raw_files) == sorted([V_COMPANIES, V_CONTACTS, V_DEALS])
    accounts = by_id(result.tables["accounts"], "account_id")
    assert set(accounts) == {"101", "102", "103", "104"}
    assert accounts["101"]["account_name"] == "Acme AB"  # BOM stripped from the first header
    assert accounts["102"]["account_name"] == "Globex, Inc."
    assert accounts["102"]["kam_owner"] == "bob@example.com"  # "(Deactivated User)" dropped
    assert accounts["101"]["kam_owner"] == "Anna Berg"
    assert [accounts[i]["region"] for i in ("101", "102", "103", "104")] == ["EMEA", "Americas", "APAC", "Kazakhstan"]
    assert accounts["103"]["industry"] is None
    assert result.tables["accounts"].schema["created_date"] == pl.Date
    assert accounts["103"]["created_date"] == date(2021, 6, 30)  # "2021-06-30 23:45" as UTC
    # No Key Account property: all staged as not key, and the notes say so.
    assert [a["is_key_account"] for a in accounts.values()] == [False] * 4
    assert any("no key-account property ('Key Account')" in n for n in result.notes)
    assert any("'Wallet Estimate' (wallet_amount)" in n for n in result.notes)
    assert "wallet" not in result.tables
    assert result.quarantine.is_empty()


def test_view_export_contacts_and_deals_linked_by_id_or_company_name():
    result = read(VIEW)
    contacts = by_id(result.tables["contacts"], "contact_id")
    assert {c: contacts[c]["account_id"] for c in contacts} == {"201": "101", "202": "102", "203": "103"}
    assert contacts["201"]["full_name"] == "Eva Lund"
    assert contacts["201"]["seniority"] == "unknown"  # the view export has no Job Title
    skipped = result.skipped.filter(pl.col("table") == "contacts")
    assert skipped.rows() == [("contacts", V_CONTACTS, 4, "contact has no associated company")]
    assert any("1 contact(s) linked to their company by its name" in n for n in result.notes)

    opps = by_id(result.tables["opportunities"], "opportunity_id")
    assert {o: opps[o]["account_id"] for o in opps} == {"301": "101", "302": "102", "303": "103", "304": "101"}
    assert (opps["301"]["is_closed"], opps["301"]["is_won"]) == (True, True)
    assert (opps["302"]["is_closed"], opps["302"]["is_won"]) == (True, False)
    assert (opps["303"]["is_closed"], opps["303"]["is_won"]) == (False, False)
    assert opps["304"]["is_won"] is True  # "Closed Won" matches "Closed won" regardless of case
    assert opps["303"]["amount"] == 20000.5
    assert opps["301"]["close_date"] == date(2024, 3, 28)

    revenue = result.tables["revenue"]
    assert revenue.select("revenue_id", "account_id", "revenue_date", "amount").rows() == [
        ("301", "101", date(2024, 3, 28), 12000.0)
    ]
    rules = dict(
        result.skipped.filter(pl.col("table") == "revenue").select(SOURCE_ROW, "rule").iter_rows()
    )
    assert rules == {
        2: "deal is not closed-won",
        3: "deal is not closed-won",
        4: "closed-won deal without an amount ('Amount' is empty)",
    }


# ---------------------------------------------------------------------------------------------------------
# All-properties export


def test_allprops_fixture_is_quoted_lf_without_bom_and_has_duplicate_headers():
    data = (ALLPROPS / AP_DEALS).read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data
    header = data.split(b"\n")[0].decode()
    assert header.count('"Associated Company IDs"') == 2 and header.count('"Associated Company"') == 2


def test_allprops_duplicate_columns_are_kept_raw_and_merged():
    result = read(ALLPROPS, CUSTOM_STAGES)
    raw = {r.name: r for r in result.raw_files}
    assert set(raw) == {AP_COMPANIES, AP_CONTACTS, AP_DEALS, AP_CALLS, AP_MEETINGS, AP_EMAILS}
    assert "Associated Company IDs_duplicated_0" in raw[AP_DEALS].frame.columns
    contacts = by_id(result.tables["contacts"], "contact_id")
    # 501: primary company; 502: only the second (duplicated) column; 503: ";"-joined, first wins.
    assert contacts["501"]["account_id"] == "17463897591"
    assert contacts["502"]["account_id"] == "17462534608"
    assert contacts["503"]["account_id"] == "17462534608"
    opps = by_id(result.tables["opportunities"], "opportunity_id")
    assert opps["9002"]["account_id"] == "17462534608"  # from the duplicated column


def test_allprops_deal_with_two_companies_counts_for_the_first_and_the_notes_say_so():
    result = read(ALLPROPS, CUSTOM_STAGES)
    opps = by_id(result.tables["opportunities"], "opportunity_id")
    assert opps["9001"]["account_id"] == "17463897591"
    revenue = by_id(result.tables["revenue"], "revenue_id")
    assert revenue["9001"]["account_id"] == "17463897591"
    notes = [n for n in result.notes if "associated with several companies" in n]
    assert notes == [f"{AP_DEALS}: 1 deal(s) associated with several companies count for the first company only"]


def test_allprops_numbers_booleans_owners_and_wallet():
    result = read(ALLPROPS, CUSTOM_STAGES)
    accounts = by_id(result.tables["accounts"], "account_id")
    assert [accounts[i]["is_key_account"] for i in ("17463897591", "17462534608", "17460000001")] == [
        True, False, False,  # "true", "false", empty
    ]
    assert accounts["17463897591"]["executive_sponsor"] == "Erik Ek"
    assert accounts["17462534608"]["kam_owner"] == "dave@example.com"
    assert accounts["17463897591"]["region"] == "EMEA" and accounts["17460000001"]["region"] == "APAC"
    opps = by_id(result.tables["opportunities"], "opportunity_id")
    assert opps["9001"]["amount"] == 11760000.000000002
    assert opps["9002"]["amount"] == 2.0
    assert opps["9001"]["product_line"] == "Sales Pipeline" and opps["9002"]["product_line"] == "Services"
    wallet = result.tables["wallet"]
    assert sorted(wallet.select("account_id", "year", "wallet_amount", "source").rows()) == [
        ("17462534608", "2024", 11760000.000000002, "kam_estimate"),
        ("17463897591", "2024", 2500000.0, "kam_estimate"),
    ]
    assert result.skipped.filter(pl.col("table") == "wallet").select(SOURCE_ROW, "rule").rows() == [
        (3, "no wallet estimate ('Wallet Estimate' is empty)")
    ]


def test_allprops_contacts_seniority_and_buying_roles():
    result = read(ALLPROPS)
    contacts = by_id(result.tables["contacts"], "contact_id")
    assert {c: (v["seniority"], v["buying_role"]) for c, v in contacts.items()} == {
        "501": ("c_level", "economic_buyer"),  # Chief Financial Officer, Budget Holder
        "502": ("vp", "decision_maker"),  # Vice President Sales, Champion;Decision Maker → contract order
        "503": ("director", "gatekeeper"),  # Head of Procurement, Legal & Compliance
        "504": ("manager", "unknown"),  # Account Manager, no role
        "505": ("individual", "unknown"),  # Engineer, "Mystery Role" is not mapped
        "506": ("director", "unknown"),  # Director of IT: not CTO
    }
    assert contacts["503"]["full_name"] == "Sophie Müller"
    assert any("staged as unknown: Mystery Role" in n for n in result.notes)
    assert result.skipped.filter(pl.col("table") == "contacts").select(SOURCE_ROW).to_series().to_list() == [7]


def test_stage_defaults_and_custom_label_from_the_mapping_file():
    default = by_id(read(ALLPROPS).tables["opportunities"], "opportunity_id")
    custom_result = read(ALLPROPS, CUSTOM_STAGES)
    custom = by_id(custom_result.tables["opportunities"], "opportunity_id")
    state = lambda o: (o["is_closed"], o["is_won"])  # noqa: E731
    # "Signed - awaiting PO" is the portal's own label: open by default, won through [stages].
    assert state(default["9002"]) == (False, False)
    assert state(custom["9002"]) == (True, True)
    assert custom["9002"]["stage"] == "Signed - awaiting PO"
    for opps in (default, custom):
        assert state(opps["9001"]) == (True, True)  # Closed won
        assert state(opps["9003"]) == (True, False)  # Closed: abandoned
        assert state(opps["9004"]) == (False, False)  # Contract Sent
        assert state(opps["9005"]) == (False, False)  # Closed - parked: unmapped → open
    assert sorted(custom_result.tables["revenue"]["revenue_id"].to_list()) == ["9001", "9002"]
    assert sorted(read(ALLPROPS).tables["revenue"]["revenue_id"].to_list()) == ["9001"]
    warning = [n for n in custom_result.notes if "look closed" in n]
    assert len(warning) == 1 and "'Closed - parked' (1)" in warning[0]
    assert "Signed" not in warning[0]
    default_notes = read(ALLPROPS).notes
    assert any("not in [stages], staged as open: 'Signed - awaiting PO' (1)" in n for n in default_notes)


def test_activities_from_calls_meetings_and_emails():
    result = read(ALLPROPS, CUSTOM_STAGES)
    acts = by_id(result.tables["activities"], "activity_id")
    assert set(acts) == {"7001", "7003", "8001", "8004", "6001"}
    assert {a: v["activity_type"] for a, v in acts.items()} == {
        "7001": "call", "7003": "call", "8001": "meeting", "8004": "meeting", "6001": "email",
    }
    assert acts["7001"]["duration_minutes"] == 5.5  # 330000 ms
    assert acts["7003"]["duration_minutes"] == 1.0
    assert acts["8001"]["duration_minutes"] == 90.0  # end time − activity date
    assert acts["8004"]["duration_minutes"] == 45.0
    assert acts["6001"]["duration_minutes"] is None
    assert acts["7001"]["activity_date"] == date(2024, 4, 2)
    # Company: first associated one, else the contact's company; contact: first one in the contacts table.
    assert acts["6001"]["account_id"] == "17463897591" and acts["6001"]["contact_id"] == "502"
    assert acts["7003"]["account_id"] == "17460000001" and acts["7003"]["contact_id"] == "504"
    assert acts["8001"]["contact_id"] == "501"
    assert acts["8004"]["contact_id"] is None  # contact 999 is not in the contacts export
    assert acts["8004"]["owner"] == "dave@example.com"
    assert acts["8001"]["subject"] == "Quarterly review"
    skipped = {
        (f, r): rule
        for _, f, r, rule in result.skipped.filter(pl.col("table") == "activities").iter_rows()
    }
    assert skipped == {
        (AP_CALLS, 2): "call not held (Call status 'No answer')",
        (AP_CALLS, 4): "call has no associated company",
        (AP_MEETINGS, 2): "meeting dated after the export date (2024-06-15)",
        (AP_MEETINGS, 3): "meeting not held (Meeting outcome 'Canceled')",
        (AP_EMAILS, 2): "email not held (Email send status 'Bounced')",
    }


def test_every_row_of_the_clean_fixtures_is_accounted_for():
    result = read(ALLPROPS, CUSTOM_STAGES)
    assert result.quarantine.is_empty()
    assert_accounts_for_every_row(result, ALLPROPS, ALLPROPS_SOURCES)
    view = read(VIEW)
    assert_accounts_for_every_row(
        view, VIEW,
        {"accounts": [V_COMPANIES], "contacts": [V_CONTACTS], "opportunities": [V_DEALS], "revenue": [V_DEALS]},
    )


def test_rows_that_cannot_be_translated_are_quarantined_and_still_accounted_for(tmp_path):
    folder = copy_fixture(ALLPROPS, tmp_path)

    def append(name: str, line: str) -> None:
        with (folder / name).open("a", encoding="utf-8", newline="") as fh:
            fh.write(line + "\n")

    append(AP_COMPANIES, '"17460000002","Oslo","Bad Date AS","Anna Berg","Norway","31/12/2023","","","maybe","lots","",""')
    append(AP_DEALS, '"9006","abc","2024-04-01 10:00","2024-01-01 10:00","Bad amount","Closed won","","true","Sales Pipeline","17460000001","","","",""')
    append(AP_DEALS, '"9007","100","2024-04-01 10:00","2024-01-01 10:00","Orphan","Closed won","","true","Sales Pipeline","","","","",""')
    append(AP_DEALS, '"9008","100","2024-04-01 10:00"')  # too few fields (malformed: the file has a wide row)
    append(AP_DEALS, '"9009","100","2024-04-01 10:00","2024-01-01 10:00","Wide","Open","","","","","","","","","EXTRA"')
    append(AP_CALLS, '"7005","Anna Berg","yesterday","60000","Completed","Vague","17463897591",""')
    append(AP_CALLS, '"7006","Anna Berg","2024-04-07 10:00","long","Completed","Odd duration","17463897591",""')
    result = read(folder, CUSTOM_STAGES)
    assert_accounts_for_every_row(result, folder, ALLPROPS_SOURCES)
    q = {(t, f, r): (c, v, reason) for t, f, r, c, v, reason in result.quarantine.iter_rows()}
    assert q[("accounts", AP_COMPANIES, 4)] == ("Key Account", "maybe", "not a boolean (expected true/false)")
    assert q[("wallet", AP_COMPANIES, 4)] == ("Wallet Estimate", "lots", "not a number")
    assert q[("opportunities", AP_DEALS, 6)] == ("Amount", "abc", "not a number")
    assert q[("revenue", AP_DEALS, 6)] == ("Amount", "abc", "not a number")
    assert q[("opportunities", AP_DEALS, 7)] == ("Associated Company IDs", None, "deal has no associated company")
    assert q[("opportunities", AP_DEALS, 8)] == (None, None, "malformed CSV row: row has 3 fields, the header has 14")
    assert q[("opportunities", AP_DEALS, 9)] == (None, None, "malformed CSV row: row has 15 fields, the header has 14")
    assert q[("revenue", AP_DEALS, 9)][2].startswith("malformed CSV row")
    reason = "not a HubSpot date or datetime (expected YYYY-MM-DD HH:mm)"
    assert q[("activities", AP_CALLS, 5)] == ("Activity date", "yesterday", reason)
    assert q[("activities", AP_CALLS, 6)] == ("Call duration", "long", "not a number")
    # The bad companies row is not staged; the good rows still are.
    assert result.tables["accounts"].height == 3


# ---------------------------------------------------------------------------------------------------------
# Mapping: Swedish headers, options, errors


def test_swedish_headers_renamed_through_the_mapping():
    result = read(SWEDISH, SWEDISH_MAPPING)
    accounts = by_id(result.tables["accounts"], "account_id")
    assert accounts["11"]["account_name"] == "Ängel Mat AB"
    assert accounts["11"]["kam_owner"] == "Åsa Öberg"
    assert (accounts["11"]["is_key_account"], accounts["12"]["is_key_account"]) == (True, False)
    assert (accounts["11"]["region"], accounts["12"]["region"]) == ("EMEA", "EMEA")  # Sverige, Norge
    assert accounts["12"]["industry"] == "Sjöfart"
    assert accounts["12"]["created_date"] == date(2022, 2, 2)
    contacts = by_id(result.tables["contacts"], "contact_id")
    assert contacts["21"]["account_id"] == "11" and contacts["21"]["full_name"] == "Björn Ström"
    assert contacts["21"]["seniority"] == "c_level"  # VD
    assert contacts["22"]["seniority"] == "manager"  # Inköpschef
    # Headers mapped to "" are not looked for, so no "not found" note for them.
    assert not any("not found" in n for n in result.notes)


def test_swedish_export_without_mapping_has_no_companies_file():
    assert IMPORTER.detect(SWEDISH) is not None  # HubSpot's file names
    with pytest.raises(LoadError, match=r"no HubSpot companies export .*'Record ID' and 'Company name'"):
        read(SWEDISH)


def test_wrong_mapping_key_is_a_load_error_naming_it(tmp_path):
    mapping = write_mapping(tmp_path, '[companies]\nacount_name = "Company name"\n')
    with pytest.raises(LoadError, match=r"unknown key 'companies\.acount_name'"):
        read(VIEW, mapping)
    mapping = write_mapping(tmp_path, '[compnaies]\naccount_name = "Company name"\n', "m2.toml")
    with pytest.raises(LoadError, match=r"unknown section \[compnaies\]"):
        read(VIEW, mapping)


def test_mapping_to_a_missing_column_is_a_load_error_naming_it(tmp_path):
    mapping = write_mapping(tmp_path, '[companies]\nis_key_account = "Strategic Account"\n')
    with pytest.raises(LoadError) as err:
        read(VIEW, mapping)
    assert "is_key_account = 'Strategic Account'" in str(err.value) and V_COMPANIES in str(err.value)
    assert err.value.column == "Strategic Account"
    # A required header renamed to something absent names the file and the mapping key.
    mapping = write_mapping(tmp_path, '[deals]\nstage = "Affärsfas"\n', "m2.toml")
    with pytest.raises(LoadError, match=rf"{re.escape(V_DEALS)}: the deals file has no 'Affärsfas' column"):
        read(VIEW, mapping)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[stages]\n"Closed won" = "maybe"\n', r"\[stages\] 'Closed won' = 'maybe': expected won, lost or open"),
        ('[buying_roles]\n"Champion" = "hero"\n', r"\[buying_roles\] 'Champion' = 'hero'"),
        ('[activity_outcomes]\n"Completed" = "yes"\n', r"expected held or not_held"),
        ('[calls]\nduration_unit = "hours"\n', r"'calls\.duration_unit' = 'hours'"),
        ('[options]\nportal_time_zone = "Mars/Olympus"\n', r"'options\.portal_time_zone': unknown time zone"),
        ('[options]\nexport_date = "1 May 2024"\n', r"'options\.export_date' = '1 May 2024': expected YYYY-MM-DD"),
        ('[files]\ncompanies = "nope.csv"\n', r"'files\.companies' = 'nope\.csv' but .* has no such file"),
        ('[stages]\n"Closed won" = 1\n', r"'stages\.Closed won' must be a string"),
        ('[deals]\nclose_date = ""\n', r"'deals\.close_date' cannot be empty"),
    ],
)
def test_bad_mapping_values_are_load_errors(tmp_path, text, message):
    with pytest.raises(LoadError, match=message):
        read(VIEW, write_mapping(tmp_path, text))


def _companies_with_created(tmp_path: Path, created: str) -> Path:
    folder = tmp_path / "tz"
    folder.mkdir(exist_ok=True)
    (folder / "companies.export.csv").write_text(
        f"Record ID,Company name,Create Date\n1,Acme,{created}\n", encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize(
    ("created", "zone", "expected"),
    [
        ("2024-05-01 00:30", None, date(2024, 5, 1)),  # no zone given: UTC
        ("2024-05-01 00:30", "Europe/Stockholm", date(2024, 4, 30)),  # CEST, UTC+2
        ("2024-05-01 00:30", "+01:00", date(2024, 4, 30)),
        ("2024-05-01 20:30", "-05:00", date(2024, 5, 2)),
        ("2024-05-01", "Europe/Stockholm", date(2024, 5, 1)),  # a plain date is not shifted
        ("2024-05-01T22:30:00.000Z", "Europe/Stockholm", date(2024, 5, 1)),  # an explicit zone wins
    ],
)
def test_portal_time_zone_option(tmp_path, created, zone, expected):
    folder = _companies_with_created(tmp_path, created)
    mapping = write_mapping(tmp_path, f'[options]\nportal_time_zone = "{zone}"\n') if zone else None
    result = read(folder, mapping)
    assert result.tables["accounts"]["created_date"].to_list() == [expected]


def test_two_companies_files_need_a_pin(tmp_path):
    folder = copy_fixture(VIEW, tmp_path)
    shutil.copy(folder / V_COMPANIES, folder / "old-companies.csv")
    with pytest.raises(LoadError, match=r"several HubSpot companies exports"):
        read(folder)
    mapping = write_mapping(tmp_path, f'[files]\ncompanies = "{V_COMPANIES}"\n')
    result = read(folder, mapping)
    assert {r.name for r in result.raw_files} == {V_COMPANIES, V_CONTACTS, V_DEALS}
    assert any(n.startswith("old-companies.csv: ignored (companies is pinned") for n in result.notes)


def test_pinned_file_name_is_used_whatever_its_headers(tmp_path):
    folder = copy_fixture(SWEDISH, tmp_path)
    (folder / "hubspot-crm-exports-alla-foretag-2024-05-01.csv").rename(folder / "export1.csv")
    text = SWEDISH_MAPPING.read_text(encoding="utf-8") + '\n[files]\ncompanies = "export1.csv"\n'
    result = read(folder, write_mapping(tmp_path, text))
    assert result.tables["accounts"].height == 2
    assert result.tables["accounts"][SOURCE_FILE].unique().to_list() == ["export1.csv"]


def test_missing_companies_file_is_a_load_error(tmp_path):
    folder = tmp_path / "only-contacts"
    folder.mkdir()
    shutil.copy(VIEW / V_CONTACTS, folder / V_CONTACTS)
    (folder / "companies.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(LoadError) as err:
        read(folder)
    message = str(err.value)
    assert "no HubSpot companies export" in message and f"contacts: {V_CONTACTS}" in message
    assert "export from HubSpot as CSV (companies.xlsx)" in message


def test_canonical_revenue_file_wins_over_closed_won_deals(tmp_path):
    folder = copy_fixture(ALLPROPS, tmp_path)
    (folder / "revenue.csv").write_text(
        "revenue_id,account_id,revenue_date,amount,product_line\n"
        "INV-1,17463897591,2024-01-31,1000,Trucks\n"
        "INV-2,17462534608,2024-02-29,-50,Service\n",
        encoding="utf-8",
    )
    result = read(folder, CUSTOM_STAGES)
    assert result.tables["revenue"]["revenue_id"].to_list() == ["INV-1", "INV-2"]
    assert result.tables["revenue"][SOURCE_FILE].unique().to_list() == ["revenue.csv"]
    assert result.skipped.filter(pl.col("table") == "revenue").is_empty()
    assert "revenue.csv" in {r.name for r in result.raw_files}
    assert any("revenue.csv: revenue taken from this file" in n for n in result.notes)
    assert not any("closed-won deals are the booked revenue" in n for n in result.notes)


def test_a_file_found_by_name_when_its_signature_header_differs(tmp_path):
    folder = copy_fixture(ALLPROPS, tmp_path)
    calls = folder / AP_CALLS
    calls.write_text(calls.read_text(encoding="utf-8").replace('"Call Title"', '"Call notes"'), encoding="utf-8")
    result = read(folder, CUSTOM_STAGES)
    calls_rows = result.tables["activities"].filter(pl.col("activity_type") == "call")
    assert sorted(calls_rows["activity_id"].to_list()) == ["7001", "7003"]
    assert calls_rows["subject"].to_list() == [None, None]
    assert any(n.startswith(f"{AP_CALLS}: mapped headers not found") and "'Call Title'" in n for n in result.notes)


def test_contacts_export_with_a_company_name_property_is_not_taken_for_companies(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(VIEW / V_COMPANIES, folder / "a.csv")
    # HubSpot contacts carry a "Company Name" property; by headers this file fits companies and contacts.
    (folder / "b.csv").write_text(
        "Record ID,Company Name,First Name,Last Name,Primary Associated Company ID\n9,Acme AB,Eva,Lund,101\n",
        encoding="utf-8",
    )
    result = read(folder)
    assert result.tables["accounts"][SOURCE_FILE].unique().to_list() == ["a.csv"]
    assert result.tables["contacts"].select("contact_id", "account_id", SOURCE_FILE).rows() == [("9", "101", "b.csv")]


# ---------------------------------------------------------------------------------------------------------
# Template and value helpers


def test_mapping_template_is_all_comments_and_round_trips(tmp_path):
    text = mapping_template()
    assert all(line == "" or line.startswith("#") for line in text.splitlines())
    assert tomllib.loads(text) == {}
    setting = re.compile(r'^# (\[\w+\]|("[^"]*"|\w+) = "[^"]*")$')
    uncommented = "\n".join(line[2:] for line in text.splitlines() if setting.match(line))
    expected_lines = len(DEFAULT_MAPPING) + sum(len(entries) for entries in DEFAULT_MAPPING.values())
    assert len(uncommented.splitlines()) == expected_lines
    path = write_mapping(tmp_path, uncommented)
    assert load_mapping(path, DEFAULT_MAPPING, open_sections=OPEN_SECTIONS) == DEFAULT_MAPPING
    assert '"Closed: abandoned" = "lost"' in text and 'account_name = "Company name"' in text


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("Chief Executive Officer", "c_level"),
        ("CEO & Co-Founder", "c_level"),
        ("CTO", "c_level"),
        ("President, EMEA", "c_level"),
        ("Vice President of Sales", "vp"),
        ("SVP Operations", "vp"),
        ("Director of IT", "director"),
        ("Head of Procurement", "director"),
        ("Key Account Manager", "manager"),
        ("Engineer", "individual"),
        ("Headhunter", "individual"),  # whole words only
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_infer_seniority(title, level):
    assert infer_seniority(title) == level


def test_value_helpers():
    assert clean_owner("x@y.com (Deactivated User)") == "x@y.com"
    assert clean_owner("  Anna Berg ") == "Anna Berg"
    assert clean_owner("") is None
    assert split_ids(["17463897591;17462534608", None, " 17462534608 ; 5.0"]) == [
        "17463897591", "17462534608", "5",
    ]
    assert region_for_country(" united kingdom ") == "EMEA"
    assert region_for_country("Brasil") == "Americas"
    assert region_for_country("Atlantis") == "Atlantis"
    assert region_for_country("Atlantis", {"atlantis": "EMEA"}) == "EMEA"
    assert region_for_country("") is None
    assert parse_duration_minutes("330000", "ms") == 5.5
    assert parse_duration_minutes("90", "s") == 1.5
    assert parse_duration_minutes("00:05:30", "ms") == 5.5
    assert parse_duration_minutes("12", "minutes") == 12.0


# ---------------------------------------------------------------------------------------------------------
# End to end through the pipeline


def test_load_export_view_fixture_end_to_end(tmp_path):
    from kam_metrics.load import warehouse
    from kam_metrics.load.pipeline import load_export

    report = load_export(VIEW, tmp_path / "data", fmt="auto")
    assert report.format == "hubspot"
    assert report.quarantine.is_empty()
    counts = {t.table: (t.read, t.loaded, t.quarantined, t.skipped) for t in report.tables if t.is_present}
    assert counts == {
        "accounts": (4, 4, 0, 0),
        "contacts": (4, 3, 0, 1),
        "opportunities": (4, 4, 0, 0),
        "revenue": (4, 1, 0, 3),
    }
    con = warehouse.connect_current(tmp_path / "data")
    try:
        rows = con.sql("SELECT account_id, region, kam_owner FROM accounts ORDER BY account_id").fetchall()
        revenue = con.sql("SELECT revenue_id, account_id, revenue_date, amount FROM revenue").fetchall()
    finally:
        con.close()
    assert rows == [
        ("101", "EMEA", "Anna Berg"), ("102", "Americas", "bob@example.com"),
        ("103", "APAC", "Anna Berg"), ("104", "Kazakhstan", "Carl Diaz"),
    ]
    assert revenue == [("301", "101", date(2024, 3, 28), 12000.0)]


def test_load_export_allprops_fixture_end_to_end(tmp_path):
    from kam_metrics.load import warehouse
    from kam_metrics.load.pipeline import load_export

    report = load_export(ALLPROPS, tmp_path / "data", fmt="hubspot", mapping=CUSTOM_STAGES)
    assert report.quarantine.is_empty()
    counts = {t.table: (t.read, t.loaded, t.quarantined, t.skipped) for t in report.tables if t.is_present}
    assert counts == {
        "accounts": (3, 3, 0, 0),
        "wallet": (3, 2, 0, 1),
        "contacts": (7, 6, 0, 1),
        "opportunities": (5, 5, 0, 0),
        "revenue": (5, 2, 0, 3),
        "activities": (10, 5, 0, 5),
    }
    assert any("associated with several companies" in n for n in report.notes)
    con = warehouse.connect_current(tmp_path / "data")
    try:
        revenue = con.sql("SELECT revenue_id, account_id, amount FROM revenue ORDER BY revenue_id").fetchall()
        key = con.sql("SELECT account_id FROM accounts WHERE is_key_account").fetchall()
        acts = con.sql(
            "SELECT activity_type, count(*) FROM activities GROUP BY activity_type ORDER BY activity_type"
        ).fetchall()
        raw_tables = {
            r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()
            if r[0].startswith("raw__")
        }
    finally:
        con.close()
    assert revenue == [("9001", "17463897591", 11760000.000000002), ("9002", "17462534608", 2.0)]
    assert key == [("17463897591",)]
    assert acts == [("call", 2), ("email", 1), ("meeting", 2)]
    assert len(raw_tables) == 6


def test_load_export_swedish_fixture_end_to_end(tmp_path):
    from kam_metrics.load.pipeline import load_export

    report = load_export(SWEDISH, tmp_path / "data", fmt="auto", mapping=SWEDISH_MAPPING)
    assert report.format == "hubspot"
    assert report.quarantine.is_empty()
    loaded = {t.table: t.loaded for t in report.tables if t.is_present}
    assert loaded == {"accounts": 2, "contacts": 2}
