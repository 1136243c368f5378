"""Every page on a sparse export (issue 12): absent is not zero, on screen.

A pipeline-only CRM export modelled on the real one of issue 12: accounts (no executive_sponsor, no kam_owner),
revenue and opportunities; activities.csv with only its header (so the table is absent); no contacts, reviews,
wallet or surveys. The data says nothing about engagement, relationships or cadence, so no page may show a red
key account, a 0.0 % for an absent input or an engagement alert, and the Data page names what is missing.
"""

from __future__ import annotations

import json

import pytest

from kam_metrics import metrics
from kam_metrics.load import warehouse
from kam_metrics.load.pipeline import load_export
from kam_metrics.metrics.presence import presence
from tests.conftest import write_export
from tests.test_pages import PAGES, run, texts, tiles

SPARSE_EXPORT = {
    "accounts.csv": """\
        account_id,account_name,is_key_account,region,segment
        A1,Acme Industrial,true,EMEA,Enterprise
        A2,Beta Logistics,false,Americas,Mid-market
        A3,Gamma Foods,true,APAC,Enterprise
        A4,Delta Mining,true,EMEA,Enterprise
        """,
    "activities.csv": """\
        activity_id,account_id,activity_date,activity_type,contact_id,duration_minutes
        """,
    "revenue.csv": """\
        revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency
        R1,A1,2026-10-01,120000,70000,Pumps,EUR
        R2,A1,2025-10-01,100000,60000,Pumps,EUR
        R3,A2,2026-10-01,50000,30000,Valves,EUR
        R4,A3,2026-09-01,80000,50000,Pumps,EUR
        R5,A4,2026-11-01,60000,40000,Valves,EUR
        """,
    "opportunities.csv": """\
        opportunity_id,account_id,name,stage,amount,close_date,is_closed,is_won,product_line,currency,created_date
        O1,A1,Pump retrofit,Negotiation,40000,2027-02-01,false,false,Pumps,EUR,2026-09-01
        O2,A1,Spares 2026,Closed Won,10000,2026-06-01,true,true,Pumps,EUR,2026-03-01
        O3,A3,Valve upgrade,Proposal,25000,2027-01-15,false,false,Valves,EUR,2026-10-01
        O4,A4,Line extension,Closed Lost,30000,2026-08-01,true,false,Valves,EUR,2026-05-01
        """,
}

# Alerts built on activities or contacts: they cannot fire without them (METRICS.md "Data that is not there").
ENGAGEMENT_ALERTS = {"engagement_drop", "no_touch_30d", "single_threaded", "champion_left", "champion_quiet",
                     "cadence_overdue", "no_sponsor"}
RED = "#dc2626"


@pytest.fixture(scope="module")
def sparse_data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sparse")
    folder = write_export(root / "export", SPARSE_EXPORT, base=False)
    load_export(folder, root / "data")
    return root / "data"


def _engine_accounts(data_dir):
    con = warehouse.connect_snapshot(warehouse.current_snapshot_path(data_dir))
    try:
        return metrics.account_metrics(con), presence(con)
    finally:
        con.close()


def _figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _red_key_account_in_figures(at) -> bool:
    """Whether a health chart on the page colours a bar red."""
    for figure in _figures(at):
        for trace in figure.get("data", []):
            colors = (trace.get("marker") or {}).get("color")
            if colors == RED or (isinstance(colors, list) and RED in colors):
                return True
    return False


def test_the_sparse_export_lacks_activities_contacts_reviews_wallet(sparse_data_dir):
    _, carried = _engine_accounts(sparse_data_dir)
    assert carried.missing("activities") == "activities.csv"  # a header only: absent
    assert carried.missing("accounts", "executive_sponsor") == "accounts.executive_sponsor"
    assert carried.missing("reviews") == "reviews.csv" and carried.missing("wallet") == "wallet.csv"
    assert carried.has("opportunities")


