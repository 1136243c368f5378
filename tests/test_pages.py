"""Every page through Streamlit's AppTest: renders, shows the metrics engine's figures, follows the filters.

The app is started from its entrypoint (app.py) and other pages are reached with switch_page, as a browser
would. Expected values come from the metrics engine on the same snapshot, as_of and filters.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kam_metrics import metrics

from kam_metrics.metrics import queries

from kam_metrics.load import warehouse
from kam_metrics.generators.demo import (
    CHAMPION_LEFT_ACCOUNT, OFF_TRACK_GOAL_ID, PROMOTION_CANDIDATE_ACCOUNT, VALUE_DESTROYER_ACCOUNT,
)
from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.app.formatting import format_metric, format_metric_delta
from kam_metrics.load.pipeline import load_export
from kam_metrics.settings import Settings
from kam_metrics.app.frame import LOAD_HINT
from tests.conftest import write_export

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
PAGES = [
    "pages/2_Engagement.py", "pages/3_Share_of_wallet.py", "pages/4_Cost_to_serve.py", "pages/5_Programme_goals.py",
    "pages/6_Account.py", "pages/7_Key_account_selection.py", "pages/8_Score_check.py", "pages/9_Data.py",
]
# Home tiles → programme_kpis keys.
HOME_TILES = {
    "Key accounts": "key_account_count",
    "Key revenue growth": "key_revenue_growth_pct",
    "Programme NPS": "programme_nps",
    "Mean health (key accounts)": "health_mean",
    "Sponsor coverage": "sponsor_coverage_pct",
    "Cadence compliance": "cadence_compliance_pct",
    "Multi-threaded": "multithreaded_pct",
}


def run(data_dir: Path, monkeypatch, page: str | None = None, query: dict | None = None,
        timeout: int = 90) -> AppTest:
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("KAM_CONFIG", raising=False)
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query or {})
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    """Every piece of Markdown-rendered text on the page (titles, captions, alerts, markdown)."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [str(e.label) for e in at.expander]
    return out


def tiles(at: AppTest) -> dict[str, object]:
    return {m.label: m for m in at.metric}


def qp(at: AppTest, name: str) -> list[str]:
    """A URL query parameter as a list (AppTest gives one value as a str)."""
    value = at.query_params.get(name, [])
    return value if isinstance(value, list) else [value]


def engine(data_dir: Path):
    return warehouse.connect_current(data_dir)


def expected_programme(data_dir: Path, as_of: date | None, filters: Filters) -> tuple[date, dict]:
    con = engine(data_dir)
    try:
        as_of = as_of or metrics.default_as_of(con)
        rows = metrics.programme_kpis(con, as_of, filters, Settings())
        return as_of, {r["key"]: r for r in rows.iter_rows(named=True)}
    finally:
        con.close()


def key_revenue(data_dir: Path, as_of: date, filters: Filters) -> float:
    con = engine(data_dir)
    try:
        rows = metrics.account_metrics(con, as_of, filters, Settings()).iter_rows(named=True)
        return sum(r["revenue_ttm"] or 0.0 for r in rows if r["is_key_account"])
    finally:
        con.close()


def assert_home_matches(at: AppTest, data_dir: Path, as_of: date | None, filters: Filters) -> dict:
    as_of, expected = expected_programme(data_dir, as_of, filters)
    shown = tiles(at)
    for label, key in HOME_TILES.items():
        assert shown[label].value == format_metric(key, expected[key]["value"]), label
        change = expected[key]["change"]
        if change is not None:
            delta = format_metric_delta(key, change)
            # A change that rounds to nothing at the precision shown is a flat (grey) 0.
            flat = not any(ch in "123456789" for ch in delta)
            assert shown[label].delta == ("0" if flat else delta), label
    assert shown["Key revenue TTM"].value == format_metric("revenue_ttm", key_revenue(data_dir, as_of, filters))
    return expected


# ---------------------------------------------------------------- the demo


def test_home_kpis_equal_the_metrics_engine(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch)
    assert at.title[0].value == "Weekly review"
    assert_home_matches(at, demo_data_dir, None, NO_FILTERS)
    assert len(at.get("plotly_chart")) >= 2
    alerts = at.dataframe[0].value
    assert CHAMPION_LEFT_ACCOUNT in set(alerts["account_id"])
    assert any("data as of" in t for t in texts(at))


