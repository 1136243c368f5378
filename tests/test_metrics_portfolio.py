"""Portfolio figures (kam_metrics.metrics.portfolio) on small hand-built account frames, expected values by hand."""

from __future__ import annotations

import polars as pl
import pytest

from kam_metrics.metrics import portfolio


def accounts(**columns) -> pl.DataFrame:
    base = {"account_id": ["A1", "A2", "A3", "A4"], "is_key_account": [True, False, True, False]}
    base.update(columns)
    return pl.DataFrame(base)


# ---------------------------------------------------------------- sums


def test_portfolio_total_sums_a_key_and_is_none_without_rows_or_column():
    frame = accounts(revenue_ttm=[100.0, 50.0, None, 25.0])
    assert portfolio.portfolio_total(frame, "revenue_ttm") == 175.0  # 100 + 50 + 25, the null adds nothing
    assert portfolio.portfolio_total(frame, "lifetime_value") is None
    assert portfolio.portfolio_total(frame.clear(), "revenue_ttm") is None


def test_key_revenue_is_the_sum_over_key_accounts_and_its_change():
    now = accounts(revenue_ttm=[100.0, 50.0, 30.0, 25.0])
    before = accounts(revenue_ttm=[90.0, 70.0, 35.0, 5.0])
    assert portfolio.key_revenue_ttm(now) == 130.0  # A1 100 + A3 30
    assert portfolio.key_revenue_ttm(before) == 125.0  # A1 90 + A3 35
    assert portfolio.key_revenue_ttm_change(now, before) == 5.0
    assert portfolio.key_revenue_ttm(now.drop("is_key_account")) is None
    assert portfolio.key_revenue_ttm_change(now, before.clear()) is None
    # No key account: Σ over none is 0, not None.
    assert portfolio.key_revenue_ttm(now.with_columns(pl.lit(False).alias("is_key_account"))) == 0.0


def test_positive_revenue_total_leaves_out_zero_and_negative_revenue():
    frame = accounts(revenue_ttm=[100.0, -40.0, 0.0, 60.0])
    assert portfolio.positive_revenue_total(frame) == 160.0
    assert portfolio.positive_revenue_total(frame.clear()) == 0.0


# ---------------------------------------------------------------- engagement


def test_engagement_trend_of_the_sums():
    frame = accounts(weighted_touches_90d=[30.0, 10.0, 0.0, 5.0], weighted_touches_prior_90d=[20.0, 20.0, 10.0, 0.0])
    # Σ now 45, Σ prior 50: 100 × (45 − 50) / 50 = −10 %.
    assert portfolio.portfolio_engagement_trend_pct(frame) == pytest.approx(-10.0)
    # Not the mean of the per-account trends (+50, −50, −100, null): the rule applies to the sums.
    no_prior = frame.with_columns(pl.lit(0.0).alias("weighted_touches_prior_90d"))
    assert portfolio.portfolio_engagement_trend_pct(no_prior) is None  # null when Σ prior = 0
    assert portfolio.portfolio_engagement_trend_pct(frame.clear()) is None


def test_engagement_counts():
    frame = accounts(engagement_trend_pct=[-25.0, -24.9, None, -80.0],
                     c_level_engaged_90d=[True, None, False, True],
                     single_threaded=[True, True, None, False])
    assert portfolio.falling_engagement_count(frame) == 2  # −25 (at the threshold) and −80
    assert portfolio.falling_engagement_count(frame, -50) == 1
    assert portfolio.c_level_reached_count(frame) == 2  # null is not reached
    assert portfolio.single_threaded_key_count(frame) == 1  # A1 (A2 is not key, A3 null)


# ---------------------------------------------------------------- share of wallet


def wallet_frame() -> pl.DataFrame:
    return accounts(revenue_ttm=[40.0, 90.0, 500.0, 10.0], wallet_current=[100.0, 60.0, None, 40.0],
                    wallet_headroom=[60.0, 0.0, None, 30.0], share_of_wallet=[0.4, 1.5, None, 0.25])


def test_portfolio_wallet_figures_count_only_accounts_with_a_wallet():
    frame = wallet_frame()
    assert portfolio.accounts_with_wallet(frame)["account_id"].to_list() == ["A1", "A2", "A4"]
    assert portfolio.portfolio_wallet_current(frame) == 200.0  # 100 + 60 + 40
    assert portfolio.portfolio_wallet_headroom(frame) == 90.0  # 60 + 0 + 30
    # Σ revenue 40 + 90 + 10 = 140 (A3's 500 has no wallet) over Σ wallet 200.
    assert portfolio.portfolio_share_of_wallet(frame) == pytest.approx(0.7)
    assert portfolio.share_of_wallet_above_1_count(frame) == 1  # A2


def test_portfolio_share_of_wallet_is_null_without_a_wallet():
    frame = wallet_frame()
    no_wallet = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("wallet_current"))
    assert portfolio.portfolio_wallet_current(no_wallet) is None
    assert portfolio.portfolio_share_of_wallet(no_wallet) is None  # null when the wallet is null
    zero_wallet = frame.with_columns(pl.lit(0.0).alias("wallet_current"))
    assert portfolio.portfolio_share_of_wallet(zero_wallet) is None  # null when Σ wallet = 0


