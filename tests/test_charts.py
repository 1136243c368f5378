"""The figure builders on small hand-made frames (kam_metrics.app.charts)."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl
import pytest

from kam_metrics.app import charts


def accounts_frame(**extra) -> pl.DataFrame:
    base = {
        "account_id": ["A1", "A2", "A3"],
        "account_name": ["Acme", "<b>Bold</b> & Co", "Gamma"],
        "is_key_account": [True, False, True],
    }
    base.update(extra)
    return pl.DataFrame(base)


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_labels_are_escaped_and_duplicates_get_their_id():
    frame = pl.DataFrame({"account_id": ["A1", "A2", "A3"], "account_name": ["Same", "Same", "<script>x</script>"]})
    assert charts.account_labels(frame) == ["Same (A1)", "Same (A2)", "&lt;script&gt;x&lt;/script&gt;"]


def test_health_bands_sorted_and_coloured_by_band():
    frame = accounts_frame(health=[80.0, 20.0, 55.0], band=["green", "red", "amber"])
    fig = charts.health_bands_figure(frame, 70, 40)
    bar = fig.data[0]
    assert list(bar.x) == [20.0, 55.0, 80.0]
    assert list(bar.y) == ["&lt;b&gt;Bold&lt;/b&gt; &amp; Co", "Gamma", "Acme"]
    assert list(bar.marker.color) == [charts.BAND_COLORS["red"], charts.BAND_COLORS["amber"], charts.BAND_COLORS["green"]]
    assert list(bar.customdata) == ["A2", "A3", "A1"]
    assert sorted(shape.x0 for shape in fig.layout.shapes) == [40, 70]


def test_empty_input_gives_a_figure_that_says_why():
    fig = charts.health_bands_figure(pl.DataFrame({"account_id": [], "health": []}))
    assert annotation_texts(fig) == ["No account has a health score yet."]
    fig = charts.whitespace_heatmap(pl.DataFrame())
    assert "wallet.csv" in annotation_texts(fig)[0]


def test_movement_waterfall_steps_from_old_to_new_health():
    movement = pl.DataFrame({
        "account_id": ["A1"] * 4,
        "component": ["recency", "trend", "breadth", "health"],
        "contribution_from": [20.0, 10.0, None, 30.0],
        "contribution_to": [15.0, 12.5, 4.0, 31.5],
        "change": [-5.0, 2.5, 4.0, 1.5],
    })
    fig = charts.health_movement_waterfall(movement)
    trace = fig.data[0]
    assert list(trace.x) == ["Health before", "Recency", "Trend", "Breadth", "Health now"]
    assert list(trace.y) == [30.0, -5.0, 2.5, 4.0, 31.5]
    assert list(trace.measure) == ["absolute", "relative", "relative", "relative", "total"]


def test_contributions_waterfall_adds_up_to_health():
    row = {"health": 60.0, "band": "amber", "contribution_recency": 25.0, "contribution_trend": 35.0,
           "contribution_breadth": None, "score_recency": 100.0, "score_trend": 70.0}
    trace = charts.health_contributions_waterfall(row).data[0]
    assert list(trace.x) == ["Recency", "Trend", "Health"]
    assert list(trace.y) == [25.0, 35.0, 60.0]
    assert list(trace.customdata) == ["score 100", "score 70", ""]


def test_contributions_waterfall_shows_the_champion_left_cap_as_its_own_bar():
    row = {"health": 69.0, "band": "amber", "contribution_recency": 50.0, "contribution_relationship": 42.0,
           "contribution_cap": -23.0, "score_recency": 100.0, "score_relationship": 40.0}
    trace = charts.health_contributions_waterfall(row).data[0]
    assert list(trace.x) == ["Recency", "Relationship", "Champion-left cap", "Health"]
    assert list(trace.y) == [50.0, 42.0, -23.0, 69.0]
    assert sum(trace.y[:-1]) == trace.y[-1]
    # no cap bar when the cap takes nothing
    calm = charts.health_contributions_waterfall({**row, "contribution_cap": 0.0, "health": 92.0}).data[0]
    assert "Champion-left cap" not in list(calm.x)


def test_movement_waterfall_has_a_cap_bar():
    movement = pl.DataFrame({
        "component": ["recency", "relationship", "cap", "health"],
        "contribution_from": [50.0, 42.0, 0.0, 92.0], "contribution_to": [50.0, 18.0, -5.0, 63.0],
    })
    trace = charts.health_movement_waterfall(movement).data[0]
    assert list(trace.x) == ["Health before", "Recency", "Relationship", "Champion-left cap", "Health now"]
    assert list(trace.y) == [92.0, 0.0, -24.0, -5.0, 63.0]


def test_weekly_touches_are_stacked_per_activity_type():
    weekly = pl.DataFrame({
        "account_id": ["A1", "A2", "A1", "A1"],
        "week_start": [date(2026, 11, 2), date(2026, 11, 2), date(2026, 11, 2), date(2026, 11, 9)],
        "activity_type": ["email", "email", "qbr", "email"],
        "weighted_touches": [2.0, 3.0, 5.0, 1.0],
    })
    fig = charts.weekly_touches_figure(weekly)
    by_type = {t.name: dict(zip(t.x, t.y)) for t in fig.data}
    assert by_type == {"qbr": {date(2026, 11, 2): 5.0}, "email": {date(2026, 11, 2): 5.0, date(2026, 11, 9): 1.0}}
    assert fig.layout.barmode == "stack"


def test_heatmap_leaves_weeks_without_activity_blank():
    weekly = pl.DataFrame({
        "account_id": ["A1", "A1", "A3"],
        "week_start": [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 9)],
        "activity_type": ["email", "call", "email"],
        "weighted_touches": [2.0, 4.0, 1.0],
    })
    trace = charts.engagement_heatmap(weekly, accounts_frame()).data[0]
    assert list(trace.x) == [date(2026, 11, 2), date(2026, 11, 9)]
    assert [list(r) for r in trace.z] == [[2.0, 4.0], [None, None], [None, 1.0]]


def test_pareto_cumulates_against_the_total_even_when_cut():
    frame = accounts_frame(revenue_ttm=[20.0, 50.0, 30.0])
    fig = charts.pareto_figure(frame, limit=2)
    bars, line = fig.data
    assert list(bars.y) == [50.0, 30.0]
    assert list(line.y) == pytest.approx([50.0, 80.0])
    # The money axis is labelled in euros by its tick texts (0..50 in steps of 10); the share axis carries no €.
    assert list(fig.layout.yaxis.ticktext) == ["€0", "€10", "€20", "€30", "€40", "€50"]
    assert fig.layout.yaxis2.tickprefix in (None, "") and fig.layout.yaxis2.ticktext is None


def test_cost_value_scatter_draws_median_lines_and_groups_by_band():
    frame = accounts_frame(cost_to_serve_ttm=[100.0, 300.0, 200.0], lifetime_value=[-50.0, 900.0, 400.0],
                           revenue_ttm=[1000.0, 4000.0, 0.0], band=["red", "green", "green"])
    fig = charts.cost_value_scatter(frame)
    assert [t.name for t in fig.data] == ["green", "red"]
    vertical = [s for s in fig.layout.shapes if s.x0 == s.x1]
    horizontal = sorted(s.y0 for s in fig.layout.shapes if s.y0 == s.y1)
    assert [s.x0 for s in vertical] == [200.0]
    assert horizontal == [0, 400.0]
    green = fig.data[0]
    assert list(green.customdata) == ["A2", "A3"]
    assert max(green.marker.size) == pytest.approx(50.0) and min(green.marker.size) == pytest.approx(10.0)


def test_whale_curve_starts_at_zero_and_marks_the_peak():
    whale = pl.DataFrame({"account_id": ["A2", "A1", "A3"], "rank": [1, 2, 3],
                          "cum_accounts_pct": [100 / 3, 200 / 3, 100.0],
                          "cum_net_contribution_pct": [90.0, 125.0, 100.0]})
    fig = charts.whale_curve_figure(whale, {"whale_peak_pct": 125.0})
    assert list(fig.data[0].y) == [0.0, 90.0, 125.0, 100.0]
    assert "peak 125%" in annotation_texts(fig)


def test_cost_breakdown_stacks_groups_per_account_smallest_total_first():
    breakdown = pl.DataFrame({
        "account_id": ["A1", "A1", "A2", "A2"],
        "component_group": ["activities", "cases", "activities", "service_costs"],
        "component": ["qbr", "high", "email", "support"], "cost_ttm": [1200.0, 400.0, 5.0, 100.0],
    })
    fig = charts.cost_breakdown_figure(breakdown, accounts_frame())
    traces = {t.name: list(t.x) for t in fig.data}
    assert list(fig.data[0].y) == ["&lt;b&gt;Bold&lt;/b&gt; &amp; Co", "Acme"]
    assert traces == {"activities": [5.0, 1200.0], "cases": [0.0, 400.0], "service_costs": [100.0, 0.0]}


def test_goal_progress_in_percent_with_expected_marks():
    goals = pl.DataFrame({"goal_id": ["G1", "G2"], "title": ["Grow", "NPS"], "progress": [0.5, -0.25],
                          "expected": [0.8, 0.1], "status": ["off_track", "off_track"]})
    fig = charts.goal_progress_figure(goals)
    assert list(fig.data[0].x) == [50.0, -25.0]
    assert list(fig.data[1].x) == pytest.approx([80.0, 10.0])


def test_relationship_map_spreads_contacts_sharing_a_cell():
    contacts = pl.DataFrame({
        "contact_id": ["C1", "C2", "C3"], "full_name": ["Ann", "Bob", "Cy"],
        "seniority": ["vp", "vp", "c_level"], "buying_role": ["champion", "champion", "bogus"],
        "attitude": [2, None, -1], "is_active": [True, False, True],
        "is_champion_left": [False, True, False], "is_champion_quiet": [False, False, False],
    })
    trace = charts.relationship_map_figure(contacts).data[0]
    assert trace.x[0] != trace.x[1] and trace.y[0] == trace.y[1]
    assert trace.y[2] == charts.ROLE_ORDER.index("unknown")
    assert list(trace.marker.symbol) == ["circle", "x", "circle"]
    assert list(trace.marker.color) == [2, 0, -1]


def test_selection_chart_outlines_candidates():
    selection = accounts_frame(selection_score=[80.0, 90.0, 40.0], candidate=[None, "promote", "review"])
    fig = charts.selection_score_figure(selection)
    bar = fig.data[0]
    assert list(bar.y) == [90.0, 80.0, 40.0]
    assert list(bar.marker.line.color) == [charts.BAND_COLORS["green"], "rgba(0,0,0,0)", charts.BAND_COLORS["red"]]
    assert [s.y0 for s in fig.layout.shapes] == [40.0]


def test_programme_size_gauge_is_red_outside_the_guidance():
    assert charts.programme_size_figure(17).data[0].gauge.bar.color == charts.BAND_COLORS["green"]
    assert charts.programme_size_figure(30).data[0].gauge.bar.color == charts.BAND_COLORS["red"]
    assert charts.programme_size_figure(3).data[0].gauge.bar.color == charts.BAND_COLORS["red"]


def test_mutual_dependence_uses_revenue_share_of_all_accounts():
    frame = accounts_frame(share_of_wallet=[0.5, None, 0.25], revenue_ttm=[300.0, 100.0, 600.0])
    trace = charts.mutual_dependence_figure(frame).data[0]
    assert list(trace.x) == [50.0, 25.0]
    assert list(trace.y) == pytest.approx([30.0, 60.0])
    assert list(trace.text) == ["Acme", "Gamma"]


def test_share_of_wallet_bars_draw_the_metrics_own_columns():
    # wallet_headroom and share_of_wallet as account_metrics gives them (deliberately not wallet − revenue here,
    # so a recomputation in the chart would show).
    frame = accounts_frame(revenue_ttm=[30.0, 80.0, 10.0], wallet_current=[100.0, 50.0, None],
                           wallet_headroom=[65.0, 0.0, None], share_of_wallet=[0.3, 1.6, None])
    revenue, headroom = charts.share_of_wallet_figure(frame).data
    assert list(revenue.x) == [80.0, 30.0]  # sorted by wallet: A2 (50), A1 (100); A3 has none
    assert list(headroom.x) == [0.0, 65.0]
    assert list(headroom.text) == ["160.0%", "30.0%"]
    # Without the metric's columns the chart says so; it does not compute a second share of wallet.
    for missing in ("share_of_wallet", "wallet_headroom"):
        fig = charts.share_of_wallet_figure(frame.drop(missing))
        assert not fig.data and annotation_texts(fig) == ["No wallet estimates: add wallet.csv to your export."]


def test_whitespace_grid_caps_colour_but_labels_true_share():
    lines = pl.DataFrame({"account_id": ["A1", "A1", "A3"], "product_line": ["Pumps", "Valves", "Pumps"],
                          "revenue_ttm": [10.0, 0.0, 30.0], "wallet_amount": [20.0, 50.0, 20.0],
                          "share_of_wallet": [0.5, 0.0, 1.5]})
    trace = charts.whitespace_heatmap(lines, accounts_frame()).data[0]
    assert list(trace.x) == ["Pumps", "Valves"]
    assert [list(r) for r in trace.z] == [[50.0, 0.0], [100.0, None]]
    assert [list(r) for r in trace.text] == [["50%", "0%"], ["150%", ""]]


# ---------------------------------------------------------------- issue 12: money axes and the insufficient-data band


def test_money_axis_ticks_use_k_m_bn_never_si_milli():
    """Net contributions of -400 k and +1.3 M: ticks every 500 k from -500 k, labelled in k / M, no 'm' or 'G'."""
    frame = accounts_frame(cost_to_serve_ttm=[100_000.0, 300_000.0, 200_000.0],
                           lifetime_value=[-400_000.0, 1_300_000.0, 400_000.0])
    fig = charts.cost_value_scatter(frame, "EUR")
    # y extent -400,000..1,300,000 (0 included): raw step 340,000 → 500,000; first tick floor(-0.8) × 500 k.
    assert list(fig.layout.yaxis.tickvals) == [-500_000.0, 0.0, 500_000.0, 1_000_000.0, 1_500_000.0]
    assert list(fig.layout.yaxis.ticktext) == ["-€500 k", "€0", "€500 k", "€1 M", "€1.5 M"]
    assert fig.layout.yaxis.tickformat in (None, "") and fig.layout.yaxis.tickprefix == ""
    # x extent 0..300,000: raw 60,000 → step 100,000.
    assert list(fig.layout.xaxis.ticktext) == ["€0", "€100 k", "€200 k", "€300 k"]


def test_money_axis_uses_the_reporting_currency_code():
    """MXN has no symbol of its own here: the ISO code is written ('MXN 1 M'), never €."""
    frame = accounts_frame(cost_ttm=[0.0, 0.0, 0.0])
    rows = pl.DataFrame({"component": ["licences", "travel"], "component_group": ["service_costs", "activities"],
                         "cost_ttm": [1_200_000.0, 300_000.0]})
    fig = charts.cost_components_figure(rows, "MXN")
    # range 0..1.5 M (1.2 M × 1.25): raw 300,000 → step 500,000.
    assert list(fig.layout.xaxis.ticktext) == ["MXN 0", "MXN 500 k", "MXN 1 M", "MXN 1.5 M"]
    assert list(fig.data[0].text) == ["MXN 300 k", "MXN 1.2 M"]
    usd = charts.cost_components_figure(rows, "USD")
    assert list(usd.layout.xaxis.ticktext) == ["$0", "$500 k", "$1 M", "$1.5 M"]


def test_stacked_money_bars_size_the_axis_by_their_sum():
    """Two product lines of 600 and 700 in one month stack to 1,300: ticks reach 1,500 (step 500)."""
    monthly = pl.DataFrame({"month": [date(2026, 10, 1), date(2026, 10, 1)], "product_line": ["Pumps", "Valves"],
                            "revenue": [600.0, 700.0]})
    fig = charts.revenue_monthly_figure(monthly, "GBP")
    assert list(fig.layout.yaxis.ticktext) == ["£0", "£500", "£1 k", "£1.5 k"]


def test_insufficient_data_accounts_are_a_grey_group_with_their_coverage():
    frame = accounts_frame(health=[72.0, None, 35.0], band=["green", "insufficient_data", "red"],
                           health_coverage_pct=[100.0, 31.25, 100.0])
    fig = charts.health_bands_figure(frame, 70, 40, missing="activities.csv, contacts.csv")
    grey, scored = fig.data
    assert list(grey.y) == ["&lt;b&gt;Bold&lt;/b&gt; &amp; Co"] and list(grey.customdata) == ["A2"]
    assert grey.marker.color == charts.BAND_COLORS["insufficient_data"] == "#94a3b8"
    assert list(grey.text) == ["insufficient data (coverage 31%)"]
    assert "needs activities.csv, contacts.csv" in grey.hovertext[0]
    assert list(scored.y) == ["Gamma", "Acme"]
    assert list(scored.marker.color) == [charts.BAND_COLORS["red"], charts.BAND_COLORS["green"]]


def test_cost_value_scatter_names_the_insufficient_data_group():
    frame = accounts_frame(cost_to_serve_ttm=[100.0, 300.0, 200.0], lifetime_value=[50.0, 900.0, 400.0],
                           band=["green", "insufficient_data", None], health=[80.0, None, None])
    fig = charts.cost_value_scatter(frame, "EUR")
    assert [t.name for t in fig.data] == ["green", "insufficient data", "no health"]
    assert "health — (insufficient data)" in fig.data[1].hovertext[0]


def test_health_movers_never_show_a_negative_zero():
    movers = pl.DataFrame({"account_id": ["A1", "A2"], "account_name": ["Acme", "Beta"],
                           "health_change": [-0.04, 3.26]})
    fig = charts.health_movers_figure(movers)
    assert list(fig.data[0].text) == ["0.0", "+3.3"]


def test_percent_hovers_are_written_by_the_one_helper():
    """Hover texts carry format_pct's text: 12.345 % → '12.3%', a cumulative −0.04 % → '0.0%' (no negative zero)."""
    frame = accounts_frame(share_of_wallet=[0.12345, None, 0.5], revenue_ttm=[300.0, 100.0, 600.0])
    mutual = charts.mutual_dependence_figure(frame).data[0]
    # their share of our revenue: 300 / 1000 = 30.0 %, 600 / 1000 = 60.0 %.
    assert mutual.hovertext[0] == "Acme<br>our share of their wallet 12.3%<br>their share of our revenue 30.0%"
    whale = pl.DataFrame({"account_id": ["A1", "A2"], "account_name": ["Acme", "Beta"], "rank": [1, 2],
                          "cum_accounts_pct": [50.0, 100.0], "cum_net_contribution_pct": [-0.04, 100.0]})
    trace = charts.whale_curve_figure(whale).data[0]
    assert [list(c) for c in trace.customdata] == [["0.0%", "0.0%"], ["50.0%", "0.0%"], ["100.0%", "100.0%"]]


