"""What the export lacks and what that switches off, for the screen (kam_metrics.app.absence), on hand-made Presence."""

from __future__ import annotations

import polars as pl

from kam_metrics.app import absence, charts
from kam_metrics.metrics.alerts import ALERT_KINDS, can_fire
from kam_metrics.load.contract import TABLES
from kam_metrics.metrics.presence import Presence


def carried(tables: dict[str, list[str] | None]) -> Presence:
    """A Presence of these tables; None = every contract column of the table."""
    pairs = set()
    for table, columns in tables.items():
        for column in (columns if columns is not None else [c.name for c in TABLES[table].columns]):
            pairs.add((table, column))
    return Presence(frozenset(tables), frozenset(pairs))


# A pipeline-only export: accounts without executive_sponsor and kam_owner, revenue, opportunities.
SPARSE = carried({
    "accounts": ["account_id", "account_name", "is_key_account", "region", "segment"],
    "revenue": None, "opportunities": None,
})


def test_kpis_name_what_would_turn_them_on():
    assert absence.kpi_missing(SPARSE, "cadence_compliance_pct") == "needs reviews.csv"
    assert absence.kpi_missing(SPARSE, "sponsor_coverage_pct") == "needs accounts.executive_sponsor"
    # activities absent: activities.contact_id is reported once, as the file.
    assert absence.kpi_missing(SPARSE, "multithreaded_pct") == "needs activities.csv, contacts.csv"
    assert absence.kpi_missing(SPARSE, "key_open_pipeline") is None
    assert absence.kpi_missing(SPARSE, "key_revenue_growth_pct") is None
    assert absence.kpi_missing(Presence.everything(), "multithreaded_pct") is None


def test_a_missing_column_of_a_present_file_is_named_as_the_column():
    no_contact_id = carried({"accounts": None, "revenue": None, "contacts": None,
                             "activities": ["activity_id", "account_id", "activity_date", "activity_type"]})
    assert absence.account_key_missing(no_contact_id, "engaged_contacts_90d") == "needs activities.contact_id"
    assert absence.kpi_missing(no_contact_id, "multithreaded_pct") == "needs activities.contact_id"


def test_alerts_without_their_inputs_cannot_fire():
    """The engine's table of alert inputs (metrics.alerts.ALERT_INPUTS), which the Weekly review relies on."""
    blind = {alert for alert in ALERT_KINDS if not can_fire(alert, SPARSE)}
    assert {"engagement_drop", "no_touch_30d", "single_threaded", "champion_left", "champion_quiet",
            "cadence_overdue", "no_sponsor", "share_of_wallet_above_1", "goal_off_track"} == blind
    assert [alert for alert in ALERT_KINDS if not can_fire(alert, Presence.everything())] == []


def test_health_inputs_missing_in_order():
    assert absence.health_missing(SPARSE) == ["activities.csv", "surveys.csv", "wallet.csv", "reviews.csv",
                                             "contacts.csv"]


def test_cost_to_serve_is_absent_only_without_any_source():
    assert absence.cost_to_serve_missing(SPARSE) == "needs service_costs.csv, activities.csv or cases.csv"
    with_activities = carried({"accounts": None, "revenue": None, "activities": None})
    assert absence.cost_to_serve_missing(with_activities) is None
    assert absence.cost_sources(with_activities) == (["activities.csv"], ["service_costs.csv", "cases.csv"])


def test_export_gaps_list_files_then_columns_with_what_they_switch_off():
    gaps = absence.export_gaps(SPARSE)
    missing = gaps["missing"].to_list()
    # Files in contract order (activities is required: it is there but empty), then accounts' missing columns.
    assert missing == [
        "fx_rates.csv", "contacts.csv", "goals.csv", "activities.csv (no data rows)", "service_costs.csv",
        "cases.csv", "surveys.csv", "wallet.csv", "actions.csv", "reviews.csv",
        "accounts.parent_account_id", "accounts.industry", "accounts.kam_owner", "accounts.executive_sponsor",
        "accounts.key_account_since", "accounts.relationship_stage", "accounts.created_date",
    ]
    switched = dict(gaps.iter_rows())
    assert switched["reviews.csv"].startswith("plan_current, review_current, cadence_status, the cadence component, "
                                              "cadence_compliance_pct, the cadence_overdue alerts")
    assert "sponsor_coverage_pct" in switched["accounts.executive_sponsor"]
    assert switched["accounts.industry"] == "no figure: shown empty where it is listed"
    assert absence.export_gaps(Presence.everything()).is_empty()


def test_pipeline_against_headroom_chart():
    """A1: pipeline 40,000 against headroom 80,000 → label 50.0%; A2: no wallet estimate → no label."""
    accounts = pl.DataFrame({"account_id": ["A1", "A2"], "account_name": ["Acme", "Beta"],
                             "open_pipeline": [40_000.0, 25_000.0], "wallet_headroom": [80_000.0, None],
                             "pipeline_to_headroom": [0.5, None]})
    fig = charts.pipeline_headroom_figure(accounts, "USD")
    headroom, pipeline = fig.data
    # Sorted by headroom + pipeline: Beta 25,000, then Acme 120,000.
    assert list(pipeline.y) == ["Beta", "Acme"] and list(pipeline.x) == [25_000.0, 40_000.0]
    assert list(headroom.x) == [0.0, 80_000.0]
    assert list(pipeline.text) == ["", "50.0%"]
    assert pipeline.customdata[1] == "$40.0 k · 50.0% of headroom"
    assert list(fig.layout.xaxis.ticktext) == ["$0", "$20 k", "$40 k", "$60 k", "$80 k"]
    assert charts.pipeline_headroom_figure(accounts.drop("open_pipeline")).layout.annotations[0].text.startswith(
        "No open pipeline")