def test_no_key_account_is_red_in_the_engine(sparse_data_dir):
    """Needs the absence helper's engine change: with activities, contacts, reviews and wallet absent only
    profitability is left (15 of the 115 weight that applies to a key account = 13.0 % < 50 %): band insufficient_data."""
    accounts, _ = _engine_accounts(sparse_data_dir)
    keys = accounts.filter(accounts["is_key_account"])
    assert keys.height == 3
    assert "red" not in set(keys["band"].to_list())
    assert set(keys["band"].to_list()) == {"insufficient_data"}


def test_weekly_review_shows_absent_kpis_as_dashes_with_what_turns_them_on(sparse_data_dir, monkeypatch):
    at = run(sparse_data_dir, monkeypatch)
    shown = tiles(at)
    for label, needs in (("Sponsor coverage", "needs accounts.executive_sponsor"),
                         ("Cadence compliance", "needs reviews.csv"),
                         ("Multi-threaded", "needs activities.csv, contacts.csv"),
                         ("Programme NPS", "needs surveys.csv")):
        assert shown[label].value == "—", (label, shown[label].value)
        assert needs in str(shown[label].proto), (label, needs)
    assert not any(m.value == "0.0%" for m in at.metric)
    # Key revenue is there: revenue.csv is present (A1 120,000 + A3 80,000 + A4 60,000 in the 12 months).
    assert shown["Key revenue TTM"].value == "€260 k"  # 260,000 ≥ 100 k: no decimal


def test_weekly_review_lists_no_engagement_alert(sparse_data_dir, monkeypatch):
    at = run(sparse_data_dir, monkeypatch)
    alerts = at.dataframe[0].value if at.dataframe else None
    fired = set(alerts["alert"]) if alerts is not None and "alert" in alerts.columns else set()
    assert not fired & ENGAGEMENT_ALERTS, fired


def test_weekly_review_shows_no_red_key_account(sparse_data_dir, monkeypatch):
    """Needs the absence helper's engine change (today every key account is red)."""
    at = run(sparse_data_dir, monkeypatch)
    summary = [t for t in texts(at) if " green · " in t]
    assert summary and "0 red" in summary[0], summary
    assert "3 insufficient data" in summary[0] and "needs activities.csv" in summary[0]
    assert not _red_key_account_in_figures(at)


# Tiles built on an absent input, per page: each shows "—" and what would turn it on, never 0 or 0.0 %.
ABSENT_TILES = {
    None: {"Programme NPS": "needs surveys.csv", "Sponsor coverage": "needs accounts.executive_sponsor",
           "Cadence compliance": "needs reviews.csv", "Multi-threaded": "needs activities.csv, contacts.csv"},
    "pages/2_Engagement.py": {"Touches, last 90 days": "needs activities.csv",
                              "Weighted touches, last 90 days": "needs activities.csv",
                              "Engagement down ≥ 25 %": "needs activities.csv",
                              "C-level reached": "needs activities.csv, contacts.csv",
                              # single_threaded needs activity contact ids only (METRICS.md), not contacts.csv
                              "Single-threaded key accounts": "needs activities.csv"},
    "pages/4_Cost_to_serve.py": {"Cost to serve TTM": "needs service_costs.csv, activities.csv or cases.csv"},
    "pages/5_Programme_goals.py": {"Sponsor coverage": "needs accounts.executive_sponsor",
                                   "Cadence compliance": "needs reviews.csv",
                                   "Multi-threaded": "needs activities.csv, contacts.csv"},
    "pages/6_Account.py": {"Share of wallet": "needs wallet.csv", "Engaged contacts (90 d)": "needs activities.csv",
                           "Days since last touch": "needs activities.csv", "Plan cadence": "needs reviews.csv"},
}


@pytest.mark.parametrize("page", [None, *PAGES])
def test_no_page_shows_a_zero_percent_for_an_absent_input_or_a_red_key_account(sparse_data_dir, monkeypatch, page):
    at = run(sparse_data_dir, monkeypatch, page)
    assert not at.error, [e.value for e in at.error]
    shown = tiles(at)
    for label, needs in ABSENT_TILES.get(page, {}).items():
        assert shown[label].value == "—" and needs in str(shown[label].proto), (page, label, shown[label].value)
    for metric in at.metric:
        if "needs " in str(metric.proto):
            assert metric.value == "—", (page, metric.label, metric.value)
    if page != "pages/9_Data.py":
        assert not _red_key_account_in_figures(at), page


