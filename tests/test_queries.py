"""Row queries of the pages (kam_metrics.metrics.queries) on small hand-written exports."""

from __future__ import annotations

from datetime import date

import pytest

from kam_metrics.metrics import account_metrics, queries

from kam_metrics.load import warehouse
from kam_metrics.filters import Filters
from kam_metrics.settings import Settings

AS_OF = date(2026, 11, 20)

EXPORT = {
    "accounts.csv": """\
        account_id,account_name,is_key_account,region,segment,kam_owner,executive_sponsor
        A1,Acme Industrial,true,EMEA,Enterprise,Kim Lee,Dana Ortiz
        A2,Beta Logistics,false,Americas,Mid-market,,
        A3,Gamma Foods,yes,APAC,Enterprise,Kim Lee,
        """,
    "contacts.csv": """\
        contact_id,account_id,full_name,title,seniority,buying_role,attitude,is_active,left_date
        C1,A1,Ann Champion,VP Ops,vp,champion,2,true,
        C2,A1,Ben Gone,CFO,c_level,decision_maker,1,false,2026-10-01
        C3,A1,Cy Later,Buyer,manager,champion,0,false,2026-12-01
        C4,A1,Di Old,Head,director,decision_maker,0,false,2025-01-01
        C5,A2,Ed Other,User,individual,user,,true,
        """,
    "activities.csv": """\
        activity_id,account_id,activity_date,activity_type,contact_id,duration_minutes
        X1,A1,2026-11-01,email,C2,5
        X2,A1,2026-08-01,meeting,C1,60
        X3,A1,2026-11-19,call,C3,30
        X4,A1,2026-12-05,qbr,C1,90
        X5,A2,2026-11-02,call,C5,30
        X6,A1,2025-06-01,call,C1,30
        """,
    "revenue.csv": """\
        revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency
        R1,A1,2026-10-01,1000,300,Pumps,EUR
        R2,A1,2026-10-15,500,,,EUR
        R3,A2,2026-10-01,500,,Valves,
        R4,A9,2026-10-01,10,,Valves,
        R5,A2,not-a-date,10,,Valves,
        R6,A3,2026-09-01,-50,0,Pumps,EUR
        """,
    "reviews.csv": """\
        review_id,account_id,review_date,review_type,rating
        V1,A1,2026-09-01,plan_90_day,4
        V2,A1,2026-11-10,review_30_day,3
        V3,A1,2026-12-01,plan_90_day,5
        V4,A3,2026-01-01,review_30_day,2
        """,
    "goals.csv": """\
        goal_id,title,account_id,metric,baseline,target,current,start_date,due_date
        G1,Grow Acme,A1,,0,10,5,2026-01-01,2026-12-31
        G2,Programme,,,0,10,5,2026-01-01,2026-12-31
        """,
    "actions.csv": """\
        action_id,goal_id,title,owner,due_date,completed_date
        T1,G1,Done early,Kim,2026-06-01,2026-05-01
        T2,G1,Late,Kim,2026-10-01,
        T3,G1,Done after as_of,Kim,2026-11-01,2026-12-01
        T4,G2,Programme action,Kim,2026-12-01,
        """,
}


@pytest.fixture
def con(make_export, load_folder, tmp_path):
    load_folder(make_export(EXPORT), data_dir=tmp_path / "data")
    connection = warehouse.connect_current(tmp_path / "data")
    yield connection
    connection.close()


def test_snapshot_status_names_the_present_tables(con):
    status = queries.snapshot_status(con)
    assert status.reporting_currency == "EUR"
    assert status.present_tables == {"accounts", "activities", "revenue", "contacts", "reviews", "goals", "actions"}
    assert status.quarantined_rows == 2
    assert status.load_status == "ok" and status.loaded_at is not None
    assert queries.missing_optional_tables(con) == ["fx_rates", "opportunities", "service_costs", "cases", "surveys",
                                                    "wallet"]


def test_table_counts_and_history(con):
    counts = {r["table"]: r for r in queries.table_counts(con).iter_rows(named=True)}
    assert (counts["revenue"]["read"], counts["revenue"]["loaded"], counts["revenue"]["quarantined"]) == (6, 4, 2)
    assert counts["accounts"]["is_required"] and not counts["wallet"]["is_present"]
    history = queries.load_history(con)
    assert history.height == 1
    assert history["source"][0] == "export1"  # the folder's name only, not the server's path


def test_quarantine_reasons_fold_values_and_filter(con):
    reasons = queries.quarantine_reasons(con)
    assert reasons["rows"].sum() == 2
    unknown = [r for r in reasons["reason"].to_list() if "account_id" in r]
    assert len(unknown) == 1 and "A9" not in unknown[0]
    rows = queries.quarantine(con, "revenue", unknown[0])
    assert rows.select("source_row", "column", "value").rows() == [(4, "account_id", "A9")]  # 4th data row
    assert queries.quarantine(con, "accounts").height == 0
    assert queries.quarantine(con, limit=1).height == 1


