"""What the export carried is recorded at load and read back by the metrics (METRICS.md "Data that is not there")."""

from __future__ import annotations

import duckdb

from kam_metrics.load import warehouse
from kam_metrics.metrics.presence import Presence, presence


def _presence_of(data_dir) -> Presence:
    con = duckdb.connect(str(warehouse.current_snapshot_path(data_dir)), read_only=True)
    try:
        return presence(con)
    finally:
        con.close()


def test_missing_files_header_only_files_and_missing_columns_are_absent(make_export, load_folder, tmp_path):
    folder = make_export({
        # activities without a contact_id column, and a reviews file with a header but no data rows
        "activities.csv": """\
            activity_id,account_id,activity_date,activity_type
            X1,A1,2026-11-01,email
            """,
        "reviews.csv": "review_id,account_id,review_date,review_type\n",
        "wallet.csv": """\
            account_id,year,wallet_amount
            A1,2026,5000
            """,
    })
    load_folder(folder)
    seen = _presence_of(tmp_path / "data")
    assert seen.tables == {"accounts", "activities", "revenue", "wallet"}
    assert seen.has("activities") and seen.has("activities", "activity_type")
    assert not seen.has("activities", "contact_id")
    assert seen.missing("activities", "contact_id") == "activities.contact_id"
    assert not seen.has("reviews") and seen.missing("reviews") == "reviews.csv"
    assert not seen.has("contacts") and seen.missing("contacts", "buying_role") == "contacts.csv"
    assert seen.has("accounts", "executive_sponsor")  # in the base export's header
    assert not seen.has("wallet", "product_line")
    assert seen.missing("revenue", "amount") is None


def test_a_file_whose_rows_are_all_rejected_is_still_present(make_export, load_folder, tmp_path):
    folder = make_export({
        "surveys.csv": """\
            response_id,account_id,response_date,nps
            S1,NOPE,2026-10-01,9
            """,
    })
    report = load_folder(folder)
    assert report.quarantined_rows == 1
    seen = _presence_of(tmp_path / "data")
    assert seen.has("surveys", "nps") and not seen.has("surveys", "csat")


def test_everything_has_every_contract_column():
    every = Presence.everything()
    assert every.has("contacts", "buying_role") and every.has("fx_rates", "valid_from")
    assert every.missing("reviews") is None
