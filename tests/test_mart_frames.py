"""The marts a load computes in Polars (kam_metrics.load.mart_frames) equal their SQL definitions (marts.MART_SQL)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kam_metrics.load import mart_frames, warehouse
from kam_metrics.load.marts import MART_NAMES, MART_SQL, marts_current, verify_marts

# Rows that are unordered within a day in the SQL (ORDER BY d only, or ties on d, account_id).
_TIE_KEYS = {
    "mart_champion_activity": ["d", "contact_id", "touches"],
    "mart_activity_weekly": ["week_start", "account_id", "activity_type"],
    "mart_revenue_pl_daily": ["d", "account_id", "product_line"],
    "mart_account_daily": ["d", "account_id"],  # stored by week, account, day
}


def _sql_mart(con, name: str) -> pl.DataFrame:
    sql = MART_SQL[name]
    if name == "mart_account_weekly_cum":
        sql = sql.replace("FROM mart_account_daily u", f"FROM ({MART_SQL['mart_account_daily']}) u")
    return con.sql(sql).pl()


def assert_marts_match_sql(data_dir) -> None:
    con = warehouse.connect_current(data_dir)
    try:
        assert marts_current(con)
        assert verify_marts(con) == []
        for name in MART_NAMES:
            stored = con.sql(f"SELECT * FROM {name}").pl()
            expected = _sql_mart(con, name)
            assert stored.schema == expected.schema, name
            if name in _TIE_KEYS:
                stored, expected = stored.sort(_TIE_KEYS[name]), expected.sort(_TIE_KEYS[name])
            assert_frame_equal(stored, expected, check_exact=False, rel_tol=1e-12, abs_tol=1e-9), name
    finally:
        con.close()


def test_demo_marts_equal_their_sql(demo_data_dir):
    assert_marts_match_sql(demo_data_dir)


def _edge_export() -> dict[str, str]:
    """Contacts with gaps just under, at and over 90 days, unknown enum values, no contact, a contact of another
    account, empty product lines, future rows (past today + 6 days), surveys without scores."""
    today = date.today()
    future = (today + timedelta(days=40)).isoformat()
    return {
        "contacts.csv": """\
            contact_id,account_id,full_name,seniority,buying_role
            C1,A1,Ann,c_level,decision_maker
            C2,A1,Bob,manager,champion
            C3,A2,Cy,,economic_buyer
            C4,A3,Di,c_level,
            """,
        "activities.csv": f"""\
            activity_id,account_id,activity_date,activity_type,contact_id
            X1,A1,2024-01-01,email,C1
            X2,A1,2024-03-31,call,C1
            X3,A1,2024-06-30,meeting,C1
            X4,A1,2024-09-29,Lunch,C1
            X5,A1,2024-09-29,email,C1
            X6,A1,2024-09-29,email,C2
            X7,A2,2024-12-31,qbr,C3
            X8,A2,2025-01-05,workshop,
            X9,A3,2025-02-03,site_visit,C1
            X10,A3,2019-05-06,exec_meeting,C4
            X11,A1,{future},call,C2
            X12,A2,2026-11-01,call,C3
            """,
        "revenue.csv": f"""\
            revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency
            R1,A1,2024-01-01,1000,300,Pumps,EUR
            R2,A1,2024-01-01,500,,  Pumps  ,EUR
            R3,A2,2024-01-07,250.5,,,EUR
            R4,A3,2019-05-06,-50,0,Valves,EUR
            R5,A3,{future},70,10,Valves,EUR
            """,
        "service_costs.csv": """\
            cost_id,account_id,cost_date,category,amount,currency
            S1,A1,2024-01-02,support,10,EUR
            S2,A1,2024-01-02,Hospitality,5,EUR
            S3,A2,2024-02-02,,7.25,EUR
            """,
        "cases.csv": """\
            case_id,account_id,opened_date,priority
            K1,A1,2024-01-03,critical
            K2,A1,2024-01-03,
            K3,A3,2024-05-05,urgent
            """,
        "surveys.csv": """\
            response_id,account_id,response_date,contact_id,nps,csat
            V1,A1,2024-01-04,C1,10,5
            V2,A1,2024-01-04,C2,6,
            V3,A2,2024-06-01,,,3
            V4,A3,2024-06-01,C4,8,4
            """,
        "reviews.csv": """\
            review_id,account_id,review_date,review_type
            W1,A1,2024-01-05,plan_90_day
            W2,A1,2024-01-05,review_30_day
            W3,A2,2024-02-05,
            """,
    }


def test_edge_case_marts_equal_their_sql(make_export, load_folder, tmp_path):
    report = load_folder(make_export(_edge_export()))
    assert report.quarantined_rows == 0, report.quarantine
    assert_marts_match_sql(tmp_path / "data")


@pytest.mark.parametrize("rectangle", [True, False], ids=["dense-grid", "per-account-segments"])
def test_weekly_totals_with_an_account_a_century_back(make_export, load_folder, tmp_path, monkeypatch, rectangle):
    """One revenue row dated 1925: the weekly running totals of that account start then, the others' do not;
    both ways of accumulating them give the SQL's rows."""
    monkeypatch.setattr(mart_frames, "_use_rectangle", lambda cells, rows: rectangle)
    files = _edge_export()
    files["revenue.csv"] += "            R9,A2,1925-03-04,10,,Pumps,EUR\n"
    report = load_folder(make_export(files))
    assert report.quarantined_rows == 0, report.quarantine
    assert_marts_match_sql(tmp_path / "data")


