"""The score check (METRICS.md "Score check"): a hand-built export with figures computed by hand, a plain-SQL
re-implementation that must agree with the engine on the demo, the CLI, and a sparse export."""

from __future__ import annotations

import json
import statistics
from datetime import date, timedelta

import polars as pl
import pytest

from kam_metrics.cli import main as kam
from kam_metrics.load import warehouse
from kam_metrics.metrics import (
    account_metrics, check_dates, default_as_of, score_check_backtest, score_check_bands, score_check_by_date,
    score_check_false_alarms,
    score_check_inputs, score_check_misses, score_check_pairs, score_check_summary,
)
from kam_metrics.metrics.score_check import SUMMARY_KEYS, parse_weights, weights_toml, with_weights
from kam_metrics.settings import HEALTH_COMPONENTS, Settings, SettingsError, settings_from_dict

# --- check dates --------------------------------------------------------------------------------------------------


def test_check_dates_are_the_month_ends_between_as_of_minus_730_and_minus_180():
    # as_of 2026-11-20: from 2024-11-20 to 2026-05-24 → 2024-11-30 … 2026-04-30
    dates = check_dates(date(2026, 11, 20))
    assert dates[0] == date(2024, 11, 30) and dates[-1] == date(2026, 4, 30)
    assert len(dates) == 18
    assert date(2025, 2, 28) in dates and date(2024, 12, 31) in dates


def test_check_dates_include_both_ends():
    # as_of 2026-06-29: as_of − 730 = 2024-06-29 (not a month end), as_of − 180 = 2025-12-31 (a month end: kept)
    dates = check_dates(date(2026, 6, 29))
    assert dates[0] == date(2024, 6, 30) and dates[-1] == date(2025, 12, 31)
    # as_of 2026-06-30: as_of − 730 = 2024-06-30 is a month end and is kept
    assert check_dates(date(2026, 6, 30))[0] == date(2024, 6, 30)
    assert check_dates(date(2026, 6, 30))[-1] == date(2025, 12, 31)


# --- a hand-built export ------------------------------------------------------------------------------------------
# as_of 2026-06-30 → check dates 2024-06-30 … 2025-12-31 (19); revenue starts 2025-11-05, so only the last two have
# pairs: t1 = 2025-11-30 (before = (2025-06-03, 2025-11-30], after = (2025-11-30, 2026-05-29]) and
# t2 = 2025-12-31 (before = (2025-07-04, 2025-12-31], after = (2025-12-31, 2026-06-29]).
# Weights recency = 100, the rest 0: health = recency score = 100 within 14 days, 0 from 90 days,
# 100 × (90 − d) / 76 between; green ≥ 70, amber ≥ 40.

HAND_AS_OF = date(2026, 6, 30)
T1, T2 = date(2025, 11, 30), date(2025, 12, 31)
HAND = {
    "accounts.csv": """\
        account_id,account_name,is_key_account,region,segment,kam_owner,executive_sponsor
        A1,Warned Co,false,EMEA,Enterprise,Kim Lee,
        A2,Missed Co,false,EMEA,Enterprise,Kim Lee,
        A3,Alarm Co,false,EMEA,Enterprise,Kim Lee,
        A4,Steady Co,false,EMEA,Enterprise,Kim Lee,
        A5,Late Co,false,EMEA,Enterprise,Kim Lee,
        A6,No Revenue Co,false,EMEA,Enterprise,Kim Lee,
        """,
    # A1: last touch 2025-06-01 (182 / 213 days: red, red). A2: 2 days before each date (green, green).
    # A3: 52 days before t1 (score 100 × 38 / 76 = 50: amber), 6 before t2 (green). A4: green, green.
    # A5: last touch 2025-11-01, 60 days before t2 (100 × 30 / 76 = 39.47: red). A6: no revenue, no pair.
    "activities.csv": """\
        activity_id,account_id,activity_date,activity_type,contact_id,duration_minutes
        X1,A1,2025-06-01,email,,5
        X2,A2,2025-11-28,call,,30
        X3,A2,2025-12-29,call,,30
        X4,A3,2025-10-09,email,,5
        X5,A3,2025-12-25,email,,5
        X6,A4,2025-11-29,meeting,,60
        X7,A4,2025-12-30,meeting,,60
        X8,A5,2025-11-01,email,,5
        X9,A6,2025-12-30,email,,5
        """,
    # t1: A1 1000 → 200 (contracted), A2 500 → 1000, A3 300 → 600, A4 200 → 200; A5 no revenue TTM (no pair).
    # t2: A1 1100 → 100 (contracted), A2 1000 → 500 (contracted), A3 300 → 600, A4 200 → 200,
    #     A5 400 → 0 (contracted). R-X rows after as_of − 1 … are outside every window but the last one's.
    "revenue.csv": """\
        revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency
        R1,A1,2025-11-15,1000,,Pumps,EUR
        R2,A1,2025-12-15,100,,Pumps,EUR
        R3,A1,2026-03-01,100,,Pumps,EUR
        R4,A2,2025-11-20,500,,Pumps,EUR
        R5,A2,2025-12-20,500,,Pumps,EUR
        R6,A2,2026-01-10,500,,Pumps,EUR
        R7,A3,2025-11-10,300,,Pumps,EUR
        R8,A3,2026-01-20,300,,Pumps,EUR
        R9,A3,2026-04-01,300,,Pumps,EUR
        R10,A4,2025-11-05,200,,Pumps,EUR
        R11,A4,2026-01-05,200,,Pumps,EUR
        R12,A5,2025-12-05,400,,Pumps,EUR
        R13,A1,2026-06-30,999999,,Pumps,EUR
        """,
}
RECENCY_ONLY = {c: (100.0 if c == "recency" else 0.0) for c in HEALTH_COMPONENTS}