# ---------------------------------------------------------------- score check

_BANDS = pl.DataFrame({"band": ["green", "amber", "red", "warned", "all"], "pairs": [5, 1, 3, 4, 9],
                       "contracted": [1, 0, 3, 3, 4], "contraction_rate": [0.2, 0.0, 1.0, 0.75, 4 / 9]})


def test_score_check_figure_draws_the_rates_in_percent_per_band():
    fig = charts.score_check_figure(_BANDS)
    assert len(fig.data) == 1 and not fig.layout.showlegend
    assert list(fig.data[0].x) == ["green", "amber", "red", "warned (red or amber)", "all accounts"]
    assert list(fig.data[0].y) == pytest.approx([20.0, 0.0, 100.0, 75.0, 100 * 4 / 9])
    assert fig.data[0].marker.color[0] == charts.BAND_COLORS["green"]
    assert "3 of 3 account-months shrank" in fig.data[0].customdata[2]


def test_score_check_figure_puts_the_what_if_beside_the_settings():
    what_if = _BANDS.with_columns(pl.col("contraction_rate") / 2)
    fig = charts.score_check_figure(_BANDS, what_if)
    assert [t.name for t in fig.data] == ["Settings' weights", "What if"] and fig.layout.barmode == "group"
    assert list(fig.data[1].y) == pytest.approx([10.0, 0.0, 50.0, 37.5, 50 * 4 / 9])


