"""Consistency of the metrics engine on the demo export: totals agree with their parts, the precomputed marts
agree with a direct computation over the raw tables (an independent SQL oracle written from METRICS.md),
history agrees with single as_of calls, and settings apply without a reload."""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest

from kam_metrics.load import warehouse
from kam_metrics.filters import Filters
from kam_metrics.load.marts import build_marts, marts_current
from kam_metrics.metrics import (
    account_metrics, cost_to_serve_breakdown, default_as_of, engagement_weekly, health_history, health_movement,
    programme_kpis, whale_curve,
)
from kam_metrics.settings import HEALTH_COMPONENTS, Settings
from tests.conftest import assert_close


@pytest.fixture(scope="module")
def con(demo_data_dir):
    connection = warehouse.connect_current(demo_data_dir)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def as_of(con) -> date:
    return default_as_of(con)


def _oracle(con, as_of: date, s: Settings) -> pl.DataFrame:
    """METRICS.md computed directly on the raw tables with explicit date windows (no marts, no buckets)."""
    d = lambda n: as_of - timedelta(days=n)  # noqa: E731
    w = " + ".join(f"CASE WHEN activity_type = '{t}' THEN {v} ELSE 0 END" for t, v in s.activity_weights.items())
    ac = " + ".join(f"CASE WHEN activity_type = '{t}' THEN {v} ELSE 0 END" for t, v in s.activity_costs.items())
    cc = " + ".join(f"CASE WHEN priority = '{p}' THEN {v} ELSE 0 END" for p, v in s.case_costs.items())
    sql = f"""
    WITH a AS (SELECT account_id FROM accounts),
    act AS (
        SELECT account_id,
               count(*) FILTER (WHERE activity_date BETWEEN $l90 AND $asof) AS touches_90d,
               sum({w}) FILTER (WHERE activity_date BETWEEN $l90 AND $asof) AS weighted_touches_90d,
               sum({w}) FILTER (WHERE activity_date BETWEEN $p90a AND $p90b) AS weighted_touches_prior_90d,
               count(DISTINCT contact_id) FILTER (WHERE activity_date BETWEEN $l90 AND $asof) AS engaged_contacts_90d,
               max(activity_date) FILTER (WHERE activity_date <= $asof) AS last_date,
               sum({ac}) FILTER (WHERE activity_date BETWEEN $ttm AND $asof) AS act_cost_ttm,
               sum({ac}) FILTER (WHERE activity_date <= $asof) AS act_cost_all
        FROM activities GROUP BY account_id),
    rev AS (
        SELECT account_id,
               sum(amount) FILTER (WHERE revenue_date BETWEEN $ttm AND $asof) AS revenue_ttm,
               sum(amount) FILTER (WHERE revenue_date BETWEEN $pttma AND $pttmb) AS revenue_prior_ttm,
               sum(CASE WHEN cost_of_goods IS NULL THEN amount * $dgm ELSE amount - cost_of_goods END)
                   FILTER (WHERE revenue_date BETWEEN $ttm AND $asof) AS gross_margin_ttm,
               sum(CASE WHEN cost_of_goods IS NULL THEN amount * $dgm ELSE amount - cost_of_goods END)
                   FILTER (WHERE revenue_date <= $asof) AS margin_all
        FROM revenue GROUP BY account_id),
    sc AS (
        SELECT account_id, sum(amount) FILTER (WHERE cost_date BETWEEN $ttm AND $asof) AS sc_ttm,
               sum(amount) FILTER (WHERE cost_date <= $asof) AS sc_all
        FROM service_costs GROUP BY account_id),
    ca AS (
        SELECT account_id, sum({cc}) FILTER (WHERE opened_date BETWEEN $ttm AND $asof) AS case_ttm,
               sum({cc}) FILTER (WHERE opened_date <= $asof) AS case_all
        FROM cases GROUP BY account_id),
    sv AS (
        SELECT account_id,
               100.0 * (count(*) FILTER (WHERE nps >= 9) - count(*) FILTER (WHERE nps <= 6)) / nullif(count(nps), 0)
                   AS nps_365d,
               avg(csat) AS csat_365d
        FROM surveys WHERE response_date BETWEEN $ttm AND $asof GROUP BY account_id),
    rv AS (
        SELECT account_id,
               bool_or(review_type = 'plan_90_day' AND review_date BETWEEN $plan AND $asof) AS plan_current,
               bool_or(review_date BETWEEN $rev30 AND $asof) AS review_current
        FROM reviews GROUP BY account_id)
    SELECT a.account_id,
           coalesce(touches_90d, 0) AS touches_90d,
           coalesce(weighted_touches_90d, 0) AS weighted_touches_90d,
           coalesce(weighted_touches_prior_90d, 0) AS weighted_touches_prior_90d,
           coalesce(engaged_contacts_90d, 0) AS engaged_contacts_90d,
           ($asof - last_date) AS days_since_last_touch,
           nps_365d, csat_365d,
           coalesce(revenue_ttm, 0) AS revenue_ttm, coalesce(revenue_prior_ttm, 0) AS revenue_prior_ttm,
           coalesce(gross_margin_ttm, 0) AS gross_margin_ttm,
           coalesce(sc_ttm, 0) + coalesce(act_cost_ttm, 0) + coalesce(case_ttm, 0) AS cost_to_serve_ttm,
           coalesce(margin_all, 0) - coalesce(sc_all, 0) - coalesce(act_cost_all, 0) - coalesce(case_all, 0)
               AS value_to_date,
           coalesce(plan_current, false) AS plan_current, coalesce(review_current, false) AS review_current
    FROM a LEFT JOIN act USING (account_id) LEFT JOIN rev USING (account_id) LEFT JOIN sc USING (account_id)
    LEFT JOIN ca USING (account_id) LEFT JOIN sv USING (account_id) LEFT JOIN rv USING (account_id)
    ORDER BY a.account_id
    """
    params = {
        "asof": as_of, "l90": d(89), "p90a": d(179), "p90b": d(90), "ttm": d(364), "pttma": d(729),
        "pttmb": d(365), "plan": d(s.plan_window_days - 1), "rev30": d(s.review_window_days - 1),
        "dgm": s.default_gross_margin,
    }
    return con.sql(sql, params=params).pl()


