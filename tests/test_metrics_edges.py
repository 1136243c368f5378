"""The metrics on thin or odd exports: only the required tables, data dated after today, as_of before any
data, an account with nothing at all. Every function must answer (empty frames, nulls), never fail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kam_metrics.load import warehouse
from kam_metrics.filters import Filters
from kam_metrics.metrics import (
    account_metrics, alerts, cost_to_serve_breakdown, default_as_of, engagement_weekly, goals_status,
    health_history, health_movement, portfolio_concentration, programme_kpis, selection_candidates,
    wallet_by_product_line, wallet_by_year, whale_curve,
)
from kam_metrics.report import REPORT_KINDS, report_frame

ALL = (account_metrics, alerts, cost_to_serve_breakdown, engagement_weekly, goals_status, health_history,
       portfolio_concentration, programme_kpis, selection_candidates, wallet_by_product_line, wallet_by_year,
       whale_curve)


def _connect(load_folder, make_export, files=None, base=True):
    report = load_folder(make_export(files or {}, base=base))
    return warehouse.connect_current(report.snapshot_path.parent.parent)


def test_required_tables_only(load_folder, make_export):
    # conftest BASE_EXPORT: A1 (key) email 2026-11-01, 1000 with cogs 300; A2 call 2026-11-02, 500 without cogs;
    # A3 (key) meeting 2026-10-15, a −50 credit note.
    con = _connect(load_folder, make_export)
    try:
        assert default_as_of(con, today=date(2026, 11, 23)) == date(2026, 11, 2)
        as_of = date(2026, 11, 2)
        for fn in ALL:
            fn(con, as_of)
        for kind in REPORT_KINDS:
            report_frame(kind, con, as_of)
        health_movement(con, as_of - timedelta(days=7), as_of)
        rows = {r["account_id"]: r for r in account_metrics(con, as_of).iter_rows(named=True)}
        a1, a2, a3 = rows["A1"], rows["A2"], rows["A3"]
        assert (a1["touches_90d"], a1["weighted_touches_90d"], a1["days_since_last_touch"]) == (1, 1.0, 1)
        assert a1["gross_margin_ttm"] == pytest.approx(700)
        assert a1["cost_to_serve_ttm"] == pytest.approx(5)  # one email
        assert a2["gross_margin_ttm"] == pytest.approx(500 * 0.35)
        assert a3["revenue_ttm"] == pytest.approx(-50)
        assert a3["net_margin_pct"] is None and a3["revenue_growth_pct"] is None  # revenue ≤ 0
        assert a1["wallet_current"] is None and a1["nps_365d"] is None
        # METRICS.md "Data that is not there": no activity carries a contact_id, so engaged contacts (and breadth)
        # are null, not 0; no contacts.csv: champion_quiet is null; no reviews.csv: the cadence keys and the
        # cadence component are null (before issue 12: 0, False, overdue and 0).
        assert a1["engaged_contacts_90d"] is None and a1["score_breadth"] is None
        assert a1["champion_quiet"] is None
        assert a1["cadence_status"] is None and a1["score_cadence"] is None
        assert goals_status(con, as_of).height == 0
        kpis = {r["key"]: r["value"] for r in programme_kpis(con, as_of).iter_rows(named=True)}
        assert kpis["key_account_count"] == 2 and kpis["programme_nps"] is None
        assert kpis["key_revenue_share_pct"] == pytest.approx(100 * 950 / 1450)
    finally:
        con.close()


def test_as_of_before_any_data_is_all_zero(load_folder, make_export):
    con = _connect(load_folder, make_export)
    try:
        frame = account_metrics(con, date(2000, 1, 1))
        assert frame["touches_90d"].to_list() == [0, 0, 0]
        assert frame["revenue_ttm"].to_list() == [0.0, 0.0, 0.0]
        assert frame["days_since_last_touch"].null_count() == 3
        assert frame["value_to_date"].to_list() == [0.0, 0.0, 0.0]
        assert whale_curve(con, date(2000, 1, 1))["cum_net_contribution_pct"].null_count() == 3  # total 0
        conc = portfolio_concentration(con, date(2000, 1, 1)).row(0, named=True)
        assert conc == {"whale_peak_pct": None, "profit_erosion_pct": None, "top20_revenue_share_pct": None,
                        "revenue_hhi": None}
    finally:
        con.close()


def test_data_dated_after_today_counts_when_as_of_reaches_it(load_folder, make_export):
    files = {
        "activities.csv": """\
            activity_id,account_id,activity_date,activity_type
            X1,A1,2099-01-05,qbr
            X2,A1,2099-01-06,call
            X3,A2,2020-03-01,email
            """,
        "revenue.csv": """\
            revenue_id,account_id,revenue_date,amount
            R1,A1,2099-01-05,1000
            R2,A2,2020-03-01,10
            """,
    }
    con = _connect(load_folder, make_export, files)
    try:
        assert default_as_of(con) == date(2020, 3, 1)  # 2099 is after today
        rows = {r["account_id"]: r for r in account_metrics(con, date(2099, 1, 31)).iter_rows(named=True)}
        assert rows["A1"]["touches_90d"] == 2
        assert rows["A1"]["weighted_touches_90d"] == pytest.approx(5 + 2)
        assert rows["A1"]["revenue_ttm"] == pytest.approx(1000)
        assert rows["A1"]["days_since_last_touch"] == 25
        # A2's 2020 rows are in its value to date decades later
        assert rows["A2"]["value_to_date"] == pytest.approx(10 * 0.35 - 5)
        assert rows["A2"]["revenue_ttm"] == 0
        history = health_history(con, date(2099, 1, 31))
        a1 = history.filter(history["account_id"] == "A1")
        reached = a1.filter(a1["as_of"] >= date(2099, 1, 11))  # the Sundays after the 2099 rows
        assert reached.height == 3 and reached["score_trend"].to_list() == [100.0] * 3
        assert reached["score_recency"].null_count() == 0 and reached["score_profitability"].null_count() == 0
        # METRICS.md "insufficient data": recency, trend and profitability are 45 of the key account's 115 weight
        # (no contacts, contact ids, surveys, wallet or reviews), below 50 %: health null, band insufficient_data
        assert reached["health_coverage_pct"].to_list() == pytest.approx([100 * 45 / 115] * 3)
        assert reached["band"].to_list() == ["insufficient_data"] * 3 and reached["health"].null_count() == 3
    finally:
        con.close()


def test_filters_that_match_nothing(load_folder, make_export):
    con = _connect(load_folder, make_export)
    try:
        nothing = Filters(regions=("Antarctica",))
        as_of = date(2026, 11, 2)
        for fn in ALL:
            fn(con, as_of, nothing)
        assert account_metrics(con, as_of, nothing).height == 0
        kpis = {r["key"]: r["value"] for r in programme_kpis(con, as_of, nothing).iter_rows(named=True)}
        assert kpis["key_account_count"] == 0 and kpis["sponsor_coverage_pct"] is None
    finally:
        con.close()