@pytest.fixture(scope="module")
def hand_con(tmp_path_factory):
    from tests.conftest import write_export
    from kam_metrics.load.pipeline import load_export

    root = tmp_path_factory.mktemp("score_check_hand")
    report = load_export(write_export(root / "export", HAND, base=False), root / "data")
    assert report.quarantine.height == 0, report.quarantine
    con = warehouse.connect_current(root / "data")
    yield con
    con.close()


@pytest.fixture(scope="module")
def hand_pairs(hand_con):
    inputs = score_check_inputs(hand_con, HAND_AS_OF)
    return score_check_pairs(inputs, with_weights(Settings(), RECENCY_ONLY))


def _pair(pairs, account_id, check_date) -> dict:
    rows = pairs.filter((pl.col("account_id") == account_id) & (pl.col("check_date") == check_date)).to_dicts()
    assert len(rows) == 1, (account_id, check_date, rows)
    return rows[0]


def test_pairs_are_the_accounts_with_revenue_ttm_at_each_check_date(hand_pairs):
    got = sorted((r["account_id"], r["check_date"]) for r in hand_pairs.iter_rows(named=True))
    assert got == sorted([("A1", T1), ("A2", T1), ("A3", T1), ("A4", T1),
                          ("A1", T2), ("A2", T2), ("A3", T2), ("A4", T2), ("A5", T2)])


@pytest.mark.parametrize("account_id, check_date, before, after, contracted, health, band", [
    ("A1", T1, 1000, 200, True, 0.0, "red"),
    ("A1", T2, 1100, 100, True, 0.0, "red"),
    ("A2", T1, 500, 1000, False, 100.0, "green"),
    ("A2", T2, 1000, 500, True, 100.0, "green"),
    ("A3", T1, 300, 600, False, 50.0, "amber"),
    ("A3", T2, 300, 600, False, 100.0, "green"),
    ("A4", T1, 200, 200, False, 100.0, "green"),
    ("A4", T2, 200, 200, False, 100.0, "green"),
    ("A5", T2, 400, 0, True, 100 * 30 / 76, "red"),
])
def test_each_pair_by_hand(hand_pairs, account_id, check_date, before, after, contracted, health, band):
    row = _pair(hand_pairs, account_id, check_date)
    assert row["rev_before"] == pytest.approx(before)
    assert row["rev_after"] == pytest.approx(after)
    assert row["is_contracted"] is contracted
    assert row["health"] == pytest.approx(health)
    assert row["band"] == band
    assert row["is_warned"] is (band in ("red", "amber"))
    assert row["revenue_change_pct"] == pytest.approx(100 * (after - before) / before)


