"""The canonical load: every bad input of the foundation issue, the date/boolean forms, currency,
the row accounting (read = loaded + quarantined + skipped) and repeatability."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from kam_metrics.load import warehouse
from kam_metrics.load.importers.base import LoadError


def quarantine_of(report, table):
    return report.quarantine.filter(pl.col("table") == table)


def only_reason(report, table):
    q = quarantine_of(report, table)
    assert q.height == 1, q
    return q.row(0, named=True)


def counts(report):
    return {c.table: c for c in report.tables}


# --- row problems go to the quarantine with file, row, column, value and reason ---------------

def test_duplicate_ids_keep_the_first_and_name_its_row(make_export, load_folder):
    folder = make_export({"activities.csv": """\
        activity_id,account_id,activity_date,activity_type
        X1,A1,2026-11-01,email
        X2,A1,2026-11-02,call
        X1,A2,2026-11-03,call
        """})
    report = load_folder(folder)
    row = only_reason(report, "activities")
    assert (row["_source_file"], row["_source_row"], row["column"], row["value"]) == ("activities.csv", 3, "activity_id", "X1")
    assert row["reason"] == "duplicate activity_id 'X1' (first at row 1)"
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    kept = con.sql("SELECT account_id FROM activities WHERE activity_id = 'X1'").fetchall()
    assert kept == [("A1",)]


def test_unknown_account_and_contact_ids(make_export, load_folder):
    folder = make_export({
        "contacts.csv": """\
            contact_id,account_id,full_name
            C1,A1,Ann Smith
            C2,A404,Bob Jones
            """,
        "activities.csv": """\
            activity_id,account_id,activity_date,activity_type,contact_id
            X1,A1,2026-11-01,email,C1
            X2,A1,2026-11-02,call,C999
            X3,A777,2026-11-02,call,
            """,
    })
    report = load_folder(folder)
    c = only_reason(report, "contacts")
    assert (c["_source_row"], c["column"], c["reason"]) == (2, "account_id", "unknown account_id 'A404' (not in accounts)")
    a = quarantine_of(report, "activities").sort("_source_row")
    assert a["_source_row"].to_list() == [2, 3]
    assert a["reason"].to_list() == [
        "unknown contact_id 'C999' (not in contacts)",
        "unknown account_id 'A777' (not in accounts)",
    ]


def test_unknown_goal_id_in_actions(make_export, load_folder):
    folder = make_export({
        "goals.csv": """\
            goal_id,title,target,current,start_date,due_date
            G1,Grow key revenue,100,40,2026-01-01,2026-12-31
            """,
        "actions.csv": """\
            action_id,goal_id,title
            AC1,G1,Plan QBRs
            AC2,G9,Orphan action
            """,
    })
    row = only_reason(load_folder(folder), "actions")
    assert (row["column"], row["value"], row["reason"]) == ("goal_id", "G9", "unknown goal_id 'G9' (not in goals)")


@pytest.mark.parametrize(
    "table,header,bad_row,column,value,reason",
    [
        ("activities", "activity_id,account_id,activity_date,activity_type", "X9,A1,31/02/2026,call",
         "activity_date", "31/02/2026", "not a date (expected YYYY-MM-DD or an ISO datetime)"),
        ("revenue", "revenue_id,account_id,revenue_date,amount", "R9,A1,2026-10-01,12 EUR",
         "amount", "12 EUR", "not a number"),
        ("activities", "activity_id,account_id,activity_date,activity_type,duration_minutes",
         "X9,A1,2026-10-01,call,-5", "duration_minutes", "-5", "out of range: must be ≥ 0"),
        ("revenue", "revenue_id,account_id,revenue_date,amount,cost_of_goods", "R9,A1,2026-10-01,100,-1",
         "cost_of_goods", "-1", "out of range: must be ≥ 0"),
        ("activities", "activity_id,account_id,activity_date,activity_type", "X9,,2026-10-01,call",
         "account_id", None, "required value is empty"),
        ("revenue", "revenue_id,account_id,revenue_date,amount", "R9,A1,2026-10-01,",
         "amount", None, "required value is empty"),
    ],
)
def test_bad_values_in_required_tables(make_export, load_folder, table, header, bad_row, column, value, reason):
    good = {"activities": "X1,A1,2026-11-01,email" + (",5" if "duration" in header else ""),
            "revenue": "R1,A1,2026-10-01,1000" + (",10" if "cost_of_goods" in header else "")}[table]
    folder = make_export({f"{table}.csv": f"{header}\n{good}\n{bad_row}\n"})
    report = load_folder(folder)
    row = only_reason(report, table)
    assert (row["_source_row"], row["column"], row["value"], row["reason"]) == (2, column, value, reason)
    assert counts(report)[table].loaded == 1


def test_nps_out_of_range_and_survey_without_score(make_export, load_folder):
    folder = make_export({"surveys.csv": """\
        response_id,account_id,response_date,nps,csat
        S1,A1,2026-10-01,9,5
        S2,A1,2026-10-02,11,
        S3,A1,2026-10-03,,
        S4,A1,2026-10-04,7.5,
        """})
    q = quarantine_of(load_folder(folder), "surveys").sort("_source_row")
    assert q.select("_source_row", "column", "value", "reason").rows() == [
        (2, "nps", "11", "out of range: must be ≤ 10"),
        (3, "nps", None, "a response needs an nps or a csat"),
        (4, "nps", "7.5", "not a whole number"),
    ]


def test_currency_without_rate_is_rejected(make_export, load_folder):
    folder = make_export({"revenue.csv": """\
        revenue_id,account_id,revenue_date,amount,currency
        R1,A1,2026-10-01,1000,EUR
        R2,A1,2026-10-01,1000,GBP
        """})
    row = only_reason(load_folder(folder), "revenue")
    assert (row["column"], row["value"], row["reason"]) == ("currency", "GBP", "no fx rate from GBP to the reporting currency EUR: add it to fx_rates.csv or set "
                                                   "reporting_currency in kam.toml")


def test_goal_dates_and_goal_without_metric_or_current(make_export, load_folder):
    folder = make_export({"goals.csv": """\
        goal_id,title,metric,target,current,start_date,due_date
        G1,Fine,,10,5,2026-01-01,2026-12-31
        G2,Backwards,,10,5,2026-12-31,2026-01-01
        G3,Nothing to measure,,10,,2026-01-01,2026-12-31
        G4,Metric driven,revenue_ttm,10,,2026-01-01,2026-12-31
        """})
    q = quarantine_of(load_folder(folder), "goals").sort("_source_row")
    assert q.select("_source_row", "column", "reason").rows() == [
        (2, "start_date", "start_date is after due_date"),
        (3, "current", "a goal needs a metric or a current value"),
    ]


def test_case_closed_before_opened(make_export, load_folder):
    folder = make_export({"cases.csv": """\
        case_id,account_id,opened_date,closed_date,priority
        K1,A1,2026-10-01,2026-10-03,High
        K2,A1,2026-10-05,2026-10-01,low
        K3,A1,2026-10-05,,urgent
        """})
    report = load_folder(folder)
    row = only_reason(report, "cases")
    assert (row["_source_row"], row["column"], row["value"], row["reason"]) == (
        2, "closed_date", "2026-10-01", "closed_date is before opened_date")
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    # Enumerations match case-insensitively; an unknown priority falls back to medium.
    assert con.sql("SELECT case_id, priority FROM cases ORDER BY case_id").fetchall() == [("K1", "high"), ("K3", "medium")]


def test_enum_fallbacks_and_rejections(make_export, load_folder):
    folder = make_export({
        "accounts.csv": """\
            account_id,account_name,is_key_account,relationship_stage
            A1,Acme,true, Cooperative
            A2,Beta,false,
            A3,Gamma,false,friendly
            """,
        "contacts.csv": """\
            contact_id,account_id,full_name,seniority,buying_role
            C1,A1,Ann,C_LEVEL,Champion
            C2,A1,Bob,intern,
            """,
        "activities.csv": """\
            activity_id,account_id,activity_date,activity_type
            X1,A1,2026-11-01,Site_Visit
            X2,A1,2026-11-01,Zoom call
            """,
    })
    report = load_folder(folder)
    row = only_reason(report, "accounts")
    assert (row["value"], row["reason"]) == ("friendly", "not one of: exploratory, basic, cooperative, interdependent, integrated")
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    assert con.sql("SELECT relationship_stage FROM accounts ORDER BY account_id").fetchall() == [("cooperative",), (None,)]
    assert con.sql("SELECT seniority, buying_role FROM contacts ORDER BY contact_id").fetchall() == [
        ("c_level", "champion"), ("unknown", "unknown")]
    assert con.sql("SELECT activity_type FROM activities ORDER BY activity_id").fetchall() == [("site_visit",), ("other",)]


# --- forms the contract accepts -------------------------------------------------------------

@pytest.mark.parametrize(
    "text,expected",
    [
        ("2024-01-31", date(2024, 1, 31)),
        ("2024-01-31T10:00:00.000Z", date(2024, 1, 31)),
        ("2024-01-22T16:14:25.000+0000", date(2024, 1, 22)),
        ("2024-01-31 10:00:00", date(2024, 1, 31)),
        ("2024-01-31T23:30:00-05:00", date(2024, 2, 1)),  # converted to UTC first
        ("2024-02-01T01:30:00+02:00", date(2024, 1, 31)),
    ],
)
def test_date_forms(make_export, load_folder, text, expected):
    folder = make_export({"activities.csv": f"activity_id,account_id,activity_date,activity_type\nX1,A1,{text},call\n"})
    report = load_folder(folder)
    assert report.quarantine.is_empty()
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    assert con.sql("SELECT activity_date FROM activities").fetchall() == [(expected,)]


@pytest.mark.parametrize(
    "text,expected",
    [("true", True), ("FALSE", False), ("1", True), ("0", False), ("Yes", True), ("no", False), ("Y", True),
     ("n", False)],
)
def test_boolean_forms(make_export, load_folder, text, expected):
    folder = make_export({"accounts.csv": f"account_id,account_name,is_key_account\nA1,Acme,{text}\nA2,B,false\nA3,C,false\n"})
    report = load_folder(folder)
    assert report.quarantine.is_empty()
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    assert con.sql("SELECT is_key_account FROM accounts WHERE account_id='A1'").fetchall() == [(expected,)]


def test_empty_boolean_uses_default_or_is_required(make_export, load_folder):
    folder = make_export({
        "accounts.csv": "account_id,account_name,is_key_account\nA1,Acme,\nA2,B,false\nA3,C,false\n",
        "contacts.csv": "contact_id,account_id,full_name,is_active\nC1,A2,Ann,\n",
    })
    report = load_folder(folder)
    row = only_reason(report, "accounts")
    assert (row["column"], row["reason"]) == ("is_key_account", "required value is empty")
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    assert con.sql("SELECT is_active FROM contacts").fetchall() == [(True,)]  # contract default


def test_currency_conversion_by_date(make_export, load_folder):
    folder = make_export({
        "fx_rates.csv": """\
            currency,rate,valid_from
            USD,0.90,2026-01-01
            USD,0.80,2026-07-01
            """,
        "revenue.csv": """\
            revenue_id,account_id,revenue_date,amount,cost_of_goods,currency
            R1,A1,2025-06-30,100,10,usd
            R2,A1,2026-06-30,100,10,USD
            R3,A1,2026-07-01,100,,USD
            R4,A1,2026-07-01,100,40,
            """,
        "service_costs.csv": """\
            cost_id,account_id,cost_date,category,amount,currency
            S1,A1,2026-08-01,travel,50,USD
            """,
    })
    report = load_folder(folder)
    assert report.quarantine.is_empty()
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    rows = con.sql(
        "SELECT revenue_id, amount, cost_of_goods, amount_original, currency FROM revenue ORDER BY revenue_id"
    ).fetchall()
    # R1 is before every valid_from: the earliest rate (0.90) applies. R2 uses 0.90, R3 the new 0.80.
    assert rows == [
        ("R1", pytest.approx(90.0), pytest.approx(9.0), 100.0, "USD"),
        ("R2", pytest.approx(90.0), pytest.approx(9.0), 100.0, "USD"),
        ("R3", pytest.approx(80.0), None, 100.0, "USD"),
        ("R4", 100.0, 40.0, 100.0, "EUR"),
    ]
    assert con.sql("SELECT amount FROM service_costs").fetchall() == [(pytest.approx(40.0),)]


def test_utf8_with_bom_and_accents(make_export, load_folder):
    accounts = "account_id,account_name,is_key_account\nA1,Société Générale Énergie,true\nA2,B,false\nA3,C,false\n"
    folder = make_export({"accounts.csv": b"\xef\xbb\xbf" + accounts.encode("utf-8")})
    report = load_folder(folder)
    assert report.quarantine.is_empty()
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    assert con.sql("SELECT account_name FROM accounts WHERE account_id = 'A1'").fetchall() == [("Société Générale Énergie",)]


def test_parquet_tables_load_like_csv(make_export, load_folder, tmp_path):
    folder = make_export()
    pl.read_csv(folder / "revenue.csv", infer_schema=False).write_parquet(folder / "revenue.parquet")
    (folder / "revenue.csv").unlink()
    report = load_folder(folder)
    assert report.quarantine.is_empty()
    assert counts(report)["revenue"].loaded == 3


# --- whole-file problems stop the load and change nothing ------------------------------------

@pytest.mark.parametrize(
    "files,message",
    [
        ({"accounts.csv": "account_id,account_name\nA1,Acme\n"}, "accounts.csv: required column 'is_key_account' is missing"),
        ({"revenue.csv": None}, "revenue.csv: required file missing"),
        ({"activities.csv": b""}, "activities.csv: the file is empty"),
        ({"accounts.csv": "account_id,account_name,is_key_account\nA1,Soci\xe9t\xe9,true\n".encode("latin-1")},
         "accounts.csv: not UTF-8 text (byte 0xE9 on line 2)"),
        ({"revenue.csv": None, "revenue.xlsx": b"PK\x03\x04fake"}, "revenue.xlsx: wrong file extension '.xlsx'"),
        ({"activities.csv": b"PK\x03\x04\x14\x00binary\x00stuff"}, "activities.csv: not a CSV file"),
    ],
)
def test_whole_file_problems_stop_the_load_and_keep_the_previous_snapshot(
    make_export, load_folder, tmp_path, files, message
):
    data_dir = tmp_path / "data"
    first = load_folder(make_export(), data_dir=data_dir)
    before = warehouse.current_snapshot_path(data_dir)
    mtime = before.stat().st_mtime_ns
    with pytest.raises(LoadError) as err:
        load_folder(make_export(files), data_dir=data_dir)
    assert message in str(err.value)
    assert warehouse.current_snapshot_path(data_dir) == before == first.snapshot_path
    assert before.stat().st_mtime_ns == mtime
    assert warehouse.list_snapshots(data_dir) == [before]
    assert warehouse.leftovers(data_dir) == []
    con = warehouse.connect_current(data_dir)
    assert con.sql("SELECT count(*) FROM accounts").fetchall() == [(3,)]


def test_rows_with_too_many_fields_are_quarantined_not_lost(make_export, load_folder):
    folder = make_export({"activities.csv": """\
        activity_id,account_id,activity_date,activity_type
        X1,A1,2026-11-01,email
        X2,A1,2026-11-02,call,surplus,fields
        X3,A2,2026-11-03,call
        """})
    report = load_folder(folder)
    row = only_reason(report, "activities")
    assert (row["_source_row"], row["reason"]) == (2, "row has 6 fields, the header has 4")
    c = counts(report)["activities"]
    assert (c.read, c.loaded, c.quarantined) == (3, 2, 1)


# --- accounting and repeatability ---------------------------------------------------------------

def test_counts_add_up_for_a_dirty_export(make_export, load_folder):
    folder = make_export({
        "accounts.csv": """\
            account_id,account_name,is_key_account
            A1,Acme,true
            A1,Acme again,true
            A2,Beta,nope
            A3,Gamma,false
            ,Nameless,false
            """,
        "activities.csv": """\
            activity_id,account_id,activity_date,activity_type,duration_minutes
            X1,A1,2026-11-01,email,5
            X2,A2,2026-11-02,call,5
            X3,A3,never,call,abc
            X4,A3,2026-11-02,call,5
            """,
    })
    report = load_folder(folder)
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    rows = con.sql('SELECT "table", "read", loaded, quarantined, skipped FROM load_tables WHERE is_present').fetchall()
    assert rows, "load_tables is empty"
    for table, read, loaded, quarantined, skipped in rows:
        assert read == loaded + quarantined + skipped, table
        assert con.sql(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] == loaded
    by_table = {r[0]: r[1:] for r in rows}
    assert by_table["accounts"] == (5, 2, 3, 0)
    assert by_table["activities"] == (4, 2, 2, 0)  # X2 → A2 was rejected; X3 has two bad cells, one row
    # every source row is in the snapshot once: loaded, or raw (as read) when it did not load
    for table, raw_table, n in (("accounts", "raw__accounts", 5), ("activities", "raw__activities", 4)):
        loaded_rows = {r for (r,) in con.sql(f'SELECT _source_row FROM "{table}"').fetchall()}
        raw_rows = {r for (r,) in con.sql(f'SELECT _source_row FROM "{raw_table}"').fetchall()}
        quarantined = {r for (r,) in con.sql(
            'SELECT DISTINCT _source_row FROM quarantine WHERE "table" = ?', params=[table]).fetchall()}
        assert raw_rows == quarantined and not loaded_rows & raw_rows, table
        assert loaded_rows | raw_rows == set(range(1, n + 1)), table
    assert con.sql("SELECT account_id, activity_date FROM raw__activities WHERE _source_row = 3").fetchall() == [
        ("A3", "never")]
    sha = con.sql("SELECT file, length(sha256) FROM load_files ORDER BY file").fetchall()
    assert sha == [("accounts.csv", 64), ("activities.csv", 64), ("revenue.csv", 64)]


def test_loading_the_same_export_twice_gives_identical_tables(make_export, load_folder, tmp_path):
    folder = make_export({"activities.csv": "activity_id,account_id,activity_date,activity_type\nX1,A1,2026-11-01,email\nX1,A1,2026-11-01,email\n"})
    r1 = load_folder(folder, data_dir=tmp_path / "d1")
    r2 = load_folder(folder, data_dir=tmp_path / "d2")
    c1, c2 = warehouse.connect_snapshot(r1.snapshot_path), warehouse.connect_snapshot(r2.snapshot_path)
    for table in ["accounts", "activities", "revenue", "quarantine", "raw__accounts"]:
        q = f'SELECT * EXCLUDE (load_id) FROM "{table}"' if table == "quarantine" else f'SELECT * FROM "{table}"'
        assert c1.sql(q).pl().equals(c2.sql(q).pl()), table


def test_load_history_is_carried_forward_and_old_snapshots_pruned(make_export, load_folder, tmp_path):
    from kam_metrics.settings import Settings

    data_dir = tmp_path / "data"
    folder = make_export()
    ids = [load_folder(folder, data_dir=data_dir, settings=Settings(keep_snapshots=2)).load_id for _ in range(3)]
    assert [p.stem for p in warehouse.list_snapshots(data_dir)] == ids[1:]
    con = warehouse.connect_current(data_dir)
    assert con.sql("SELECT load_id FROM load_log ORDER BY started_at").fetchall() == [(i,) for i in ids]


def test_unknown_accounts_in_a_large_export_are_quarantined(demo_export_dir, tmp_path):
    """Regression: Polars 2.1 panicked formatting the reason for rows filtered out of a large table."""
    import shutil

    from kam_metrics.load.pipeline import load_export

    folder = tmp_path / "demo"
    shutil.copytree(demo_export_dir, folder)
    rows = (folder / "activities.csv").read_text().count("\n") - 1
    with open(folder / "activities.csv", "a") as fh:
        fh.write("ZZ1,ACC-9999,2026-11-01,email,,,,\nZZ2,ACC-9999,2026-11-02,call,,,,\n")
    report = load_export(folder, tmp_path / "data")
    q = report.quarantine.filter(pl.col("table") == "activities")
    assert q.select("_source_row", "reason").rows() == [
        (rows + 1, "unknown account_id 'ACC-9999' (not in accounts)"),
        (rows + 2, "unknown account_id 'ACC-9999' (not in accounts)"),
    ]


def test_duplicate_ids_in_a_large_export_are_quarantined(demo_export_dir, tmp_path):
    """Regression: the same Polars 2.1 panic hit the duplicate-key reasons of a large table."""
    import shutil

    from kam_metrics.load.pipeline import load_export

    folder = tmp_path / "demo"
    shutil.copytree(demo_export_dir, folder)
    lines = (folder / "activities.csv").read_text().splitlines()
    with open(folder / "activities.csv", "a") as fh:
        fh.write(lines[1] + "\n" + lines[2] + "\n")  # rows 1 and 2 again
    report = load_export(folder, tmp_path / "data")
    q = report.quarantine.filter(pl.col("table") == "activities")
    first_ids = [lines[1].split(",")[0], lines[2].split(",")[0]]
    n = len(lines) - 1
    assert q.select("_source_row", "reason").rows() == [
        (n + 1, f"duplicate activity_id '{first_ids[0]}' (first at row 1)"),
        (n + 2, f"duplicate activity_id '{first_ids[1]}' (first at row 2)"),
    ]
