"""Issue 12: the pipeline figures (METRICS.md "Pipeline"), the alerts of METRICS.md "Alerts", the Programme keys
that follow absence, and `kam report alerts` / `kam report programme`, on small hand-built exports whose expected
values are computed by hand in the comments; and every story of the demo in the Weekly review's alerts."""

from __future__ import annotations

import json
import math
from datetime import date

import polars as pl
import pytest

from kam_metrics.cli import main
from kam_metrics.filters import Filters
from kam_metrics.load import warehouse
from kam_metrics.metrics import (
    ALERT_COLUMNS, PORTFOLIO_KEYS, PROGRAMME_KEYS, alerts, open_pipeline, pipeline_by_account,
    pipeline_to_headroom, programme_kpis, programme_report, win_rate_365d,
)
from kam_metrics.metrics.presence import Presence
from kam_metrics.metrics.programme import programme_values
from kam_metrics.metrics.queries import open_deals
from kam_metrics.report import report_frame
from kam_metrics.settings import Settings

AS_OF = date(2026, 11, 5)

# conftest BASE_EXPORT: A1 key (sponsor Dana Ortiz), A2 non-key, A3 key (no sponsor); revenue A1 1000 (cogs 300),
# A2 500 (no cogs), A3 −50 (cogs 0).
OPPORTUNITIES = """\
    opportunity_id,account_id,name,stage,amount,close_date,is_closed,is_won,created_date
    O1,A1,Pumps expansion,Proposal,300,2026-12-31,false,false,2026-11-01
    O2,A1,Valves renewal,Closed Won,200,2026-11-10,true,true,2026-09-01
    O3,A1,Next year,Prospecting,1000,2027-03-31,false,false,2026-11-20
    O4,A1,Spares,Closed Won,50,2026-06-01,true,true,2026-01-10
    O5,A1,Service deal,Closed Lost,80,2026-03-01,true,false,2026-01-10
    O6,A1,Old deal,Closed Lost,90,2025-10-01,true,false,2025-06-01
    O7,A1,Undated,Qualification,100,2027-01-31,false,false,
    O8,A2,Lost one,Closed Lost,400,2026-10-15,true,false,2026-08-01
    """
WALLET = """\
    account_id,year,wallet_amount,product_line
    A1,2026,2200,
    A2,2026,500,
    """


def _connect(report):
    return warehouse.connect_current(report.snapshot_path.parent.parent)


@pytest.fixture
def pipeline_con(make_export, load_folder):
    con = _connect(load_folder(make_export({"opportunities.csv": OPPORTUNITIES, "wallet.csv": WALLET})))
    yield con
    con.close()


# ------------------------------------------------------------------------------------------------ pipeline


def test_pipeline_by_account_hand_computed(pipeline_con):
    rows = {r["account_id"]: r for r in pipeline_by_account(pipeline_con, AS_OF).iter_rows(named=True)}
    # A1 open at 2026-11-05: O1 (created 11-01) 300, O2 (closed, but on 11-10 > as_of) 200, O7 (no created_date)
    # 100 = 600; O3 is created 11-20 (not yet), O4/O5/O6 closed before as_of.
    assert rows["A1"]["open_pipeline"] == pytest.approx(600.0)
    assert rows["A1"]["open_deal_count"] == 3
    # closed in 2025-11-06 … 2026-11-05: O4 (won), O5 (lost); O6 (2025-10-01) is older, O2 closes later: 1 / 2
    assert rows["A1"]["win_rate_365d"] == pytest.approx(0.5)
    # headroom max(2200 − 1000, 0) = 1200 → 600 / 1200
    assert rows["A1"]["wallet_headroom"] == pytest.approx(1200.0)
    assert rows["A1"]["pipeline_to_headroom"] == pytest.approx(0.5)
    # A2: nothing open, O8 lost on 10-15 → win rate 0 / 1; headroom max(500 − 500, 0) = 0 → null
    assert (rows["A2"]["open_pipeline"], rows["A2"]["win_rate_365d"]) == (0.0, 0.0)
    assert rows["A2"]["wallet_headroom"] == 0.0 and rows["A2"]["pipeline_to_headroom"] is None
    # A3: no opportunity: 0 open, no closed deal → win rate null; no wallet → headroom and ratio null
    assert rows["A3"]["open_pipeline"] == 0.0 and rows["A3"]["win_rate_365d"] is None
    assert rows["A3"]["wallet_headroom"] is None and rows["A3"]["pipeline_to_headroom"] is None


