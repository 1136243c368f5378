"""A pipeline-only export (tests/fixtures/pipeline-only, modelled on the Maven "CRM Sales Opportunities" data set):
accounts, deals and the revenue of the won deals, a header-only activities file, nothing else."""

from __future__ import annotations

from datetime import date

import duckdb

from kam_metrics.load import warehouse
from kam_metrics.metrics.presence import presence
from tests.conftest import REPO_ROOT

PIPELINE_ONLY = REPO_ROOT / "tests" / "fixtures" / "pipeline-only"


def test_the_pipeline_only_export_loads_with_its_counts_and_what_it_carried(load_folder, tmp_path):
    report = load_folder(PIPELINE_ONLY)
    counts = {t.table: (t.read, t.loaded, t.quarantined, t.skipped) for t in report.tables}
    # accounts.csv: 12 lines; revenue.csv: the 19 Won lines of opportunities.csv; opportunities.csv: 19 Won +
    # 7 Lost + 7 open = 33 lines, of which YB3QE8RU has no account.
    assert counts["accounts"] == (12, 12, 0, 0)
    assert counts["activities"] == (0, 0, 0, 0)
    assert counts["revenue"] == (19, 19, 0, 0)
    assert counts["opportunities"] == (33, 32, 1, 0)
    for table in ("contacts", "reviews", "wallet", "surveys", "goals", "actions", "cases", "service_costs"):
        assert counts[table] == (0, 0, 0, 0)
        assert not next(t for t in report.tables if t.table == table).is_present
    assert report.as_of_default == date(2026, 9, 30)  # UP409DSB, the latest won deal; no activities

    assert report.absent_columns == [
        "accounts.segment", "accounts.executive_sponsor", "accounts.key_account_since", "accounts.relationship_stage",
        "accounts.created_date", "revenue.cost_of_goods", "revenue.currency", "opportunities.name",
        "opportunities.currency",
    ]
    text = report.as_text()
    assert "(no data rows, so absent: activities)" in text
    assert "(columns not in this export: accounts.segment, accounts.executive_sponsor," in text
    assert "  1 row: opportunities.account_id is empty\n" in text

    rejected = report.quarantine.select("table", "_source_row", "column", "reason").rows()
    assert rejected == [("opportunities", 33, "account_id", "required value is empty")]

    con = duckdb.connect(str(warehouse.current_snapshot_path(tmp_path / "data")), read_only=True)
    try:
        carried = con.sql("SELECT table_name, column_name FROM export_columns").fetchall()
        seen = presence(con)
        key_accounts = con.sql("SELECT count(*) FROM accounts WHERE is_key_account").fetchall()[0][0]
        won_total = con.sql("SELECT sum(amount) FROM revenue").fetchall()[0][0]
    finally:
        con.close()
    by_table: dict[str, set[str]] = {}
    for table, column in carried:
        by_table.setdefault(table, set()).add(column)
    assert by_table == {
        "accounts": {"account_id", "account_name", "is_key_account", "parent_account_id", "industry", "region",
                     "kam_owner"},
        "revenue": {"revenue_id", "account_id", "revenue_date", "amount", "product_line"},
        "opportunities": {"opportunity_id", "account_id", "stage", "amount", "close_date", "is_closed", "is_won",
                          "product_line", "created_date"},
    }
    assert not seen.has("activities") and seen.missing("activities") == "activities.csv"
    assert seen.missing("accounts", "executive_sponsor") == "accounts.executive_sponsor"
    assert seen.missing("opportunities", "name") == "opportunities.name"
    assert key_accounts == 4  # M01–M04
    # M01 1054 + 26318 + 3380 + 4795 = 35,547; M02 5420 + 4756 + 3402 = 13,578; M03 1108 + 548 + 5512 = 7,168;
    # M04 3361 + 4870 = 8,231; the others 53 + 551 + 1079 + 3417 + 57 + 4802 + 562 = 10,521: 75,045 in EUR
    # (no currency column)
    assert won_total == 75045


def test_kam_status_names_what_the_pipeline_only_export_lacks(tmp_path, capsys):
    import json

    from kam_metrics.cli import main

    data_dir = str(tmp_path / "data")
    assert main(["--data-dir", data_dir, "load", str(PIPELINE_ONLY)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data_dir, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    # activities.csv has a header only; the other nine optional tables have no file. In contract order:
    assert status["absent_tables"] == ["fx_rates", "contacts", "goals", "activities", "service_costs", "cases",
                                       "surveys", "wallet", "actions", "reviews"]
    # accounts.csv lacks segment, executive_sponsor, key_account_since, relationship_stage, created_date;
    # revenue.csv cost_of_goods and currency; opportunities.csv name and currency.
    assert status["absent_columns"] == [
        "accounts.segment", "accounts.executive_sponsor", "accounts.key_account_since", "accounts.relationship_stage",
        "accounts.created_date", "revenue.cost_of_goods", "revenue.currency", "opportunities.name",
        "opportunities.currency",
    ]
    assert main(["--data-dir", data_dir, "status"]) == 0
    text = capsys.readouterr().out
    assert "Not in this export (the figures that need them are null): fx_rates.csv, contacts.csv," in text
    assert "Columns not in this export: accounts.segment, accounts.executive_sponsor," in text