def test_score_check_figures_without_pairs_say_so():
    none = _BANDS.with_columns(pl.lit(0).alias("pairs"), pl.lit(None, pl.Float64).alias("contraction_rate"))
    assert "No account" in charts.score_check_figure(none).layout.annotations[0].text
    assert "No account" in charts.score_check_trend_figure(pl.DataFrame()).layout.annotations[0].text


def test_score_check_trend_figure_has_warned_green_and_all_lines():
    from datetime import date

    by_date = pl.DataFrame({"check_date": [date(2025, 11, 30), date(2025, 12, 31)], "pairs": [4, 5],
                            "contraction_rate_warned": [0.5, 1.0], "contraction_rate_green": [0.0, None],
                            "contraction_rate": [0.25, 0.6]})
    fig = charts.score_check_trend_figure(by_date)
    assert [t.name for t in fig.data] == ["red or amber", "green", "all"]
    assert list(fig.data[0].y) == [50.0, 100.0] and list(fig.data[1].y) == [0.0, None]


def test_programme_size_gauge_of_a_part_of_the_programme_is_not_judged():
    assert charts.programme_size_figure(3, judged=False).data[0].gauge.bar.color == charts.MUTED
    assert charts.programme_size_figure(17, judged=False).data[0].gauge.bar.color == charts.MUTED