def test_summary_by_hand(hand_pairs):
    s = score_check_summary(hand_pairs, len(check_dates(HAND_AS_OF)))
    assert list(s) == list(SUMMARY_KEYS)
    # 9 pairs; contracted A1 t1, A1 t2, A2 t2, A5 t2; warned A1 t1, A3 t1, A1 t2, A5 t2; both: A1 t1, A1 t2, A5 t2
    assert s["check_dates"] == 19
    assert (s["pairs"], s["contracted"], s["warned"]) == (9, 4, 4)
    assert s["warning_precision"] == pytest.approx(3 / 4)
    assert s["warning_recall"] == pytest.approx(3 / 4)
    assert s["warning_lift"] == pytest.approx((3 / 4) / (4 / 9))  # 27/16
    # green: A2 t1, A4 t1, A2 t2, A3 t2, A4 t2 (A2 t2 shrank); amber: A3 t1; red: A1 t1, A1 t2, A5 t2 (all shrank)
    assert (s["pairs_green"], s["contracted_green"], s["contraction_rate_green"]) == (5, 1, pytest.approx(0.2))
    assert (s["pairs_amber"], s["contracted_amber"], s["contraction_rate_amber"]) == (1, 0, 0.0)
    assert (s["pairs_red"], s["contracted_red"], s["contraction_rate_red"]) == (3, 3, 1.0)
    assert s["pairs_insufficient_data"] == 0
    # warned and shrank: A1 t1 (first warned then: 0), A1 t2 (red since t1: 31 days), A5 t2 (0) → median 0
    assert s["warning_lead_days_median"] == 0


def test_bands_rows_by_hand(hand_pairs):
    rows = {r["band"]: r for r in score_check_bands(hand_pairs).iter_rows(named=True)}
    assert list(rows) == ["green", "amber", "red", "warned", "all"]
    assert (rows["warned"]["pairs"], rows["warned"]["contracted"]) == (4, 3)
    assert (rows["all"]["pairs"], rows["all"]["contracted"]) == (9, 4)
    assert rows["all"]["contraction_rate"] == pytest.approx(4 / 9)


def test_misses_and_false_alarms_by_hand(hand_pairs):
    misses = score_check_misses(hand_pairs).to_dicts()
    assert [(m["account_id"], m["missed_check_dates"], m["first_check_date"]) for m in misses] == [("A2", 1, T2)]
    assert misses[0]["worst_revenue_change_pct"] == pytest.approx(-50.0)
    assert misses[0]["lowest_health"] == pytest.approx(100.0)
    alarms = score_check_false_alarms(hand_pairs).to_dicts()
    assert [(a["account_id"], a["false_alarm_check_dates"], a["last_check_date"]) for a in alarms] == [("A3", 1, T1)]
    assert alarms[0]["best_revenue_change_pct"] == pytest.approx(100.0)
    assert alarms[0]["lowest_health"] == pytest.approx(50.0)


def test_default_weights_need_more_than_activities_and_revenue(hand_con):
    # no contacts, surveys, wallet or reviews: recency, trend and profitability carry 45 of 105 → coverage 43 % < 50 %
    pairs = score_check_pairs(score_check_inputs(hand_con, HAND_AS_OF), Settings())
    s = score_check_summary(pairs)
    assert s["pairs_insufficient_data"] == 9 and s["pairs"] == 0
    assert s["warning_precision"] is None and s["warning_recall"] is None and s["warning_lift"] is None
    assert score_check_misses(pairs).height == 0


def test_other_weights_change_the_result_and_settings_stay(hand_con):
    inputs = score_check_inputs(hand_con, HAND_AS_OF)
    # trend only: touches in the last 90 days against the prior 90 decide; a different band mix than recency
    trend = score_check_summary(score_check_pairs(inputs, with_weights(Settings(), {"trend": 1.0})))
    recency = score_check_summary(score_check_pairs(inputs, with_weights(Settings(), RECENCY_ONLY)))
    assert (trend["pairs_green"], trend["pairs_amber"], trend["pairs_red"]) != (
        recency["pairs_green"], recency["pairs_amber"], recency["pairs_red"])
    assert Settings().health_weights["recency"] == 15


def test_time_travel_ignores_revenue_after_as_of(hand_con):
    # R13 (999,999 on 2026-06-30) is inside A1's t2 "after" window only when as_of ≥ 2026-06-30; at as_of 2026-06-29
    # the last check date is 2025-12-31 still, but its after window (2025-12-31, 2026-06-29] excludes R13.
    at_29 = score_check_pairs(score_check_inputs(hand_con, date(2026, 6, 29)), with_weights(Settings(), RECENCY_ONLY))
    assert _pair(at_29, "A1", T2)["rev_after"] == pytest.approx(100)
    at_30 = score_check_pairs(score_check_inputs(hand_con, HAND_AS_OF), with_weights(Settings(), RECENCY_ONLY))
    assert _pair(at_30, "A1", T2)["rev_after"] == pytest.approx(100)  # (2025-12-31, 2026-06-29]: still 100


