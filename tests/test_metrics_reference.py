"""The metrics reference: docs/METRICS_REFERENCE.md is generated from kam_metrics/metrics/reference.py and up to date,
and every key any metrics function or report outputs has a definition."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kam_metrics.load import warehouse
from kam_metrics.metrics import (
    ALERT_KINDS, PROGRAMME_KEYS, account_metrics, alerts, cost_to_serve_breakdown, engagement_weekly, goals_status,
    health_history, health_movement, portfolio_concentration, programme_kpis, selection_candidates,
    wallet_by_product_line, wallet_by_year, whale_curve,
)
from kam_metrics.metrics.reference import REFERENCE_PATH, definition_of, metric_definitions, render_reference, write_reference
from kam_metrics.report import REPORT_KINDS, report_frame


def test_reference_file_is_up_to_date():
    assert REFERENCE_PATH.is_file(), "run: uv run python -m kam_metrics.metrics.reference"
    assert REFERENCE_PATH.read_text(encoding="utf-8") == render_reference(), (
        "docs/METRICS_REFERENCE.md is stale: run `uv run python -m kam_metrics.metrics.reference`"
    )


def test_write_reference_renders_every_key(tmp_path):
    path = write_reference(tmp_path / "ref.md")
    text = path.read_text(encoding="utf-8")
    for key in metric_definitions():
        assert f"| `{key}` |" in text


def test_definitions_are_complete_records():
    defs = metric_definitions()
    assert len(defs) > 100
    for key, d in defs.items():
        assert d.key == key
        assert d.definition.strip() and d.label.strip() and d.section.strip()
        assert d.unit in {"count", "money", "pct", "ratio", "days", "bool", "score", "text", "date", "year", "id"}
    assert "revenue_ttm" in definition_of("share_of_wallet")
    assert definition_of("no_such_key") == ""


def test_defaults_in_the_definitions_come_from_the_settings():
    assert "weights email 1, call 2, meeting 3" in definition_of("weighted_touches_90d")
    assert "retention r = 0.9" in definition_of("lifetime_value")
    assert "green when health ≥ 70, amber when ≥ 40" in definition_of("band")


@pytest.fixture(scope="module")
def con(demo_data_dir):
    connection = warehouse.connect_current(demo_data_dir)
    yield connection
    connection.close()


def test_every_output_column_has_a_definition(con):
    as_of = date(2026, 11, 20)
    frames = {
        "account_metrics": account_metrics(con, as_of),
        "cost_to_serve_breakdown": cost_to_serve_breakdown(con, as_of),
        "engagement_weekly": engagement_weekly(con, as_of),
        "health_history": health_history(con, as_of),
        "health_movement": health_movement(con, as_of - timedelta(days=7), as_of),
        "wallet_by_product_line": wallet_by_product_line(con, as_of),
        "wallet_by_year": wallet_by_year(con, as_of),
        "whale_curve": whale_curve(con, as_of),
        "portfolio_concentration": portfolio_concentration(con, as_of),
        "programme_kpis": programme_kpis(con, as_of),
        "goals_status": goals_status(con, as_of),
        "selection_candidates": selection_candidates(con, as_of),
        "alerts": alerts(con, as_of),
        **{f"report {k}": report_frame(k, con, as_of) for k in REPORT_KINDS},
    }
    defs = metric_definitions()
    missing = {name: [c for c in f.columns if c not in defs] for name, f in frames.items()}
    assert {k: v for k, v in missing.items() if v} == {}
    for key in (*PROGRAMME_KEYS, *ALERT_KINDS):
        assert key in defs, key
    # the programme rows are exactly the Programme keys
    assert programme_kpis(con, as_of)["key"].to_list() == list(PROGRAMME_KEYS)