def test_pipeline_follows_time_travel(pipeline_con):
    # 2026-11-15: O2 closed (won) on 11-10 → open O1 300 + O7 100 = 400; closed O2, O4 won, O5 lost → 2 / 3
    later = {r["account_id"]: r for r in pipeline_by_account(pipeline_con, date(2026, 11, 15)).iter_rows(named=True)}
    assert later["A1"]["open_pipeline"] == pytest.approx(400.0)
    assert later["A1"]["win_rate_365d"] == pytest.approx(2 / 3)
    # 2026-11-25: O3 (created 11-20) is open too: 300 + 100 + 1000
    at_25 = open_pipeline(pipeline_con, date(2026, 11, 25))
    assert at_25.filter(pl.col("account_id") == "A1")["open_pipeline"][0] == pytest.approx(1400.0)
    # 2026-10-29: O1 not created yet → O2 200 + O7 100
    at_29 = open_pipeline(pipeline_con, date(2026, 10, 29))
    assert at_29.filter(pl.col("account_id") == "A1")["open_pipeline"][0] == pytest.approx(300.0)


def test_pipeline_functions_per_figure_and_filters(pipeline_con):
    assert win_rate_365d(pipeline_con, AS_OF).sort("account_id")["win_rate_365d"].to_list() == [0.5, 0.0, None]
    assert pipeline_to_headroom(pipeline_con, AS_OF).sort("account_id")["pipeline_to_headroom"].to_list() == [
        0.5, None, None]
    only_a2 = pipeline_by_account(pipeline_con, AS_OF, Filters(regions=("Americas",)))
    assert only_a2["account_id"].to_list() == ["A2"]


def test_open_deals_of_the_account_page(pipeline_con):
    deals = open_deals(pipeline_con, "A1", AS_OF)
    assert deals["opportunity_id"].to_list() == ["O1", "O2", "O7"]  # largest amount first: 300, 200, 100
    assert {"name", "stage", "amount", "close_date"} <= set(deals.columns)
    assert deals.filter(pl.col("opportunity_id") == "O1")["stage"][0] == "Proposal"
    assert open_deals(pipeline_con, "A3", AS_OF).is_empty()


def test_key_open_pipeline_and_its_value_a_week_earlier(pipeline_con):
    kpis = {r["key"]: r for r in programme_kpis(pipeline_con, AS_OF).iter_rows(named=True)}
    # key accounts A1 and A3: 600 + 0 at 11-05; at 10-29: O2 200 + O7 100 = 300
    assert kpis["key_open_pipeline"]["value"] == pytest.approx(600.0)
    assert kpis["key_open_pipeline"]["value_7d_ago"] == pytest.approx(300.0)
    assert kpis["key_open_pipeline"]["change"] == pytest.approx(300.0)


def test_no_opportunities_no_pipeline(make_export, load_folder):
    con = _connect(load_folder(make_export({"wallet.csv": WALLET})))
    try:
        frame = pipeline_by_account(con, AS_OF)
        for key in ("open_pipeline", "open_deal_count", "win_rate_365d", "pipeline_to_headroom"):
            assert frame[key].null_count() == frame.height == 3, key
        kpis = {r["key"]: r for r in programme_kpis(con, AS_OF).iter_rows(named=True)}
        assert kpis["key_open_pipeline"]["value"] is None and kpis["key_open_pipeline"]["value_7d_ago"] is None
        accounts = report_frame("accounts", con, AS_OF)
        assert accounts["open_pipeline"].null_count() == 3
        assert open_deals(con, "A1", AS_OF).is_empty()
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ programme


