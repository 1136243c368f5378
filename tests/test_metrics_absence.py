"""Sparse exports (METRICS.md "Data that is not there", "Health score" → insufficient data, "Time" → Precision):
a figure whose input the export did not carry is null, never zero; health below min_health_coverage_pct is
null with band insufficient_data; float noise never decides a rank or a candidate list. Every export here is
hand-built and every expected value is computed by hand in the comments."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from kam_metrics.load import warehouse
from kam_metrics.metrics import (
    account_metrics, engagement_weekly, health_history, health_movement, selection_candidates,
)
from kam_metrics.metrics.presence import Presence, key_absence, presence, switched_off
from kam_metrics.metrics.rules import decision_value
from kam_metrics.metrics.scoring import add_health, percentile_rank
from kam_metrics.settings import Settings, SettingsError, settings_from_dict

AS_OF = date(2026, 11, 2)


def _connect(load_folder, make_export, files, base=True):
    report = load_folder(make_export(files, base=base))
    return warehouse.connect_current(report.snapshot_path.parent.parent)


def _rows(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["account_id"]: r for r in frame.iter_rows(named=True)}


# --- an export with no activity rows, no contacts, reviews, surveys, wallet or service costs -------------------

#: conftest BASE_EXPORT's accounts and revenue (A1 key, sponsor Dana Ortiz, 1000 with cogs 300 on 2026-10-01;
#: A2 500 without cogs; A3 key, a −50 credit note), an activities.csv with a header only (absent: the table is
#: required by the contract, the loader accepts a header-only file and records it as not carried) and one case.
NO_ACTIVITY = {
    "activities.csv": "activity_id,account_id,activity_date,activity_type,contact_id,duration_minutes\n",
    "cases.csv": """\
        case_id,account_id,opened_date,priority
        K1,A1,2026-06-01,high
        """,
}

ACTIVITY_KEYS = ("touches_90d", "weighted_touches_90d", "weighted_touches_prior_90d", "engagement_trend_pct",
                 "days_since_last_touch")
CONTACT_KEYS = ("engaged_contacts_90d", "single_threaded", "c_level_engaged_90d", "decision_maker_engaged_90d")
RELATIONSHIP_FLAGS = ("champion_left", "champion_quiet")
CADENCE_KEYS = ("plan_current", "review_current", "cadence_status")
WALLET_KEYS = ("wallet_current", "share_of_wallet", "wallet_headroom")


def test_a_header_only_activities_file_loads_as_absent(make_export, load_folder):
    con = _connect(load_folder, make_export, NO_ACTIVITY)
    try:
        seen = presence(con)
        assert not seen.has("activities") and seen.missing("activities") == "activities.csv"
        assert seen.has("cases") and seen.has("accounts", "executive_sponsor")
    finally:
        con.close()


def test_absent_inputs_are_null_and_present_ones_are_not(make_export, load_folder):
    con = _connect(load_folder, make_export, NO_ACTIVITY)
    try:
        rows = _rows(account_metrics(con, AS_OF))
        for account in ("A1", "A2", "A3"):
            r = rows[account]
            for key in (*ACTIVITY_KEYS, *CONTACT_KEYS, *RELATIONSHIP_FLAGS, *CADENCE_KEYS, *WALLET_KEYS,
                        "nps_365d", "csat_365d"):
                assert r[key] is None, (account, key)
            for score in ("recency", "trend", "breadth", "loyalty", "wallet", "cadence", "relationship"):
                assert r[f"score_{score}"] is None and r[f"contribution_{score}"] is None, (account, score)
            # cost to serve counts the one source present
            assert r["cost_to_serve_sources"] == "cases"
        a1, a2, a3 = rows["A1"], rows["A2"], rows["A3"]
        # accounts.executive_sponsor is carried: A1 has one, A2 and A3 an empty one (false, not null)
        assert (a1["has_sponsor"], a2["has_sponsor"], a3["has_sponsor"]) == (True, False, False)
        # A1: margin 1000 − 300 = 700; cost to serve = one high case 400 (activities and service costs absent)
        assert a1["gross_margin_ttm"] == pytest.approx(700.0)
        assert a1["cost_to_serve_ttm"] == pytest.approx(400.0)
        assert a1["net_contribution_ttm"] == pytest.approx(300.0)
        assert a1["net_margin_pct"] == pytest.approx(30.0) and a1["cost_to_serve_pct"] == pytest.approx(40.0)
        # A2: no cases (the table is present): cost 0, not null; margin 500 × 0.35 = 175 → 35 %
        assert a2["cost_to_serve_ttm"] == 0.0 and a2["net_margin_pct"] == pytest.approx(35.0)
        # health: only profitability scores (weight 15); relationship is null (no contacts, though has_sponsor is
        # known). A1 key: 15 of 115 applicable → 13.04 %; A2 not key (cadence does not apply): 15 of 105 →
        # 14.29 %; A3: −50 revenue, no margin → 0 %. All below 50: insufficient_data.
        assert a1["score_profitability"] == 100.0 and a2["score_profitability"] == 100.0
        assert a3["score_profitability"] is None
        assert [rows[a]["health_coverage_pct"] for a in ("A1", "A2", "A3")] == pytest.approx(
            [1500 / 115, 1500 / 105, 0.0])
        for r in rows.values():
            assert r["health"] is None and r["band"] == "insufficient_data"
        # the contributions are still given: profitability is all of the (uncovered) score
        assert a1["contribution_profitability"] == pytest.approx(100.0)
    finally:
        con.close()


def test_min_health_coverage_pct_decides_between_a_band_and_insufficient_data(make_export, load_folder):
    con = _connect(load_folder, make_export, NO_ACTIVITY)
    try:
        rows = _rows(account_metrics(con, AS_OF, settings=Settings().replace(min_health_coverage_pct=13.0)))
        # A1 13.04 % ≥ 13: health = its one component, 100, green; A2 14.29 % likewise; A3 0 %: nothing to score
        assert rows["A1"]["health"] == pytest.approx(100.0) and rows["A1"]["band"] == "green"
        assert rows["A2"]["band"] == "green"
        assert rows["A3"]["health"] is None and rows["A3"]["band"] == "insufficient_data"
        rows = _rows(account_metrics(con, AS_OF, settings=Settings().replace(min_health_coverage_pct=14.0)))
        assert rows["A1"]["band"] == "insufficient_data" and rows["A2"]["band"] == "green"
    finally:
        con.close()


def test_every_entry_point_follows_absence(make_export, load_folder):
    con = _connect(load_folder, make_export, NO_ACTIVITY)
    try:
        assert engagement_weekly(con, AS_OF).height == 0
        history = health_history(con, AS_OF, weeks=4)
        assert history.height == 12 and set(history["band"]) == {"insufficient_data"}
        assert history["health"].null_count() == 12 and history["score_recency"].null_count() == 12
        moved = health_movement(con, date(2026, 10, 26), AS_OF)
        health_rows = moved.filter(pl.col("component") == "health")
        assert health_rows["contribution_to"].null_count() == 3 and health_rows["change"].null_count() == 3
        # selection (N = 3, p = 100 × (rank − 1) / 2): revenue A3 −50 → 0, A2 500 → 50, A1 1000 → 100; margin A3
        # null → 0, A1 30 → 50, A2 35 → 100; wallet, growth and engaged contacts null for all → 0.
        # A1 = 25 + 10 = 35, A2 = 12.5 + 20 = 32.5, A3 = 0: A2 ≥ the lowest key account (A3, 0) is a candidate.
        scores = dict(zip(*account_metrics(con, AS_OF).select("account_id", "selection_score").get_columns()))
        assert scores == pytest.approx({"A1": 35.0, "A2": 32.5, "A3": 0.0})
        candidates = selection_candidates(con, AS_OF)
        assert candidates.filter(pl.col("candidate") == "promote")["account_id"].to_list() == ["A2"]
    finally:
        con.close()


def test_no_source_of_cost_to_serve_makes_it_null(make_export, load_folder):
    con = _connect(load_folder, make_export, {"activities.csv": NO_ACTIVITY["activities.csv"]})
    try:
        rows = _rows(account_metrics(con, AS_OF))
        for r in rows.values():
            assert r["cost_to_serve_sources"] is None
            for key in ("cost_to_serve_ttm", "net_contribution_ttm", "cost_to_serve_pct", "net_margin_pct",
                        "value_to_date", "lifetime_value", "score_profitability"):
                assert r[key] is None, key
        # gross margin needs only revenue: A1 700, A2 175
        assert rows["A1"]["gross_margin_ttm"] == pytest.approx(700.0)
        assert rows["A2"]["gross_margin_ttm"] == pytest.approx(175.0)
        assert set(rows[a]["band"] for a in rows) == {"insufficient_data"}
    finally:
        con.close()


# --- activities without contact ids, no sponsor column, no surveys, service costs or cases ----------------------

SPARSE_COLUMNS = {
    "accounts.csv": """\
        account_id,account_name,is_key_account
        A1,Acme Industrial,true
        A2,Beta Logistics,false
        A3,Gamma Foods,true
        """,
    "activities.csv": """\
        activity_id,account_id,activity_date,activity_type
        X1,A1,2026-10-20,meeting
        X2,A1,2026-07-01,call
        X3,A2,2026-11-01,email
        """,
    "contacts.csv": """\
        contact_id,account_id,full_name,buying_role,is_active,left_date,seniority
        C1,A1,Ann Champion,champion,true,,c_level
        """,
    "reviews.csv": """\
        review_id,account_id,review_date,review_type
        V1,A1,2026-10-15,plan_90_day
        """,
    "wallet.csv": """\
        account_id,year,wallet_amount
        A1,2026,4000
        """,
}


def test_activities_without_contact_ids_and_accounts_without_sponsors(make_export, load_folder):
    con = _connect(load_folder, make_export, SPARSE_COLUMNS)
    try:
        seen = presence(con)
        assert not seen.has("activities", "contact_id") and not seen.has("accounts", "executive_sponsor")
        rows = _rows(account_metrics(con, AS_OF))
        a1, a2, a3 = rows["A1"], rows["A2"], rows["A3"]
        for r in rows.values():
            for key in (*CONTACT_KEYS, "champion_quiet", "has_sponsor", "nps_365d", "score_breadth",
                        "score_loyalty"):
                assert r[key] is None, key
            assert r["champion_left"] is False  # contacts carry role, is_active and left_date: nobody left
            assert r["cost_to_serve_sources"] == "activities"
        # A1: meeting 2026-10-20 (13 days before as_of), call 2026-07-01 in the prior 90 days (2026-05-07 …
        # 2026-08-04): touches 1, weighted 3 against 2 → trend 50 % → score 75; recency 100
        assert (a1["touches_90d"], a1["weighted_touches_90d"], a1["weighted_touches_prior_90d"]) == (1, 3.0, 2.0)
        assert a1["engagement_trend_pct"] == pytest.approx(50.0) and a1["days_since_last_touch"] == 13
        assert a1["score_trend"] == pytest.approx(75.0) and a1["score_recency"] == 100.0
        # plan_90_day on 2026-10-15: plan (90 days) and review (30 days: from 2026-10-04) current → on_cadence
        assert a1["cadence_status"] == "on_cadence" and a1["score_cadence"] == 100.0
        # wallet 4000, revenue 1000 → share 0.25 → score 50; cost meeting 150 + call 25 = 175, margin 700 − 175
        # = 525 → 52.5 % → profitability 100
        assert a1["share_of_wallet"] == pytest.approx(0.25) and a1["score_wallet"] == pytest.approx(50.0)
        assert a1["cost_to_serve_ttm"] == pytest.approx(175.0) and a1["net_margin_pct"] == pytest.approx(52.5)
        # relationship: contacts are present; champion_left is known (false), champion_quiet, decision maker,
        # C-level (no activity contacts) and has_sponsor (no column) are null: no penalty → 100
        assert a1["score_relationship"] == 100.0
        # components present: recency, trend, wallet, profitability, relationship (15 each) and cadence (10):
        # 85 of 115 = 73.9 %; health = (15 × 100 + 15 × 75 + 15 × 50 + 15 × 100 + 10 × 100 + 15 × 100) / 85
        # = 7375 / 85 = 86.76 → green
        assert a1["health_coverage_pct"] == pytest.approx(8500 / 115)
        assert a1["health"] == pytest.approx(7375 / 85) and a1["band"] == "green"
        # A2 (not key): email 2026-11-01 → recency 100, trend 100 (no prior touches); no wallet row (the wallet is
        # present: a null share, not absent data) ; margin 175 − 5 = 170 → 34 % → 100; relationship 100.
        # 60 of 105 = 57.1 %: health (1500 × 4) / 60 = 100, green
        assert a2["wallet_current"] is None and a2["score_wallet"] is None
        assert a2["health_coverage_pct"] == pytest.approx(6000 / 105) and a2["health"] == pytest.approx(100.0)
        assert a2["band"] == "green"
        # A3 (key): no activity in a present table is no activity: touches 0, recency 0, not null; no review in
        # a present table: overdue, cadence 0. Recency 15 + cadence 10 + relationship 15 of 115 = 34.8 %
        # → insufficient_data
        assert a3["touches_90d"] == 0 and a3["days_since_last_touch"] is None and a3["score_recency"] == 0.0
        assert a3["cadence_status"] == "overdue" and a3["score_cadence"] == 0.0
        assert a3["health_coverage_pct"] == pytest.approx(4000 / 115) and a3["band"] == "insufficient_data"
    finally:
        con.close()


def test_an_activities_file_whose_contact_ids_are_all_empty_lacks_contact_id(make_export, load_folder):
    # conftest BASE_EXPORT: activities.csv has a contact_id column, empty in every row
    con = _connect(load_folder, make_export, {})
    try:
        seen = presence(con)
        assert seen.has("activities") and not seen.has("activities", "contact_id")
        assert account_metrics(con, AS_OF)["engaged_contacts_90d"].null_count() == 3
    finally:
        con.close()
    con = _connect(load_folder, make_export, {"activities.csv": """\
        activity_id,account_id,activity_date,activity_type,contact_id
        X1,A1,2026-11-01,email,
        X2,A2,2026-11-01,call,P9
        """})
    try:
        rows = _rows(account_metrics(con, AS_OF))
        # one activity carries a contact: the column is there; A1's activity has none → 0 engaged, not null
        assert rows["A1"]["engaged_contacts_90d"] == 0 and rows["A2"]["engaged_contacts_90d"] == 1
        assert rows["A1"]["single_threaded"] is True
    finally:
        con.close()


def test_key_absence_names_what_turns_each_key_on():
    everything = Presence.everything()
    assert key_absence(everything) == {}
    no_contacts = Presence(everything.tables - {"contacts"},
                           frozenset(p for p in everything.columns if p[0] != "contacts"))
    absent = key_absence(no_contacts)
    assert absent["champion_left"] == "contacts.csv" and absent["c_level_engaged_90d"] == "contacts.csv"
    assert "engaged_contacts_90d" not in absent and "touches_90d" not in absent
    only_required = Presence(frozenset({"accounts", "revenue"}),
                             frozenset(p for p in everything.columns if p[0] in ("accounts", "revenue")))
    off = switched_off(only_required)
    assert {"touches_90d", "days_since_last_touch", "engaged_contacts_90d"} <= set(off["activities.csv"])
    assert set(off["reviews.csv"]) == {"plan_current", "review_current", "cadence_status"}
    assert {"wallet_current", "share_of_wallet", "wallet_headroom"} <= set(off["wallet.csv"])
    assert "cost_to_serve_ttm" in off["service_costs.csv or activities.csv or cases.csv"]
    assert "revenue_ttm" not in key_absence(only_required)


# --- precision: defaulted margins 35.0, 35.00000000000001 and 34.99999999999999 tie ----------------------------

#: Revenue rows without cost_of_goods (default margin 0.35) and no cost to serve: net_margin_pct = 100 × 0.35 ×
#: amount / amount, which floating point makes 35.0 for 3000 and 2000, 35.00000000000001 for 1482 and
#: 34.99999999999999 for 1463. K1, K2 are key; N1, N2 have less revenue than either. Z has an activity (so
#: activities are present and cost to serve counts them) and no revenue (margin null). No contact ids.
MARGIN_NOISE = {
    "accounts.csv": """\
        account_id,account_name,is_key_account
        K1,Key One,true
        K2,Key Two,true
        N1,Near One,false
        N2,Near Two,false
        Z,Zero,false
        """,
    "activities.csv": """\
        activity_id,account_id,activity_date,activity_type
        X1,Z,2026-10-01,email
        """,
    "revenue.csv": """\
        revenue_id,account_id,revenue_date,amount
        R1,K1,2026-10-01,3000
        R2,K2,2026-10-01,2000
        R3,N1,2026-10-01,1482
        R4,N2,2026-10-01,1463
        """,
}


def test_defaulted_margins_tie_in_the_ranks_and_make_no_promotion_candidate(make_export, load_folder):
    con = _connect(load_folder, make_export, MARGIN_NOISE, base=False)
    try:
        frame = account_metrics(con, AS_OF)
        margin = dict(zip(frame["account_id"], frame["net_margin_pct"]))
        # the shown values carry the noise (not rounded) ...
        assert margin["K1"] == 35.0 and margin["K2"] == 35.0 and margin["Z"] is None
        assert margin["N1"] == 35.00000000000001 and margin["N2"] == 34.99999999999999
        # ... which, ranked as they are, would give three different ranks
        assert frame["net_margin_pct"].rank(method="min").drop_nulls().n_unique() == 3
        # Ranks at 6 decimals (N = 5, p = 100 × (rank − 1) / 4): revenue Z 0, N2 25, N1 50, K2 75, K1 100;
        # margin Z (null) 0, the four others tie at rank 2 → 25; wallet, growth, engaged contacts null → 0.
        # selection_score = 0.25 × p_revenue + 0.20 × p_margin: K1 30, K2 23.75, N1 17.5, N2 11.25, Z 0.
        # (Ranked raw, N1's margin would rank first: 12.5 + 20 = 32.5 ≥ K2's 18.75 + 10 = 28.75, a candidate.)
        score = dict(zip(frame["account_id"], frame["selection_score"]))
        assert score == pytest.approx({"K1": 30.0, "K2": 23.75, "N1": 17.5, "N2": 11.25, "Z": 0.0})
        candidates = selection_candidates(con, AS_OF)
        assert candidates.filter(pl.col("candidate") == "promote").height == 0
        # review: key scores 23.75, 30 → lowest quartile ≤ 23.75 + 0.25 × 6.25 = 25.3125: K2
        assert candidates.filter(pl.col("candidate") == "review")["account_id"].to_list() == ["K2"]
    finally:
        con.close()


def test_percentile_rank_and_bands_compare_at_six_decimals():
    frame = pl.DataFrame({"m": [35.0, 35.00000000000001, 34.99999999999999, None, 36.0]})
    # null first (rank 1 → 0), the three ~35 tie at rank 2 → 25, 36 rank 5 → 100
    assert frame.select(percentile_rank("m", 5)).to_series().to_list() == [25.0, 25.0, 25.0, 0.0, 100.0]
    assert decision_value(69.99999999999999) == 70.0 and decision_value(0.1 + 0.2) == 0.3
    # a health of 69.99999999999999 (float noise of 70) bands green
    row = {"days_since_last_touch": 14, "touches_90d": 1, "touches_prior_90d": 1, "engagement_trend_pct": None,
           "engaged_contacts_90d": None, "nps_365d": 39.99999999999998, "share_of_wallet": None,
           "net_margin_pct": None, "cadence_status": None, "is_key_account": False,
           "has_contacts_data": False, "champion_left": None, "champion_quiet": None,
           "decision_maker_engaged_90d": None, "c_level_engaged_90d": None, "has_sponsor": None}
    # recency 100 (15), loyalty (39.99999999999998 + 100) / 2 = 69.99999999999999 (15): coverage 30 / 105 = 29 %
    got = add_health(pl.DataFrame([row]), Settings().replace(min_health_coverage_pct=28.0)).row(0, named=True)
    assert got["health"] == pytest.approx(85.0) and got["band"] == "green"
    only_loyalty = Settings().replace(min_health_coverage_pct=10.0, health_weights={
        **Settings().health_weights, "recency": 0.0})
    got = add_health(pl.DataFrame([row]), only_loyalty).row(0, named=True)
    assert got["health"] < 70.0 and got["band"] == "green"


def test_min_health_coverage_pct_is_a_checked_setting():
    assert Settings().min_health_coverage_pct == 50.0
    assert settings_from_dict({"min_health_coverage_pct": 40}).min_health_coverage_pct == 40.0
    with pytest.raises(SettingsError, match="min_health_coverage_pct"):
        settings_from_dict({"min_health_coverage_pct": 150})


def test_a_header_only_revenue_file_makes_revenue_figures_null(make_export, load_folder):
    from kam_metrics.metrics import wallet_by_product_line, wallet_by_year

    con = _connect(load_folder, make_export, {
        "revenue.csv": "revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency\n",
        "wallet.csv": """\
            account_id,year,wallet_amount,product_line
            A1,2026,4000,
            A1,2026,900,Pumps
            """,
    })
    try:
        a1 = _rows(account_metrics(con, AS_OF))["A1"]
        for key in ("revenue_ttm", "revenue_growth_pct", "gross_margin_ttm", "share_of_wallet", "wallet_headroom",
                    "net_contribution_ttm", "net_margin_pct", "score_wallet", "score_profitability"):
            assert a1[key] is None, key
        assert a1["wallet_current"] == 4000.0  # the wallet itself is there
        assert a1["cost_to_serve_ttm"] == pytest.approx(5.0)  # one email: activities are present
        by_year = wallet_by_year(con, AS_OF)
        assert by_year["revenue"].to_list() == [None] and by_year["wallet_amount"].to_list() == [4000.0]
        by_line = wallet_by_product_line(con, AS_OF)
        assert by_line["revenue_ttm"].null_count() == by_line.height == 1
        assert by_line["share_of_wallet"].to_list() == [None]
    finally:
        con.close()


def test_no_contacts_file_nulls_the_relationship_flags_not_the_engaged_contacts(make_export, load_folder):
    con = _connect(load_folder, make_export, {
        "activities.csv": """\
            activity_id,account_id,activity_date,activity_type,contact_id
            X1,A1,2026-10-20,meeting,P1
            X2,A1,2026-10-21,call,P2
            X3,A2,2026-11-01,email,
            """,
        # surveys with an nps column but no csat column
        "surveys.csv": """\
            response_id,account_id,response_date,nps
            S1,A1,2026-09-01,10
            S2,A1,2026-09-02,5
            S3,A1,2026-09-03,8
            """,
    })
    try:
        rows = _rows(account_metrics(con, AS_OF))
        a1, a2 = rows["A1"], rows["A2"]
        # contact ids come from the activities: A1 engaged P1 and P2 → 2, single-threaded (< 3), breadth 40;
        # A2's activity has no contact → 0 engaged (the column is carried), breadth 0
        assert a1["engaged_contacts_90d"] == 2 and a1["single_threaded"] is True
        assert a1["score_breadth"] == pytest.approx(40.0)
        assert a2["engaged_contacts_90d"] == 0 and a2["score_breadth"] == 0.0
        # who they are (seniority, buying role, active or left) is in contacts.csv, absent: the flags are null
        for r in rows.values():
            for key in ("c_level_engaged_90d", "decision_maker_engaged_90d", "champion_left", "champion_quiet"):
                assert r[key] is None, key
        # NPS (one promoter, one detractor of three) = 100 × (1 − 1) / 3 = 0 → loyalty 50; csat not carried
        assert a1["nps_365d"] == 0.0 and a1["score_loyalty"] == 50.0 and a1["csat_365d"] is None
        assert a2["nps_365d"] is None and a2["score_loyalty"] is None  # surveys present, none for A2
    finally:
        con.close()
