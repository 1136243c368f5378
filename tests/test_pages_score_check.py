"""The Score check page (AppTest): its figures are the engine's, a slider re-runs the check, the kam.toml lines
are the chosen weights, time travel moves the check, and a sparse export says why there is nothing to check."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest

from kam_metrics.app.formatting import format_count, format_ratio
from kam_metrics.load import warehouse
from kam_metrics.metrics import (
    check_dates, default_as_of, score_check_inputs, score_check_misses, score_check_pairs, score_check_summary,
)
from kam_metrics.metrics.score_check import with_weights
from kam_metrics.settings import HEALTH_COMPONENTS, Settings
from tests.test_pages import run, texts

PAGE = "pages/8_Score_check.py"


def _engine(data_dir, as_of: date | None = None, weights: dict | None = None):
    con = warehouse.connect_current(data_dir)
    try:
        as_of = as_of or default_as_of(con)
        settings = with_weights(Settings(), weights) if weights else Settings()
        pairs = score_check_pairs(score_check_inputs(con, as_of), settings)
        return pairs, score_check_summary(pairs, len(check_dates(as_of)))
    finally:
        con.close()


def _tiles(at, row: int = 0) -> dict[str, object]:
    """The tiles of one row (0: the settings' weights, 1: the what-if)."""
    metrics = list(at.metric)
    return {m.label: m for m in metrics[5 * row: 5 * row + 5]}


def _assert_tiles(tiles, s) -> None:
    assert tiles["Precision"].value == format_ratio(s["warning_precision"])
    assert tiles["Recall"].value == format_ratio(s["warning_recall"])
    assert tiles["Lift"].value == f"{s['warning_lift']:.2f}×"
    assert tiles["Account-months checked"].value == format_count(s["pairs"])


def test_tiles_are_the_engines_score_check(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, PAGE)
    assert at.title[0].value == "Score check"
    _, s = _engine(demo_data_dir)
    assert len(at.metric) == 5  # no what-if row while the weights are the settings'
    _assert_tiles(_tiles(at), s)
    assert any("18 month ends from" in t for t in texts(at))
    assert len(at.get("plotly_chart")) == 2
    assert [at.slider(key=f"sc_w_{c}").value for c in HEALTH_COMPONENTS] == [
        Settings().health_weights[c] for c in HEALTH_COMPONENTS]


def test_moving_a_slider_reruns_the_check_beside_the_settings(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, PAGE)
    before = {label: m.value for label, m in _tiles(at).items()}
    at.slider(key="sc_w_relationship").set_value(60).run()
    assert not at.exception
    weights = {**Settings().health_weights, "relationship": 60.0}
    _, expected = _engine(demo_data_dir, weights=weights)
    _, base = _engine(demo_data_dir)
    assert len(at.metric) == 10
    assert {label: m.value for label, m in _tiles(at).items()} == before  # the settings' row stays
    what_if = _tiles(at, 1)
    _assert_tiles(what_if, expected)
    assert (expected["warning_recall"], expected["warning_precision"]) != (base["warning_recall"],
                                                                           base["warning_precision"])
    assert what_if["Recall"].delta == f"{100 * (expected['warning_recall'] - base['warning_recall']):+.1f} pp"
    # the kam.toml lines are the chosen weights, and read back as them
    assert dict(Settings().replace(**{"health_weights": tomllib.loads(at.code[0].value)["health_weights"]})
                .health_weights) == weights
    # the misses table is the what-if's
    pairs, _ = _engine(demo_data_dir, weights=weights)
    shown = at.dataframe[0].value
    assert sorted(shown["account_id"]) == sorted(score_check_misses(pairs)["account_id"].to_list())


def test_reset_returns_to_the_settings_weights(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, PAGE)
    at.slider(key="sc_w_trend").set_value(0).run()
    assert len(at.metric) == 10
    at.button(key="sc_reset").click().run()
    assert len(at.metric) == 5
    assert at.slider(key="sc_w_trend").value == 15


def test_all_weights_zero_keeps_the_settings_and_says_so(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, PAGE)
    for c in HEALTH_COMPONENTS:
        at.slider(key=f"sc_w_{c}").set_value(0)
    at.run()
    assert not at.exception
    assert any("At least one weight must be above 0" in w.value for w in at.warning)
    assert len(at.metric) == 5


def test_time_travel_moves_the_check(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, PAGE, query={"as_of": "2026-06-30"})
    _, s = _engine(demo_data_dir, date(2026, 6, 30))
    _assert_tiles(_tiles(at), s)
    assert any("19 month ends from 2024-06-30 to 2025-12-31" in t for t in texts(at))


def test_a_sparse_export_says_why_there_is_nothing_to_check(monkeypatch, tmp_path):
    from kam_metrics.load.pipeline import load_export
    from tests.conftest import write_export
    from tests.test_pages_sparse import SPARSE_EXPORT

    load_export(write_export(tmp_path / "export", SPARSE_EXPORT, base=False), tmp_path / "data")
    at = run(tmp_path / "data", monkeypatch, PAGE)
    assert len(at.metric) == 0 and not at.get("plotly_chart")
    assert any("too little data for a health score" in t for t in texts(at))


def test_the_demo_stories_show_in_the_tables(demo_data_dir, monkeypatch):
    """The demo's score-check stories (README): the two accounts warned in time are in "Warned in time", the two
    missed ones in "Missed", and the page says in words what the lift means."""
    from kam_metrics.generators.demo.stories import MISSED_CONTRACTION_ACCOUNTS, WARNED_IN_TIME_ACCOUNTS

    at = run(demo_data_dir, monkeypatch, PAGE)
    tables = {d.key: d.value for d in at.dataframe}
    assert set(MISSED_CONTRACTION_ACCOUNTS) <= set(tables["sc_misses"]["account_id"])
    assert set(WARNED_IN_TIME_ACCOUNTS) <= set(tables["sc_hits"]["account_id"])
    _, s = _engine(demo_data_dir)
    assert any(f"({s['warning_lift']:.2f}×)" in t or f"{s['warning_lift']:.1f}×" in t for t in texts(at))


@pytest.mark.parametrize("lift, recall, words", [
    (2.0, 0.5, "2.0× as often as accounts overall: the warning carries information. 50% of the account-months"),
    (1.2, None, "somewhat more often than accounts overall (1.20×): a weak warning."),
    (1.0, 0.6, "about as often as accounts overall (1.00×): on this data the band does not warn"),
])
def test_verdict_in_words(lift, recall, words):
    from kam_metrics.app.views.score_check import verdict_text

    assert words in verdict_text({"warning_lift": lift, "warning_recall": recall})
    assert verdict_text({"warning_lift": None, "warning_recall": None}) is None