def test_no_pairs_when_no_check_date_has_revenue_before_it(hand_con):
    # as_of 2026-02-01: check dates end at 2025-07-31, before the first revenue row (2025-11-05)
    inputs = score_check_inputs(hand_con, date(2026, 2, 1))
    assert inputs.height == 0 and "rev_before" in inputs.columns
    s = score_check_summary(score_check_pairs(inputs), len(check_dates(date(2026, 2, 1))))
    assert s["check_dates"] == 18 and s["pairs"] == 0 and s["warning_lift"] is None


def test_a_check_date_later_than_as_of_minus_180_is_refused(hand_con):
    with pytest.raises(ValueError, match="less than 180 days"):
        score_check_inputs(hand_con, HAND_AS_OF, dates=[date(2026, 1, 31)])


# --- weights --------------------------------------------------------------------------------------------------------


def test_parse_weights_replaces_the_named_components_only():
    s = settings_from_dict({"health_weights": {"loyalty": 5}})
    w = parse_weights("recency=30, relationship=0", s)
    assert w["recency"] == 30 and w["relationship"] == 0 and w["loyalty"] == 5 and w["trend"] == 15


@pytest.mark.parametrize("text, message", [
    ("foo=1", "unknown component 'foo'"),
    ("recency", "not component=number"),
    ("recency=abc", "not a number"),
    ("recency=-1", "≥ 0"),
    ("recency=nan", "≥ 0"),
    (",".join(f"{c}=0" for c in HEALTH_COMPONENTS), "above 0"),
])
def test_parse_weights_errors_name_the_part(text, message):
    with pytest.raises(SettingsError, match=message):
        parse_weights(text)


def test_weights_toml_round_trips_through_the_settings():
    weights = {**{c: 10.0 for c in HEALTH_COMPONENTS}, "relationship": 32.5}
    text = weights_toml(weights)
    assert text.startswith("[health_weights]\n") and "relationship = 32.5" in text and "recency = 10\n" in text
    import tomllib

    assert dict(settings_from_dict(tomllib.loads(text)).health_weights) == weights


# --- the demo: a plain-SQL score check agrees with the engine -----------------------------------------------------


@pytest.fixture(scope="module")
def demo_con(demo_data_dir):
    con = warehouse.connect_current(demo_data_dir)
    yield con
    con.close()


def _plain_sql_pairs(con, as_of: date) -> pl.DataFrame:
    """METRICS.md "Score check" over the raw revenue table, one statement (no marts, no running totals); the bands
    from account_metrics at each check date (a single-as_of path, not the engine's multi-date frame)."""
    dates = [as_of - timedelta(days=730) + timedelta(days=k) for k in range(0, 551)]
    month_ends = [d for d in dates if (d + timedelta(days=1)).day == 1]
    revenue = con.sql(
        """
        WITH t AS (SELECT unnest($dates::DATE[]) AS check_date)
        SELECT r.account_id, t.check_date,
               sum(r.amount) FILTER (WHERE r.revenue_date > t.check_date - 365 AND r.revenue_date <= t.check_date)
                   AS revenue_ttm,
               coalesce(sum(r.amount) FILTER (WHERE r.revenue_date > t.check_date - 180
                                              AND r.revenue_date <= t.check_date), 0) AS rev_before,
               coalesce(sum(r.amount) FILTER (WHERE r.revenue_date > t.check_date
                                              AND r.revenue_date <= t.check_date + 180), 0) AS rev_after
        FROM t CROSS JOIN revenue r
        GROUP BY ALL
        HAVING round(revenue_ttm, 6) > 0
        """, params={"dates": month_ends}).pl()
    bands = pl.concat([account_metrics(con, t).select("account_id", "band", pl.lit(t).alias("check_date"))
                       for t in month_ends])
    return revenue.join(bands, on=["account_id", "check_date"], how="left").with_columns(
        is_contracted=(pl.col("rev_before").round(6) > 0) & (pl.col("rev_after").round(6)
                                                              < (0.8 * pl.col("rev_before")).round(6)),
        is_warned=pl.col("band").is_in(["red", "amber"]),
    )