def test_account_page_heading_shows_insufficient_data_in_grey(sparse_data_dir, monkeypatch):
    """Needs the absence helper's engine change (band insufficient_data, health_coverage_pct)."""
    at = run(sparse_data_dir, monkeypatch, "pages/6_Account.py", query={"account_id": "A1"})
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert badges and badges[0].startswith(":gray-badge[insufficient data]"), badges
    assert "needs activities.csv" in badges[0].replace("\\", "")  # as shown: the markdown escapes removed
    shown = tiles(at)
    assert shown["Engaged contacts (90 d)"].value == "—" and "needs activities.csv" in str(
        shown["Engaged contacts (90 d)"].proto)
    assert shown["Days since last touch"].value == "—"
    assert shown["Share of wallet"].value == "—" and "needs wallet.csv" in str(shown["Share of wallet"].proto)


def test_data_page_names_what_the_export_lacks_and_what_it_switches_off(sparse_data_dir, monkeypatch):
    at = run(sparse_data_dir, monkeypatch, "pages/9_Data.py")
    assert any("What this export lacks" in t for t in texts(at))
    summary = [t for t in texts(at) if t.startswith("Not in this export:")]
    assert summary and all(name in summary[0] for name in ("contacts", "reviews", "wallet", "activities"))
    # accounts.csv carries 5 of its 12 contract columns: parent_account_id, industry, kam_owner, executive_sponsor,
    # key_account_since, relationship_stage and created_date are missing; revenue and opportunities carry all theirs.
    assert "and 7 columns of the files it has" in summary[0]
    gaps = at.dataframe[1].value
    missing = list(gaps["missing"])
    for item in ("activities.csv (no data rows)", "contacts.csv", "reviews.csv", "wallet.csv", "surveys.csv",
                 "accounts.executive_sponsor", "accounts.kam_owner"):
        assert item in missing, (item, missing)
    assert "opportunities.csv" not in missing  # it is there
    switched = dict(zip(gaps["missing"], gaps["switches_off"]))
    assert "cadence_compliance_pct" in switched["reviews.csv"] and "cadence_overdue" in switched["reviews.csv"]
    assert "sponsor_coverage_pct" in switched["accounts.executive_sponsor"]
    assert "no_touch_30d" in switched["activities.csv (no data rows)"]


def test_the_open_pipeline_is_shown_on_the_review_share_of_wallet_and_account_pages(sparse_data_dir, monkeypatch):
    """METRICS.md "Pipeline" at as_of 2026-11-01 (R5, the latest revenue date): O1 (A1, 40,000, created 2026-09-01)
    and O3 (A3, 25,000, created 2026-10-01) are open; O2 is won and O4 lost. Key open pipeline 65,000."""
    at = run(sparse_data_dir, monkeypatch)
    assert tiles(at)["Key open pipeline"].value == "€65.0 k"
    at = run(sparse_data_dir, monkeypatch, "pages/3_Share_of_wallet.py")
    assert "Pipeline against headroom" in texts(at)
    pipeline = [f for f in _figures(at) if any("pipeline" in str(t.get("name", "")).lower() for t in f["data"])]
    assert pipeline, "no pipeline chart"
    bars = {trace["name"]: trace for trace in pipeline[0]["data"]}
    drawn = [b for name, b in bars.items() if "pipeline" in name.lower()][0]
    assert sorted(v for v in drawn["x"] if v) == [25000, 40000]
    at = run(sparse_data_dir, monkeypatch, "pages/6_Account.py", query={"account_id": "A1"})
    assert "Open deals" in texts(at)
    deals = [frame.value for frame in at.dataframe if "opportunity_id" in frame.value.columns
             or "name" in frame.value.columns]
    assert deals and list(deals[0]["amount"]) == [40000.0]