def test_every_kpi_has_its_definition_as_help(demo_data_dir, monkeypatch):
    for page in [None, *PAGES]:
        at = run(demo_data_dir, monkeypatch, page)
        for metric in at.metric:
            assert metric.help, f"{page or 'home'}: '{metric.label}' has no help"
    at = run(demo_data_dir, monkeypatch)
    assert "nps_365d over all responses of key accounts" in tiles(at)["Programme NPS"].help


def test_changing_a_filter_changes_the_kpis_and_the_url(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch)
    regions = queries.filter_options(engine(demo_data_dir))["regions"]
    before = {m.label: m.value for m in at.metric}
    guidance_before = tiles(at)["Key accounts"].proto.delta_description
    at.multiselect(key="kam_widget_regions").set_value([regions[0]]).run()
    assert not at.exception
    filters = Filters(regions=(regions[0],))
    assert_home_matches(at, demo_data_dir, None, filters)
    after = {m.label: m.value for m in at.metric}
    assert after != before
    assert qp(at, "region") == [regions[0]]

    # a region's key accounts are not judged against the programme-wide 5–25 guidance
    assert tiles(at)["Key accounts"].proto.delta_description == (
        "of a part; the 5–25 guidance is programme-wide")
    assert guidance_before == "within the 5–25 guidance"  # the demo programme's 17
    at.toggle(key="kam_widget_key_only").set_value(True).run()
    assert qp(at, "key_only") == ["true"]
    assert_home_matches(at, demo_data_dir, None, Filters(regions=(regions[0],), key_only=True))


def test_a_link_reproduces_the_view(demo_data_dir, monkeypatch):
    con = engine(demo_data_dir)
    regions = queries.filter_options(con)["regions"]
    con.close()
    at = run(demo_data_dir, monkeypatch, query={"region": regions[-1], "as_of": "2026-06-30", "bogus": "x"})
    assert at.date_input(key="kam_widget_as_of").value == date(2026, 6, 30)
    assert at.multiselect(key="kam_widget_regions").value == [regions[-1]]
    assert_home_matches(at, demo_data_dir, date(2026, 6, 30), Filters(regions=(regions[-1],)))
    assert any("(time travel)" in t for t in texts(at))


def test_invalid_link_values_are_ignored(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, query={"region": "Atlantis", "as_of": "not-a-date", "key_only": "maybe"})
    assert at.multiselect(key="kam_widget_regions").value == []
    assert_home_matches(at, demo_data_dir, None, NO_FILTERS)


def test_filters_persist_across_pages(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch)
    con = engine(demo_data_dir)
    segments = queries.filter_options(con)["segments"]
    con.close()
    at.multiselect(key="kam_widget_segments").set_value([segments[0]]).run()
    at.switch_page("pages/2_Engagement.py").run()
    assert not at.exception
    assert at.multiselect(key="kam_widget_segments").value == [segments[0]]
    assert qp(at, "segment") == [segments[0]]
    table = at.dataframe[0].value
    con = engine(demo_data_dir)
    expected = metrics.account_metrics(con, None, Filters(segments=(segments[0],)), Settings())
    con.close()
    assert set(table["account_id"]) == set(expected["account_id"])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_demo(demo_data_dir, monkeypatch, page):
    at = run(demo_data_dir, monkeypatch, page)
    assert not at.error, [e.value for e in at.error]
    if page != "pages/9_Data.py":
        assert len(at.get("plotly_chart")) >= 2
    assert len(at.download_button) >= len(at.dataframe) >= 1  # every table has a CSV download


def test_engagement_table_is_sorted_by_trend(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, "pages/2_Engagement.py")
    table = at.dataframe[0].value
    trends = [t for t in table["engagement_trend_pct"] if t == t]  # without NaN
    assert trends == sorted(trends)
    con = engine(demo_data_dir)
    expected = metrics.account_metrics(con, None, NO_FILTERS, Settings())
    con.close()
    first = table.iloc[0]
    row = expected.filter(expected["account_id"] == first["account_id"]).row(0, named=True)
    assert first["engagement_trend_pct"] == pytest.approx(row["engagement_trend_pct"])


def test_cost_page_shows_the_value_destroyer(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, "pages/4_Cost_to_serve.py")
    destroyers = at.dataframe[0].value
    assert VALUE_DESTROYER_ACCOUNT in set(destroyers["account_id"])
    assert (destroyers["net_contribution_ttm"] < 0).all()


