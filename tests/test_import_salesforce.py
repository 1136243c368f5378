"""The Salesforce importer: the real sample export, the three variants, currencies, IDs, mapping files.

Fixtures (tests/fixtures/salesforce/, see its README) are small and hand-made; the expected values
below are worked out row by row from those files, and the comments say which rows give them.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.importers.mapping import load_mapping
from kam_metrics.load.importers.salesforce import (
    DEFAULT_MAPPING,
    IMPORTER,
    OPEN_SECTIONS,
    activity_type,
    iso_date,
    mapping_template,
    parse_date,
    seniority_from_title,
)
from kam_metrics.load.importers.sf_ids import checksum_suffix, normalize_id
from kam_metrics.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "salesforce"
SAMPLE = Path(__file__).parent / "fixtures" / "salesforce-data-cloud-workshop"  # a copy of the shared sample

# Which source files feed which staged table (for the accounting check).
TABLE_SOURCES = {
    "accounts": ("Account",),
    "wallet": ("Account",),
    "contacts": ("Contact",),
    "opportunities": ("Opportunity",),
    "revenue": ("Opportunity", "OpportunityLineItem", "revenue"),
    "activities": ("Task", "Event"),
    "cases": ("Case",),
    "fx_rates": ("CurrencyType", "DatedConversionRate", "fx_rates"),
}


def read(folder: Path, mapping: Path | None = None, **settings):
    return IMPORTER.read(folder, settings=Settings(**settings), mapping=mapping)


def sf_id(base15: str) -> str:
    return base15 + checksum_suffix(base15)


def digits_id(prefix: str, n: int) -> str:
    """The made-up fixture IDs: prefix + 12 digits (+ checksum)."""
    return sf_id(f"{prefix}{n:012d}")


def rows_of(result, table: str) -> dict[str, dict]:
    """Staged rows keyed by the table's id column."""
    frame = result.tables[table]
    key = frame.columns[0]
    return {r[key]: r for r in frame.iter_rows(named=True)}


def skipped_rules(result, table: str) -> dict[tuple[str, int], str]:
    frame = result.skipped.filter(pl.col("table") == table)
    return {(f, r): rule for f, r, rule in frame.select(SOURCE_FILE, SOURCE_ROW, "rule").iter_rows()}


def quarantined(result, table: str) -> dict[tuple[str, int], str]:
    frame = result.quarantine.filter(pl.col("table") == table)
    return {(f, r): reason for f, r, reason in frame.select(SOURCE_FILE, SOURCE_ROW, "reason").iter_rows()}


def assert_accounting(result) -> None:
    """Every source row of each table's source files is staged, skipped or quarantined exactly once."""
    files_by_obj = {}
    for raw in result.raw_files:
        stem = Path(raw.name).stem.lower()
        for obj in DEFAULT_MAPPING["files"]:
            if DEFAULT_MAPPING["files"][obj].lower() == raw.name.lower() or obj.lower() == stem:
                files_by_obj[obj] = raw
    tables = set(result.tables) | set(result.skipped["table"]) | set(result.quarantine["table"])
    for table in tables:
        staged = result.tables.get(table, pl.DataFrame(schema={SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64}))
        staged_rows = list(staged.select(SOURCE_FILE, SOURCE_ROW).iter_rows())
        skipped = list(result.skipped.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).iter_rows())
        rejected = set(result.quarantine.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).iter_rows())
        every = staged_rows + skipped + list(rejected)
        assert len(every) == len(set(every)), f"{table}: a source row is counted twice"
        sources = [files_by_obj[o] for o in TABLE_SOURCES[table] if o in files_by_obj]
        # revenue.csv / fx_rates.csv replace the derived rows: then only they feed the table.
        derived_from = {f for f, _ in every}
        sources = [s for s in sources if s.name in derived_from] or sources
        expected = {(s.name, r) for s in sources for r in s.frame[SOURCE_ROW].to_list()}
        assert set(every) == expected, f"{table}: staged + skipped + quarantined differs from the rows read"
        assert len(staged_rows) + len(skipped) + len(rejected) == sum(s.frame.height for s in sources)


# --------------------------------------------------------------------------------------------------
# IDs and value forms
# --------------------------------------------------------------------------------------------------


def test_15_character_ids_get_the_salesforce_checksum_of_the_real_export():
    # Every Account Id in the real export is an 18-character ID; its first 15 characters must
    # normalise back to exactly that ID, and so must the ID in upper or lower case (case repaired).
    with (SAMPLE / "Account.csv").open(encoding="utf-8-sig", newline="") as fh:
        ids = [row["Id"] for row in csv.DictReader(fh)]
    assert len(ids) == 22
    for full in ids:
        assert normalize_id(full[:15]) == full
        assert normalize_id(full) == full
        assert normalize_id(full.upper()) == full
        assert normalize_id(full.lower()) == full
    # By hand: "001Ec" has upper-case E at position 3 → bit 3 → 8 → "I"; "00000" → "A"; "GGw3h" has
    # upper-case G at positions 0 and 1 → 3 → "D".
    assert checksum_suffix("001Ec00000GGw3h") == "IAD"


def test_empty_lookup_placeholder_and_non_ids():
    assert normalize_id("000000000000000AAA") is None
    assert normalize_id("000000000000000") is None
    assert normalize_id("  ") is None
    assert normalize_id(None) is None
    assert normalize_id("crm_account_3") == "crm_account_3"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2023-02-07 20:47:49", date(2023, 2, 7)),  # weekly export (GMT)
        ("2023-05-11 00:00:00", date(2023, 5, 11)),  # weekly export date field
        ("2024-01-31T10:00:00.000Z", date(2024, 1, 31)),  # Data Loader
        ("2024-01-22T16:14:25.000+0000", date(2024, 1, 22)),  # API / the real sample
        ("2024-03-01T23:30:00.000-0200", date(2024, 3, 2)),  # offset → UTC crosses midnight
        ("2024-01-31", date(2024, 1, 31)),
        ("02/03/24", date(2024, 2, 3)),  # Excel, US month first
        ("02/23/26 08:55 PM", date(2026, 2, 23)),
        ("12/31/1999", date(1999, 12, 31)),
        ("13/01/24", None),  # no 13th month
        ("next Tuesday", None),
        ("", None),
    ],
)
def test_parse_date_accepts_the_three_variants(text, expected):
    assert parse_date(text) == expected