def test_plain_sql_score_check_agrees_with_the_engine_on_the_demo(demo_con):
    as_of = default_as_of(demo_con)
    oracle = _plain_sql_pairs(demo_con, as_of)
    engine = score_check_pairs(score_check_inputs(demo_con, as_of), Settings())
    assert engine.height == oracle.height > 1000
    joined = engine.join(oracle, on=["account_id", "check_date"], how="full", suffix="_sql")
    assert joined.filter(pl.col("account_id").is_null() | pl.col("account_id_sql").is_null()).height == 0
    assert (joined["rev_before"] - joined["rev_before_sql"]).abs().max() < 1e-6
    assert (joined["rev_after"] - joined["rev_after_sql"]).abs().max() < 1e-6
    assert (joined["band"] == joined["band_sql"]).all()
    assert (joined["is_contracted"] == joined["is_contracted_sql"]).all()
    # the figures, by the definitions, from the oracle's pairs
    checked = oracle.filter(pl.col("band") != "insufficient_data")
    hits = checked.filter(pl.col("is_warned") & pl.col("is_contracted")).height
    warned, contracted = checked["is_warned"].sum(), checked["is_contracted"].sum()
    s = score_check_summary(engine, len(check_dates(as_of)))
    assert s["check_dates"] == len(oracle["check_date"].unique()) == 18
    assert (s["pairs"], s["contracted"], s["warned"]) == (checked.height, contracted, warned)
    assert s["warning_precision"] == pytest.approx(hits / warned)
    assert s["warning_recall"] == pytest.approx(hits / contracted)
    assert s["warning_lift"] == pytest.approx((hits / warned) / (contracted / checked.height))
    for band in ("green", "amber", "red"):
        of_band = checked.filter(pl.col("band") == band)
        assert s[f"pairs_{band}"] == of_band.height
        assert s[f"contracted_{band}"] == of_band["is_contracted"].sum()
    # every miss is a green pair that shrank, every false alarm a warned pair that did not
    misses = score_check_misses(engine)
    assert misses["missed_check_dates"].sum() == checked.filter(
        pl.col("is_contracted") & ~pl.col("is_warned")).height
    alarms = score_check_false_alarms(engine)
    assert alarms["false_alarm_check_dates"].sum() == warned - hits


def test_lead_days_by_the_runs_of_warned_dates_on_the_demo(demo_con):
    as_of = default_as_of(demo_con)
    pairs = score_check_pairs(score_check_inputs(demo_con, as_of), Settings())
    dates = check_dates(as_of)
    warned = {(r["account_id"], r["check_date"]) for r in pairs.filter(pl.col("is_warned")).iter_rows(named=True)}
    leads = []
    for r in pairs.filter(pl.col("is_warned") & pl.col("is_contracted")).iter_rows(named=True):
        i = dates.index(r["check_date"])
        while i > 0 and (r["account_id"], dates[i - 1]) in warned:
            i -= 1
        leads.append((r["check_date"] - dates[i]).days)
    assert leads
    assert score_check_summary(pairs)["warning_lead_days_median"] == pytest.approx(statistics.median(leads))


# --- the CLI --------------------------------------------------------------------------------------------------------


def test_kam_report_backtest_prints_the_summary_rows(demo_data_dir, demo_con, capsys):
    assert kam(["--data-dir", str(demo_data_dir), "report", "backtest", "--format", "json"]) == 0
    rows = {r["key"]: r["value"] for r in json.loads(capsys.readouterr().out)}
    assert list(rows) == list(SUMMARY_KEYS)
    expected = score_check_summary(score_check_pairs(score_check_inputs(demo_con)), 18)
    for key in ("check_dates", "pairs", "contracted", "warning_precision", "warning_recall", "warning_lift",
                "pairs_green", "contracted_red", "contraction_rate_amber"):
        assert rows[key] == pytest.approx(expected[key]), key


def test_kam_report_backtest_with_weights_and_as_of(demo_data_dir, demo_con, capsys):
    assert kam(["--data-dir", str(demo_data_dir), "report", "backtest", "--as-of", "2026-06-30",
                "--weights", "recency=100,trend=0,breadth=0,loyalty=0,wallet=0,profitability=0,cadence=0,"
                "relationship=0"]) == 0
    lines = dict(line.split(",", 1) for line in capsys.readouterr().out.strip().splitlines()[1:])
    expected = score_check_backtest(demo_con, date(2026, 6, 30), weights=RECENCY_ONLY)
    assert float(lines["pairs"]) == expected.filter(pl.col("key") == "pairs")["value"][0]
    assert float(lines["check_dates"]) == len(check_dates(date(2026, 6, 30))) == 19
    default = score_check_backtest(demo_con, date(2026, 6, 30))
    assert float(lines["pairs_green"]) != default.filter(pl.col("key") == "pairs_green")["value"][0]