def test_selection_page_lists_the_promotion_candidate(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, "pages/7_Key_account_selection.py")
    promote = at.dataframe[0].value
    assert PROMOTION_CANDIDATE_ACCOUNT in set(promote["account_id"])
    assert set(promote["candidate"]) == {"promote"}


def test_goals_page_shows_the_off_track_goal(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, "pages/5_Programme_goals.py")
    programme = at.dataframe[0].value
    row = programme[programme["goal_id"] == OFF_TRACK_GOAL_ID].iloc[0]
    assert row["status"] == "off_track"
    cadence = at.dataframe[2].value
    assert "overdue" in set(cadence["cadence_status"])


def test_account_deep_link_opens_that_account(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, "pages/6_Account.py", query={"account_id": CHAMPION_LEFT_ACCOUNT})
    assert at.selectbox(key="kam_account_pick").value == CHAMPION_LEFT_ACCOUNT
    con = engine(demo_data_dir)
    name = queries.account_profile(con, CHAMPION_LEFT_ACCOUNT)["account_name"]
    row = metrics.account_metrics(con, None, NO_FILTERS, Settings()).filter(
        metrics.account_metrics(con, None, NO_FILTERS, Settings())["account_id"] == CHAMPION_LEFT_ACCOUNT
    ).row(0, named=True)
    con.close()
    assert name in at.header[0].value.replace("\\", "")
    assert any("champion" in w.value.lower() for w in at.warning)
    assert tiles(at)["Health"].value == format_metric("health", row["health"])
    assert tiles(at)["Revenue TTM"].value == format_metric("revenue_ttm", row["revenue_ttm"])
    assert qp(at, "account_id") == [CHAMPION_LEFT_ACCOUNT]


def test_account_page_says_which_relationship_penalty_applies(demo_data_dir, monkeypatch):
    # Nordhavn's champion left last month: the relationship map's table says so, and health is capped (amber)
    at = run(demo_data_dir, monkeypatch, "pages/6_Account.py", query={"account_id": CHAMPION_LEFT_ACCOUNT})
    con = engine(demo_data_dir)
    frame = metrics.account_metrics(con, None, NO_FILTERS, Settings())
    con.close()
    row = frame.filter(frame["account_id"] == CHAMPION_LEFT_ACCOUNT).row(0, named=True)
    assert row["champion_left"] and row["band"] == "amber" and row["health"] <= 69.0
    assert row["contribution_cap"] < 0  # without the cap it would be green
    penalties = next(d.value for d in at.dataframe if "penalty" in d.value.columns)
    left = penalties[penalties["penalty"] == "Champion left"].iloc[0]
    assert left["status"] == "applies" and left["points_off"] == -60
    assert "left in the last 90 days" in left["why"]
    score = f"{row['score_relationship']:.0f}"
    assert any(t.startswith(f"**Relationship score {score} of 100") for t in texts(at)), texts(at)


def test_account_picker_changes_the_url(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, "pages/6_Account.py")
    at.selectbox(key="kam_account_pick").set_value(VALUE_DESTROYER_ACCOUNT).run()
    assert not at.exception
    assert qp(at, "account_id") == [VALUE_DESTROYER_ACCOUNT]
    assert any("destroys value" in w.value.lower() for w in at.warning)


def test_unknown_account_id_warns(demo_data_dir, monkeypatch):
    at = run(demo_data_dir, monkeypatch, "pages/6_Account.py", query={"account_id": "NOPE-1"})
    assert any("NOPE" in w.value for w in at.warning)
    # no other account is shown in its place until one is picked
    assert at.selectbox(key="kam_account_pick").value is None
    assert not at.header and not at.metric
    at.selectbox(key="kam_account_pick").set_value(VALUE_DESTROYER_ACCOUNT).run()
    assert not at.exception and not any("NOPE" in w.value for w in at.warning)
    assert qp(at, "account_id") == [VALUE_DESTROYER_ACCOUNT] and at.header and at.metric


# ---------------------------------------------------------------- other data directories


@pytest.mark.parametrize("page", [None, *PAGES])
def test_without_a_snapshot_pages_say_how_to_load_one(tmp_path, monkeypatch, page):
    at = run(tmp_path / "empty", monkeypatch, page)
    assert any(LOAD_HINT in t for t in texts(at))
    assert not at.error


