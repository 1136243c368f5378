"""The metrics read the export with the programme store laid over it (issue 14, kam_metrics/programme/overlay.py).

On the hand-built export (tests/fixtures/handbuilt, as_of 2025-06-30; tests/test_metrics_handbuilt.py has every
figure by hand): key accounts A1 (on cadence), A2 (partial), A3 (overdue: no plan, its review W301 of 05-25 is
older than 30 days). Cadence windows: a plan within 90 days, a review within 30 days of as_of.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kam_metrics.load import warehouse
from kam_metrics.load.marts import MART_SQL
from kam_metrics.load.pipeline import load_export
from kam_metrics.metrics import account_metrics, alerts, goals_status, programme_kpis
from kam_metrics.metrics.accounts import champion_status
from kam_metrics.filters import NO_FILTERS
from kam_metrics.programme import open_store
from kam_metrics.programme.overlay import connect_current, overlay_connection, overlay_plan
from kam_metrics.settings import Settings

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "handbuilt"
AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("overlay_data")
    load_export(FIXTURE, data_dir)
    return warehouse.current_snapshot_path(data_dir)


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "programme.sqlite")
    yield s
    s.close()


def row(frame: pl.DataFrame, account_id: str) -> dict:
    return frame.filter(pl.col("account_id") == account_id).to_dicts()[0]


def goal(frame: pl.DataFrame, goal_id: str) -> dict:
    return frame.filter(pl.col("goal_id") == goal_id).to_dicts()[0]


def kpi(con, key: str, as_of: date = AS_OF) -> float | None:
    frame = programme_kpis(con, as_of)
    return frame.filter(pl.col("key") == key)["value"].item()


def record_a3_cadence(store) -> None:
    """A 90-day plan and a 30-day review of A3 on 2025-06-28, recorded in the app."""
    store.save("reviews", "APP-P1", {"account_id": "A3", "review_date": "2025-06-28", "review_type": "plan_90_day"},
               actor="kim")
    store.save("reviews", "APP-R1", {"account_id": "A3", "review_date": "2025-06-28",
                                     "review_type": "review_30_day", "rating": 4}, actor="kim")


def test_an_empty_or_absent_store_gives_the_plain_snapshot(snapshot, store):
    con = overlay_connection(snapshot, store)
    assert overlay_plan(con) is None  # no overlay at all
    con.close()
    con = overlay_connection(snapshot, None)
    assert overlay_plan(con) is None
    con.close()


def test_store_reviews_count_in_cadence_from_their_date_on(snapshot, store):
    plain = warehouse.connect_snapshot(snapshot)
    assert row(account_metrics(plain, AS_OF), "A3")["cadence_status"] == "overdue"
    assert kpi(plain, "cadence_compliance_pct") == pytest.approx(100 / 3)  # A1 of A1, A2, A3
    assert ("A3", "cadence_overdue") in set(alerts(plain, AS_OF).select("account_id", "alert").iter_rows())
    record_a3_cadence(store)
    con = overlay_connection(snapshot, store)
    assert overlay_plan(con).review_accounts == {"A3"}
    a3 = row(account_metrics(con, AS_OF), "A3")
    assert (a3["plan_current"], a3["review_current"], a3["cadence_status"], a3["score_cadence"]) == (
        True, True, "on_cadence", 100.0)
    assert kpi(con, "cadence_compliance_pct") == pytest.approx(200 / 3)  # A1 and A3
    assert ("A3", "cadence_overdue") not in set(alerts(con, AS_OF).select("account_id", "alert").iter_rows())
    # Time travel: the day before the records, A3 is overdue as in the export (W301 05-25 is 33 days old).
    before = row(account_metrics(con, date(2025, 6, 27)), "A3")
    assert (before["plan_current"], before["review_current"], before["cadence_status"]) == (False, False, "overdue")
    # The other accounts are exactly as without the store.
    others = pl.col("account_id") != "A3"
    assert_frame_equal(account_metrics(con, AS_OF).filter(others), account_metrics(plain, AS_OF).filter(others))
    con.close()
    plain.close()


def test_a_store_review_replaces_the_exports_and_a_deleted_one_hides_it(snapshot, store):
    # W102 (A1's 30-day review of 06-12) moved to 2025-05-01 in the store: A1's review is no longer current.
    store.save("reviews", "W102", {"account_id": "A1", "review_date": "2025-05-01", "review_type": "review_30_day"},
               actor="kim")
    con = overlay_connection(snapshot, store)
    a1 = row(account_metrics(con, AS_OF), "A1")
    assert (a1["plan_current"], a1["review_current"], a1["cadence_status"]) == (True, False, "partial")
    assert con.sql("SELECT count(*) FROM reviews WHERE review_id = 'W102'").fetchall() == [(1,)]
    con.close()
    # W201 (A2's only review) deleted in the store: A2 goes from partial to overdue.
    store.save("reviews", "W201", {"account_id": "A2", "review_date": "2025-06-20", "review_type": "review_30_day"},
               actor="kim")
    store.delete("reviews", "W201", actor="kim")
    con = overlay_connection(snapshot, store)
    assert row(account_metrics(con, AS_OF), "A2")["cadence_status"] == "overdue"
    con.close()


def test_a_store_goal_replaces_the_exports_goal_with_the_same_id(snapshot, store):
    plain = warehouse.connect_snapshot(snapshot)
    g3 = goal(goals_status(plain, AS_OF), "G3")
    assert g3["current"] == 8.0 and g3["progress"] == pytest.approx(0.8)
    store.save("goals", "G3", {"title": "Ten Beta site surveys", "account_id": "A2", "baseline": 0, "target": 10,
                               "current": 10, "start_date": "2025-06-01", "due_date": "2025-06-30"}, actor="kim")
    con = overlay_connection(snapshot, store)
    goals = goals_status(con, AS_OF)
    assert goals.height == goals_status(plain, AS_OF).height  # replaced, not added
    g3 = goal(goals, "G3")
    assert g3["current"] == 10.0 and g3["progress"] == pytest.approx(1.0)
    con.close()
    plain.close()


def test_store_actions_replace_and_add_to_the_exports(snapshot, store):
    plain = warehouse.connect_snapshot(snapshot)
    assert goal(goals_status(plain, AS_OF), "G4")["action_completion"] == 0.0  # T4, T5 open
    # T4 completed on 06-15 (replaces the export's T4); a third action T7 for G4, completed only after as_of
    store.save("actions", "T4", {"goal_id": "G4", "title": "Fix delivery issue", "owner": "Lars Berg",
                                 "due_date": "2025-04-01", "completed_date": "2025-06-15"}, actor="kim")
    store.save("actions", "T7", {"goal_id": "G4", "title": "Survey again", "completed_date": "2025-07-15"},
               actor="kim")
    con = overlay_connection(snapshot, store)
    assert goal(goals_status(con, AS_OF), "G4")["action_completion"] == pytest.approx(1 / 3)  # T4 of T4, T5, T7
    assert goal(goals_status(con, date(2025, 7, 31)), "G4")["action_completion"] == pytest.approx(2 / 3)
    assert goal(goals_status(con, date(2025, 6, 14)), "G4")["action_completion"] == 0.0  # time travel
    con.close()
    plain.close()


def test_a_store_wallet_estimate_changes_share_of_wallet(snapshot, store):
    plain = warehouse.connect_snapshot(snapshot)
    assert row(account_metrics(plain, AS_OF), "A1")["share_of_wallet"] == pytest.approx(14700 / 20000)
    store.save("wallet", "A1|2025|", {"wallet_amount": 29400, "source": "kam_estimate"}, actor="kim")
    con = overlay_connection(snapshot, store)
    a1 = row(account_metrics(con, AS_OF), "A1")
    assert a1["wallet_current"] == 29400.0 and a1["share_of_wallet"] == pytest.approx(0.5)
    assert a1["wallet_headroom"] == pytest.approx(29400 - 14700)
    assert con.sql("SELECT count(*) FROM wallet").fetchall() == plain.sql("SELECT count(*) FROM wallet").fetchall()
    con.close()
    plain.close()


def test_an_account_profile_making_an_account_key_changes_the_key_account_count(snapshot, store):
    plain = warehouse.connect_snapshot(snapshot)
    assert kpi(plain, "key_account_count") == 3.0
    store.save("account_profile", "A4", {"is_key_account": True, "executive_sponsor": "Pat Quinn"}, actor="kim")
    con = overlay_connection(snapshot, store)
    assert kpi(con, "key_account_count") == 4.0
    a4 = row(account_metrics(con, AS_OF), "A4")
    assert a4["is_key_account"] is True and a4["executive_sponsor"] == "Pat Quinn" and a4["has_sponsor"] is True
    # an empty field leaves the export's value: A4's kam_owner stays empty, A1's sponsor stays Dana Ortiz
    store.save("account_profile", "A1", {"kam_owner": "Ola Nord"}, actor="kim")
    con.close()
    con = overlay_connection(snapshot, store)
    a1 = row(account_metrics(con, AS_OF), "A1")
    assert (a1["kam_owner"], a1["executive_sponsor"], a1["is_key_account"]) == ("Ola Nord", "Dana Ortiz", True)
    con.close()
    plain.close()


def test_contact_roles_change_the_champion_and_decision_maker_flags(snapshot, store):
    plain = warehouse.connect_snapshot(snapshot)
    a2 = row(account_metrics(plain, AS_OF), "A2")
    assert (a2["champion_left"], a2["decision_maker_engaged_90d"]) == (True, True)  # C22, decision maker, left 05-20
    # C22 was a user after all; C13 (A1, last activity 05-05) is A1's second champion.
    store.save("contact_roles", "C22", {"buying_role": "user"}, actor="kim")
    store.save("contact_roles", "C13", {"buying_role": "champion", "attitude": 2}, actor="kim")
    con = overlay_connection(snapshot, store)
    plan = overlay_plan(con)
    assert plan.dm_changes == {"C22": -1} and plan.new_champions == {"C13"}
    frame = account_metrics(con, AS_OF)
    a2 = row(frame, "A2")
    assert (a2["champion_left"], a2["decision_maker_engaged_90d"]) == (False, False)
    # C13 is a champion now, touched 05-05, within the 60 quiet days: not quiet (its activity days were added to the
    # champion mart), so A1 is not flagged quiet.
    status = champion_status(con, [AS_OF], NO_FILTERS, Settings())
    c13 = status.filter(pl.col("contact_id") == "C13").to_dicts()
    assert len(c13) == 1 and c13[0]["buying_role"] == "champion" and c13[0]["is_quiet"] is False
    assert row(frame, "A1")["champion_quiet"] is False
    assert con.sql("SELECT attitude FROM contacts WHERE contact_id = 'C13'").fetchall() == [(2,)]
    con.close()
    plain.close()


def test_the_rebuilt_mart_rows_equal_the_marts_built_from_the_overlaid_tables(snapshot, store):
    """The overlay rebuilds only the mart rows of the accounts concerned; they must equal the marts' own SQL run
    over the tables as laid over (reviews and roles changed at once)."""
    record_a3_cadence(store)
    store.save("reviews", "W102", {"account_id": "A1", "review_date": "2025-05-01", "review_type": "review_30_day"},
               actor="kim")
    store.save("contact_roles", "C22", {"buying_role": "user"}, actor="kim")
    store.save("contact_roles", "C11", {"buying_role": "influencer"}, actor="kim")
    con = overlay_connection(snapshot, store)
    for name in ("mart_account_daily", "mart_account_weekly_cum"):
        sql = MART_SQL[name].replace("FROM mart_account_daily u", f"FROM ({MART_SQL['mart_account_daily']}) u")
        want = con.sql(f"SELECT * FROM ({sql}) ORDER BY account_id, d").pl()
        got = con.sql(f"SELECT * FROM {name} ORDER BY account_id, d").pl()
        assert_frame_equal(got, want, check_dtypes=False)
    con.close()


def test_kam_load_imports_the_exports_programme_tables_and_keeps_what_the_app_recorded(tmp_path):
    data_dir = tmp_path / "data"
    export = tmp_path / "export"
    shutil.copytree(FIXTURE, export)
    report = load_export(export, data_dir)
    assert any("programme store, reviews: 5 new" in n for n in report.notes)
    with open_store(data_dir / "programme.sqlite") as s:
        assert s.record_ids("reviews") == {"W101", "W102", "W103", "W201", "W301"}
        assert set(s.log(table="reviews")["source"]) == {f"load:{report.load_id}"}
        con = connect_current(data_dir)
        assert overlay_plan(con) is None  # the store holds what the snapshot holds: no overlay
        con.close()
        record_a3_cadence(s)  # recorded in the app
        s.save("reviews", "W201", {"rating": 5}, actor="kim")  # an export review changed in the app
        s.delete("goals", "G8", actor="kim")  # an export goal deleted in the app
    # A new export: W301 rated 3 now in the CRM, W401 added; W201 and G8 as before.
    (export / "reviews.csv").write_text((FIXTURE / "reviews.csv").read_text().replace(
        "W301,A3,2025-05-25,review_30_day,2", "W301,A3,2025-05-25,review_30_day,3") + "W401,A4,2025-06-01,qbr,4\n")
    second = load_export(export, data_dir)
    with open_store(data_dir / "programme.sqlite") as s:
        assert s.get("reviews", "APP-P1") is not None and s.get("reviews", "APP-R1") is not None
        assert s.get("reviews", "W201").values["rating"] == 5  # the unchanged export row did not overwrite it
        assert s.get("goals", "G8") is None  # nor bring back what the app deleted
        assert s.get("reviews", "W301").values["rating"] == 3  # the CRM's change arrived
        assert s.get("reviews", "W401") is not None
        assert s.log(record_id="W301")["source"].to_list()[0] == f"load:{second.load_id}"
    con = connect_current(data_dir)
    a3 = row(account_metrics(con, AS_OF), "A3")
    assert a3["cadence_status"] == "on_cadence"  # the figures stay
    assert con.sql("SELECT rating FROM reviews WHERE review_id = 'W201'").fetchall() == [(5,)]
    assert con.sql("SELECT count(*) FROM goals WHERE goal_id = 'G8'").fetchall() == [(0,)]
    con.close()
    # `kam report` reads the same
    from kam_metrics.cli import main

    out = tmp_path / "accounts.csv"
    assert main(["report", "accounts", "--as-of", "2025-06-30", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    assert row(pl.read_csv(out), "A3")["cadence_status"] == "on_cadence"


def test_the_demo_with_an_empty_store_gives_todays_figures(demo_data_dir, tmp_path):
    snapshot = warehouse.current_snapshot_path(demo_data_dir)
    plain = warehouse.connect_snapshot(snapshot)
    want = account_metrics(plain)
    with open_store(tmp_path / "empty.sqlite") as s:
        con = overlay_connection(snapshot, s)
        assert_frame_equal(account_metrics(con), want)
        con.close()
    # the demo's data directory: the load imported the export's programme tables, so the store changes nothing
    con = connect_current(demo_data_dir)
    assert overlay_plan(con) is None
    assert_frame_equal(account_metrics(con), want)
    con.close()
    plain.close()


def test_the_overlay_reads_either_backend(snapshot, programme_location):
    with open_store(programme_location) as s:
        record_a3_cadence(s)
        con = overlay_connection(snapshot, s)
        assert row(account_metrics(con, AS_OF), "A3")["cadence_status"] == "on_cadence"
        con.close()


def test_the_app_shows_a_store_save_on_the_next_rerun(demo_export_dir, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from kam_metrics.app.formatting import format_metric

    data_dir = tmp_path / "data"
    load_export(demo_export_dir, data_dir, fmt="kam")
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("KAM_CONFIG", raising=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]

    def shown_and_expected() -> tuple[str, str]:
        con = connect_current(data_dir)
        try:
            value = programme_kpis(con).filter(pl.col("key") == "cadence_compliance_pct")["value"].item()
        finally:
            con.close()
        tile = {m.label: m for m in at.metric}["Cadence compliance"]
        return tile.value, format_metric("cadence_compliance_pct", value)

    before, expected = shown_and_expected()
    assert before == expected
    # The demo's two overdue key accounts get a plan and a review in the store (dated a few days before as_of).
    with open_store(data_dir / "programme.sqlite") as s:
        for account in ("ACC-1042", "ACC-1056"):
            for kind in ("plan_90_day", "review_30_day"):
                s.save("reviews", f"APP-{account}-{kind}", {"account_id": account, "review_date": "2026-11-17",
                                                             "review_type": kind}, actor="kim")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    after, expected = shown_and_expected()
    assert after == expected and after != before


def test_on_a_pipeline_only_export_the_store_switches_on_cadence_and_sponsors(tmp_path, store):
    """tests/fixtures/pipeline-only carries no reviews and no accounts.executive_sponsor: cadence and sponsor
    figures are unknown until the store records them."""
    data_dir = tmp_path / "data"
    load_export(Path(__file__).resolve().parent / "fixtures" / "pipeline-only", data_dir)
    snapshot = warehouse.current_snapshot_path(data_dir)
    plain = warehouse.connect_snapshot(snapshot)
    as_of = date(2017, 12, 31)
    m01 = row(account_metrics(plain, as_of), "M01")
    assert m01["cadence_status"] is None and m01["has_sponsor"] is None
    store.save("reviews", "R1", {"account_id": "M01", "review_date": "2017-12-20", "review_type": "plan_90_day"},
               actor="kim")
    store.save("account_profile", "M01", {"executive_sponsor": "Pat Quinn"}, actor="kim")
    con = overlay_connection(snapshot, store)
    frame = account_metrics(con, as_of)
    m01, m02 = row(frame, "M01"), row(frame, "M02")
    assert (m01["plan_current"], m01["review_current"], m01["cadence_status"]) == (True, True, "on_cadence")
    assert (m02["cadence_status"], m01["has_sponsor"], m02["has_sponsor"]) == ("overdue", True, False)
    con.close()
    plain.close()