ORACLE_KEYS = (
    "touches_90d", "weighted_touches_90d", "weighted_touches_prior_90d", "engaged_contacts_90d",
    "days_since_last_touch", "nps_365d", "csat_365d", "revenue_ttm", "revenue_prior_ttm", "gross_margin_ttm",
    "cost_to_serve_ttm", "value_to_date", "plan_current", "review_current",
)


def _assert_frames_match(engine: pl.DataFrame, oracle: pl.DataFrame, keys) -> None:
    joined = engine.join(oracle, on="account_id", suffix="_oracle")
    assert joined.height == oracle.height
    for key in keys:
        for got, want, acc in zip(joined[key], joined[f"{key}_oracle"], joined["account_id"]):
            if want is None or got is None:
                assert got == want, f"{acc}.{key}: engine {got!r}, oracle {want!r}"
            elif isinstance(want, bool):
                assert got == want, f"{acc}.{key}: engine {got!r}, oracle {want!r}"
            else:
                assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), f"{acc}.{key}: {got!r} vs {want!r}"


@pytest.mark.parametrize("days_back", [0, 17, 200, 400])
def test_engine_matches_a_direct_computation_on_raw_tables(con, as_of, days_back):
    # Several as_of dates: month ends and mid-month days exercise the monthly and daily mart paths.
    point = as_of - timedelta(days=days_back)
    s = Settings()
    _assert_frames_match(account_metrics(con, point, settings=s), _oracle(con, point, s), ORACLE_KEYS)


def test_month_end_as_of_matches_the_oracle(con, as_of):
    month_end = as_of.replace(day=1) - timedelta(days=1)
    s = Settings()
    _assert_frames_match(account_metrics(con, month_end, settings=s), _oracle(con, month_end, s), ORACLE_KEYS)


def test_settings_apply_at_query_time(con, as_of):
    s = Settings().replace(
        activity_weights={k: 2 * v for k, v in Settings().activity_weights.items()},
        case_costs={k: 0.0 for k in Settings().case_costs},
        default_gross_margin=0.5,
    )
    _assert_frames_match(account_metrics(con, as_of, settings=s), _oracle(con, as_of, s), ORACLE_KEYS)
    base = account_metrics(con, as_of).sort("account_id")
    doubled = account_metrics(con, as_of, settings=s).sort("account_id")
    assert (doubled["weighted_touches_90d"] == 2 * base["weighted_touches_90d"]).all()
    assert doubled["weighted_touches_90d"].sum() > 0


