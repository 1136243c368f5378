"""Hostile CRM text: HTML, scripts, Markdown links and images, 10,000-character strings, control characters,
bidi overrides and spreadsheet formulas in names, titles, subjects and owners.

The demo export is rewritten so that key accounts, the champion-left account's contacts, activities, goals
and actions, an owner, a region and a product line carry the payloads; one activity with a hostile date is
quarantined. Then every page must render it as text: no Markdown element carries a live payload (AppTest),
no chart carries raw HTML or a Plotly template, the browser runs none of it and shows it literally
(Playwright), and CSV downloads neutralise formulas.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from kam_metrics import csv_export

from kam_metrics.load import warehouse
from kam_metrics.generators.demo import CHAMPION_LEFT_ACCOUNT, write_demo
from kam_metrics.filters import NO_FILTERS
from kam_metrics.app.formatting import WORD_JOINER, frame_to_csv, safe_text
from kam_metrics.metrics import account_metrics, default_as_of
from kam_metrics.load.pipeline import load_export
from kam_metrics.settings import Settings

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
PAGES = [
    "app.py", "pages/2_Engagement.py", "pages/3_Share_of_wallet.py", "pages/4_Cost_to_serve.py",
    "pages/5_Programme_goals.py", "pages/6_Account.py", "pages/7_Key_account_selection.py", "pages/8_Score_check.py",
    "pages/9_Data.py",
]

# Each script payload sets window.__xss when it runs; the browser test asserts it never does.
IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
MD_LINK = "[click](javascript:window.__xss=3)"
MD_IMAGE = "![x](http://evil.invalid/x.png)"
SVG = "<svg onload=window.__xss=4>"
BOLD = "<b>bold</b>"
RLO = "\u202e"
HOSTILE_NAME = f"Hostile {BOLD} {IMG} {SCRIPT} {MD_LINK} {MD_IMAGE} {RLO}gnp.exe"
FORMULAS = ['=HYPERLINK("http://evil.invalid","x")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3 " + SVG]
LONG = "Long" + "g" * 9_996  # 10,000 characters
CONTROL = "Ctrl\x07\x08\x0b\x1b[31mred\x7f end"
TEMPLATE = "Tmpl %{x} %{customdata} $x$ :red[boo] **strong** `code`"
HOSTILE_OWNER = f"<b>owner</b> {MD_LINK} {RLO}\x07rewo"
HOSTILE_REGION = SCRIPT.replace("2", "6")
HOSTILE_LINE = f'<b>Analytics</b> %{{y}} <img src=x onerror="window.__xss=8">'
HOSTILE_DATE = SCRIPT.replace("2", "7")
AUTOLINKS = "www.evil.invalid ceo@evil.invalid HTTPS://evil.invalid/login"  # Markdown would link these
# Key accounts that get the other payloads as their names (in this order).
OTHER_NAMES = [*FORMULAS, LONG, CONTROL, TEMPLATE, "Newline\nand\ttab"]

# Fragments that must never reach Markdown unescaped or a chart as raw HTML.
LIVE_MARKDOWN = [re.escape(f) for f in ("<script", "<img", "<svg", "<b>", "[click](", "![x](", "javascript:", "onerror=",
                                         ":red[", "$x$", "**strong**", "`code`")]
# GFM autolinks: bare URLs and e-mail addresses, found after escapes are resolved (so escaping does not stop them).
AUTOLINK = [r"https?://", r"\bwww\.", r"[\w.+-]@[\w-]+\."]
LIVE_HTML = ["<script", "<img", "<svg", "<b>"]  # Plotly reads tags; escaped as &lt; they are text
BIDI_AND_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _rewrite(folder: Path, name: str, change) -> None:
    path = folder / name
    frame = pl.read_csv(path, infer_schema=False)
    change(frame).write_csv(path)


def write_hostile_export(folder: Path) -> dict[str, str]:
    """The demo export with hostile text in it; returns account_id → the name it was given."""
    write_demo(folder)
    accounts = pl.read_csv(folder / "accounts.csv", infer_schema=False)
    keys = [a for a in accounts.filter(pl.col("is_key_account") == "true")["account_id"].to_list()
            if a != CHAMPION_LEFT_ACCOUNT]
    names = {CHAMPION_LEFT_ACCOUNT: HOSTILE_NAME, **dict(zip(keys, OTHER_NAMES))}
    hostile = pl.col("account_id") == CHAMPION_LEFT_ACCOUNT

    _rewrite(folder, "accounts.csv", lambda f: f.with_columns(
        pl.col("account_id").replace_strict(names, default=pl.col("account_name")).alias("account_name"),
        pl.when(hostile).then(pl.lit(HOSTILE_OWNER)).otherwise(pl.col("kam_owner")).alias("kam_owner"),
        pl.when(hostile).then(pl.lit(f"{MD_IMAGE} {FORMULAS[0]} {AUTOLINKS}")).otherwise(pl.col("executive_sponsor"))
        .alias("executive_sponsor"),
        pl.when(hostile).then(pl.lit(BOLD + CONTROL)).otherwise(pl.col("industry")).alias("industry"),
        pl.when(hostile).then(pl.lit(HOSTILE_REGION)).otherwise(pl.col("region")).alias("region"),
    ))
    _rewrite(folder, "contacts.csv", lambda f: f.with_columns(
        pl.when(hostile).then(pl.lit(IMG) + pl.col("full_name")).otherwise(pl.col("full_name")).alias("full_name"),
        pl.when(hostile).then(pl.lit(FORMULAS[0] + " " + MD_LINK)).otherwise(pl.col("title")).alias("title"),
    ))

    def activities(f: pl.DataFrame) -> pl.DataFrame:
        f = f.with_columns(
            pl.when(hostile).then(pl.lit(SCRIPT + " " + FORMULAS[1])).otherwise(pl.col("subject")).alias("subject"),
            pl.when(hostile).then(pl.lit(HOSTILE_OWNER)).otherwise(pl.col("owner")).alias("owner"),
        )
        bad = f.head(1).with_columns(pl.lit("ACT-HOSTILE").alias("activity_id"),
                                     pl.lit(HOSTILE_DATE).alias("activity_date"))
        return pl.concat([f, bad])

    _rewrite(folder, "activities.csv", activities)
    on_goals = (pl.col("account_id") == CHAMPION_LEFT_ACCOUNT) | pl.col("account_id").is_null()
    _rewrite(folder, "goals.csv", lambda f: f.with_columns(
        pl.when(on_goals).then(pl.lit(f"{MD_LINK} {IMG} goal ") + pl.col("goal_id")).otherwise(pl.col("title"))
        .alias("title"),
        pl.when(on_goals).then(pl.lit(FORMULAS[2])).otherwise(pl.col("owner")).alias("owner"),
    ))
    _rewrite(folder, "actions.csv", lambda f: f.with_columns(
        (pl.lit(SVG + " ") + pl.col("title")).alias("title"), pl.lit(HOSTILE_OWNER).alias("owner")))
    for table in ("revenue.csv", "wallet.csv", "opportunities.csv"):
        _rewrite(folder, table, lambda f: f.with_columns(
            pl.col("product_line").replace("Analytics", HOSTILE_LINE)))
    return names


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(data dir with the hostile export loaded, account_id → name)."""
    root = tmp_path_factory.mktemp("hostile")
    names = write_hostile_export(root / "export")
    report = load_export(root / "export", root / "data", fmt="kam")
    # The hostile date is quarantined; every hostile name is loaded as it was written.
    assert any(q == "activities" for q in report.quarantine["table"].to_list())
    return root / "data", names


