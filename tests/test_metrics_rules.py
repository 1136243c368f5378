"""The shared rules (metrics/rules.py) and the pure scoring (metrics/scoring.py) on small hand-built frames.

Expected values are computed by hand in the comments; no connection is used.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from kam_metrics.generators.demo import selection_inputs
from kam_metrics.metrics import rules
from kam_metrics.metrics.scoring import (
    account_relationship_penalties, add_health, add_selection_score, percentile_rank,
)
from kam_metrics.settings import SELECTION_INPUTS, Settings, SettingsError, settings_from_dict

AS_OF = date(2025, 6, 30)


# --- share of wallet -------------------------------------------------------------------------------------------


def test_share_of_wallet_is_null_without_a_wallet_or_with_a_zero_one():
    frame = pl.DataFrame({"revenue": [100.0, 50.0, 30.0, -10.0, 0.0],
                          "wallet": [200.0, None, 0.0, 40.0, 80.0]})
    got = frame.select(share=rules.share_of_wallet("revenue", "wallet"))["share"].to_list()
    # 100/200, no wallet, wallet 0, a credit note −10/40, nothing sold 0/80
    assert got == [0.5, None, None, -0.25, 0.0]
    # expressions work as well as column names
    assert frame.select(s=rules.share_of_wallet(pl.col("revenue") * 2, pl.col("wallet")))["s"][0] == 1.0


# --- wallet_current --------------------------------------------------------------------------------------------

WALLET_ROWS = pl.DataFrame(
    {
        "account_id": ["A", "A", "A", "A", "B", "B", "B", "C", "C"],
        "year": [2024, 2024, 2025, 2025, 2025, 2025, 2025, 2023, 2023],
        "product_line": ["", "X", "X", "Y", None, " ", "X", "  ", "X"],
        "wallet_amount": [100.0, 30.0, 40.0, 25.0, 80.0, 20.0, 5.0, 70.0, 9.0],
    }
)


def test_wallet_by_account_year_whole_rows_win_over_product_lines():
    got = rules.wallet_by_account_year(WALLET_ROWS)
    assert got.columns == ["account_id", "year", "wallet_amount"]
    assert got.rows() == [
        ("A", 2024, 100.0),  # the whole-account row ("" is no product line), not + the X line
        ("A", 2025, 65.0),   # no whole row: X 40 + Y 25
        ("B", 2025, 100.0),  # two whole rows (null and blank) 80 + 20; the X line is ignored
        ("C", 2023, 70.0),   # a product line of spaces is no product line
    ]


def test_wallet_current_is_the_latest_year_up_to_year_of_as_of():
    by_year = rules.wallet_by_account_year(WALLET_ROWS)
    got = rules.wallet_current_at(by_year, [date(2024, 12, 31), date(2025, 3, 1), date(2027, 1, 5)])
    got = {(r["account_id"], r["as_of"]): (r["wallet_year"], r["wallet_current"]) for r in got.iter_rows(named=True)}
    assert got == {
        ("A", date(2024, 12, 31)): (2024, 100.0),
        ("C", date(2024, 12, 31)): (2023, 70.0),   # 2023 is the latest year ≤ 2024; B has no year ≤ 2024
        ("A", date(2025, 3, 1)): (2025, 65.0),
        ("B", date(2025, 3, 1)): (2025, 100.0),
        ("C", date(2025, 3, 1)): (2023, 70.0),
        ("A", date(2027, 1, 5)): (2025, 65.0),     # no 2026 or 2027 rows: 2025
        ("B", date(2027, 1, 5)): (2025, 100.0),
        ("C", date(2027, 1, 5)): (2023, 70.0),
    }


def test_wallet_current_of_no_points_is_an_empty_frame_with_the_columns():
    got = rules.wallet_current_at(rules.wallet_by_account_year(WALLET_ROWS), [])
    assert got.columns == ["account_id", "as_of", "wallet_year", "wallet_current"] and got.height == 0


# --- cost to serve ---------------------------------------------------------------------------------------------


def test_cost_parts_take_their_unit_costs_from_the_settings():
    s = Settings().replace(activity_costs={**Settings().activity_costs, "call": 30.0},
                           case_costs={**Settings().case_costs, "critical": 2500.0})
    parts = {(p.group, p.component): p for p in rules.cost_parts(s)}
    assert parts[("activities", "call")].unit_cost == 30.0 and parts[("activities", "call")].column == "n_call"
    assert parts[("activities", "email")].unit_cost == 5.0
    assert parts[("cases", "critical")].unit_cost == 2500.0 and parts[("cases", "critical")].column == "case_n_critical"
    service = [p for p in rules.cost_parts(s) if p.group == "service_costs"]
    assert service and all(p.unit_cost is None and p.column == f"sc_c_{p.component}" for p in service)
    assert [g for g in rules.COST_GROUPS] == ["service_costs", "activities", "cases"]
    assert {p.group for p in rules.cost_parts(s)} == set(rules.COST_GROUPS)


def test_part_cost_is_the_count_times_the_unit_cost_or_the_amount():
    call = rules.CostPart("activities", "call", "n_call", 25.0)
    service = rules.CostPart("service_costs", "support", "sc_c_support", None)
    frame = pl.DataFrame({"q": [0.0, 3.0, 1.5]})
    assert frame.select(c=rules.part_cost(call, pl.col("q")))["c"].to_list() == [0.0, 75.0, 37.5]
    assert frame.select(c=rules.part_cost(service, pl.col("q")))["c"].to_list() == [0.0, 3.0, 1.5]


# --- champion flags --------------------------------------------------------------------------------------------


def test_champion_left_is_a_champion_or_decision_maker_inactive_and_left_in_the_window():
    # as_of 2025-06-30, champion_left_days 90: the window is 2025-04-02 … 2025-06-30
    contacts = pl.DataFrame(
        {
            "buying_role": ["champion", "champion", "champion", "decision_maker", "influencer", "champion",
                            "champion", "decision_maker", None],
            "is_active": [False, False, False, False, False, True, None, False, False],
            "left_date": [date(2025, 4, 2), date(2025, 4, 1), date(2025, 7, 1), date(2025, 6, 30), date(2025, 6, 1),
                          date(2025, 6, 1), date(2025, 6, 1), None, date(2025, 6, 1)],
        }
    )
    got = rules.champion_left(contacts, [AS_OF], Settings())
    assert got.shape == (9, 1)
    # first day in, the day before the window, left after as_of, a decision maker on as_of, not a champion role,
    # still active, null is_active counts as active, no left_date, no role
    assert got[:, 0].tolist() == [True, False, False, True, False, False, False, False, False]
    # a shorter window (2025-06-01 … 2025-06-30) and a second as_of a day later (2025-04-03 … 2025-07-01)
    got = rules.champion_left(contacts, [AS_OF, date(2025, 7, 1)], Settings().replace(champion_left_days=30))
    assert got[:, 0].tolist() == [False, False, False, True, False, False, False, False, False]
    assert got[:, 1].tolist() == [False, False, True, True, False, False, False, False, False]


def test_champion_quiet_is_an_active_champion_without_activity_in_the_window():
    # champion_quiet_days 60: at 2025-06-30 touched when the last touch is on or after 2025-05-02,
    # at 2025-06-29 on or after 2025-05-01
    contacts = pl.DataFrame(
        {
            "buying_role": ["champion", "champion", "champion", "champion", "decision_maker", "champion"],
            "is_active": [True, True, True, False, True, None],
        }
    )
    last = rules.day_numbers(pl.Series([date(2025, 5, 2), date(2025, 5, 1), None, None, None, date(2025, 1, 1)]))
    assert last[2] == rules.NO_DAY and last[0] == (date(2025, 5, 2) - date(1970, 1, 1)).days
    got = rules.champion_quiet(contacts, [date(2025, 6, 29), AS_OF], np.column_stack([last, last]), Settings())
    # touched on the first day of the window, the day before it, never, inactive, not a champion, null is_active
    assert got[:, 1].tolist() == [False, True, True, False, False, True]
    assert got[:, 0].tolist() == [False, False, True, False, False, True]  # 2025-05-01 is in 2025-06-29's window
    longer = rules.champion_quiet(contacts, [AS_OF], last[:, None], Settings().replace(champion_quiet_days=365))
    assert longer[:, 0].tolist() == [False, False, True, False, False, False]


def test_day_numbers_of_dates_and_of_a_series():
    assert rules.day_numbers([date(1970, 1, 2), date(1969, 12, 31)]).tolist() == [1, -1]
    assert rules.day_numbers(pl.Series([date(1970, 1, 11), None])).tolist() == [10, rules.NO_DAY]


# --- scoring ---------------------------------------------------------------------------------------------------


def test_percentile_rank_nulls_first_and_ties_share_the_lowest_rank():
    frame = pl.DataFrame({"x": [None, 10.0, 10.0, 30.0]})
    # ranks: null 1, the two 10s 2 (1 among non-nulls + 1 null), 30 → 4; p = 100 × (rank − 1) / 3
    got = frame.select(p=percentile_rank("x", frame.height))["p"].to_list()
    assert got == pytest.approx([0.0, 100 / 3, 100 / 3, 100.0])
    assert pl.DataFrame({"x": [5.0]}).select(p=percentile_rank("x", 1))["p"].to_list() == [0.0]


def test_add_selection_score_weights_the_percentile_ranks():
    frame = pl.DataFrame(
        {
            "revenue_ttm": [300.0, 100.0, 200.0],
            "wallet_current": [None, 50.0, 80.0],
            "net_margin_pct": [10.0, 10.0, 5.0],
            "revenue_growth_pct": [1.0, 2.0, 3.0],
            "engaged_contacts_90d": [4, 4, 4],
        }
    )
    # p (n = 3, 100 × (rank − 1) / 2): revenue 100/0/50; wallet (null first) 0/50/100; margin (ties) 50/50/0;
    # growth 0/50/100; contacts all tied 0/0/0. Weights 25, 25, 20, 15, 15 (/100):
    # row 1: 25 + 0 + 10 + 0 = 35; row 2: 0 + 12.5 + 10 + 7.5 = 30; row 3: 12.5 + 25 + 0 + 15 = 52.5
    got = add_selection_score(frame, Settings())
    assert got["selection_score"].to_list() == pytest.approx([35.0, 30.0, 52.5])
    assert got.columns == [*frame.columns, "selection_score"]
    only_revenue = Settings().replace(selection_weights={c: (100.0 if c == "revenue_ttm" else 0.0)
                                                         for c in SELECTION_INPUTS})
    assert add_selection_score(frame, only_revenue)["selection_score"].to_list() == pytest.approx([100.0, 0.0, 50.0])


def test_add_health_weighted_mean_of_the_present_components():
    row = {
        "days_since_last_touch": 14,       # recency 100
        "engagement_trend_pct": 20.0,      # trend 50 + 0.5 × 20 = 60
        "touches_90d": 5, "touches_prior_90d": 4,
        "engaged_contacts_90d": 2,         # breadth 100 × 2 / 5 = 40
        "nps_365d": None,                  # loyalty null (not present)
        "share_of_wallet": 0.25,           # wallet 100 × 0.25 / 0.5 = 50
        "net_margin_pct": 5.0,             # profitability 100 × (5 + 10) / 30 = 50
        "cadence_status": "partial",       # cadence 50 (a key account)
        "is_key_account": True,
        # relationship null: the export carried no contacts (the flags are then null too)
        "has_contacts_data": False, "champion_left": None, "champion_quiet": None,
        "decision_maker_engaged_90d": None, "c_level_engaged_90d": None, "has_sponsor": True,
    }
    got = add_health(pl.DataFrame([row]), Settings()).row(0, named=True)
    # present weight 15 × 5 + 10 = 85; health = (15 × (100 + 60 + 40 + 50 + 50) + 10 × 50) / 85 = 5000 / 85
    assert got["score_loyalty"] is None and got["contribution_loyalty"] is None
    assert got["score_relationship"] is None and got["contribution_relationship"] is None
    assert got["health"] == pytest.approx(5000 / 85)
    assert got["contribution_cap"] == 0.0
    # the applicable weight of a key account: 15 × 7 + 10 (cadence) = 115
    assert got["health_coverage_pct"] == pytest.approx(100 * 85 / 115)
    assert got["band"] == "amber"  # 58.8
    assert got["contribution_cadence"] == pytest.approx(500 / 85)


# --- the demo's selection check uses the settings and the engine's scoring -----------------------------------


def _demo_tables() -> dict[str, pl.DataFrame]:
    """Three accounts at as_of 2025-06-30 (all in EUR)."""
    return {
        "accounts": pl.DataFrame({"account_id": ["A", "B", "C"], "is_key_account": [True, False, False]}),
        "revenue": pl.DataFrame({
            "account_id": ["A", "A", "B", "C"],
            "revenue_date": [date(2025, 6, 1), date(2024, 3, 1), date(2025, 1, 1), date(2025, 2, 1)],
            "amount": [1000.0, 500.0, 400.0, 200.0],
            "cost_of_goods": [600.0, None, None, 50.0],
            "currency": ["EUR"] * 4,
        }),
        "service_costs": pl.DataFrame({"account_id": ["C"], "cost_date": [date(2025, 3, 1)], "amount": [10.0],
                                       "currency": ["EUR"]}),
        "activities": pl.DataFrame({"account_id": ["A", "B"], "activity_date": [date(2025, 6, 20)] * 2,
                                    "activity_type": ["call", "meeting"], "contact_id": ["A1", None]}),
        "cases": pl.DataFrame({"account_id": ["B"], "opened_date": [date(2025, 5, 1)], "priority": ["high"]}),
        "wallet": pl.DataFrame({"account_id": ["A", "A", "B"], "year": [2025, 2025, 2024],
                                "product_line": [None, "X", "X"], "wallet_amount": [4000.0, 99.0, 1600.0]}),
    }


def test_demo_selection_inputs_use_the_settings_and_the_engine_rules():
    s = Settings().replace(default_gross_margin=0.5, activity_costs={**Settings().activity_costs, "call": 100.0},
                           case_costs={**Settings().case_costs, "high": 10.0})
    got = {r["account_id"]: r for r in selection_inputs(_demo_tables(), AS_OF, s).iter_rows(named=True)}
    # A: revenue_ttm 1000 (the 2024-03-01 row is prior TTM), margin 1000 − 600 = 400, call cost 100 → net 300
    assert got["A"]["revenue_ttm"] == 1000.0 and got["A"]["revenue_prior_ttm"] == 500.0
    assert got["A"]["net_contribution_ttm"] == pytest.approx(300.0)
    assert got["A"]["revenue_growth_pct"] == pytest.approx(100.0)
    assert got["A"]["wallet_current"] == 4000.0  # the whole-account row wins over the X line
    # B: revenue 400 without cost of goods: margin 400 × 0.5 = 200; meeting 150, case high 10 → net 40
    assert got["B"]["net_contribution_ttm"] == pytest.approx(40.0)
    assert got["B"]["net_margin_pct"] == pytest.approx(10.0)
    assert got["B"]["wallet_current"] == 1600.0  # 2024, the latest year ≤ 2025
    assert got["B"]["engaged_contacts_90d"] == 0  # an activity without a contact engages nobody
    # C: margin 200 − 50 = 150, service 10 → 140 (70 %); no wallet
    assert got["C"]["net_margin_pct"] == pytest.approx(70.0) and got["C"]["wallet_current"] is None


def test_demo_selection_score_is_the_engines_with_the_configured_weights():
    only_wallet = Settings().replace(selection_weights={c: (100.0 if c == "wallet_current" else 0.0)
                                                        for c in SELECTION_INPUTS})
    got = selection_inputs(_demo_tables(), AS_OF, only_wallet)
    # wallet ranks (null first): C 0, B 1600 → 50, A 4000 → 100
    assert dict(zip(got["account_id"], got["selection_score"])) == pytest.approx({"A": 100.0, "B": 50.0, "C": 0.0})
    default = selection_inputs(_demo_tables(), AS_OF)
    assert default["selection_score"].to_list() == add_selection_score(
        default.drop("selection_score"), Settings())["selection_score"].to_list()


# --- the relationship component and the champion-left cap (METRICS.md "Health score") ---------------------------

#: An account row every component of which scores: recency 100, trend 100, breadth 100, loyalty 100, wallet 100,
#: profitability 100, cadence 100 (a key account), and a relationship set per test.
_FULL = {
    "days_since_last_touch": 3, "engagement_trend_pct": 100.0, "touches_90d": 9, "touches_prior_90d": 3,
    "engaged_contacts_90d": 5, "nps_365d": 100.0, "share_of_wallet": 0.6, "net_margin_pct": 25.0,
    "cadence_status": "on_cadence", "is_key_account": True, "has_contacts_data": True,
    "champion_left": False, "champion_quiet": False, "decision_maker_engaged_90d": True, "c_level_engaged_90d": True,
    "has_sponsor": True,
}


def _health(**changes):
    return add_health(pl.DataFrame([{**_FULL, **changes}]), Settings()).row(0, named=True)


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, 100.0),                                                  # no penalty
    ({"champion_quiet": True}, 70.0),                             # − 30
    ({"decision_maker_engaged_90d": False}, 80.0),                # − 20
    ({"c_level_engaged_90d": False}, 90.0),                       # − 10
    ({"has_sponsor": False}, 80.0),                               # − 20: a key account without a sponsor
    ({"has_sponsor": False, "is_key_account": False}, 100.0),     # an account that is not key: no sponsor penalty
    ({"champion_left": True}, 40.0),                              # − 60
    ({"champion_left": True, "champion_quiet": True}, 10.0),      # − 90
    ({"champion_left": True, "champion_quiet": True, "has_sponsor": False}, 0.0),  # − 110, floored at 0
    ({"champion_left": None, "champion_quiet": None, "decision_maker_engaged_90d": None,
      "c_level_engaged_90d": None, "has_sponsor": None}, 100.0),  # null flags take nothing off
    ({"has_contacts_data": False}, None),                         # no contacts in the export: null
])
def test_relationship_score_takes_each_penalty_off_100(changes, expected):
    got = _health(**changes)
    assert got["score_relationship"] == expected


def test_champion_left_caps_a_92_at_69_and_the_contributions_add_up():
    # relationship 100 − 60 = 40; the other seven score 100 (weights 15 × 6 + 10 = 100) except breadth:
    # engaged 3 of 5 → 60. Mean = (15 × 5 × 100 + 15 × 60 + 10 × 100 + 15 × 40) / 115
    # = (7500 + 900 + 1000 + 600) / 115 = 10000 / 115 = 86.96 — not 92; to reach 92 exactly, set the cadence
    # weight so: (7500 + 900 + w × 100 + 600) / (105 + w) = 92 → 9000 + 100 w = 9660 + 92 w → w = 82.5
    s = Settings().replace(health_weights={**Settings().health_weights, "cadence": 82.5})
    row = {**_FULL, "engaged_contacts_90d": 3, "champion_left": True}
    got = add_health(pl.DataFrame([row]), s).row(0, named=True)
    parts = ("recency", "trend", "breadth", "loyalty", "wallet", "profitability", "cadence", "relationship")
    mean = sum(got[f"contribution_{c}"] for c in parts)
    assert mean == pytest.approx(92.0)
    assert got["health"] == 69.0 and got["band"] == "amber"
    assert got["contribution_cap"] == pytest.approx(69.0 - 92.0)
    assert mean + got["contribution_cap"] == pytest.approx(got["health"])
    # the cap is a setting; under the cap, or without a champion leaving, it takes nothing
    assert add_health(pl.DataFrame([row]), s.replace(champion_left_health_cap=95.0)).row(0, named=True)[
        "health"] == pytest.approx(92.0)
    calm = add_health(pl.DataFrame([{**row, "champion_left": False}]), s).row(0, named=True)
    assert calm["contribution_cap"] == 0.0 and calm["band"] == "green"
    # a null champion_left (contacts without is_active / left_date) caps nothing
    unknown = add_health(pl.DataFrame([{**row, "champion_left": None}]), s).row(0, named=True)
    assert unknown["contribution_cap"] == 0.0


def test_the_cap_keeps_insufficient_data_and_low_scores_as_they_are():
    # a health already below the cap: champion_left takes the relationship points but no cap
    low = _health(champion_left=True, days_since_last_touch=200, engagement_trend_pct=-100.0, nps_365d=-100.0)
    # recency 0, trend 0, loyalty 0; breadth, wallet, profitability, cadence 100; relationship 40:
    # (15 × 300 + 10 × 100 + 15 × 40) / 115 = 6100 / 115 = 53.04
    assert low["health"] == pytest.approx(6100 / 115) and low["contribution_cap"] == 0.0
    # coverage below min_health_coverage_pct: health null whatever the cap, the cap's contribution still given
    sparse = add_health(pl.DataFrame([{**_FULL, "champion_left": True}]),
                        Settings().replace(min_health_coverage_pct=100.0)).row(0, named=True)
    assert sparse["health"] == 69.0  # coverage 100 % meets even a 100 % minimum
    thin = {**_FULL, "champion_left": True, "nps_365d": None}
    got = add_health(pl.DataFrame([thin]), Settings().replace(min_health_coverage_pct=90.0)).row(0, named=True)
    # loyalty null: coverage 100 / 115 = 86.96 % < 90 → insufficient data
    assert got["health"] is None and got["band"] == "insufficient_data"
    assert got["health_coverage_pct"] == pytest.approx(10000 / 115)


def test_champion_left_health_cap_and_relationship_penalties_are_checked_settings():
    assert settings_from_dict({"champion_left_health_cap": 60}).champion_left_health_cap == 60.0
    with pytest.raises(SettingsError, match="champion_left_health_cap"):
        settings_from_dict({"champion_left_health_cap": 101})
    got = settings_from_dict({"relationship_penalties": {"champion_quiet": 40}})
    assert got.relationship_penalties["champion_quiet"] == 40 and got.relationship_penalties["champion_left"] == 60
    with pytest.raises(SettingsError, match="relationship_penalties.nobody"):
        settings_from_dict({"relationship_penalties": {"nobody": 5}})
    with pytest.raises(SettingsError, match="health_weights"):
        settings_from_dict({"health_weights": {c: 0 for c in Settings().health_weights}})


def test_relationship_penalties_say_which_applies():
    rows = account_relationship_penalties({**_FULL, "account_id": "A", "champion_left": True, "has_sponsor": None,
                                           "c_level_engaged_90d": False}, Settings(), has_contacts_data=True)
    got = {r["penalty"]: (r["points"], r["is_applied"]) for r in rows.iter_rows(named=True)}
    assert got == {"champion_left": (60.0, True), "champion_quiet": (30.0, False),
                   "no_decision_maker_engaged": (20.0, False), "no_c_level_engaged": (10.0, True),
                   "key_account_without_sponsor": (20.0, None)}
    none = account_relationship_penalties({**_FULL, "account_id": "A"}, Settings(), has_contacts_data=False)
    assert none["is_applied"].null_count() == 5