def test_product_line_headroom_is_wallet_minus_revenue_never_negative():
    lines = pl.DataFrame({"account_id": ["A1", "A1", "A2"], "product_line": ["Pumps", "Valves", "Pumps"],
                          "wallet_amount": [100.0, 50.0, 20.0], "revenue_ttm": [30.0, None, 45.0]})
    assert portfolio.product_line_headroom(lines)["wallet_headroom"].to_list() == [70.0, 50.0, 0.0]


# ---------------------------------------------------------------- cost to serve and value


def test_cost_to_serve_pct_of_the_sums():
    frame = accounts(revenue_ttm=[1000.0, 500.0, 0.0, 500.0], cost_to_serve_ttm=[100.0, 150.0, 50.0, 0.0])
    # 100 × (100 + 150 + 50 + 0) / (1000 + 500 + 0 + 500) = 100 × 300 / 2000 = 15 %.
    assert portfolio.portfolio_cost_to_serve_pct(frame) == pytest.approx(15.0)
    negative = frame.with_columns(pl.Series("revenue_ttm", [100.0, -300.0, 0.0, 0.0]))
    assert portfolio.portfolio_cost_to_serve_pct(negative) is None  # null when Σ revenue ≤ 0
    zero = frame.with_columns(pl.lit(0.0).alias("revenue_ttm"))
    assert portfolio.portfolio_cost_to_serve_pct(zero) is None
    assert portfolio.portfolio_cost_to_serve_pct(frame.drop("cost_to_serve_ttm")) is None


def test_value_destroyers_are_negative_net_contribution_most_negative_first():
    frame = accounts(net_contribution_ttm=[10.0, -5.0, -20.0, 0.0])
    destroyers = portfolio.value_destroyers(frame)
    assert destroyers["account_id"].to_list() == ["A3", "A2"]
    assert portfolio.portfolio_total(destroyers, "net_contribution_ttm") == -25.0
    assert portfolio.value_destroyers(frame.drop("net_contribution_ttm")).is_empty()


# ---------------------------------------------------------------- health and selection


def test_health_movers_are_the_largest_absolute_changes_of_the_given_accounts():
    movement = pl.DataFrame({
        "account_id": ["A1", "A1", "A2", "A3", "A4", "A9"],
        "component": ["health", "engagement", "health", "health", "health", "health"],
        "contribution_from": [60.0, 10.0, 50.0, 70.0, 40.0, 10.0],
        "contribution_to": [55.0, 4.0, 50.0, 78.0, None, 90.0],
        "change": [-5.0, -6.0, 0.0, 8.0, None, 80.0],
    })
    movers = portfolio.health_movers(movement, accounts(), limit=5)
    # A9 is not among the accounts; A2 did not move; A4's change is unknown; A1's component row is not health.
    assert movers.to_dicts() == [
        {"account_id": "A3", "health_from": 70.0, "health_to": 78.0, "health_change": 8.0},
        {"account_id": "A1", "health_from": 60.0, "health_to": 55.0, "health_change": -5.0},
    ]
    assert portfolio.health_movers(movement, accounts(), limit=1)["account_id"].to_list() == ["A3"]
    empty = portfolio.health_movers(movement.clear(), accounts())
    assert empty.is_empty() and empty.columns == ["account_id", "health_from", "health_to", "health_change"]


def test_lowest_key_selection_score_and_guidance():
    frame = accounts(selection_score=[70.0, 10.0, 55.5, 99.0])
    assert portfolio.lowest_key_selection_score(frame) == 55.5  # of A1 70 and A3 55.5; non-key 10 ignored
    assert portfolio.lowest_key_selection_score(frame.with_columns(pl.lit(False).alias("is_key_account"))) is None
    assert portfolio.is_within_key_account_guidance(5, 5, 25)
    assert portfolio.is_within_key_account_guidance(25, 5, 25)
    assert not portfolio.is_within_key_account_guidance(26, 5, 25)
    assert not portfolio.is_within_key_account_guidance(None, 5, 25)


def test_key_account_guidance_note_judges_the_whole_programme_only():
    assert portfolio.key_account_guidance_note(17, 5, 25, True) == "within the 5–25 guidance"
    assert portfolio.key_account_guidance_note(3, 5, 25, True) == "outside the 5–25 guidance"
    assert portfolio.key_account_guidance_note(None, 5, 25, True) == "outside the 5–25 guidance"
    assert portfolio.key_account_guidance_note(3, 5, 25, False) == (
        "of a part; the 5–25 guidance is programme-wide")


def test_filters_cover_the_whole_programme_unless_they_restrict_region_segment_or_owner():
    from kam_metrics.filters import Filters

    assert Filters().is_whole_programme and Filters(key_only=True).is_whole_programme
    assert not Filters(regions=("EMEA",)).is_whole_programme
    assert not Filters(segments=("Enterprise",)).is_whole_programme
    assert not Filters(kam_owners=("Ana",)).is_whole_programme