#: Markup the app writes itself around the data (not a payload): the open actions' overdue marker. Since `kam load`
#: imports the export's actions into the programme store, the hostile export's overdue action is listed with it.
APP_MARKUP = (" :red[**overdue**]",)


def live_fragments(text: str) -> list[str]:
    """Payload fragments a Markdown body would render as markup or links: markup left after dropping escaped
    characters (and the app's own markup), and autolinks in the text with its escapes resolved."""
    for markup in APP_MARKUP:
        text = text.replace(markup, "")
    bare = re.sub(r"\\.", "", text)
    resolved = re.sub(r"\\(.)", r"\1", text)
    return ([f for f in LIVE_MARKDOWN if re.search(f, bare, re.IGNORECASE)]
            + [f for f in AUTOLINK if re.search(f, resolved, re.IGNORECASE)])


def markdown_bodies(at: AppTest) -> list[str]:
    """Every body Streamlit renders as Markdown: titles, headers, captions, alerts, markdown, expander labels."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [str(e.label) for e in at.expander]
    out += [str(m.label) for m in at.metric] + [str(m.value) for m in at.metric]
    return out


def chart_strings(at: AppTest) -> list[tuple[str, str]]:
    """Every string in every Plotly figure on the page, with the attribute it sits in."""
    out: list[tuple[str, str]] = []

    def walk(node, key: str) -> None:
        if isinstance(node, str):
            out.append((key, node))
        elif isinstance(node, dict):
            for name, value in node.items():
                walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, key)

    for chart in at.get("plotly_chart"):
        walk(json.loads(chart.proto.spec), "")
    return out


def unescape(text: str) -> str:
    """What a Markdown body shows: escapes resolved, word joiners (invisible) dropped."""
    return re.sub(r"\\(.)", r"\1", text).replace(WORD_JOINER, "")


def open_page(data_dir: Path, monkeypatch, page: str, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("KAM_CONFIG", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    if page != "app.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def assert_page_is_safe(at: AppTest, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not at.error, (where, [e.value for e in at.error])
    for body in markdown_bodies(at):
        assert live_fragments(body) == [], (where, live_fragments(body), body[:300])
        assert not BIDI_AND_CONTROL.search(body), (where, body[:300])
        assert len(body) < 2_000, (where, "a 10,000-character name is shortened", len(body))
    for key, text in chart_strings(at):
        assert not any(f in text for f in LIVE_HTML), (where, key, text[:300])
        assert not BIDI_AND_CONTROL.search(text), (where, key, text[:300])
        # CRM text never becomes part of a Plotly template (a name like "%{x}" would show another value).
        if key.endswith("template"):
            assert "Tmpl" not in text and "Analytics" not in text, (where, key, text[:300])
    for widget in [*at.selectbox, *at.multiselect]:
        for option in widget.options:
            assert not BIDI_AND_CONTROL.search(str(option)), (where, widget.label, option[:100])
    for table in at.dataframe:  # tables show CRM text as data, without reordering or control characters
        for cell in table.value.to_numpy().ravel():
            assert not (isinstance(cell, str) and BIDI_AND_CONTROL.search(cell)), (where, cell[:100])


# ---------------------------------------------------------------- AppTest: every page, escaped


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_hostile_text_as_text(hostile, monkeypatch, page):
    data_dir, _ = hostile
    at = open_page(data_dir, monkeypatch, page)
    assert_page_is_safe(at, page)


def test_the_hostile_account_page_shows_its_name_literally(hostile, monkeypatch):
    data_dir, names = hostile
    at = open_page(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": CHAMPION_LEFT_ACCOUNT})
    assert_page_is_safe(at, "account page")
    heading = unescape(at.header[0].value)
    # Shown as written, HTML and Markdown included, without the bidi override.
    assert heading.startswith(f"Hostile {BOLD} {IMG} {SCRIPT} {MD_LINK} {MD_IMAGE} "), heading
    assert RLO not in heading and heading.endswith("gnp.exe")
    description = next(unescape(c.value) for c in at.caption if unescape(c.value).startswith(CHAMPION_LEFT_ACCOUNT))
    assert "<b>owner</b> [click](javascript:window.__xss=3)" in description
    assert f"region: {HOSTILE_REGION}" in description
    assert "Ctrl[31mred end" in description, "control characters dropped, the rest kept"
    assert AUTOLINKS in description
    # The account's tables hold the text as data.
    shown = "\n".join(str(cell) for df in at.dataframe for cell in df.value.to_numpy().ravel())
    assert SCRIPT in shown and IMG in shown


def test_the_long_name_is_shortened_in_headings_but_whole_in_tables(hostile, monkeypatch):
    data_dir, names = hostile
    long_id = next(a for a, n in names.items() if n == LONG)
    at = open_page(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": long_id})
    assert_page_is_safe(at, "long name")
    assert unescape(at.header[0].value) == LONG[:499] + "…"
    picker = at.selectbox(key="kam_account_pick")
    assert len(picker.format_func(long_id)) < 120


def test_a_hostile_filter_value_is_escaped_in_the_summary(hostile, monkeypatch):
    data_dir, _ = hostile
    at = open_page(data_dir, monkeypatch, "app.py")
    owner = at.multiselect(key="kam_widget_kam_owners")
    assert safe_text(HOSTILE_OWNER) in owner.options, "shown without its bidi override and control character"
    region = at.multiselect(key="kam_widget_regions")
    assert HOSTILE_REGION in region.options
    owner.select(HOSTILE_OWNER).run()
    # the run narrowed the page (e.g. the open actions of other owners' goals are gone): select on its new tree
    at.multiselect(key="kam_widget_regions").select(HOSTILE_REGION).run()
    assert_page_is_safe(at, "filtered by the hostile owner and region")
    summary = [c.value for c in at.caption if "owner:" in c.value]
    assert summary and safe_text(HOSTILE_OWNER) in unescape(summary[0]) and HOSTILE_REGION in unescape(summary[0])
    # The filter holds the values as loaded (not as shown): the hostile key account is the one left.
    assert {m.label: m.value for m in at.metric}["Key accounts"] == "1"


# ---------------------------------------------------------------- CSV exports


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_downloads_neutralise_formulas(hostile):
    data_dir, names = hostile
    con = warehouse.connect_current(data_dir)
    try:
        frame = account_metrics(con, default_as_of(con), NO_FILTERS, Settings())
    finally:
        con.close()
    from kam_metrics.app.widgets import display_frame

    rows = csv_rows(frame_to_csv(display_frame(frame.select("account_id", "account_name", "kam_owner",
                                                            "revenue_ttm", "health"))))
    by_id = {r[0]: r for r in rows[1:]}
    for account_id, name in names.items():
        cell = by_id[account_id][1]
        if name.startswith(("=", "+", "-", "@")):
            assert cell == "'" + name, cell
        else:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    # Numbers stay numbers: a negative revenue or health would not be quoted.
    assert all(re.fullmatch(r"-?[0-9.e+-]*", r[3]) for r in rows[1:])
    safe = csv_export.csv_safe_frame(pl.DataFrame({"text": FORMULAS + ["\tx", "\rx", "-3", "+1.5", "plain"],
                                                   "n": list(range(-4, 5))}))
    assert safe["text"].to_list() == ["'" + f for f in FORMULAS] + ["'\tx", "'\rx", "-3", "+1.5", "plain"]
    assert safe["n"].to_list() == list(range(-4, 5))
    written = csv_rows(frame_to_csv(pl.DataFrame({"text": FORMULAS + ["-3", "plain"], "n": [-1, 2, 3, 4, -5, 6]})))
    assert [r[0] for r in written[1:]] == ["'" + f for f in FORMULAS] + ["-3", "plain"]
    assert [r[1] for r in written[1:]] == ["-1", "2", "3", "4", "-5", "6"]


def test_safe_text_drops_control_and_bidi_characters():
    assert safe_text(CONTROL) == "Ctrl[31mred end"
    assert safe_text(f"a{RLO}b\u2066c\u2069d\u202ae\u202cf") == "abcdef"
    assert safe_text("Tab\tand\nnewline") == "Tab\tand\nnewline"
    assert safe_text("שלום עולם مرحبا") == "שלום עולם مرحبا", "right-to-left text itself is kept"


# ---------------------------------------------------------------- the browser: nothing runs, text shows as text


BROWSER_PAGES = {  # URL path → title
    "": "Weekly review", "Engagement": "Engagement", "Share_of_wallet": "Share of wallet",
    "Cost_to_serve": "Cost to serve & lifetime value", "Programme_goals": "Programme goals",
    "Key_account_selection": "Key account selection", "Score_check": "Score check", "Data": "Data",
    f"Account?account_id={CHAMPION_LEFT_ACCOUNT}": "Account",
}
# Elements the payloads would create if any of them were interpreted as HTML or Markdown.
INJECTED = ('img[src="x"], svg[onload], a[href^="javascript:"], img[src*="evil.invalid"], a[href*="evil.invalid"], '
            'b:text-is("bold"), b:text-is("owner")')
DATA_SCRIPTS = "() => [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__xss')).length"


@pytest.fixture(scope="module")
def hostile_url(hostile):
    from tests.test_browser import serve

    with serve(hostile[0]) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_browser():
    from tests.test_browser import CHROMIUM

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def tab(hostile_browser):
    context = hostile_browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def assert_nothing_ran(tab, where: str) -> None:
    from tests.test_browser import errors

    assert tab.evaluate("() => window.__xss") is None, where
    assert tab.evaluate(DATA_SCRIPTS) == 0, where
    assert tab.locator(INJECTED).count() == 0, where
    assert errors(tab) == [], where


@pytest.mark.browser
@pytest.mark.parametrize("path", list(BROWSER_PAGES))
def test_the_browser_runs_no_payload(hostile_url, tab, path, tmp_path_factory):
    from tests.test_browser import screenshot, settle

    tab.goto(f"{hostile_url}/{path}")
    settle(tab, BROWSER_PAGES[path], charts=BROWSER_PAGES[path] != "Data")
    assert_nothing_ran(tab, path)
    if path == "":
        # Hover every bar of the key accounts' health: Plotly draws each hostile name in its hover label.
        chart = tab.locator(".js-plotly-plot").first
        labels = []
        for bar in chart.locator(".bars .point path").all():
            bar.hover(force=True)
            tab.wait_for_timeout(150)
            labels.append(tab.evaluate("() => document.querySelector('.hoverlayer')?.textContent || ''"))
        assert any(label.startswith("Hostile <b>bold</b> <img src=x") for label in labels), labels
        assert_nothing_ran(tab, "after hovering")
    shots = Path(__import__("os").environ.get("KAM_SCREENSHOTS") or tmp_path_factory.mktemp("hostile_shots"))
    shots.mkdir(parents=True, exist_ok=True)
    screenshot(tab, shots, "hostile_" + (path.split("?")[0] or "home"))


@pytest.mark.browser
def test_the_hostile_account_shows_its_text_literally(hostile_url, tab):
    from tests.test_browser import settle

    tab.goto(f"{hostile_url}/Account?account_id={CHAMPION_LEFT_ACCOUNT}")
    settle(tab, "Account")
    heading = tab.locator('[data-testid="stHeading"]').filter(has_text="Hostile").first
    heading.wait_for(timeout=30_000)
    # HTML and Markdown shown as typed; the bidi override dropped; word joiners (invisible) keep URLs unlinked.
    assert heading.inner_text().replace(WORD_JOINER, "") == safe_text(HOSTILE_NAME)
    description = tab.get_by_text(f"{CHAMPION_LEFT_ACCOUNT} · key account").inner_text().replace(WORD_JOINER, "")
    assert f"KAM: {safe_text(HOSTILE_OWNER)}" in description
    assert f"sponsor: {MD_IMAGE} {FORMULAS[0]} {AUTOLINKS}" in description
    assert_nothing_ran(tab, "account page")


@pytest.mark.browser
def test_a_downloaded_csv_neutralises_formulas(hostile_url, hostile, tab):
    from tests.test_browser import settle

    tab.goto(f"{hostile_url}/Engagement")
    settle(tab, "Engagement")
    with tab.expect_download(timeout=30_000) as download:
        tab.get_by_role("button", name="Download CSV").first.click()
    rows = csv_rows(Path(download.value.path()).read_bytes())
    header, body = rows[0], rows[1:]
    names = [r[header.index("account_name")] for r in body]
    for formula in FORMULAS:
        assert "'" + formula in names, formula
        assert formula not in names
    assert LONG in names, "the CSV keeps the data whole"
