"""Every metric on a hand-built export (tests/fixtures/handbuilt), against values computed by hand.

as_of = 2025-06-30 (a Monday; the export has rows after it, which must be ignored). The windows:
  last 90 days      2025-04-02 … 2025-06-30      prior 90 days  2025-01-02 … 2025-04-01
  TTM / last 365    2024-07-01 … 2025-06-30      prior TTM      2023-07-02 … 2024-06-30
  last 60 days      2025-05-02 … 2025-06-30      last 30 days   2025-06-01 … 2025-06-30
fx: USD 0.9 from 2024-01-01, 0.8 from 2025-01-01 (before 2024-01-01 the earliest rate, 0.9, applies).
Default settings: weights email 1, call 2, meeting 3, workshop 3, site_visit 4, qbr 5, exec_meeting 5, other 1;
activity costs email 5, call 25, meeting 150, workshop 600, site_visit 800, qbr 1200, exec_meeting 1000,
other 20; case costs low 50, medium 150, high 400, critical 1000; default gross margin 0.35.
LTV factor Σ_{t=1..5} (0.9/1.1)^t = (9·11⁴ + 81·11³ + 729·11² + 6561·11 + 59049) / 11⁵ = 459009 / 161051.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.load import warehouse
from kam_metrics.filters import Filters
from kam_metrics.metrics import (
    account_metrics, alerts, cost_to_serve_breakdown, default_as_of, engagement_weekly, goals_status,
    health_history, health_movement, portfolio_concentration, programme_kpis, selection_candidates,
    wallet_by_product_line, wallet_by_year, whale_curve,
)
from kam_metrics.load.pipeline import load_export

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "handbuilt"
AS_OF = date(2025, 6, 30)
LTV = 459009 / 161051


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("handbuilt_data")
    report = load_export(FIXTURE, data_dir)
    assert report.quarantine.height == 0, report.quarantine
    connection = warehouse.connect_current(data_dir)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def accounts(con) -> dict[str, dict]:
    frame = account_metrics(con, AS_OF)
    return {row["account_id"]: row for row in frame.iter_rows(named=True)}


# --- Expected account rows, by hand -------------------------------------------------------------------------------

EXPECTED = {
    # A1 Alpha (key, sponsor Dana): activity in both windows, USD rows across the fx change, a credit note,
    # a revenue row without cost of goods, a wallet total row, on cadence. X110, R108, S104, K103, V105, W103 are
    # dated after as_of and ignored.
    "A1": {
        # last 90 days: X101 meeting 06-20, X111 email 06-20, X102 call 06-10, X103 email 05-05, X104 qbr 04-02
        "touches_90d": 5,
        "weighted_touches_90d": 3 + 1 + 2 + 1 + 5,  # 12
        # prior 90 days: X105 workshop 04-01, X106 email 02-15, X107 call 01-02
        "weighted_touches_prior_90d": 3 + 1 + 2,  # 6
        "engagement_trend_pct": 100 * (12 - 6) / 6,  # 100
        "engaged_contacts_90d": 4,  # C11 (X101, X111), C12 (X102), C13 (X103), C14 (X104)
        "c_level_engaged_90d": True,  # C11 is c_level
        "days_since_last_touch": 10,  # 06-30 − 06-20
        # surveys 2024-07-01…: V101 nps 10 (promoter), V102 nps 9 (promoter), V103 nps 3 (detractor); V104 is older
        "nps_365d": 100 * (2 - 1) / 3,
        "csat_365d": (5 + 4) / 2,  # V103 has no csat
        # TTM: R101 10000 + R102 5000 + R103 1000 USD × 0.8 + R104 1000 USD × 0.9 + R105 −2000 (credit note)
        "revenue_ttm": 10000 + 5000 + 800 + 900 - 2000,  # 14700
        # prior TTM: R106 8000 + R107 1000 USD on 2023-10-01, before the first rate → earliest 0.9
        "revenue_prior_ttm": 8000 + 900,  # 8900
        "revenue_growth_pct": 100 * (14700 - 8900) / 8900,
        "wallet_current": 20000.0,  # 2025 row with empty product line (the Pumps row is not added)
        "share_of_wallet": 14700 / 20000,  # 0.735
        "wallet_headroom": 20000 - 14700,
        # margins: R101 4000, R102 no cogs → 5000 × 0.35 = 1750, R103 800 − 400, R104 900 − 450,
        # R105 −2000 − 0
        "gross_margin_ttm": 4000 + 1750 + 400 + 450 - 2000,  # 4600
        # service: S101 support 300 + S102 travel 250 USD × 0.9 = 225; activities TTM: meeting 150, call 2 × 25,
        # email 3 × 5, qbr 1200, workshop 600, site_visit 800 (X108 2024-09-10); cases: K101 high 400 (K102 opened
        # 2024-06-30 = as_of − 365 is just outside the TTM)
        "cost_to_serve_ttm": 525 + (150 + 50 + 15 + 1200 + 600 + 800) + 400,  # 3740
        "net_contribution_ttm": 4600 - 3740,  # 860
        "cost_to_serve_pct": 100 * 3740 / 14700,
        "net_margin_pct": 100 * 860 / 14700,
        # to date: margin 4600 + R106 4000 + R107 900 × 0.35 + R109 1000 = 9915; costs: service 525 + S103 100,
        # activities 2815 + X109 exec_meeting 1000, cases 400 + K102 1000
        "value_to_date": 9915 - (625 + 3815 + 1400),  # 4075
        "lifetime_value": 860 * LTV,
        "single_threaded": False,
        "decision_maker_engaged_90d": True,  # C11 economic_buyer
        "has_sponsor": True,
        "champion_left": False,
        "champion_quiet": False,  # C12 had X102 on 06-10
        "plan_current": True,  # W101 plan_90_day 05-15
        "review_current": True,  # W102 06-12
        "cadence_status": "on_cadence",
        "score_recency": 100.0,  # 10 ≤ 14
        "score_trend": 100.0,  # 50 + 0.5 × 100
        "score_breadth": 80.0,  # 100 × 4/5
        "score_loyalty": (100 / 3 + 100) / 2,
        "score_wallet": 100.0,  # 0.735 / 0.5 > 1
        "score_profitability": 100 * (100 * 860 / 14700 + 10) / 30,
        "score_cadence": 100.0,
        "score_relationship": 100.0,  # nobody left or quiet, C11 economic buyer and C-level engaged, a sponsor
        "contribution_cap": 0.0,
        # all eight present, Σ weight 115
        "health": (15 * (100 + 100 + 80 + (100 / 3 + 100) / 2 + 100 + 100 * (100 * 860 / 14700 + 10) / 30)
                   + 10 * 100 + 15 * 100) / 115,
        "health_coverage_pct": 100.0,
        "band": "green",
        "is_share_of_wallet_above_1": False,
    },
    # A2 Beta (key, no sponsor): activity only in the last 90 days, wallet only per product line, a decision
    # maker who left on 05-20, a quiet champion, a 30-day review but no plan (partial), no surveys.
    "A2": {
        "touches_90d": 4,  # X201 exec_meeting 04-15, X203 meeting 05-20, X202 call 06-25, X204 other 06-29
        "weighted_touches_90d": 5 + 3 + 2 + 1,  # 11
        "weighted_touches_prior_90d": 0,
        "engagement_trend_pct": None,  # prior = 0
        "engaged_contacts_90d": 3,  # C21, C22, C23 (X204 has no contact)
        "c_level_engaged_90d": False,
        "days_since_last_touch": 1,
        "nps_365d": None,
        "csat_365d": None,
        "revenue_ttm": 3000 + 2000,  # R201, R202
        "revenue_prior_ttm": 4000,  # R203 2024-06-01
        "revenue_growth_pct": 25.0,
        "wallet_current": 6000 + 4000,  # no total row in 2025: Σ product lines
        "share_of_wallet": 0.5,
        "wallet_headroom": 5000.0,
        "gross_margin_ttm": 2000 + 1500,
        "cost_to_serve_ttm": (1000 + 150 + 25 + 20) + 150,  # activities + K201 medium
        "net_contribution_ttm": 3500 - 1345,  # 2155
        "cost_to_serve_pct": 100 * 1345 / 5000,  # 26.9
        "net_margin_pct": 100 * 2155 / 5000,  # 43.1
        "value_to_date": (3500 + 2000) - 1345,  # R203 margin 2000 is older than the TTM
        "lifetime_value": 2155 * LTV,
        "single_threaded": False,  # 3 is not < 3
        "decision_maker_engaged_90d": True,  # C22 decision_maker (engaged on 05-20, the day they left)
        "has_sponsor": False,
        "champion_left": True,  # C22 decision_maker, inactive, left 2025-05-20
        "champion_quiet": True,  # C21 champion, last activity 04-15 < 05-02
        "plan_current": False,
        "review_current": True,  # W201 06-20
        "cadence_status": "partial",
        "score_recency": 100.0,
        "score_trend": 100.0,  # prior had none, last 90 had some
        "score_breadth": 60.0,
        "score_loyalty": None,
        "score_wallet": 100.0,  # 0.5 / 0.5
        "score_profitability": 100.0,  # 43.1 ≥ 20
        "score_cadence": 50.0,
        # 100 − 60 (champion left) − 30 (champion quiet) − 10 (no C-level engaged) − 20 (key account without a
        # sponsor) = −20, floored at 0; a decision maker was engaged (no penalty)
        "score_relationship": 0.0,
        # loyalty missing: Σ weight 100; mean (15 × (100 + 100 + 60 + 100 + 100) + 10 × 50 + 15 × 0) / 100 = 74,
        # capped at 69 while the decision maker's leaving counts: contribution_cap = 69 − 74 = −5
        "contribution_cap": -5.0,
        "health": 69.0,
        "health_coverage_pct": 100 * 100 / 115,
        "band": "amber",
        "is_share_of_wallet_above_1": False,
    },
    # A3 Gamma (key): no activity at all, wallet only for an earlier year (2024), share of wallet above 1,
    # a credit note without cost of goods, a quiet champion with no activity ever, an old leaver, overdue cadence.
    "A3": {
        "touches_90d": 0,
        "weighted_touches_90d": 0,
        "weighted_touches_prior_90d": 0,
        "engagement_trend_pct": None,
        "engaged_contacts_90d": 0,
        "c_level_engaged_90d": False,
        "days_since_last_touch": None,
        "nps_365d": -100.0,  # V301 nps 6: one detractor
        "csat_365d": 3.0,
        "revenue_ttm": 6000 - 500,  # R301, R302 credit note
        "revenue_prior_ttm": 0,
        "revenue_growth_pct": None,  # prior ≤ 0
        "wallet_current": 5000.0,  # no 2025 rows: the 2024 total
        "share_of_wallet": 5500 / 5000,  # 1.1
        "wallet_headroom": 0.0,  # max(5000 − 5500, 0)
        "gross_margin_ttm": 3000 + (-500 * 0.35),  # 2825
        "cost_to_serve_ttm": 500,  # S301 discount
        "net_contribution_ttm": 2325,
        "cost_to_serve_pct": 100 * 500 / 5500,
        "net_margin_pct": 100 * 2325 / 5500,
        "value_to_date": 2325,
        "lifetime_value": 2325 * LTV,
        "single_threaded": True,
        "decision_maker_engaged_90d": False,
        "has_sponsor": True,
        "champion_left": False,  # C32 left 2025-01-10, outside the last 90 days
        "champion_quiet": True,  # C31 has no activity at all
        "plan_current": False,
        "review_current": False,  # W301 05-25 is before 06-01
        "cadence_status": "overdue",
        "score_recency": 0.0,  # no activity
        "score_trend": None,  # neither window had touches
        "score_breadth": 0.0,
        "score_loyalty": 0.0,  # (−100 + 100) / 2
        "score_wallet": 100.0,
        "score_profitability": 100.0,
        "score_cadence": 0.0,
        "score_relationship": 100.0 - 30 - 20 - 10,  # quiet champion, no decision maker, no C-level: 40
        "contribution_cap": 0.0,
        "health": (15 * (0 + 0 + 0 + 100 + 100) + 10 * 0 + 15 * 40) / 100,  # 36: trend missing, Σ weight 100
        "health_coverage_pct": 100 * 100 / 115,
        "band": "red",
        "is_share_of_wallet_above_1": True,
    },
    # A4 Delta (not key): activity only in the prior 90 days, negative net contribution, no wallet.
    "A4": {
        "touches_90d": 0,
        "weighted_touches_90d": 0,
        "weighted_touches_prior_90d": 4 + 3,  # X401 site_visit 03-01, X402 meeting 02-01
        "engagement_trend_pct": -100.0,
        "engaged_contacts_90d": 0,
        "c_level_engaged_90d": False,  # C41 only engaged in the prior window
        "days_since_last_touch": 121,  # 2025-03-01 → 2025-06-30
        "nps_365d": None,
        "csat_365d": None,
        "revenue_ttm": 1000,
        "revenue_prior_ttm": 0,
        "revenue_growth_pct": None,
        "wallet_current": None,
        "share_of_wallet": None,
        "wallet_headroom": None,
        "gross_margin_ttm": 100,
        "cost_to_serve_ttm": 2000 + (800 + 150) + 1000,  # customisation, activities, critical case
        "net_contribution_ttm": 100 - 3950,
        "cost_to_serve_pct": 395.0,
        "net_margin_pct": -385.0,
        "value_to_date": -3850,
        "lifetime_value": -3850 * LTV,
        "single_threaded": True,
        "decision_maker_engaged_90d": False,
        "has_sponsor": False,
        "champion_left": False,
        "champion_quiet": False,
        "plan_current": False,
        "review_current": False,
        "cadence_status": "overdue",
        "score_recency": 0.0,  # 121 ≥ 90
        "score_trend": 0.0,  # 50 + 0.5 × −100
        "score_breadth": 0.0,
        "score_loyalty": None,
        "score_wallet": None,
        "score_profitability": 0.0,  # −385 ≤ −10
        "score_cadence": None,  # not a key account
        # no decision maker, no C-level engaged; no sponsor penalty for an account that is not key: 70
        "score_relationship": 70.0,
        "contribution_cap": 0.0,
        "health": 15 * 70 / 75,  # 14
        "health_coverage_pct": 100 * 75 / 105,  # cadence does not apply
        "band": "red",
        "is_share_of_wallet_above_1": False,
    },
    # A5 Epsilon (not key): one email on as_of itself (and one dated 2099), share of wallet exactly 1.
    "A5": {
        "touches_90d": 1,
        "weighted_touches_90d": 1,
        "weighted_touches_prior_90d": 0,
        "engagement_trend_pct": None,
        "engaged_contacts_90d": 0,
        "c_level_engaged_90d": False,
        "days_since_last_touch": 0,
        "nps_365d": None,
        "csat_365d": None,
        "revenue_ttm": 1000,  # R501, no currency column value: reporting currency
        "revenue_prior_ttm": 0,
        "revenue_growth_pct": None,
        "wallet_current": 1000.0,
        "share_of_wallet": 1.0,
        "wallet_headroom": 0.0,
        "gross_margin_ttm": 100,
        "cost_to_serve_ttm": 5,
        "net_contribution_ttm": 95,
        "cost_to_serve_pct": 0.5,
        "net_margin_pct": 9.5,
        "value_to_date": 95,
        "lifetime_value": 95 * LTV,
        "single_threaded": True,
        "decision_maker_engaged_90d": False,
        "has_sponsor": False,
        "champion_left": False,
        "champion_quiet": False,
        "plan_current": False,
        "review_current": False,
        "cadence_status": "overdue",
        "score_recency": 100.0,
        "score_trend": 100.0,
        "score_breadth": 0.0,
        "score_loyalty": None,
        "score_wallet": 100.0,  # 1.0 / 0.5 capped
        "score_profitability": 100 * (9.5 + 10) / 30,  # 65
        "score_cadence": None,
        "score_relationship": 70.0,  # no decision maker, no C-level engaged
        "contribution_cap": 0.0,
        "health": 15 * (100 + 100 + 0 + 100 + 65 + 70) / 90,  # 72.5
        "health_coverage_pct": 100 * 90 / 105,
        "band": "green",
        "is_share_of_wallet_above_1": False,  # exactly 1 is not above
    },
    # A6 Zeta (not key): revenue and wallet only (and no contacts of its own).
    "A6": {
        "touches_90d": 0,
        "weighted_touches_90d": 0,
        "weighted_touches_prior_90d": 0,
        "engagement_trend_pct": None,
        "engaged_contacts_90d": 0,
        "c_level_engaged_90d": False,
        "days_since_last_touch": None,
        "nps_365d": None,
        "csat_365d": None,
        "revenue_ttm": 30000,
        "revenue_prior_ttm": 20000,
        "revenue_growth_pct": 50.0,
        "wallet_current": 100000.0,
        "share_of_wallet": 0.3,
        "wallet_headroom": 70000.0,
        "gross_margin_ttm": 10000,
        "cost_to_serve_ttm": 0,
        "net_contribution_ttm": 10000,
        "cost_to_serve_pct": 0.0,
        "net_margin_pct": 100 * 10000 / 30000,
        "value_to_date": 10000 + 5000,
        "lifetime_value": 10000 * LTV,
        "single_threaded": True,
        "decision_maker_engaged_90d": False,
        "has_sponsor": False,
        "champion_left": False,
        "champion_quiet": False,
        "plan_current": False,
        "review_current": False,
        "cadence_status": "overdue",
        "score_recency": 0.0,
        "score_trend": None,
        "score_breadth": 0.0,
        "score_loyalty": None,
        "score_wallet": 60.0,  # 100 × 0.3 / 0.5
        "score_profitability": 100.0,
        "score_cadence": None,
        "score_relationship": 70.0,  # no decision maker, no C-level engaged
        "contribution_cap": 0.0,
        "health": 15 * (0 + 0 + 60 + 100 + 70) / 75,  # 46.0 → amber
        "health_coverage_pct": 100 * 75 / 105,
        "band": "amber",
        "is_share_of_wallet_above_1": False,
    },
}

# Selection (N = 6, p = 20 × (rank − 1), ascending, nulls first, ties share the lowest rank):
#   revenue_ttm     A4 = A5 = 1000 (tie, rank 1) → 0, 0; A2 5000 → 40; A3 5500 → 60; A1 → 80; A6 → 100
#   wallet_current  A4 null → 0; A5 1000 → 20; A3 5000 → 40; A2 → 60; A1 → 80; A6 → 100
#   net_margin_pct  A4 −385 → 0; A1 5.85 → 20; A5 9.5 → 40; A6 33.3 → 60; A3 42.3 → 80; A2 43.1 → 100
#   growth          A3, A4, A5 null (tie) → 0; A2 25 → 60; A6 50 → 80; A1 65.2 → 100
#   engaged         A3, A4, A5, A6 0 (tie) → 0; A2 3 → 80; A1 4 → 100
EXPECTED_SELECTION = {
    "A1": (25 * 80 + 25 * 80 + 20 * 20 + 15 * 100 + 15 * 100) / 100,  # 74
    "A2": (25 * 40 + 25 * 60 + 20 * 100 + 15 * 60 + 15 * 80) / 100,  # 66
    "A3": (25 * 60 + 25 * 40 + 20 * 80) / 100,  # 41
    "A4": 0.0,
    "A5": (25 * 20 + 20 * 40) / 100,  # 13
    "A6": (25 * 100 + 25 * 100 + 20 * 60 + 15 * 80) / 100,  # 74 (a tie with A1)
}


def _check(actual, expected, where: str) -> None:
    if expected is None:
        assert actual is None, f"{where}: expected null, got {actual!r}"
    elif isinstance(expected, (bool, str)):
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"
    else:
        assert actual is not None and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9), (
            f"{where}: expected {expected!r}, got {actual!r}"
        )


@pytest.mark.parametrize("account_id", sorted(EXPECTED))
def test_every_account_key_matches_the_hand_computation(accounts, account_id):
    row = accounts[account_id]
    for key, expected in EXPECTED[account_id].items():
        _check(row[key], expected, f"{account_id}.{key}")
    _check(row["selection_score"], EXPECTED_SELECTION[account_id], f"{account_id}.selection_score")
    assert row["as_of"] == AS_OF


def test_contributions_are_weight_times_score_over_present_weight(accounts):
    # A2: loyalty is null, so the present weight is 100; cadence 10 × 50 / 100
    a2 = accounts["A2"]
    assert a2["contribution_loyalty"] is None
    assert math.isclose(a2["contribution_cadence"], 10 * 50 / 100)
    assert math.isclose(a2["contribution_breadth"], 15 * 60 / 100)
    assert a2["contribution_relationship"] == 0.0
    # the cap's contribution (69 − 74 = −5) and the components' add up to health
    parts = [a2[f"contribution_{c}"] or 0.0 for c in ("recency", "trend", "breadth", "loyalty", "wallet",
                                                      "profitability", "cadence", "relationship", "cap")]
    assert math.isclose(sum(parts), 69.0) and math.isclose(a2["contribution_cap"], -5.0)
    # A1: all present (Σ weight 115)
    assert math.isclose(accounts["A1"]["contribution_breadth"], 15 * 80 / 115)


def test_account_metrics_rows_and_identity_columns(accounts):
    assert sorted(accounts) == ["A1", "A2", "A3", "A4", "A5", "A6"]
    a1 = accounts["A1"]
    assert (a1["account_name"], a1["is_key_account"], a1["region"], a1["segment"], a1["kam_owner"],
            a1["executive_sponsor"]) == ("Alpha Pumps", True, "EMEA", "Enterprise", "Kim Lee", "Dana Ortiz")


def test_default_as_of_is_the_latest_activity_or_revenue_not_after_today(con):
    # latest: R108 revenue 2025-07-15 (X502 is dated 2099, after today; S104/K103/V105/W103 are not activities
    # or revenue)
    assert default_as_of(con) == date(2025, 7, 15)
    assert default_as_of(con, today=date(2025, 7, 12)) == date(2025, 7, 10)  # X110
    assert default_as_of(con, today=date(2000, 1, 1)) == date(2000, 1, 1)  # nothing yet: today


def test_time_travel_ignores_rows_after_as_of(con):
    # At the default as_of (2025-07-15) A1 has R108 99999 and X110; at 2025-06-30 it does not.
    later = account_metrics(con).filter(pl.col("account_id") == "A1").row(0, named=True)
    assert later["as_of"] == date(2025, 7, 15)
    # TTM 2024-07-16 … 2025-07-15: 14700 + 99999 (R108)
    assert later["revenue_ttm"] == pytest.approx(14700 + 99999)
    assert later["days_since_last_touch"] == 5  # X110 on 07-10


def test_filters_restrict_rows_but_not_selection_ranks(con, accounts):
    emea = account_metrics(con, AS_OF, Filters(regions=("EMEA",)))
    assert emea["account_id"].to_list() == ["A1", "A2", "A6"]
    for row in emea.iter_rows(named=True):
        assert row["selection_score"] == pytest.approx(EXPECTED_SELECTION[row["account_id"]])
    key_only = account_metrics(con, AS_OF, Filters(key_only=True))
    assert key_only["account_id"].to_list() == ["A1", "A2", "A3"]


def test_cost_to_serve_breakdown(con):
    frame = cost_to_serve_breakdown(con, AS_OF)
    a1 = {(r["component_group"], r["component"]): r["cost_ttm"] for r in frame.filter(pl.col("account_id") == "A1")
          .iter_rows(named=True)}
    assert a1 == pytest.approx({
        ("service_costs", "support"): 300.0,  # S101
        ("service_costs", "travel"): 225.0,  # S102 250 USD × 0.9
        ("activities", "call"): 50.0,  # X102, X107
        ("activities", "email"): 15.0,  # X103, X106, X111
        ("activities", "meeting"): 150.0,
        ("activities", "qbr"): 1200.0,
        ("activities", "site_visit"): 800.0,
        ("activities", "workshop"): 600.0,
        ("cases", "high"): 400.0,
    })
    assert "A6" not in frame["account_id"].to_list()  # no cost at all: no rows


def test_engagement_weekly(con):
    frame = engagement_weekly(con, AS_OF)
    rows = {(r["account_id"], r["week_start"], r["activity_type"]): (r["touches"], r["weighted_touches"])
            for r in frame.iter_rows(named=True)}
    assert rows[("A1", date(2025, 6, 16), "meeting")] == (1, 3.0)  # X101 Friday 06-20
    assert rows[("A1", date(2025, 6, 16), "email")] == (1, 1.0)  # X111
    assert rows[("A2", date(2025, 6, 23), "call")] == (1, 2.0)  # X202
    assert rows[("A5", date(2025, 6, 30), "email")] == (1, 1.0)  # the current week holds only as_of
    assert rows[("A1", date(2024, 9, 9), "site_visit")] == (1, 4.0)  # X108, 2024-09-10, within 52 weeks
    # 52 weeks: Mondays from 2024-07-08 to 2025-06-30; X109 (2023) and X110 (after as_of) are not there
    assert frame["week_start"].min() >= date(2024, 7, 8)
    assert frame["week_start"].max() == date(2025, 6, 30)
    assert (frame["week_start"].dt.weekday() == 1).all()
    # total touches of A1 in the window: all of its activities dated 2024-07-08 … 2025-06-30 (X101–X108, X111)
    assert frame.filter(pl.col("account_id") == "A1")["touches"].sum() == 9


def test_health_history_is_each_sunday_of_the_last_26_weeks(con):
    frame = health_history(con, AS_OF)
    sundays = sorted(frame["as_of"].unique().to_list())
    assert len(sundays) == 26
    assert sundays[-1] == date(2025, 6, 29)  # the latest Sunday on or before 2025-06-30
    assert sundays[0] == date(2025, 1, 5)
    assert all(d.isoweekday() == 7 for d in sundays)
    a3 = {r["as_of"]: r for r in frame.filter(pl.col("account_id") == "A3").iter_rows(named=True)}
    # 06-29: review window 05-31 … 06-29 misses W301 (05-25) → overdue → (1500 + 1500 + 15 × 40) / 100
    # (relationship 40: quiet champion, no decision maker, no C-level engaged)
    assert a3[date(2025, 6, 29)]["health"] == pytest.approx(3600 / 100)
    assert a3[date(2025, 6, 29)]["band"] == "red"
    # 06-22: window 05-24 … 06-22 holds W301 → partial (50) → (1500 + 1500 + 500 + 600) / 100
    assert a3[date(2025, 6, 22)]["health"] == pytest.approx(4100 / 100)
    assert a3[date(2025, 6, 22)]["band"] == "amber"
    # the history point on a Sunday equals account_metrics at that date
    single = account_metrics(con, date(2025, 6, 22)).filter(pl.col("account_id") == "A1").row(0, named=True)
    assert frame.filter((pl.col("account_id") == "A1") & (pl.col("as_of") == date(2025, 6, 22)))["health"][0] == \
        pytest.approx(single["health"])


def test_health_movement_explains_the_change(con):
    frame = health_movement(con, date(2025, 6, 23), AS_OF, account_id="A3")
    by = {r["component"]: r for r in frame.iter_rows(named=True)}
    # cadence partial → overdue: contribution 10 × 50 / 100 → 0
    assert by["cadence"]["contribution_from"] == pytest.approx(500 / 100)
    assert by["cadence"]["contribution_to"] == pytest.approx(0.0)
    assert by["cadence"]["change"] == pytest.approx(-500 / 100)
    assert by["wallet"]["change"] == pytest.approx(0.0)
    assert by["relationship"]["change"] == pytest.approx(0.0) and by["cap"]["change"] == 0.0
    assert by["health"]["contribution_from"] == pytest.approx(4100 / 100)
    assert by["health"]["contribution_to"] == pytest.approx(3600 / 100)
    assert by["health"]["change"] == pytest.approx(-500 / 100)
    assert by["trend"]["contribution_from"] is None and by["trend"]["change"] == 0.0


def test_wallet_by_product_line(con):
    frame = wallet_by_product_line(con, AS_OF)
    rows = {(r["account_id"], r["product_line"]): r for r in frame.iter_rows(named=True)}
    # A1 Pumps TTM: R101 10000 + R103 800 + R104 900 + R105 −2000 = 9700, wallet 2025 Pumps 12000
    assert rows[("A1", "Pumps")]["revenue_ttm"] == pytest.approx(9700)
    assert rows[("A1", "Pumps")]["share_of_wallet"] == pytest.approx(9700 / 12000)
    assert rows[("A1", "Valves")]["wallet_amount"] is None  # no wallet row for the line
    assert rows[("A2", "Pumps")]["share_of_wallet"] == pytest.approx(3000 / 6000)
    assert rows[("A2", "Service")]["share_of_wallet"] == pytest.approx(2000 / 4000)
    assert rows[("A3", "unassigned")]["revenue_ttm"] == pytest.approx(-500)  # R302 has no product line


def test_wallet_by_year(con):
    frame = wallet_by_year(con, AS_OF)
    rows = {(r["account_id"], r["year"]): r for r in frame.iter_rows(named=True)}
    # A1 2025 up to as_of: R101 10000 + R102 5000 + R103 800 + R105 −2000 (R108 is after as_of)
    assert rows[("A1", 2025)]["revenue"] == pytest.approx(13800)
    assert rows[("A1", 2025)]["share_of_wallet"] == pytest.approx(13800 / 20000)
    assert rows[("A1", 2024)]["revenue"] == pytest.approx(900 + 8000)  # R104, R106
    assert rows[("A1", 2024)]["wallet_amount"] == pytest.approx(15000)
    assert rows[("A1", 2023)]["revenue"] == pytest.approx(900 + 2000)  # R107 (USD, earliest rate), R109
    assert rows[("A1", 2023)]["share_of_wallet"] is None
    assert rows[("A2", 2025)]["wallet_amount"] == pytest.approx(10000)  # Σ product lines
    assert rows[("A3", 2024)]["share_of_wallet"] == pytest.approx(-500 / 5000)


def test_whale_curve_and_concentration(con):
    curve = whale_curve(con, AS_OF)
    # net contributions: A6 10000, A3 2325, A2 2155, A1 860, A5 95, A4 −3850; total 11585
    assert curve["account_id"].to_list() == ["A6", "A3", "A2", "A1", "A5", "A4"]
    cum = [10000, 12325, 14480, 15340, 15435, 11585]
    assert curve["cum_net_contribution_pct"].to_list() == pytest.approx([100 * c / 11585 for c in cum])
    assert curve["cum_accounts_pct"].to_list() == pytest.approx([100 * k / 6 for k in range(1, 7)])
    conc = portfolio_concentration(con, AS_OF).row(0, named=True)
    assert conc["whale_peak_pct"] == pytest.approx(100 * 15435 / 11585)
    assert conc["profit_erosion_pct"] == pytest.approx(100 * 3850 / 15435)
    # N = 6 accounts with revenue > 0 → top ceil(1.2) = 2: A6 30000 + A1 14700 of 57200
    assert conc["top20_revenue_share_pct"] == pytest.approx(100 * 44700 / 57200)
    revenues = [30000, 14700, 5500, 5000, 1000, 1000]
    assert conc["revenue_hhi"] == pytest.approx(sum((r / 57200) ** 2 for r in revenues) * 10_000)


def test_programme_kpis(con):
    kpis = {r["key"]: r for r in programme_kpis(con, AS_OF).iter_rows(named=True)}
    v = {k: r["value"] for k, r in kpis.items()}
    assert v["key_account_count"] == 3
    assert v["key_account_count_in_guidance"] == 0.0  # 3 < 5
    assert v["key_revenue_share_pct"] == pytest.approx(100 * 25200 / 57200)
    assert v["key_revenue_growth_pct"] == pytest.approx(100 * (25200 - 12900) / 12900)  # prior 8900 + 4000 + 0
    assert v["non_key_revenue_growth_pct"] == pytest.approx(100 * (32000 - 20000) / 20000)
    assert v["programme_nps"] == pytest.approx(0.0)  # A1 2 promoters, 1 detractor; A3 1 detractor
    assert v["sponsor_coverage_pct"] == pytest.approx(200 / 3)
    assert v["cadence_compliance_pct"] == pytest.approx(100 / 3)
    assert v["multithreaded_pct"] == pytest.approx(200 / 3)  # A1 and A2
    health = [EXPECTED[a]["health"] for a in ("A1", "A2", "A3")]
    assert v["health_mean"] == pytest.approx(sum(health) / 3)
    # A1 green; A2 amber (capped at 69: its decision maker left 05-20); A3 red (36)
    assert (v["green_count"], v["amber_count"], v["red_count"]) == (1, 1, 1)
    # a week earlier A3 was amber (41), A2 amber too (capped), and A2 had 2 engaged contacts (C23 first touched
    # 06-25)
    assert (kpis["red_count"]["value_7d_ago"], kpis["red_count"]["change"]) == (0, 1)
    assert kpis["amber_count"]["value_7d_ago"] == 2
    assert kpis["multithreaded_pct"]["value_7d_ago"] == pytest.approx(100 / 3)


def test_programme_kpis_follow_the_filters(con):
    v = {r["key"]: r["value"] for r in programme_kpis(con, AS_OF, Filters(regions=("EMEA",))).iter_rows(named=True)}
    # EMEA: A1, A2 (key) and A6
    assert v["key_account_count"] == 2
    assert v["key_revenue_share_pct"] == pytest.approx(100 * 19700 / 49700)
    assert v["sponsor_coverage_pct"] == pytest.approx(50.0)


def test_goals_every_status(con):
    goals = {r["goal_id"]: r for r in goals_status(con, AS_OF).iter_rows(named=True)}
    # G1: revenue_ttm of A1 = 14700; progress (14700 − 10000) / 10000; expected 180 / 364 days
    assert goals["G1"]["current"] == pytest.approx(14700)
    assert goals["G1"]["progress"] == pytest.approx(0.47)
    assert goals["G1"]["expected"] == pytest.approx(180 / 364)
    assert goals["G1"]["status"] == "on_track"  # 0.47 ≥ 0.4945 − 0.10
    assert goals["G1"]["action_completion"] == pytest.approx(1 / 3)  # T2 completed after as_of does not count
    # G2: programme key_account_count 3 of 5, due 06-01 passed → overdue
    assert (goals["G2"]["current"], goals["G2"]["progress"], goals["G2"]["expected"]) == (3, 0.6, 1.0)
    assert goals["G2"]["status"] == "overdue"
    assert goals["G2"]["action_completion"] is None  # no actions
    # G3: current column 8 of 10; expected 1 (as_of = due); 0.8 < 0.9 but ≥ 0.75 → at_risk
    assert goals["G3"]["status"] == "at_risk"
    # G4: A3 nps −100; progress (−100 + 50) / 100 = −0.5 → off_track
    assert goals["G4"]["current"] == pytest.approx(-100)
    assert goals["G4"]["progress"] == pytest.approx(-0.5)
    assert goals["G4"]["status"] == "off_track"
    assert goals["G4"]["action_completion"] == 0.0
    # G5: programme_nps 0, baseline −20, target 0 → progress 1 → achieved
    assert goals["G5"]["progress"] == pytest.approx(1.0)
    assert goals["G5"]["status"] == "achieved"
    assert goals["G5"]["action_completion"] == 1.0
    # G6: target = baseline → progress and status null
    assert goals["G6"]["progress"] is None and goals["G6"]["status"] is None
    # G7: start = due = 07-31 after as_of → expected 0; 0.25 ≥ −0.1 → on_track
    assert (goals["G7"]["expected"], goals["G7"]["status"]) == (0.0, "on_track")
    # G8: start = due = 06-01 before as_of → expected 1; progress 0 → overdue
    assert (goals["G8"]["expected"], goals["G8"]["status"]) == (1.0, "overdue")
    assert {g["status"] for g in goals.values()} == {"achieved", "overdue", "on_track", "at_risk", "off_track", None}


def test_goals_filters_keep_programme_goals(con):
    frame = goals_status(con, AS_OF, Filters(regions=("APAC",)))
    # APAC: A3 only. Account goals of A3 (G4) plus the programme goals (G2, G5) over A3 alone.
    assert frame["goal_id"].to_list() == ["G2", "G4", "G5"]
    g2 = frame.filter(pl.col("goal_id") == "G2").row(0, named=True)
    assert g2["current"] == 1  # one key account in APAC
    g5 = frame.filter(pl.col("goal_id") == "G5").row(0, named=True)
    assert g5["current"] == pytest.approx(-100)  # programme NPS over A3's one detractor


def test_selection_candidates(con):
    frame = selection_candidates(con, AS_OF)
    rows = {(r["account_id"], r["candidate"]): r for r in frame.iter_rows(named=True)}
    # lowest key score 41 (A3): A6 (74) is promoted, A4 (0) and A5 (13) are not
    assert set(rows) == {("A6", "promote"), ("A3", "review")}
    # key scores 41, 66, 74: first quartile 41 + 0.5 × (66 − 41) = 53.5; A3 ≤ 53.5 and red
    reason = rows[("A3", "review")]["reason"]
    assert "band red" in reason and "lowest quartile" in reason


def test_alerts(con):
    frame = alerts(con, AS_OF)
    got = {(r["account_id"], r["alert"]): r for r in frame.iter_rows(named=True)}
    assert set(got) == {
        ("A2", "champion_left"),  # C22 left 05-20
        ("A2", "champion_quiet"),  # C21, last activity 04-15
        ("A3", "new_red"),  # red at 06-30, amber at 06-23
        ("A3", "champion_quiet"),  # C31, never
        ("A3", "no_touch_30d"),
        ("A3", "cadence_overdue"),
        ("A3", "share_of_wallet_above_1"),  # 1.1
        # METRICS.md "Alerts" (issue 12):
        ("A3", "single_threaded"),  # no engaged contact in the last 90 days
        ("A2", "no_sponsor"),  # executive_sponsor empty
        ("A6", "promotion_candidate"),  # selection score 74 ≥ lowest key score 41 (test_selection_candidates)
        ("A3", "goal_off_track"),  # G4 off_track
        ("A6", "goal_off_track"),  # G8 overdue
        (None, "goal_off_track"),  # G2, a programme goal, overdue
    }
    assert {r["goal_id"] for r in frame.iter_rows(named=True) if r["alert"] == "goal_off_track"} == {"G2", "G4", "G8"}
    assert "Finn Decider" in got[("A2", "champion_left")]["detail"]
    assert "2025-04-15" in got[("A2", "champion_quiet")]["detail"]
    assert got[("A3", "new_red")]["severity"] == "high"
    assert got[("A3", "share_of_wallet_above_1")]["severity"] == "low"
    assert frame["severity"].to_list() == sorted(frame["severity"].to_list(), key=["high", "medium", "low"].index)