def test_the_dense_grid_is_not_used_when_it_would_be_mostly_empty():
    assert mart_frames._use_rectangle(170 * 10_000, 1_560_000)
    assert not mart_frames._use_rectangle(5_300 * 10_000, 1_560_000)


def test_marts_fall_back_to_sql_when_the_packed_keys_would_overflow(make_export, load_folder, tmp_path,
                                                                     monkeypatch):
    def too_large(self, frame):
        raise mart_frames.MartsTooLarge("test")

    monkeypatch.setattr(mart_frames.MartBuilder, "_add_activities", too_large)
    load_folder(make_export(_edge_export()))
    assert_marts_match_sql(tmp_path / "data")


def test_engaged_periods_by_hand(make_export, load_folder, tmp_path):
    """C1 on A1: 2024-01-01, +90 days (same period), +91 (new period) … the starts and ends counted by hand."""
    load_folder(make_export(_edge_export()))
    con = warehouse.connect_current(tmp_path / "data")
    try:
        rows = con.sql(
            "SELECT d, engaged_delta, c_level_delta, dm_delta FROM mart_account_daily "
            "WHERE account_id = 'A1' AND engaged_delta <> 0 AND d < DATE '2025-01-01' ORDER BY d"
        ).fetchall()
    finally:
        con.close()
    # C1: 01-01 → 03-31 is 90 days (same period), 03-31 → 06-30 is 91 days (a new period), 06-30 → 09-29 is 91
    # (new). Periods: [01-01, 03-31+89], [06-30, 06-30+89], [09-29, 09-29+89]; C2: [09-29, 09-29+89].
    d = date.fromisoformat
    assert rows == [
        (d("2024-01-01"), 1.0, 1.0, 1.0),
        (d("2024-06-29"), -1.0, -1.0, -1.0),  # 03-31 + 90: the day after the first period
        (d("2024-06-30"), 1.0, 1.0, 1.0),
        (d("2024-09-28"), -1.0, -1.0, -1.0),
        (d("2024-09-29"), 2.0, 1.0, 1.0),  # C1 again and C2 (manager, champion)
        (d("2024-12-28"), -2.0, -1.0, -1.0),
    ]


def test_champion_activity_holds_champions_only(make_export, load_folder, tmp_path):
    load_folder(make_export(_edge_export()))
    con = warehouse.connect_current(tmp_path / "data")
    try:
        rows = con.sql("SELECT contact_id, d, touches FROM mart_champion_activity ORDER BY d").fetchall()
    finally:
        con.close()
    future = date.today() + timedelta(days=40)
    assert rows == [("C2", date(2024, 9, 29), 1), ("C2", future, 1)]


@pytest.mark.parametrize("files", [{"activities.csv": "activity_id,account_id,activity_date,activity_type\n"}])
def test_marts_of_an_export_without_activities(make_export, load_folder, tmp_path, files):
    load_folder(make_export(files))
    assert_marts_match_sql(tmp_path / "data")