def test_history_equals_single_as_of_calls(con, as_of):
    history = health_history(con, as_of)
    for sunday in sorted(history["as_of"].unique().to_list())[::12]:
        single = account_metrics(con, sunday).select("account_id", "health", "band", "health_coverage_pct")
        at = history.filter(pl.col("as_of") == sunday).select("account_id", "health", "band", "health_coverage_pct")
        joined = single.join(at, on="account_id", suffix="_h")
        assert joined.height == single.height
        assert (joined["band"].fill_null("-") == joined["band_h"].fill_null("-")).all()
        assert_close(joined["health"], joined["health_h"], label=f"health on {sunday}")


def test_health_is_the_sum_of_contributions_and_the_weighted_mean(con, as_of):
    frame = account_metrics(con, as_of)
    s = Settings()
    contributions = frame.select(pl.sum_horizontal([pl.col(f"contribution_{c}") for c in (*HEALTH_COMPONENTS, "cap")]))
    has = frame["health"].is_not_null()
    assert has.sum() > 0
    assert_close(contributions.to_series().filter(has), frame["health"].filter(has), label="Σ contributions")
    capped = 0
    for row in frame.filter(has).iter_rows(named=True):
        present = {c: row[f"score_{c}"] for c in HEALTH_COMPONENTS if row[f"score_{c}"] is not None}
        weight = sum(s.health_weights[c] for c in present)
        mean = sum(s.health_weights[c] * v for c, v in present.items()) / weight
        # the champion-left cap: at most 69 while a champion or decision maker has left
        expected = min(mean, s.champion_left_health_cap) if row["champion_left"] else mean
        capped += row["champion_left"] and mean > s.champion_left_health_cap
        assert math.isclose(row["health"], expected)
        assert math.isclose(row["contribution_cap"], expected - mean, abs_tol=1e-9)
        assert all(0 <= v <= 100 for v in present.values())
        band = "green" if row["health"] >= 70 else "amber" if row["health"] >= 40 else "red"
        assert row["band"] == band
    assert capped > 0  # the demo has a champion who left (Nordhavn) while its score would be green


def test_breakdown_sums_equal_cost_to_serve(con, as_of):
    accounts = account_metrics(con, as_of).select("account_id", "cost_to_serve_ttm")
    sums = cost_to_serve_breakdown(con, as_of).group_by("account_id").agg(pl.col("cost_ttm").sum())
    joined = accounts.join(sums, on="account_id", how="left").with_columns(pl.col("cost_ttm").fill_null(0.0))
    assert joined["cost_to_serve_ttm"].sum() > 0
    assert_close(joined["cost_to_serve_ttm"], joined["cost_ttm"], label="cost to serve")


def test_programme_totals_equal_the_sum_of_account_rows(con, as_of):
    for filters in (None, Filters(regions=("EMEA",)), Filters(key_only=True)):
        rows = account_metrics(con, as_of, filters)
        key = rows.filter(pl.col("is_key_account"))
        kpis = {r["key"]: r["value"] for r in programme_kpis(con, as_of, filters).iter_rows(named=True)}
        assert kpis["key_account_count"] == key.height
        assert kpis["key_revenue_share_pct"] == pytest.approx(
            100 * key["revenue_ttm"].sum() / rows["revenue_ttm"].sum())
        assert kpis["key_revenue_growth_pct"] == pytest.approx(
            100 * (key["revenue_ttm"].sum() - key["revenue_prior_ttm"].sum()) / key["revenue_prior_ttm"].sum())
        assert kpis["sponsor_coverage_pct"] == pytest.approx(100 * key["has_sponsor"].sum() / key.height)
        assert kpis["cadence_compliance_pct"] == pytest.approx(
            100 * (key["cadence_status"] == "on_cadence").sum() / key.height)
        assert kpis["health_mean"] == pytest.approx(key["health"].mean())
        for band in ("green", "amber", "red"):
            assert kpis[f"{band}_count"] == (key["band"] == band).sum()


def test_whale_curve_ends_at_100_and_covers_every_account(con, as_of):
    curve = whale_curve(con, as_of)
    rows = account_metrics(con, as_of)
    assert curve.height == rows.height
    assert curve["cum_net_contribution_pct"][-1] == pytest.approx(100.0)
    assert curve["net_contribution_ttm"].sum() == pytest.approx(rows["net_contribution_ttm"].sum())
    assert curve["net_contribution_ttm"].is_sorted(descending=True)