def test_programme_values_count_insufficient_data_from_the_band():
    frame = pl.DataFrame({
        "account_id": ["K1", "K2", "K3", "N1"],
        "is_key_account": [True, True, True, False],
        "revenue_ttm": [100.0, 50.0, 50.0, 100.0], "revenue_prior_ttm": [80.0, 50.0, 50.0, 100.0],
        "nps_responses_365d": [2.0, 0.0, 0.0, 5.0], "nps_net_365d": [1.0, 0.0, 0.0, 5.0],
        "has_sponsor": [True, None, False, True],
        "cadence_status": ["on_cadence", None, "overdue", "on_cadence"],
        "engaged_contacts_90d": [3, None, 1, 9], "decision_maker_engaged_90d": [True, None, False, True],
        "health": [80.0, None, 30.0, 90.0], "band": ["green", "insufficient_data", "red", "green"],
        "open_pipeline": [10.0, 5.0, 0.0, 100.0],
    })
    v = programme_values(frame, Settings())
    # Without contacts.csv no one is known to be a decision maker: multi-threading is unknown, not 0 %.
    every = Presence.everything()
    no_contacts = Presence(every.tables - {"contacts"}, frozenset(c for c in every.columns if c[0] != "contacts"))
    assert programme_values(frame, Settings(), no_contacts)["multithreaded_pct"] is None
    assert v["multithreaded_pct"] is not None
    assert v["insufficient_data_count"] == 1.0  # K2
    assert (v["green_count"], v["red_count"], v["amber_count"]) == (1.0, 1.0, 0.0)
    assert v["health_mean"] == pytest.approx(55.0)  # (80 + 30) / 2: K2 has no health
    assert v["key_open_pipeline"] == pytest.approx(15.0)  # K1 10 + K2 5 + K3 0; N1 is not key
    assert v["sponsor_coverage_pct"] == pytest.approx(100 / 3)  # K1 of 3 key accounts
    assert v["programme_nps"] == pytest.approx(50.0)  # 100 × 1 / 2 over key responses
    assert v["key_revenue_share_pct"] == pytest.approx(200 / 3)  # 200 / 300


SPARSE_ACCOUNTS = """\
    account_id,account_name,is_key_account,region,segment,kam_owner
    A1,Acme Industrial,true,EMEA,Enterprise,Kim Lee
    A2,Beta Logistics,false,Americas,Mid-market,
    A3,Gamma Foods,yes,APAC,Enterprise,Kim Lee
    """
EMPTY_ACTIVITIES = "activity_id,account_id,activity_date,activity_type,contact_id,duration_minutes\n"


@pytest.fixture
def sparse_con(make_export, load_folder):
    """No activities (header only), contacts, reviews, surveys, wallet, goals, opportunities, and no
    accounts.executive_sponsor column: a pipeline-only CRM's kind of export, without even the pipeline."""
    con = _connect(load_folder(make_export({"accounts.csv": SPARSE_ACCOUNTS, "activities.csv": EMPTY_ACTIVITIES})))
    yield con
    con.close()