def test_kam_report_backtest_bad_weights_exit_2_naming_the_part(demo_data_dir, capsys):
    assert kam(["--data-dir", str(demo_data_dir), "report", "backtest", "--weights", "warmth=3"]) == 2
    assert "unknown component 'warmth'" in capsys.readouterr().err
    assert kam(["--data-dir", str(demo_data_dir), "report", "accounts", "--weights", "trend=3"]) == 2
    assert "applies to `kam report backtest` only" in capsys.readouterr().err


# --- sparse: a CRM export without activities, contacts, surveys, reviews or wallet ------------------------------


def test_score_check_on_a_sparse_export_is_insufficient_data_not_misses(tmp_path, capsys):
    """No activities, contacts, surveys or wallet: only profitability is known (15 of 115 or 105), so every pair is
    insufficient_data; the check says so instead of counting A1's shrinking revenue as a miss."""
    from kam_metrics.load.pipeline import load_export
    from tests.conftest import write_export
    from tests.test_pages_sparse import SPARSE_EXPORT

    load_export(write_export(tmp_path / "export", SPARSE_EXPORT, base=False), tmp_path / "data")
    con = warehouse.connect_current(tmp_path / "data")
    try:
        pairs = score_check_pairs(score_check_inputs(con))
    finally:
        con.close()
    # as_of 2026-11-01 (latest revenue): check dates 2024-11-30 … 2026-04-30; A1 has revenue TTM from R2
    # (2025-10-01) at 2025-10-31 … 2026-04-30: 7 pairs; its revenue after each is 0 (R1 is 2026-10-01), so the five
    # whose 180 days before hold R2 (to 2026-02-28) contracted; at 2026-03-31 and 2026-04-30 there is nothing before
    assert pairs["account_id"].unique().to_list() == ["A1"]
    assert pairs.height == 7 and pairs["is_contracted"].to_list() == [True] * 5 + [False] * 2
    assert (pairs["band"] == "insufficient_data").all()
    s = score_check_summary(pairs)
    assert s["pairs"] == 0 and s["pairs_insufficient_data"] == 7 and s["contracted"] == 0
    assert s["warning_recall"] is None and s["warning_precision"] is None
    assert score_check_misses(pairs).height == 0
    assert kam(["--data-dir", str(tmp_path / "data"), "report", "backtest"]) == 0
    rows = dict(line.split(",", 1) for line in capsys.readouterr().out.strip().splitlines()[1:])
    assert rows["warning_recall"] == "" and rows["pairs_insufficient_data"] == "7.0"


def test_by_date_by_hand(hand_pairs):
    rows = {r["check_date"]: r for r in score_check_by_date(hand_pairs).iter_rows(named=True)}
    assert list(rows) == [T1, T2]
    # t1: A1 red shrank, A2 green, A3 amber, A4 green → warned 2 (1 shrank), green 2 (0 shrank)
    assert (rows[T1]["pairs"], rows[T1]["contracted"], rows[T1]["warned"]) == (4, 1, 2)
    assert rows[T1]["contraction_rate_warned"] == pytest.approx(0.5)
    assert rows[T1]["contraction_rate_green"] == pytest.approx(0.0)
    # t2: A1 red shrank, A5 red shrank; A2 green shrank, A3 and A4 green held
    assert (rows[T2]["pairs"], rows[T2]["contracted"], rows[T2]["warned"]) == (5, 3, 2)
    assert rows[T2]["contraction_rate_warned"] == pytest.approx(1.0)
    assert rows[T2]["contraction_rate_green"] == pytest.approx(1 / 3)
    assert rows[T2]["contraction_rate"] == pytest.approx(3 / 5)


def test_hits_by_hand(hand_pairs):
    from kam_metrics.metrics import score_check_hits

    hits = score_check_hits(hand_pairs).to_dicts()
    # A1 red and shrank at t1 and t2; A5 red and shrank at t2
    assert [(h["account_id"], h["warned_check_dates"], h["first_check_date"]) for h in hits] == [
        ("A1", 2, T1), ("A5", 1, T2)]
    assert hits[0]["worst_revenue_change_pct"] == pytest.approx(100 * (100 - 1100) / 1100)