def test_engagement_weekly_adds_up_to_the_touches(con, as_of):
    weekly = engagement_weekly(con, as_of, weeks=13)
    # 13 ISO weeks: the week holding as_of (up to as_of) and the 12 before it
    monday = as_of - timedelta(days=as_of.isoweekday() - 1)
    first = monday - timedelta(weeks=12)
    assert weekly["week_start"].min() == first
    total = weekly["touches"].sum()
    direct = con.sql(
        "SELECT count(*) FROM activities WHERE activity_date BETWEEN ? AND ?", params=[first, as_of]
    ).fetchall()[0][0]
    assert total == direct


def test_movement_changes_add_up_to_the_health_change(con, as_of):
    frame = health_movement(con, as_of - timedelta(days=28), as_of)
    components = frame.filter(pl.col("component") != "health").group_by("account_id").agg(pl.col("change").sum())
    health = frame.filter(pl.col("component") == "health").select("account_id", pl.col("change").alias("total"))
    joined = components.join(health, on="account_id").filter(pl.col("total").is_not_null())
    assert joined.height > 0
    assert_close(joined["change"], joined["total"], label="Σ component changes")


def test_without_marts_the_metrics_are_the_same(demo_data_dir, tmp_path, con, as_of):
    # A snapshot whose marts are missing (e.g. written by an older version): the metrics read the raw tables.
    copy = tmp_path / "nomarts.duckdb"
    shutil.copy(warehouse.current_snapshot_path(demo_data_dir), copy)
    writable = duckdb.connect(str(copy))
    writable.execute("DROP TABLE mart_info").fetchall()
    writable.close()
    bare = duckdb.connect(str(copy), read_only=True)
    try:
        assert not marts_current(bare)
        with_marts = account_metrics(con, as_of).sort("account_id")
        without = account_metrics(bare, as_of).sort("account_id")
        assert with_marts.columns == without.columns
        for col in with_marts.columns:
            a, b = with_marts[col], without[col]
            if a.dtype.is_float():
                assert_close(a, b, label=col)
            else:
                assert a.equals(b), col
    finally:
        bare.close()


def test_build_marts_is_repeatable(demo_data_dir, tmp_path, as_of, con):
    copy = tmp_path / "rebuild.duckdb"
    shutil.copy(warehouse.current_snapshot_path(demo_data_dir), copy)
    writable = duckdb.connect(str(copy))
    try:
        build_marts(writable, Settings())
        assert marts_current(writable)
        again = account_metrics(writable, as_of).sort("account_id")
        first = account_metrics(con, as_of).sort("account_id")
        assert_close(again["health"], first["health"], label="health")
    finally:
        writable.close()


def test_verify_marts_agrees_then_spots_a_tampered_mart(demo_data_dir, tmp_path, con):
    from kam_metrics.load.marts import verify_marts

    assert verify_marts(con) == []
    copy = tmp_path / "tampered.duckdb"
    shutil.copy(warehouse.current_snapshot_path(demo_data_dir), copy)
    writable = duckdb.connect(str(copy))
    try:
        writable.execute("UPDATE mart_account_daily SET touches = touches + 1 WHERE rowid = 0").fetchall()
        problems = verify_marts(writable)
        assert any(p.startswith("mart_account_daily touches:") for p in problems)
        writable.execute("DROP TABLE mart_info").fetchall()
    finally:
        writable.close()
    reopened = duckdb.connect(str(copy), read_only=True)
    try:
        assert verify_marts(reopened)[0].startswith("marts missing or not of version")
    finally:
        reopened.close()


def test_default_as_of_without_marts_is_the_same(demo_data_dir, tmp_path, con):
    copy = tmp_path / "nomarts2.duckdb"
    shutil.copy(warehouse.current_snapshot_path(demo_data_dir), copy)
    writable = duckdb.connect(str(copy))
    writable.execute("DROP TABLE mart_info").fetchall()
    writable.close()
    bare = duckdb.connect(str(copy), read_only=True)
    try:
        for today in (None, date(2026, 6, 15), date(1999, 1, 1)):
            assert default_as_of(bare, today) == default_as_of(con, today)
    finally:
        bare.close()