def test_sparse_export_programme_kpis_are_null_not_zero(sparse_con):
    kpis = {r["key"]: r for r in programme_report(sparse_con, AS_OF).iter_rows(named=True)}
    for key in ("sponsor_coverage_pct", "cadence_compliance_pct", "multithreaded_pct", "programme_nps",
                "key_open_pipeline"):
        assert kpis[key]["value"] is None and kpis[key]["value_7d_ago"] is None, key
    assert kpis["key_account_count"]["value"] == 2.0
    # revenue_ttm A1 1000, A2 500, A3 −50: key share 100 × 950 / 1450
    assert kpis["key_revenue_share_pct"]["value"] == pytest.approx(100 * 950 / 1450)
    # No source of cost to serve at all (no activity rows, service costs or cases): cost to serve and so net
    # contribution are unknown (METRICS.md "Data that is not there"), and the whale and erosion with them.
    assert kpis["whale_peak_pct"]["value"] is None and kpis["profit_erosion_pct"]["value"] is None
    # revenue > 0: 1000, 500 → top ceil(0.2 × 2) = 1 account: 1000 / 1500; HHI (2/3)² + (1/3)² × 10,000
    assert kpis["top20_revenue_share_pct"]["value"] == pytest.approx(100 * 1000 / 1500)
    assert kpis["revenue_hhi"]["value"] == pytest.approx(10_000 * 5 / 9)
    assert kpis["revenue_hhi"]["value_7d_ago"] == pytest.approx(10_000 * 5 / 9)  # the same rows at 10-29


def test_sparse_export_fires_no_alert_on_absent_inputs(sparse_con):
    frame = alerts(sparse_con, AS_OF)
    assert frame.columns == list(ALERT_COLUMNS)
    # Net contribution is unknown without any cost source, so no value_destroyer. A2: selection score 12.5 (revenue
    # rank 50 × 25 %; every other input null, tied at rank 0) ≥ the lowest key account's, A3's 0 (revenue −50).
    # Nothing else has its inputs.
    assert frame.select("account_id", "alert").rows() == [("A2", "promotion_candidate")]
    assert frame["severity"].to_list() == ["low"]
    assert "12.5" in frame["detail"][0]


def test_programme_report_carries_every_key(pipeline_con):
    frame = programme_report(pipeline_con, AS_OF)
    assert frame.columns == ["key", "value", "value_7d_ago", "change"]
    assert frame["key"].to_list() == [*PROGRAMME_KEYS, *PORTFOLIO_KEYS]
    assert {"insufficient_data_count", "key_open_pipeline"} <= set(PROGRAMME_KEYS)
    assert programme_kpis(pipeline_con, AS_OF)["key"].to_list() == list(PROGRAMME_KEYS)


# ------------------------------------------------------------------------------------------------ alerts

ALERT_ACCOUNTS = """\
    account_id,account_name,is_key_account,region,segment,kam_owner,executive_sponsor
    A1,Acme Industrial,true,EMEA,Enterprise,Kim Lee,Dana Ortiz
    A2,Beta Logistics,false,Americas,Mid-market,,
    A3,Gamma Foods,true,APAC,Enterprise,Kim Lee,
    """
# No contact_id column: single_threaded cannot be known and must not fire.
ALERT_ACTIVITIES = """\
    activity_id,account_id,activity_date,activity_type
    X1,A1,2026-11-01,email
    X2,A1,2026-07-01,meeting
    X3,A1,2026-07-02,meeting
    X4,A3,2026-10-06,call
    X5,A3,2026-06-01,call
    X6,A3,2026-06-02,call
    X7,A2,2026-11-02,call
    """