@pytest.fixture
def minimal_data_dir(tmp_path_factory):
    """The three required tables only, with one quarantined row."""
    root = tmp_path_factory.mktemp("minimal")
    folder = write_export(root / "export", {"revenue.csv": """\
        revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency
        R1,A1,2026-10-01,1000,300,Pumps,EUR
        R2,A2,2026-10-01,500,,Valves,
        R3,A3,2026-09-01,-50,0,Pumps,EUR
        R4,A9,2026-09-01,50,0,Pumps,EUR
        """})
    load_export(folder, root / "data")
    return root / "data"


@pytest.mark.parametrize("page", [None, *PAGES])
def test_an_export_with_only_the_required_tables_renders(minimal_data_dir, monkeypatch, page):
    at = run(minimal_data_dir, monkeypatch, page)
    assert not at.error, [e.value for e in at.error]
    hints = " ".join(texts(at))
    if page == "pages/3_Share_of_wallet.py":
        assert "Add wallet.csv to your export" in hints
    if page == "pages/5_Programme_goals.py":
        assert "Add goals.csv to your export" in hints and "Add reviews.csv to your export" in hints
    if page == "pages/6_Account.py":
        assert "Add contacts.csv to your export" in hints
        assert not any("cadence overdue" in w.value.lower() for w in at.warning), "no reviews.csv: no cadence verdict"
    if page is None:
        alerts = at.dataframe[0].value if at.dataframe else None
        assert alerts is None or "cadence_overdue" not in set(alerts["alert"])
        assert "needs reviews.csv" in str(tiles(at)["Cadence compliance"].proto)


def test_data_page_filters_the_quarantine(minimal_data_dir, monkeypatch):
    at = run(minimal_data_dir, monkeypatch, "pages/9_Data.py")
    quarantine = at.dataframe[-1].value
    assert list(quarantine["value"]) == ["A9"]
    at.selectbox(key="data_q_table").set_value("revenue").run()
    reason = queries_reason(minimal_data_dir)
    at.selectbox(key="data_q_reason").set_value(reason).run()
    assert not at.exception
    assert list(at.dataframe[-1].value["column"]) == ["account_id"]
    assert at.selectbox(key="data_q_table").options == ["All tables", "revenue"]


def queries_reason(data_dir: Path) -> str:
    con = engine(data_dir)
    try:
        return queries.quarantine_reasons(con)["reason"][0]
    finally:
        con.close()