def test_unreadable_date_is_passed_on_for_validation_to_name():
    assert iso_date("02/03/24") == "2024-02-03"
    assert iso_date("soon") == "soon"
    assert iso_date("") is None


@pytest.mark.parametrize(
    "title, seniority",
    [
        ("Chief Financial Officer", "c_level"),
        ("CEO", "c_level"),
        ("Co-Founder", "c_level"),
        ("President", "c_level"),
        ("Vice President Procurement", "vp"),  # VP before President
        ("SVP Sales", "vp"),
        ("Head of Logistics", "director"),
        ("Director of Operations", "director"),
        ("Purchasing Manager", "manager"),
        ("Team Lead Purchasing", "manager"),
        ("Buyer", "individual"),
        ("Leader of nothing", "individual"),  # whole words only: "Leader" is not "Lead"
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_seniority_from_title(title, seniority):
    assert seniority_from_title(title) == seniority


@pytest.mark.parametrize(
    "type_value, subtypes, subject, is_event, expected",
    [
        ("Call", ("Call",), "Call with Hélène", False, "call"),
        (None, ("Email",), "Email: QBR agenda", False, "email"),  # the subtype says email: final
        ("Meeting", ("Event",), "QBR Q1 2024", True, "qbr"),  # a meeting refined by the subject
        ("Meeting", ("Event",), "Weekly sync", True, "meeting"),
        (None, ("Event",), "Site visit Hamburg", True, "site_visit"),
        (None, (None,), "Data migration workshop", True, "workshop"),
        (None, ("Event",), "Executive briefing with the CEO", True, "exec_meeting"),
        (None, ("Task",), "Send revised proposal", False, "other"),
        (None, ("Event",), "Quarterly planning", True, "meeting"),  # an event without keyword
        ("Other", ("Task",), "Call back", False, "call"),
    ],
)
def test_activity_type_rules(type_value, subtypes, subject, is_event, expected):
    got = activity_type(type_value, subtypes, subject, is_event=is_event, type_map=DEFAULT_MAPPING["activity_types"])
    assert got == expected


# --------------------------------------------------------------------------------------------------
# The real export (tests/fixtures/salesforce-data-cloud-workshop, BSD-3, see its SOURCE.txt)
# --------------------------------------------------------------------------------------------------


def test_detects_the_real_export():
    reason = IMPORTER.detect(SAMPLE)
    assert reason is not None and reason.startswith("Account.csv with Salesforce headers (Id, IsDeleted")


def test_real_export_counts():
    """Counts from a separate csv pass over the sample (python csv module, not the importer):
    Account.csv 22 rows, none with IsDeleted = 1; Contact.csv 102 rows, 18 with an AccountId;
    Opportunity.csv 50 rows, all with an AccountId, 12 with IsWon = 1; Task.csv 75 rows, all with
    IsClosed empty (Status 'Not Started'); Case.csv 40 rows, 14 with an AccountId."""
    result = read(SAMPLE)
    assert {raw.name for raw in result.raw_files} == {
        "Account.csv", "Contact.csv", "Opportunity.csv", "Task.csv", "Case.csv"
    }
    assert result.tables["accounts"].height == 22
    assert result.tables["contacts"].height == 18
    assert len(quarantined(result, "contacts")) == 84  # private contacts: no AccountId
    assert result.tables["opportunities"].height == 50
    assert result.tables["revenue"].height == 12
    assert set(skipped_rules(result, "revenue").values()) == {"opportunity not closed-won (IsWon = 0): not revenue"}
    assert result.tables["activities"].height == 0
    assert list(skipped_rules(result, "activities").values()) == ["open task (IsClosed = 0)"] * 75
    assert result.tables["cases"].height == 14
    assert result.export_date == "2024-01-23"  # latest SystemModstamp: Task.csv 2024-01-23T17:50:51
    assert "wallet" not in result.tables  # no Wallet_Estimate__c in this org
    assert any("no column Key_Account__c (mapping Account.Key_Account__c)" in n for n in result.notes)
    assert result.tables["accounts"]["is_key_account"].unique().to_list() == ["false"]
    assert_accounting(result)


def test_real_export_cases_without_account_take_their_contacts_account():
    # Independent pass: a case without AccountId takes its contact's AccountId; if the contact has none,
    # the case must be quarantined with a reason naming both.
    with (SAMPLE / "Contact.csv").open(encoding="utf-8-sig", newline="") as fh:
        contact_account = {r["Id"]: r["AccountId"] for r in csv.DictReader(fh)}
    with (SAMPLE / "Case.csv").open(encoding="utf-8-sig", newline="") as fh:
        cases = list(csv.DictReader(fh))
    expected_account = {}
    expected_rejected = set()
    for row_number, case in enumerate(cases, start=1):
        account = case["AccountId"] or contact_account.get(case["ContactId"], "")
        if account:
            expected_account[case["Id"]] = account
        else:
            expected_rejected.add(row_number)
    # In this export none of the 26 cases without AccountId has a contact with an account.
    assert len(expected_account) == 14 and len(expected_rejected) == 26

    result = read(SAMPLE)
    staged = rows_of(result, "cases")
    assert {k: v["account_id"] for k, v in staged.items()} == expected_account
    rejected = quarantined(result, "cases")
    assert {r for _, r in rejected} == expected_rejected
    for (_, row_number), reason in rejected.items():
        contact = cases[row_number - 1]["ContactId"]
        assert reason == f"case has no AccountId and its contact '{contact}' has no AccountId"


def test_real_export_with_renamed_standard_headers(tmp_path):
    # This org keeps job titles in Designation__c (Title is empty) and the business dates of its cases
    # in createddate__c / CloseDate__c (CreatedDate is the day of the data load for every case).
    path = tmp_path / "sample.toml"
    path.write_text(
        '[Contact]\nTitle = "Designation__c"\n[Case]\nCreatedDate = "createddate__c"\nClosedDate = "CloseDate__c"\n',
        encoding="utf-8",
    )
    result = read(SAMPLE, mapping=path)
    with (SAMPLE / "Contact.csv").open(encoding="utf-8-sig", newline="") as fh:
        designation = {r["Id"]: r["Designation__c"] for r in csv.DictReader(fh) if r["AccountId"]}
    contacts = rows_of(result, "contacts")
    assert {k: v["title"] for k, v in contacts.items()} == {k: (v or None) for k, v in designation.items()}
    for contact in contacts.values():
        assert contact["seniority"] == seniority_from_title(contact["title"])
    # Case row 2: createddate__c 2023-10-22, no CloseDate__c (read from the file by hand).
    case = rows_of(result, "cases")["500Ec000009YUY9IAO"]
    assert (case["opened_date"], case["closed_date"]) == ("2023-10-22", None)


# --------------------------------------------------------------------------------------------------
# Variant 1: the weekly Data Export
# --------------------------------------------------------------------------------------------------

W_A = {n: digits_id("001", n) for n in range(1, 5)}
W_C = {n: digits_id("003", n) for n in range(1, 9)}


def test_weekly_export_is_windows_1252_with_placeholders():
    result = read(FIXTURES / "weekly")
    encodings = {raw.name: raw.encoding for raw in result.raw_files}
    assert encodings["Account.csv"] == "cp1252"
    accounts = rows_of(result, "accounts")
    # Row 4 (IsDeleted "1") is skipped; rows 1–3 staged.
    assert set(accounts) == {W_A[1], W_A[2], W_A[3]}
    assert skipped_rules(result, "accounts") == {("Account.csv", 4): "IsDeleted = 1 (deleted record)"}
    a1, a2, a3 = accounts[W_A[1]], accounts[W_A[2]], accounts[W_A[3]]
    assert a1["account_name"] == "Société Générale d'Équipements"
    assert a3["account_name"] == "Åkesson & Brännström AB"
    # ParentId "000000000000000AAA" is an empty lookup; Nordwind's parent is A1.
    assert a1["parent_account_id"] is None and a2["parent_account_id"] == W_A[1]
    # Owners and the sponsor (a User Id) resolved through User.csv, names with accents.
    assert (a1["kam_owner"], a1["executive_sponsor"]) == ("Zoë Müller", "Ramón Núñez")
    assert (a1["is_key_account"], a2["is_key_account"], a3["is_key_account"]) == ("true", "true", "false")
    assert (a1["relationship_stage"], a2["relationship_stage"], a3["relationship_stage"]) == ("cooperative", "basic", None)
    assert a1["created_date"] == "2021-03-04"
    assert (a1["region"], a1["industry"], a1["segment"]) == ("France", "Manufacturing", "Customer - Direct")
    assert result.export_date == "2024-05-31"  # Account row 1 SystemModstamp 2024-05-31 08:00:00


def test_weekly_export_wallet_for_the_export_year():
    result = read(FIXTURES / "weekly")
    wallet = rows_of(result, "wallet")
    assert {k: (v["year"], v["wallet_amount"]) for k, v in wallet.items()} == {
        W_A[1]: ("2024", "2500000"),
        W_A[3]: ("2024", "400000"),
    }
    assert skipped_rules(result, "wallet") == {
        ("Account.csv", 2): "no wallet estimate on the account (Wallet_Estimate__c empty)",
        ("Account.csv", 4): "IsDeleted = 1 (deleted record)",
    }


def test_weekly_export_contacts():
    result = read(FIXTURES / "weekly")
    contacts = rows_of(result, "contacts")
    got = {n: (contacts[W_C[n]]["seniority"], contacts[W_C[n]]["buying_role"], contacts[W_C[n]]["attitude"])
           for n in range(1, 7)}
    assert got == {
        1: ("c_level", "economic_buyer", "2"),  # Chief Financial Officer
        2: ("vp", "decision_maker", "1"),  # Vice President Procurement
        3: ("director", "champion", "2"),  # Head of Logistics; attitude "Mentor"
        4: ("vp", "influencer", "0"),  # title Purchasing Manager, but Seniority__c "VP" wins
        5: ("unknown", None, None),  # no title
        6: ("individual", "user", "-1"),  # Buyer
    }
    assert contacts[W_C[3]]["full_name"] == "Jürgen Schäfer"
    assert skipped_rules(result, "contacts") == {("Contact.csv", 7): "IsDeleted = 1 (deleted record)"}
    # Row 8 has the placeholder as AccountId: a private contact.
    assert quarantined(result, "contacts") == {
        ("Contact.csv", 8): "contact has no AccountId (a private contact); a contact must belong to an account"
    }


def test_weekly_export_activities_open_tasks_and_future_events_skipped():
    result = read(FIXTURES / "weekly")
    acts = rows_of(result, "activities")
    task, event = (lambda n: digits_id("00T", n)), (lambda n: digits_id("00U", n))
    got = {k: (v["account_id"], v["activity_type"], v["contact_id"], v["activity_date"]) for k, v in acts.items()}
    assert got == {
        task(1): (W_A[1], "call", W_C[1], "2024-05-02"),
        task(2): (W_A[2], "email", W_C[3], "2024-05-10"),  # no AccountId/WhatId: the contact's account
        task(3): (W_A[2], "other", None, "2023-11-20"),  # WhatId is opportunity 2 (account 2)
        task(7): (W_A[3], "email", None, "2024-04-22"),  # WhoId is the deleted contact 7: contact left empty
        event(1): (W_A[1], "qbr", W_C[1], "2024-04-10"),
        event(2): (W_A[2], "site_visit", W_C[3], "2024-05-20"),
        event(3): (W_A[3], "meeting", None, "2024-05-28"),  # "Lunch …"
        event(7): (W_A[1], "exec_meeting", W_C[1], "2024-05-31"),  # on the export date: kept
        event(8): (W_A[2], "workshop", W_C[4], "2024-03-01"),
    }
    assert acts[task(1)]["duration_minutes"] == "15.0"  # CallDurationInSeconds 900
    assert acts[event(8)]["duration_minutes"] == "480"
    assert acts[task(1)]["owner"] == "Zoë Müller"
    assert skipped_rules(result, "activities") == {
        ("Task.csv", 4): "open task (IsClosed = 0)",
        ("Task.csv", 5): "IsDeleted = 1 (deleted record)",
        ("Event.csv", 4): "event after the export date (2024-05-31)",
        ("Event.csv", 5): "IsDeleted = 1 (deleted record)",
        ("Event.csv", 6): "invitee copy of another event (IsChild = 1)",
    }
    assert quarantined(result, "activities") == {
        ("Task.csv", 6): "activity has no account: AccountId is empty, WhatId is empty, WhoId is empty"
    }


def test_weekly_export_rich_text_with_quotes_and_newlines_is_read_whole():
    result = read(FIXTURES / "weekly")
    task_raw = next(r for r in result.raw_files if r.name == "Task.csv").frame
    assert task_raw.height == 7
    assert task_raw["Description"][0] == '<p>Agenda:</p>\n<ul><li>Renewal "fast track"</li>\n<li>Prices</li></ul>'
    # The raw layer keeps the placeholder as written; only staging reads it as empty.
    assert task_raw["WhatId"][2] == digits_id("006", 2) and task_raw["AccountId"][2] == "000000000000000AAA"


def test_weekly_export_revenue_split_by_line_items():
    result = read(FIXTURES / "weekly")
    revenue = rows_of(result, "revenue")
    got = {k: (v["account_id"], v["revenue_date"], v["amount"], v["product_line"], v[SOURCE_FILE])
           for k, v in revenue.items()}
    assert got == {
        # Opportunity 1 (closed won 2024-03-15) has two live line items: Hardware 80000, Services 40000.
        digits_id("00k", 1): (W_A[1], "2024-03-15", "80000", "Hardware", "OpportunityLineItem.csv"),
        digits_id("00k", 2): (W_A[1], "2024-03-15", "40000", "Services", "OpportunityLineItem.csv"),
        # Opportunity 2 (closed won, no line items) is one revenue row.
        digits_id("006", 2): (W_A[2], "2023-11-30", "50000", None, "Opportunity.csv"),
    }
    assert skipped_rules(result, "revenue") == {
        ("Opportunity.csv", 1): "closed-won opportunity split into its line items (OpportunityLineItem.csv)",
        ("Opportunity.csv", 3): "opportunity not closed-won (IsWon = 0): not revenue",
        ("Opportunity.csv", 4): "opportunity not closed-won (IsWon = 0): not revenue",
        ("Opportunity.csv", 5): "IsDeleted = 1 (deleted record)",
        ("OpportunityLineItem.csv", 3): "line item of an opportunity not closed-won (IsWon = 0)",
        ("OpportunityLineItem.csv", 4): "IsDeleted = 1 (deleted record)",
    }
    opps = rows_of(result, "opportunities")
    assert len(opps) == 4 and digits_id("006", 5) not in opps
    assert (opps[digits_id("006", 3)]["is_closed"], opps[digits_id("006", 3)]["is_won"]) == ("true", "false")
    assert opps[digits_id("006", 4)]["close_date"] == "2024-09-30"


def test_weekly_export_cases():
    result = read(FIXTURES / "weekly")
    cases = rows_of(result, "cases")
    got = {k: (v["account_id"], v["opened_date"], v["closed_date"], v["priority"]) for k, v in cases.items()}
    assert got == {
        digits_id("500", 1): (W_A[1], "2024-02-01", "2024-02-03", "high"),
        digits_id("500", 2): (W_A[2], "2024-05-15", None, "medium"),  # no AccountId: contact 3's account
        digits_id("500", 5): (W_A[3], "2024-05-30", None, "critical"),  # Priority "Urgent"
    }
    assert quarantined(result, "cases") == {
        ("Case.csv", 3): f"case has no AccountId and its contact '{W_C[8]}' has no AccountId"
    }
    assert skipped_rules(result, "cases") == {("Case.csv", 4): "IsDeleted = 1 (deleted record)"}


def test_export_date_from_the_mapping_file(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[options]\nexport_date = "2024-05-01"\n', encoding="utf-8")
    result = read(FIXTURES / "weekly", mapping=mapping)
    assert result.export_date == "2024-05-01"
    future = {k for k, rule in skipped_rules(result, "activities").items() if rule.startswith("event after")}
    # Events 2 (05-20), 3 (05-28), 4 (06-15) and 7 (05-31) are after 2024-05-01; event 6 stays an invitee copy.
    assert future == {("Event.csv", 2), ("Event.csv", 3), ("Event.csv", 4), ("Event.csv", 7)}
    assert_accounting(result)


# --------------------------------------------------------------------------------------------------
# Variant 2: Data Loader / API extract
# --------------------------------------------------------------------------------------------------

DA1, DA2 = sf_id("0015g00000AbCdE"), sf_id("0015g00000XyZab")
DC1, DC2 = sf_id("0035g00000MnOpQ"), sf_id("0035g00000kLmNo")


def test_data_loader_all_caps_headers_bom_and_15_character_lookups():
    result = read(FIXTURES / "dataloader")
    assert {raw.encoding for raw in result.raw_files} == {"utf-8-sig"}
    assert {"ID", "ISDELETED"} <= set(next(r for r in result.raw_files if r.name == "account.csv").frame.columns)
    accounts = rows_of(result, "accounts")
    assert set(accounts) == {DA1, DA2}  # row 3 ISDELETED "true"
    assert accounts[DA1]["account_name"] == "Ørsted Offshore A/S"
    assert accounts[DA2]["parent_account_id"] == DA1  # PARENTID given as the 15-character form
    assert (accounts[DA1]["is_key_account"], accounts[DA2]["is_key_account"]) == ("true", "false")
    assert accounts[DA1]["executive_sponsor"] == "Jane Roe"
    contacts = rows_of(result, "contacts")
    assert contacts[DC1]["account_id"] == DA1  # ACCOUNTID 15-character
    assert contacts[DC1]["seniority"] == "c_level" and contacts[DC2]["seniority"] == "manager"
    acts = rows_of(result, "activities")
    t1, t3, e1 = sf_id("00T5g00000TaSk1"), sf_id("00T5g00000TaSk3"), sf_id("00U5g00000EvEn1")
    got = {k: (v["account_id"], v["contact_id"], v["activity_type"], v["activity_date"]) for k, v in acts.items()}
    assert got == {
        t1: (DA1, DC1, "email", "2024-02-01"),  # WHOID and WHATID (an account) are 15-character
        t3: (DA1, None, "call", "2024-02-05"),  # WHATID is opportunity 1 (15-char); date from COMPLETEDDATETIME
        e1: (DA2, DC2, "meeting", "2024-03-02"),  # 2024-03-01T23:30-0200 is 2024-03-02 in UTC
    }
    assert skipped_rules(result, "activities") == {
        ("task.csv", 2): "open task (IsClosed = 0)",
        ("event.csv", 2): "event after the export date (2024-06-30)",
    }
    cases = rows_of(result, "cases")
    assert cases[sf_id("5005g00000CaSe1")]["account_id"] == DA2  # via its contact (CONTACTID 15-char)
    assert rows_of(result, "revenue")[sf_id("0065g00000OpPoR")]["account_id"] == DA1
    assert rows_of(result, "wallet")[DA1]["wallet_amount"] == "1000000"
    assert result.quarantine.is_empty()
    assert_accounting(result)


def test_an_account_whose_parent_is_not_exported_keeps_no_parent(tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "dataloader", folder)
    deleted = sf_id("0015g00000QqRrS")  # account row 3, ISDELETED true
    text = (folder / "account.csv").read_text(encoding="utf-8-sig").replace(",0015g00000AbCdE,", f",{deleted},")
    (folder / "account.csv").write_text(text, encoding="utf-8-sig")
    result = read(folder)
    assert rows_of(result, "accounts")[DA2]["parent_account_id"] is None
    assert ("account.csv: 1 accounts name a parent that is not among the accounts (deleted or not exported); "
            "their parent_account_id is left empty") in result.notes


# --------------------------------------------------------------------------------------------------
# Variant 3: files re-saved in Excel, and a mapping file renaming a custom field
# --------------------------------------------------------------------------------------------------

XA1, XA2 = digits_id("001", 11), digits_id("001", 12)


def test_excel_resave_booleans_and_us_dates():
    result = read(FIXTURES / "excel")
    accounts = rows_of(result, "accounts")
    assert accounts[XA1]["account_name"] == "Café Crème SARL"
    assert accounts[XA1]["created_date"] == "2024-02-03"  # "02/03/24 08:55 PM"
    assert accounts[XA2]["created_date"] == "2023-11-30"
    assert accounts[XA2]["parent_account_id"] == XA1
    opps = rows_of(result, "opportunities")
    won = opps[digits_id("006", 11)]
    assert (won["amount"], won["close_date"], won["is_closed"], won["is_won"]) == ("12500.00", "2024-03-31", "true", "true")
    assert opps[digits_id("006", 12)]["is_won"] == "false"
    acts = rows_of(result, "activities")
    call, workshop = acts[digits_id("00T", 11)], acts[digits_id("00U", 11)]
    assert (call["activity_date"], call["activity_type"], call["duration_minutes"]) == ("2024-04-02", "call", "30.0")
    assert (workshop["activity_date"], workshop["activity_type"]) == ("2024-04-15", "workshop")
    assert skipped_rules(result, "activities") == {("Task.csv", 2): "open task (IsClosed = 0)"}
    case = rows_of(result, "cases")[digits_id("500", 11)]
    assert (case["opened_date"], case["closed_date"]) == ("2024-04-20", "2024-04-22")
    assert result.export_date == "2024-05-01"  # Account row 1 SystemModstamp "05/01/24 10:00 AM"
    # Without a mapping the custom key-account field is not found: all false, and the note says so.
    assert accounts[XA1]["is_key_account"] == "false"
    assert "Account.csv: no column Key_Account__c (mapping Account.Key_Account__c); is_key_account set to false " \
           "for all accounts" in result.notes
    assert result.quarantine.is_empty()
    assert_accounting(result)


def test_mapping_file_renames_a_custom_field():
    result = read(FIXTURES / "excel", mapping=FIXTURES / "mappings" / "strategic_account.toml")
    accounts = rows_of(result, "accounts")
    assert (accounts[XA1]["is_key_account"], accounts[XA2]["is_key_account"]) == ("true", "false")
    assert not any("Key_Account__c" in n for n in result.notes)


def test_mapping_file_renames_files_and_headers(tmp_path):
    folder = tmp_path / "renamed"
    shutil.copytree(FIXTURES / "excel", folder)
    (folder / "Account.csv").rename(folder / "Kunden.csv")
    text = (folder / "Contact.csv").read_bytes().replace(b"Title", b"Job_Title__c")
    (folder / "Contact.csv").write_bytes(text)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[files]\nAccount = "kunden.csv"\n[Contact]\nTitle = "Job_Title__c"\n', encoding="utf-8")
    result = read(folder, mapping=mapping)
    assert set(rows_of(result, "accounts")) == {XA1, XA2}
    assert rows_of(result, "contacts")[digits_id("003", 11)]["seniority"] == "director"


def test_wrong_mapping_key_is_a_load_error(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[Account]\nKey_Acount__c = "Strategic_Account__c"\n', encoding="utf-8")
    with pytest.raises(LoadError, match=r"unknown key 'Account\.Key_Acount__c'"):
        read(FIXTURES / "excel", mapping=mapping)
    mapping.write_text('[Acount]\nName = "x"\n', encoding="utf-8")
    with pytest.raises(LoadError, match=r"unknown section \[Acount\]"):
        read(FIXTURES / "excel", mapping=mapping)


def test_mapping_a_required_field_to_a_missing_column_is_a_load_error(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[Account]\nName = "AccountName"\n', encoding="utf-8")
    with pytest.raises(LoadError) as err:
        read(FIXTURES / "excel", mapping=mapping)
    assert str(err.value) == (
        "Account.csv: no column 'AccountName' (mapping Account.Name); it is required for accounts.account_name"
    )
    assert (err.value.file, err.value.column) == ("Account.csv", "AccountName")


def test_bad_activity_type_in_mapping_is_a_load_error(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[activity_types]\n"Kundbesök" = "visit"\n', encoding="utf-8")
    with pytest.raises(LoadError, match=r"activity_types\.'Kundbesök' = 'visit' is not an activity type"):
        read(FIXTURES / "excel", mapping=mapping)


def test_mapping_activity_types_adds_an_org_value(tmp_path):
    # An org with a custom Type picklist value "Kundbesök" (Swedish: customer visit).
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "excel", folder)
    text = (folder / "Task.csv").read_text(encoding="utf-8").replace(",Call,", ",Kundbesök,")
    (folder / "Task.csv").write_text(text, encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[activity_types]\n"Kundbesök" = "site_visit"\n', encoding="utf-8")
    assert rows_of(read(folder), "activities")[digits_id("00T", 11)]["activity_type"] == "other"
    assert rows_of(read(folder, mapping=mapping), "activities")[digits_id("00T", 11)]["activity_type"] == "site_visit"


def test_mapping_template_round_trips(tmp_path):
    # Uncommenting every section and key line of the template gives a mapping equal to the defaults.
    text = mapping_template()
    assert text.startswith("# Salesforce mapping")
    lines = [line[2:] for line in text.splitlines() if line.startswith("# [") or (
        line.startswith("# ") and " = " in line and not line.startswith("# #"))]
    path = tmp_path / "template.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_mapping(path, DEFAULT_MAPPING, open_sections=OPEN_SECTIONS) == DEFAULT_MAPPING


# --------------------------------------------------------------------------------------------------
# Currencies
# --------------------------------------------------------------------------------------------------


def test_multi_currency_rates_from_currency_type_and_dated_rates():
    """Corporate USD; reporting EUR. Salesforce rates are units per 1 USD, so a rate to EUR is
    ConversionRate(EUR) / ConversionRate(currency), with EUR's rate in force on the StartDate:
    SEK (static only) 0.8 / 10 = 0.08; USD = EUR's dated rates 0.9 (from the start) and 0.8 (from
    2024-01-01); GBP 0.9 / 0.8 = 1.125 (from the start), 0.8 / 0.75 = 1.0666… (from 2024-01-01)."""
    result = read(FIXTURES / "multicurrency", reporting_currency="EUR")
    fx = sorted(
        (c, round(float(r), 10), v) for c, r, v in result.tables["fx_rates"].select("currency", "rate", "valid_from").iter_rows()
    )
    assert fx == sorted([
        ("SEK", 0.08, None),
        ("USD", 0.9, "1900-01-01"),  # Salesforce's first period starts 0001-01-01
        ("USD", 0.8, "2024-01-01"),
        ("GBP", 1.125, "1900-01-01"),
        ("GBP", round(0.8 / 0.75, 10), "2024-01-01"),
    ])
    assert skipped_rules(result, "fx_rates") == {
        ("CurrencyType.csv", 1): "the corporate currency's rate comes from the dated rates of EUR in DatedConversionRate.csv",
        ("CurrencyType.csv", 2): "the reporting currency EUR itself (rate 1)",
        ("CurrencyType.csv", 3): "dated rates for GBP in DatedConversionRate.csv are used instead",
    }
    revenue = rows_of(result, "revenue")
    assert [revenue[digits_id("006", n)]["currency"] for n in range(21, 26)] == ["GBP", "USD", "USD", "SEK", "EUR"]
    # Wallet estimates are in the account's currency, converted at the export date (2024-06-30):
    # GBP 750000 × 1.0666… = 800000; SEK 10,000,000 × 0.08 = 800000; USD 100000 × 0.8 = 80000; EUR 5000.
    wallet = {k: round(float(v["wallet_amount"]), 6) for k, v in rows_of(result, "wallet").items()}
    assert wallet == {digits_id("001", 21): 800000.0, digits_id("001", 22): 800000.0,
                      digits_id("001", 23): 80000.0, digits_id("001", 24): 5000.0}
    assert quarantined(result, "wallet") == {
        ("Account.csv", 5): "wallet estimate in JPY and no fx rate from JPY to EUR; set reporting_currency in kam.toml or add fx_rates.csv"
    }
    assert_accounting(result)


def test_rates_rebased_when_the_reporting_currency_is_the_corporate_one():
    # Reporting USD = corporate: rate = 1 / ConversionRate. EUR dated 0.9 and 0.8 → 1/0.9, 1/0.8.
    result = read(FIXTURES / "multicurrency", reporting_currency="USD")
    fx = {(c, v): round(float(r), 10) for c, r, v in result.tables["fx_rates"].select("currency", "rate", "valid_from").iter_rows()}
    assert fx == {
        ("EUR", "1900-01-01"): round(1 / 0.9, 10), ("EUR", "2024-01-01"): 1.25,
        ("GBP", "1900-01-01"): 1.25, ("GBP", "2024-01-01"): round(1 / 0.75, 10),
        ("SEK", None): 0.1,
    }
    assert_accounting(result)


def test_no_rates_when_the_reporting_currency_is_not_in_salesforce():
    # Reporting CHF, which the org does not have: no rate can be re-based, every rate row is
    # quarantined with the reason, and wallets in other currencies have no rate either.
    result = read(FIXTURES / "multicurrency", reporting_currency="CHF")
    assert result.tables["fx_rates"].height == 0
    rejected = quarantined(result, "fx_rates")
    assert len(rejected) == 8
    assert set(rejected.values()) == {(
        "the reporting currency CHF is not in CurrencyType.csv or DatedConversionRate.csv, so Salesforce rates "
        "cannot be converted to it"
    )}
    assert len(quarantined(result, "wallet")) == 5
    assert_accounting(result)


def test_a_users_fx_rates_file_wins(tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "multicurrency", folder)
    (folder / "fx_rates.csv").write_text(
        "currency,rate,valid_from\nGBP,1.2,\nUSD,0.9,\nSEK,0.085,2024-01-01\nJPY,0.006,\n", encoding="utf-8")
    result = read(folder, reporting_currency="EUR")
    assert result.tables["fx_rates"].select("currency", "rate").rows() == [
        ("GBP", "1.2"), ("USD", "0.9"), ("SEK", "0.085"), ("JPY", "0.006")]
    rules = set(skipped_rules(result, "fx_rates").values())
    assert rules == {"fx_rates.csv given: its rates are used"}
    assert len(skipped_rules(result, "fx_rates")) == 8  # 4 CurrencyType + 4 DatedConversionRate rows
    wallet = {k: round(float(v["wallet_amount"]), 6) for k, v in rows_of(result, "wallet").items()}
    assert wallet[digits_id("001", 25)] == 6.0  # 1000 JPY × 0.006: now it has a rate
    assert wallet[digits_id("001", 21)] == 900000.0  # 750000 GBP × 1.2
    assert_accounting(result)


def test_a_revenue_file_wins_over_closed_won_opportunities(tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "weekly", folder)
    a1_15 = W_A[1][:15]
    (folder / "revenue.csv").write_text(
        f"revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency\n"
        f"INV-1,{a1_15},2024-04-30,1000,400,Hardware,EUR\nINV-2,{W_A[2]},2024-05-31,-50,,,\n",
        encoding="utf-8")
    result = read(folder)
    revenue = rows_of(result, "revenue")
    assert set(revenue) == {"INV-1", "INV-2"}
    assert revenue["INV-1"]["account_id"] == W_A[1]  # a 15-character account id in the ERP file
    assert skipped_rules(result, "revenue") == {}
    assert len(rows_of(result, "opportunities")) == 4
    assert_accounting(result)


def test_currency_000_is_not_a_currency():
    # Task and User rows of the weekly export carry CurrencyIsoCode "000": nothing staged uses it.
    result = read(FIXTURES / "weekly")
    for frame in result.tables.values():
        if "currency" in frame.columns:
            assert "000" not in frame["currency"].drop_nulls().to_list()


# --------------------------------------------------------------------------------------------------
# Whole-folder problems and broken rows
# --------------------------------------------------------------------------------------------------


def test_missing_account_file_is_a_load_error(tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "excel", folder)
    (folder / "Account.csv").unlink()
    with pytest.raises(LoadError, match=r"no Account\.csv .*a Salesforce export needs the Account object") as err:
        read(folder)
    assert err.value.file == "Account.csv"
    assert IMPORTER.detect(folder) is None


def test_detect_rejects_other_folders(tmp_path):
    (tmp_path / "accounts.csv").write_text("account_id,account_name,is_key_account\nA1,Acme,true\n", encoding="utf-8")
    assert IMPORTER.detect(tmp_path) is None
    (tmp_path / "Account.csv").write_text("Name,Phone\nAcme,1\n", encoding="utf-8")
    assert IMPORTER.detect(tmp_path) is None
    assert IMPORTER.detect(FIXTURES / "dataloader") == (
        "account.csv with Salesforce headers (ID, ISDELETED, OWNERID, SYSTEMMODSTAMP, CREATEDDATE)")


def test_a_ragged_row_is_quarantined_not_lost(tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "excel", folder)
    with (folder / "Account.csv").open("ab") as fh:
        fh.write(b"001000000000013AAA,FALSE,Extra, Comma Ltd,,Food,France,,01/01/24,01/01/24,FALSE,surplus\r\n")
    result = read(folder)
    assert len(rows_of(result, "accounts")) == 2
    rejected = quarantined(result, "accounts")
    assert list(rejected) == [("Account.csv", 3)]
    assert rejected[("Account.csv", 3)].startswith("unreadable CSV row: row has 12 fields, the header has 10")


def test_activity_without_any_account_names_every_lookup(tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "excel", folder)
    lead = sf_id("00Q5g00000LeAd1")
    text = (folder / "Task.csv").read_text(encoding="utf-8").splitlines()
    text[1] = f"{digits_id('00T', 11)},{lead},,Catch-up,04/02/24,Completed,TRUE,FALSE,,Call,1800,04/02/24 02:00 PM"
    (folder / "Task.csv").write_text("\r\n".join(text) + "\r\n", encoding="utf-8")
    result = read(folder)
    assert quarantined(result, "activities") == {
        ("Task.csv", 1): f"activity has no account: AccountId is empty, WhatId is empty, WhoId '{lead}' is not a contact"
    }
    assert_accounting(result)


def test_activity_on_a_case_takes_the_cases_account(tmp_path):
    folder = tmp_path / "x"
    shutil.copytree(FIXTURES / "excel", folder)
    lead, case = sf_id("00Q5g00000LeAd1"), digits_id("500", 11)  # case 11 belongs to account XA1
    unknown_opportunity = digits_id("006", 99)
    text = (folder / "Task.csv").read_text(encoding="utf-8").splitlines()
    text[1] = f"{digits_id('00T', 11)},{lead},{case},Catch-up,04/02/24,Completed,TRUE,FALSE,,Call,1800,"
    text[2] = f"{digits_id('00T', 12)},{lead},{unknown_opportunity},Quote,04/03/24,Completed,TRUE,FALSE,,Task,,"
    (folder / "Task.csv").write_text("\r\n".join(text) + "\r\n", encoding="utf-8")
    result = read(folder)
    assert rows_of(result, "activities")[digits_id("00T", 11)]["account_id"] == XA1
    assert quarantined(result, "activities") == {
        ("Task.csv", 2): f"activity has no account: AccountId is empty, WhatId '{unknown_opportunity}' does not "
        f"lead to an account, WhoId '{lead}' is not a contact"
    }


# --------------------------------------------------------------------------------------------------
# Accounting for every fixture
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["weekly", "dataloader", "excel", "multicurrency"])
def test_every_source_row_is_staged_skipped_or_quarantined(folder):
    assert_accounting(read(FIXTURES / folder))


def test_weekly_accounting_by_hand():
    # Rows read per table (from the files) = staged + skipped + quarantined, counted by hand above:
    result = read(FIXTURES / "weekly")
    expected = {  # table: (staged, skipped, quarantined)
        "accounts": (3, 1, 0),  # Account.csv 4 rows
        "wallet": (2, 2, 0),  # Account.csv 4 rows
        "contacts": (6, 1, 1),  # Contact.csv 8 rows
        "opportunities": (4, 1, 0),  # Opportunity.csv 5 rows
        "revenue": (3, 6, 0),  # Opportunity.csv 5 + OpportunityLineItem.csv 4 rows
        "activities": (9, 5, 1),  # Task.csv 7 + Event.csv 8 rows
        "cases": (3, 1, 1),  # Case.csv 5 rows
    }
    got = {t: (result.tables[t].height, len(skipped_rules(result, t)), len(quarantined(result, t))) for t in expected}
    assert got == expected
    assert set(result.tables) == set(expected)


# --------------------------------------------------------------------------------------------------
# End to end through the pipeline
# --------------------------------------------------------------------------------------------------


def _counts(report) -> dict[str, tuple[int, int, int, int]]:
    return {t.table: (t.read, t.loaded, t.quarantined, t.skipped) for t in report.tables if t.is_present}


@pytest.mark.parametrize("folder", ["dataloader", "excel"])
def test_pipeline_loads_clean_fixtures_without_quarantine(load_folder, folder):
    report = load_folder(FIXTURES / folder, fmt="salesforce")
    assert report.format == "salesforce"
    assert report.quarantine.is_empty()


def test_pipeline_weekly_export(load_folder):
    from kam_metrics.load import warehouse

    report = load_folder(FIXTURES / "weekly")  # auto-detected
    assert report.format == "salesforce"
    assert _counts(report) == {
        "accounts": (4, 3, 0, 1),
        "contacts": (8, 6, 1, 1),
        "activities": (15, 9, 1, 5),
        "revenue": (9, 3, 0, 6),
        "opportunities": (5, 4, 0, 1),
        "cases": (5, 3, 1, 1),
        "wallet": (4, 2, 0, 2),
    }
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    try:
        names = con.sql("select account_name from accounts order by account_id").fetchall()
        assert [n for (n,) in names] == ["Société Générale d'Équipements", "Nordwind Logistik GmbH",
                                         "Åkesson & Brännström AB"]
        # Task.csv's 7 rows: 4 loaded as activities, the other 3 (skipped or quarantined) kept raw, as read
        files = con.sql("select rows, raw_rows from load_files where raw_table = 'raw__task'").fetchall()
        raw_rows = con.sql("select count(*) from raw__task").fetchall()[0][0]
        loaded = con.sql("select count(distinct _source_row) from activities "
                         "where _source_file = (select file from load_files where raw_table = 'raw__task')").fetchall()
    finally:
        con.close()
    assert files == [(7, 3)] and raw_rows == 3 and loaded == [(4,)]
    from kam_metrics.load.verify import verify_snapshot

    assert verify_snapshot(report.snapshot_path.parent.parent) == []


def test_pipeline_converts_currencies_with_the_salesforce_rates(load_folder):
    from kam_metrics.load import warehouse

    report = load_folder(FIXTURES / "multicurrency", fmt="salesforce", settings=Settings(reporting_currency="EUR"))
    assert report.quarantine.select("table", "reason").rows() == [
        ("wallet", "wallet estimate in JPY and no fx rate from JPY to EUR; set reporting_currency in kam.toml or add fx_rates.csv")]
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    try:
        rows = con.sql("select revenue_id, amount, amount_original, currency from revenue order by revenue_id").fetchall()
    finally:
        con.close()
    got = {rid: (round(a, 6), o, c) for rid, a, o, c in rows}
    assert got == {
        digits_id("006", 21): (80000.0, 75000.0, "GBP"),  # 2024-03-01: GBP 0.8/0.75
        digits_id("006", 22): (90000.0, 100000.0, "USD"),  # 2023-06-01: USD 0.9 (before 2024-01-01)
        digits_id("006", 23): (80000.0, 100000.0, "USD"),  # 2024-06-01: USD 0.8
        digits_id("006", 24): (80000.0, 1000000.0, "SEK"),  # static 0.08
        digits_id("006", 25): (20000.0, 20000.0, "EUR"),
    }


def test_pipeline_loads_the_real_export(load_folder):
    report = load_folder(SAMPLE)
    assert report.format == "salesforce"
    counts = _counts(report)
    assert counts["accounts"] == (22, 22, 0, 0)
    assert counts["contacts"] == (102, 18, 84, 0)
    assert counts["opportunities"] == (50, 50, 0, 0)
    assert counts["revenue"] == (50, 12, 0, 38)
    assert counts["activities"] == (75, 0, 0, 75)
    assert counts["cases"] == (40, 14, 26, 0)


def test_programme_tables_beside_the_export_are_loaded_with_it(tmp_path):
    """Reviews, goals and wallet rarely live in a CRM: canonical files beside the export are loaded too."""
    from kam_metrics.load.pipeline import load_export
    from kam_metrics.load import warehouse

    folder = tmp_path / "weekly"
    shutil.copytree(FIXTURES / "weekly", folder)
    (folder / "reviews.csv").write_text(
        "review_id,account_id,review_date,review_type,rating\n"
        "RV1,001000000000001AAA,2023-04-01,plan_90_day,4\n"
        "RV2,001000000000001,2023-04-20,review_30_day,5\n"  # the 15-character id the UI shows
        "RV3,001000000000099AAA,2023-04-20,review_30_day,5\n"  # no such account
    )
    (folder / "wallet.csv").write_text("account_id,year,wallet_amount\n001000000000002AAA,2023,500000\n")
    (folder / "revenue.csv").write_text(
        "revenue_id,account_id,revenue_date,amount\nR1,001000000000001AAA,2023-03-01,1000\n"
    )
    result = read(folder)
    assert result.tables["reviews"].height == 3 and result.tables["wallet"].height == 1
    assert "reviews.csv: staged as the reviews table" in result.notes
    assert not any("revenue.csv: ignored" in n for n in result.notes)  # the reader takes revenue.csv itself
    report = load_export(folder, tmp_path / "data", fmt="salesforce")
    counts = {c.table: c for c in report.tables}
    assert (counts["reviews"].read, counts["reviews"].loaded, counts["reviews"].quarantined) == (3, 2, 1)
    assert (counts["wallet"].loaded, counts["revenue"].loaded) == (1, 1)
    con = warehouse.connect_current(tmp_path / "data")
    assert con.sql("SELECT review_id, account_id FROM reviews ORDER BY 1").fetchall() == [
        ("RV1", "001000000000001AAA"), ("RV2", "001000000000001AAA")]