def test_alerts_hand_computed(make_export, load_folder):
    con = _connect(load_folder(make_export({"accounts.csv": ALERT_ACCOUNTS, "activities.csv": ALERT_ACTIVITIES})))
    try:
        frame = alerts(con, AS_OF)
    finally:
        con.close()
    # Last 90 days = 2026-08-08 … 11-05, prior 90 days = 05-10 … 08-07.
    # A1: weighted 1 (email) against 6 (two meetings) → trend 100 × (1 − 6) / 6 = −83.3 ≤ −50: engagement_drop.
    # A3: 2 (call) against 4 (two calls) → −50 exactly: engagement_drop; last touch 30 days ago: not > 30, so no
    #     no_touch_30d; net contribution −50 − 3 calls × 25 = −125 < 0: value_destroyer; sponsor empty: no_sponsor.
    # A2 (not key): selection score 25 × 0.5 + 20 × 0.5 = 22.5 ≥ A3's 0: promotion_candidate.
    # No contacts, reviews, wallet or goals: no champion, cadence, share or goal alert; no contact_id: no
    # single_threaded. Health red at 11-05 and at 10-29 for A3, so no new_red either.
    assert frame.select("account_id", "alert", "severity").rows() == [
        ("A3", "value_destroyer", "high"),
        ("A1", "engagement_drop", "medium"),  # Acme before Gamma
        ("A3", "engagement_drop", "medium"),
        ("A2", "promotion_candidate", "low"),  # Beta before Gamma
        ("A3", "no_sponsor", "low"),
    ]
    detail = dict(zip(frame["alert"] + frame["account_id"], frame["detail"]))
    assert detail["value_destroyerA3"] == "net contribution TTM -125: gross margin -50 less cost to serve 75"
    assert "(-83 %)" in detail["engagement_dropA1"] and "(-50 %)" in detail["engagement_dropA3"]
    assert frame["goal_id"].null_count() == frame.height


# ------------------------------------------------------------------------------------------------ kam report


def test_kam_report_alerts_and_programme(make_export, tmp_path, capsys):
    data_dir = str(tmp_path / "data")
    folder = make_export({"accounts.csv": SPARSE_ACCOUNTS, "activities.csv": EMPTY_ACTIVITIES})
    assert main(["--data-dir", data_dir, "load", str(folder)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data_dir, "report", "alerts", "--as-of", "2026-11-05", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [list(r) for r in rows] == [list(ALERT_COLUMNS)]
    assert [(r["account_id"], r["alert"], r["severity"]) for r in rows] == [("A2", "promotion_candidate", "low")]
    assert main(["--data-dir", data_dir, "report", "programme", "--as-of", "2026-11-05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "key,value,value_7d_ago,change"
    cells = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert list(cells) == [*PROGRAMME_KEYS, *PORTFOLIO_KEYS]
    assert cells["sponsor_coverage_pct"] == ["", "", ""]  # absent: empty, not 0.0
    assert cells["insufficient_data_count"][0] != ""
    assert math.isclose(float(cells["top20_revenue_share_pct"][0]), 100 * 1000 / 1500)


# ------------------------------------------------------------------------------------------------ the demo


@pytest.fixture(scope="module")
def demo_alerts(demo_data_dir):
    con = warehouse.connect_current(demo_data_dir)
    try:
        yield alerts(con)
    finally:
        con.close()


@pytest.mark.parametrize("account_id, alert", [
    ("ACC-1007", "champion_left"),  # Nordhavn
    ("ACC-1019", "engagement_drop"),  # Brightwater
    ("ACC-1023", "value_destroyer"),  # Vulcan
    ("ACC-1042", "cadence_overdue"),  # Meridian
    ("ACC-1056", "cadence_overdue"),  # Kestrel
    ("ACC-1068", "single_threaded"),  # Tasman
    ("ACC-1081", "champion_quiet"),  # Altmark
    ("ACC-1134", "promotion_candidate"),  # Pioneer
])
def test_every_demo_story_needs_attention(demo_alerts, account_id, alert):
    assert (account_id, alert) in set(demo_alerts.select("account_id", "alert").rows())


def test_demo_programme_goal_off_track_needs_attention(demo_alerts):
    goal = demo_alerts.filter(pl.col("goal_id") == "G-P01")
    assert goal.select("account_id", "alert", "severity").rows() == [(None, "goal_off_track", "medium")]


def test_demo_alerts_sorted_by_severity_then_account_name(demo_alerts):
    order = {"high": 0, "medium": 1, "low": 2}
    keys = [(order[s], n is None, n or "") for s, n in zip(demo_alerts["severity"], demo_alerts["account_name"])]
    assert keys == sorted(keys)
