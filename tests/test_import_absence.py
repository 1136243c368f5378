"""CRM exports and absence: a column is absent when the mapped field (or the file it comes from) is not in the
export (METRICS.md "Data that is not there"); the importers declare it (ImportResult.absent_columns) and the
load records it in the snapshot's export_columns, read back by metrics.presence."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb

from kam_metrics.load import warehouse
from kam_metrics.load.contract import TABLES
from kam_metrics.load.importers.hubspot import IMPORTER as HUBSPOT
from kam_metrics.load.importers.salesforce import IMPORTER as SALESFORCE
from kam_metrics.metrics.presence import Presence, presence
from kam_metrics.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
SF_SAMPLE = FIXTURES / "salesforce-data-cloud-workshop"
SF_WEEKLY = FIXTURES / "salesforce" / "weekly"
HS_ALLPROPS = FIXTURES / "hubspot" / "allprops"
HS_CUSTOM_STAGES = FIXTURES / "hubspot-custom-stages"


def _presence_after_load(load_folder, folder: Path, data_dir: Path) -> Presence:
    load_folder(folder, data_dir=data_dir)
    con = duckdb.connect(str(warehouse.current_snapshot_path(data_dir)), read_only=True)
    try:
        return presence(con)
    finally:
        con.close()


def _absent(seen: Presence) -> dict[str, set[str]]:
    """Per present table, the contract columns the snapshot records as not carried."""
    return {t: {c.name for c in TABLES[t].columns if not seen.has(t, c.name)} for t in sorted(seen.tables)}


def test_the_real_salesforce_sample_records_what_it_lacks(load_folder, tmp_path):
    # Account.csv has no Executive_Sponsor__c, Key_Account_Since__c, Relationship_Stage__c (nor Key_Account__c:
    # is_key_account is required, staged false by rule); Contact.csv no Buying_Role__c, Attitude__c;
    # Opportunity.csv no CurrencyIsoCode (and no options.currency); Salesforce has no is_active / left_date for
    # contacts and no cost_of_goods for revenue. Task.csv has WhoId, OwnerId, CallDurationInSeconds, Subject, and
    # Contact.csv is read: activities carry every column of the export. But all 75 tasks are open (skipped by rule),
    # so no loaded activity carries a contact: activities.contact_id counts as absent (METRICS.md: "or no activity
    # carries one"). Case.csv has ClosedDate, Priority, Status.
    seen = _presence_after_load(load_folder, SF_SAMPLE, tmp_path / "data")
    assert seen.tables == {"accounts", "contacts", "activities", "revenue", "opportunities", "cases"}
    assert _absent(seen) == {
        "accounts": {"executive_sponsor", "key_account_since", "relationship_stage"},
        "activities": {"contact_id"},
        "cases": set(),
        "contacts": {"buying_role", "attitude", "is_active", "left_date"},
        "opportunities": {"currency"},
        "revenue": {"cost_of_goods", "currency"},
    }
    assert seen.missing("accounts", "executive_sponsor") == "accounts.executive_sponsor"
    assert seen.missing("contacts", "buying_role") == "contacts.buying_role"
    assert seen.missing("reviews") == "reviews.csv"


def _drop_column(path: Path, column: str) -> None:
    """Rewrite a weekly-export CSV (Windows-1252, every field quoted) without `column`."""
    with path.open(encoding="cp1252", newline="") as f:
        rows = list(csv.reader(f))
    at = rows[0].index(column)
    with path.open("w", encoding="cp1252", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([r[:at] + r[at + 1:] for r in rows])


def test_salesforce_activities_without_whoid_have_no_contact_id(tmp_path):
    folder = tmp_path / "weekly"
    shutil.copytree(SF_WEEKLY, folder)
    full = SALESFORCE.read(SF_WEEKLY, settings=Settings())
    assert "activities" not in full.absent_columns  # Task.csv and Event.csv carry WhoId
    for name in ("Task.csv", "Event.csv"):
        _drop_column(folder / name, "WhoId")
    result = SALESFORCE.read(folder, settings=Settings())
    assert result.absent_columns["activities"] == {"contact_id"}
    assert result.tables["activities"]["contact_id"].null_count() == result.tables["activities"].height


def test_salesforce_activities_without_contacts_have_no_contact_id(tmp_path):
    folder = tmp_path / "weekly"
    shutil.copytree(SF_WEEKLY, folder)
    (folder / "Contact.csv").unlink()
    result = SALESFORCE.read(folder, settings=Settings())
    assert "contacts" not in result.tables
    assert result.absent_columns["activities"] == {"contact_id"}


def test_salesforce_weekly_export_lacks_only_what_salesforce_has_no_field_for():
    # The weekly fixture carries every mapped field but Key_Account_Since__c; wallet rows come from
    # Wallet_Estimate__c, with no product line or confidence.
    result = SALESFORCE.read(SF_WEEKLY, settings=Settings())
    assert result.absent_columns == {
        "accounts": {"key_account_since"},
        "contacts": {"is_active", "left_date"},
        "revenue": {"cost_of_goods"},
        "wallet": {"product_line", "confidence"},
    }


def test_a_programme_file_beside_the_export_carries_what_its_header_says(tmp_path):
    # wallet.csv beside the export replaces the wallet property; its header carries product_line, not confidence.
    folder = tmp_path / "weekly"
    shutil.copytree(SF_WEEKLY, folder)
    (folder / "wallet.csv").write_text("account_id,year,wallet_amount,product_line\n")
    result = SALESFORCE.read(folder, settings=Settings())
    assert "wallet" not in result.absent_columns


def test_a_hubspot_export_records_what_it_lacks(load_folder, tmp_path):
    # The all-properties companies export has no parent, segment, key-account-since or relationship-stage
    # property (its Key Account, Executive Sponsor, Wallet Estimate are there); HubSpot contacts have no attitude,
    # is_active or left_date; the deals have no Currency / Deal Currency Code; revenue has no cost of goods; the
    # wallet property gives no product line or confidence. Calls, meetings and e-mails carry associated contacts,
    # owners, subjects and a duration (or meeting end time).
    seen = _presence_after_load(load_folder, HS_ALLPROPS, tmp_path / "data")
    assert _absent(seen) == {
        "accounts": {"parent_account_id", "segment", "key_account_since", "relationship_stage"},
        "activities": set(),
        "contacts": {"attitude", "is_active", "left_date"},
        "opportunities": {"currency"},
        "revenue": {"cost_of_goods", "currency"},
        "wallet": {"product_line", "confidence"},
    }
    # The custom-stages export: companies without Executive Sponsor (nor Key Account, Wallet Estimate); deals
    # with a Currency and a Pipeline; no contacts or activities exports at all (absent tables).
    seen = _presence_after_load(load_folder, HS_CUSTOM_STAGES, tmp_path / "data2")
    assert seen.tables == {"accounts", "opportunities", "revenue"}
    assert seen.missing("accounts", "executive_sponsor") == "accounts.executive_sponsor"
    assert seen.has("opportunities", "currency") and seen.has("revenue", "product_line")
    assert seen.missing("contacts", "buying_role") == "contacts.csv"


def test_hubspot_activities_without_a_contacts_export_have_no_contact_id(tmp_path):
    folder = tmp_path / "allprops"
    shutil.copytree(HS_ALLPROPS, folder)
    (folder / "hubspot-crm-exports-all-contacts-2024-06-15.csv").unlink()
    result = HUBSPOT.read(folder, settings=Settings())
    assert "contacts" not in result.tables
    assert result.absent_columns["activities"] == {"contact_id"}


def test_hubspot_contacts_without_a_buying_role_property(tmp_path):
    folder = tmp_path / "allprops"
    shutil.copytree(HS_ALLPROPS, folder)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[contacts]\nbuying_role = ""\n')  # "" = this export has no such property
    result = HUBSPOT.read(folder, settings=Settings(), mapping=mapping)
    assert result.absent_columns["contacts"] == {"buying_role", "attitude", "is_active", "left_date"}