def test_filter_options_and_bounds(con):
    assert queries.filter_options(con) == {
        "regions": ["APAC", "Americas", "EMEA"], "segments": ["Enterprise", "Mid-market"], "kam_owners": ["Kim Lee"],
    }
    assert queries.date_bounds(con) == (date(2025, 6, 1), date(2026, 12, 5))
    listed = queries.accounts_list(con, Filters(segments=("Enterprise",)))
    assert listed["account_id"].to_list() == ["A1", "A3"]


def test_contacts_at_as_of_with_last_touch_and_flags(con):
    contacts = {r["contact_id"]: r for r in queries.account_contacts(con, "A1", AS_OF, Settings()).iter_rows(named=True)}
    assert list(contacts) == ["C2", "C1", "C4", "C3"]  # c_level, vp, director, manager
    # C1: the qbr of 2026-12-05 is after as_of; last touch 2026-08-01 → quiet champion (> 60 days)
    assert contacts["C1"]["last_touch_date"] == date(2026, 8, 1)
    assert contacts["C1"]["days_since_last_touch"] == 111
    assert contacts["C1"]["touches_90d"] == 0
    assert contacts["C1"]["is_champion_quiet"] and not contacts["C1"]["is_champion_left"]
    # C2: a decision maker who left 50 days ago → champion left
    assert not contacts["C2"]["is_active"] and contacts["C2"]["is_champion_left"]
    # C3 leaves after as_of: still active at as_of, touched the day before
    assert contacts["C3"]["is_active"] and contacts["C3"]["left_date"] is None
    assert contacts["C3"]["days_since_last_touch"] == 1 and not contacts["C3"]["is_champion_quiet"]
    # C4 left long ago: inactive, but not a recent loss
    assert contacts["C4"]["has_left"] and not contacts["C4"]["is_champion_left"]


def test_contact_flags_agree_with_the_accounts_champion_flags(con):
    """The Account page's contact flags and the account's champion_left / champion_quiet are one rule."""
    flags = []
    for as_of, settings in ((AS_OF, Settings()), (date(2026, 9, 1), Settings()),
                            (AS_OF, Settings().replace(champion_quiet_days=200, champion_left_days=20))):
        accounts = {r["account_id"]: r for r in account_metrics(con, as_of, None, settings).iter_rows(named=True)}
        contacts = queries.account_contacts(con, "A1", as_of, settings)
        assert accounts["A1"]["champion_left"] == contacts["is_champion_left"].any()
        assert accounts["A1"]["champion_quiet"] == contacts["is_champion_quiet"].any()
        flags.append((accounts["A1"]["champion_left"], accounts["A1"]["champion_quiet"]))
    # at AS_OF C2 left 50 days ago and C1 is quiet; a 20-day left window and a 200-day quiet window find neither
    assert flags[0] == (True, True) and flags[2] == (False, False)


def test_activities_reviews_and_actions_stop_at_as_of(con):
    activities = queries.account_activities(con, "A1", AS_OF)
    assert activities["activity_date"].to_list() == [date(2026, 11, 19), date(2026, 11, 1), date(2026, 8, 1)]
    assert activities["contact_name"].to_list() == ["Cy Later", "Ben Gone", "Ann Champion"]
    reviews = queries.account_reviews(con, "A1", AS_OF)
    assert reviews["review_date"].to_list() == [date(2026, 11, 10), date(2026, 9, 1)]
    actions = {r["action_id"]: r["action_status"] for r in queries.account_actions(con, "A1", AS_OF).iter_rows(named=True)}
    # T3 was completed only after as_of, and its due date had passed: overdue at as_of
    assert actions == {"T1": "done", "T2": "overdue", "T3": "overdue"}


def test_cadence_dates_per_key_account(con):
    cadence = {r["account_id"]: r for r in queries.cadence_dates(con, AS_OF).iter_rows(named=True)}
    assert set(cadence) == {"A1", "A3"}
    assert cadence["A1"]["last_plan_date"] == date(2026, 9, 1) and cadence["A1"]["days_since_plan"] == 80
    assert cadence["A1"]["last_review_date"] == date(2026, 11, 10) and cadence["A1"]["days_since_review"] == 10
    assert cadence["A3"]["last_plan_date"] is None and cadence["A3"]["days_since_review"] == 323
    assert set(queries.cadence_dates(con, AS_OF, Filters(regions=("APAC",)))["account_id"]) == {"A3"}


def test_monthly_revenue_by_product_line(con):
    monthly = queries.account_revenue_monthly(con, "A1", AS_OF)
    assert monthly.rows() == [(date(2026, 10, 1), "Pumps", 1000.0), (date(2026, 10, 1), "unassigned", 500.0)]