def test_a_new_load_switches_the_session_and_says_so(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    load_export(write_export(tmp_path / "e1", {}), data_dir)
    at = run(data_dir, monkeypatch)
    assert tiles(at)["Key accounts"].value == "2"
    load_export(write_export(tmp_path / "e2", {"accounts.csv": """\
        account_id,account_name,is_key_account,region,segment,kam_owner,executive_sponsor
        A1,Acme Industrial,true,EMEA,Enterprise,Kim Lee,Dana Ortiz
        A2,Beta Logistics,true,Americas,Mid-market,,
        A3,Gamma Foods,yes,APAC,Enterprise,Kim Lee,
        """}), data_dir)
    at.run()
    assert not at.exception
    assert tiles(at)["Key accounts"].value == "3"
    assert any(t.startswith("Data updated: as of") for t in texts(at))
    at.run()
    assert not any(t.startswith("Data updated") for t in texts(at)), "said once, not on every rerun"


def test_crm_text_is_never_rendered_as_markdown(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    load_export(write_export(tmp_path / "e", {"accounts.csv": """\
        account_id,account_name,is_key_account,region,segment,kam_owner,executive_sponsor
        A1,[click me](http://evil.example) **bold** <img src=x onerror=alert(1)>,true,EMEA,Enterprise,$x$,:red[boo]
        A2,Beta Logistics,false,Americas,Mid-market,,
        A3,Gamma Foods,yes,APAC,Enterprise,Kim Lee,
        """}), data_dir)
    for page in [None, "pages/6_Account.py"]:
        at = run(data_dir, monkeypatch, page, query={"account_id": "A1"})
        for text in texts(at):
            for live in (r"\]\(http", r"\*\*bold", r"<img", r":red\[", r"\$x"):
                # Markdown syntax counts only when its first character is not escaped with a backslash.
                assert not re.search(r"(?<!\\)" + live, text), (live, text)
    assert "click me" in at.header[0].value


def test_upload_loads_an_export_from_the_browser(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    at = run(data_dir, monkeypatch, "pages/9_Data.py")
    assert any(LOAD_HINT in t for t in texts(at))
    from tests.conftest import BASE_EXPORT

    uploader = at.file_uploader(key="kam_upload_files")
    for name, text in BASE_EXPORT.items():
        uploader.upload(name, textwrap.dedent(text).encode("utf-8"))
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert warehouse.current_snapshot_path(data_dir) is not None
    assert any(t.startswith("Loaded: snapshot") for t in texts(at))
    assert [d.value for d in at.dataframe][0] is not None


def test_uploads_can_be_turned_off(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "kam.toml").write_text("upload_enabled = false\n", encoding="utf-8")
    at = run(data_dir, monkeypatch, "pages/9_Data.py")
    assert not at.file_uploader
    assert any("Uploads are turned off" in t for t in texts(at))


def test_a_broken_settings_file_is_reported(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "kam.toml").write_text("no_such_setting = 1\n", encoding="utf-8")
    at = run(data_dir, monkeypatch)
    assert at.error and "no_such_setting" in at.error[0].value.replace("\\", "")


# ---------------------------------------------------------------- pages call metrics and queries as functions

STREAMLIT_SOURCES = [REPO / "app.py", *sorted((REPO / "pages").glob("*.py")),
                     *sorted((REPO / "kam_metrics" / "app").rglob("*.py"))]


def _calls_by_name(path: Path) -> list[str]:
    """`x.metric("…")`, `x.query("…")` or `x.movement("…")` calls in a file: a figure reached by its name."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("metric", "query", "movement") and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append(f"{path.name}:{node.lineno} {node.func.attr}({node.args[0].value!r})")
    return found


def test_pages_and_views_pass_metric_and_query_functions_not_names():
    assert len(STREAMLIT_SOURCES) >= 8 + 8  # the eight pages and the eight view modules at least
    assert [call for path in STREAMLIT_SOURCES for call in _calls_by_name(path)] == []


def test_pages_hold_no_polars_and_no_sql():
    for path in [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        assert "import polars" not in text and "pl." not in text, path.name
        assert "duckdb" not in text and not re.search(r"\bSELECT\b", text), path.name


def test_a_metric_or_query_given_by_name_is_refused(tmp_path):
    from kam_metrics.app.frame import View, qualified_name
    from kam_metrics.metrics import portfolio

    view = View(snapshot_path=str(tmp_path / "none.duckdb"), as_of=date(2024, 1, 7), filters=NO_FILTERS,
                settings=Settings(), status=None, default_as_of=date(2024, 1, 7))
    with pytest.raises(TypeError, match="function itself"):
        view.metric("account_metrics")
    with pytest.raises(TypeError, match="function itself"):
        view.query("account_profile", "A1")
    with pytest.raises(TypeError, match="not a function of kam_metrics.metrics"):
        view.metric(lambda con, as_of, filters: None)
    with pytest.raises(TypeError, match="not a function of kam_metrics.metrics"):
        view.query(portfolio.portfolio_total, "revenue_ttm")  # pure, not a snapshot reader
    # The cache key is the defining module and qualified name, so two functions never share an entry.
    account_metrics = metrics.account_metrics
    assert qualified_name(account_metrics) == f"{account_metrics.__module__}.account_metrics"
    assert qualified_name(queries.account_profile) == "kam_metrics.metrics.queries.account_profile"


def test_goals_page_says_when_programme_goals_are_measured_over_a_part(demo_data_dir, monkeypatch):
    note = ("Measured over the accounts in view (the filters, or your accounts): a programme goal's value here is "
            "theirs, not the whole programme's.")
    at = run(demo_data_dir, monkeypatch, "pages/5_Programme_goals.py")
    assert note not in [i.value for i in at.info]
    region = queries.filter_options(engine(demo_data_dir))["regions"][0]
    at = run(demo_data_dir, monkeypatch, "pages/5_Programme_goals.py", query={"region": region})
    assert [i.value for i in at.info if i.value == note] == [note]
    # key accounts only too: the key accounts' share of revenue over key accounts alone is 100 %
    at = run(demo_data_dir, monkeypatch, "pages/5_Programme_goals.py", query={"key_only": "true"})
    assert [i.value for i in at.info if i.value == note] == [note]
