"""The weekly pack (issue 15): `kam pack`, kam_metrics.pack and the Weekly review's "Prepare weekly pack".

The pack's figures are read back from the HTML (data-key / data-value / data-account-id) and compared with the
engine's at the same as_of, exactly, and their text with formatting.format_metric of the engine value. Tests that
need Chromium (charts, the PDF, the e-mail's PNGs) are marked browser; the others run with Chromium "missing"
(KAM_CHROMIUM=/nonexistent), which is also how the HTML pack must cope without it.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from kam_metrics import metrics
from kam_metrics.app.formatting import MISSING, format_metric
from kam_metrics.cli import main
from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.load import warehouse
from kam_metrics.load.pipeline import load_export
from kam_metrics.metrics import portfolio, queries
from tests.test_pages_sparse import SPARSE_EXPORT
from kam_metrics.pack import BrowserMissing, build_pack_for, cover_email, pack_file_name, render_html, render_pdf
from kam_metrics.pack.render import COVER_PAGES, FORMAT_AS
from kam_metrics.settings import load_settings
from tests.conftest import write_export

WEEK = timedelta(days=7)


@pytest.fixture
def no_chromium(monkeypatch):
    monkeypatch.setenv("KAM_CHROMIUM", "/nonexistent/chromium")


class Figures(HTMLParser):
    """Every element with data-key: its attributes and its text; plus the tags and attributes seen."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.figures: list[dict] = []
        self.tags: list[tuple[str, dict]] = []
        self._open: list[tuple[str, dict, list[str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "data-key" in attrs:
            self._open.append((tag, attrs, []))

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, attrs, parts = self._open.pop()
            self.figures.append({**attrs, "text": "".join(parts)})

    def handle_data(self, data):
        self.text.append(data)
        for _, _, parts in self._open:
            parts.append(data)


def parse(document: str) -> Figures:
    parser = Figures()
    parser.feed(document)
    return parser


def _same(shown: str, engine) -> bool:
    """data-value against the engine value: the repr of the float exactly, empty for unknown."""
    if engine is None or (isinstance(engine, float) and math.isnan(engine)):
        return shown == ""
    if isinstance(engine, bool):
        return shown == ("true" if engine else "false")
    if isinstance(engine, float):
        return shown != "" and float(shown) == engine
    return shown == str(engine)


def _engine(data_dir: Path, as_of: date | None = None, filters: Filters = NO_FILTERS):
    """The engine's figures at as_of: account rows (with the pipeline), programme KPIs, key revenue TTM and the
    key accounts' health movement over the week."""
    settings = load_settings(data_dir=data_dir)
    con = warehouse.connect_current(data_dir)
    try:
        as_of = as_of or metrics.default_as_of(con)
        accounts = metrics.account_metrics(con, as_of, filters, settings)
        if "opportunities" in queries.snapshot_status(con).present_tables:
            accounts = accounts.join(metrics.pipeline_by_account(con, as_of, filters, settings).select(
                "account_id", "open_pipeline", "open_deal_count", "win_rate_365d", "pipeline_to_headroom"),
                on="account_id", how="left")
        kpis = metrics.programme_kpis(con, as_of, filters, settings)
        before = queries.revenue_at(con, as_of - WEEK, filters)
        movement = metrics.health_movement(con, as_of - WEEK, as_of, replace(filters, key_only=True), settings)
        currency = queries.snapshot_status(con).reporting_currency or settings.reporting_currency
    finally:
        con.close()
    rows = {r["account_id"]: r for r in accounts.iter_rows(named=True)}
    programme = {r["key"]: r for r in kpis.iter_rows(named=True)}
    programme["key_revenue_ttm"] = {"value": portfolio.key_revenue_ttm(accounts),
                                    "change": portfolio.key_revenue_ttm_change(accounts, before)}
    health = movement.filter(pl.col("component") == "health")
    moved = {(r["account_id"], as_of - WEEK): r["contribution_from"] for r in health.iter_rows(named=True)}
    moved |= {(r["account_id"], as_of): r["contribution_to"] for r in health.iter_rows(named=True)}
    return as_of, rows, programme, moved, currency or "EUR"


def assert_figures_match_engine(data_dir: Path, document: str, as_of: date, filters: Filters = NO_FILTERS) -> Figures:
    as_of, rows, programme, moved, currency = _engine(data_dir, as_of, filters)
    parsed = parse(document)
    checked_accounts = checked_programme = checked_moved = 0
    for f in parsed.figures:
        key, shown, text = f["data-key"], f.get("data-value"), f["text"]
        if shown is None:
            continue  # labels such as the filters or the snapshot id
        account_id = f.get("data-account-id")
        if account_id is not None and "data-date" in f:
            engine = moved[(account_id, date.fromisoformat(f["data-date"]))]
            checked_moved += 1
        elif account_id is not None:
            engine = rows[account_id][key]
            checked_accounts += 1
        elif key in programme:
            engine = programme[key]["value"]
            checked_programme += 1
        else:
            continue  # score check figures: compared in their own test
        assert _same(shown, engine), (key, account_id, shown, engine)
        if key != "cadence_status":
            assert text == format_metric(FORMAT_AS.get(key, key), engine, currency), (key, account_id, text, engine)
        if engine is None:
            assert text in (MISSING, "unknown", "— (needs reviews.csv)"), (key, account_id, text)
    for f in parsed.figures:  # the tiles' changes against 7 days earlier
        if "data-change" in f:
            assert _same(f["data-change"], programme[f["data-key"]]["change"]), f
    key_ids = {a for a, r in rows.items() if r["is_key_account"]}
    assert {f["data-account-id"] for f in parsed.figures if f["data-key"] == "health" and "data-date" not in f
            and "data-account-id" in f} == key_ids
    assert checked_accounts >= 10 * len(key_ids) and checked_programme >= 8
    # each key account's week (from → to) on its page, when either end is known
    assert checked_moved >= 2 * len({a for (a, _), v in moved.items() if a in key_ids and v is not None})
    return parsed


# ---------------------------------------------------------------- figures = engine


def test_demo_pack_figures_equal_the_engine(demo_data_dir, no_chromium):
    settings = load_settings(data_dir=demo_data_dir)
    pack = build_pack_for(demo_data_dir, settings)
    document = render_html(pack)
    parsed = assert_figures_match_engine(demo_data_dir, document, pack.as_of)
    assert f"as of {pack.as_of.isoformat()}" in document
    assert len(pack.accounts) == sum(1 for f in parsed.figures if f["data-key"] == "health"
                                     and "data-account-id" in f and "data-date" not in f)


def test_time_travel_pack_figures_equal_the_engine(demo_data_dir, no_chromium):
    settings = load_settings(data_dir=demo_data_dir)
    as_of = date(2026, 6, 30)
    pack = build_pack_for(demo_data_dir, settings, as_of=as_of, filters=Filters(regions=("EMEA",)))
    assert pack.as_of == as_of
    document = render_html(pack)
    assert_figures_match_engine(demo_data_dir, document, as_of, Filters(regions=("EMEA",)))
    assert "region: EMEA" in document


def test_score_check_lines_equal_the_engine(demo_data_dir, no_chromium):
    settings = load_settings(data_dir=demo_data_dir)
    pack = build_pack_for(demo_data_dir, settings)
    con = warehouse.connect_current(demo_data_dir)
    try:
        backtest = metrics.score_check_backtest(con, pack.as_of, NO_FILTERS, settings)
    finally:
        con.close()
    engine = dict(zip(backtest["key"].to_list(), backtest["value"].to_list()))
    shown = {f["data-key"]: f for f in parse(render_html(pack)).figures if f["data-key"].startswith(("warning_", "pairs"))}
    assert engine["pairs"] > 0
    for key in ("warning_precision", "warning_recall", "warning_lift", "warning_lead_days_median", "pairs"):
        assert _same(shown[key]["data-value"], engine[key]), key


# The sparse export of the page tests (no activities rows, contacts, surveys or wallet).
SPARSE = SPARSE_EXPORT


def test_sparse_export_pack_shows_unknown_not_zero(tmp_path, no_chromium):
    folder = write_export(tmp_path / "export", SPARSE, base=False)
    load_export(folder, tmp_path / "data")
    data_dir = tmp_path / "data"
    pack = build_pack_for(data_dir, load_settings(data_dir=data_dir))
    document = render_html(pack)
    parsed = assert_figures_match_engine(data_dir, document, pack.as_of)
    by_key = {(f.get("data-account-id"), f["data-key"]): f for f in parsed.figures}
    # No activities, contacts, surveys or wallet: these are unknown, written "—", never 0.
    for key in ("engaged_contacts_90d", "nps_365d", "share_of_wallet", "days_since_last_touch"):
        assert by_key[("A1", key)]["data-value"] == "" and by_key[("A1", key)]["text"] == MISSING, key
    assert by_key[(None, "programme_nps")]["text"] == MISSING
    assert {p.account_id for p in pack.accounts} == {"A1", "A3", "A4"}
    assert 'class="band band-red"' not in document  # no key account is called red on missing data


# ---------------------------------------------------------------- per-KAM packs, file names, the CLI


def test_per_kam_pack_holds_only_that_owners_key_accounts(demo_data_dir, no_chromium):
    settings = load_settings(data_dir=demo_data_dir)
    _, rows, _, _, _ = _engine(demo_data_dir)
    owners = sorted({r["kam_owner"] for r in rows.values() if r["is_key_account"] and r["kam_owner"]})
    owner = owners[0]
    expected = {a for a, r in rows.items() if r["is_key_account"] and r["kam_owner"] == owner}
    pack = build_pack_for(demo_data_dir, settings, filters=Filters(kam_owners=(owner,)))
    assert {p.account_id for p in pack.accounts} == expected and 0 < len(expected) < len(
        [r for r in rows.values() if r["is_key_account"]])
    document = render_html(pack)
    assert f"KAM owner: {owner}" in document
    others = {r["account_name"] for a, r in rows.items() if r["is_key_account"] and a not in expected}
    assert not [name for name in others if f">{name}</h1>" in document]
    slug = re.sub(r"[^a-z0-9]+", "-", owner.lower()).strip("-")
    assert pack_file_name(pack, "pdf") == f"kam-weekly-pack-{pack.as_of.isoformat()}-{slug}.pdf"
    unfiltered = build_pack_for(demo_data_dir, settings)
    assert pack_file_name(unfiltered, "html") == f"kam-weekly-pack-{unfiltered.as_of.isoformat()}.html"


def test_open_actions_are_on_their_goals_account_and_within_a_kams_pack(demo_data_dir, no_chromium):
    """actions.csv gives an action toward a goal no account_id: it belongs to the goal's account, so one KAM's pack
    lists the open actions of their accounts and goals and of programme-wide goals, and none of another KAM's."""
    from kam_metrics.programme import open_store
    from kam_metrics.settings import programme_store_location

    settings = load_settings(data_dir=demo_data_dir)
    store = open_store(programme_store_location(settings, demo_data_dir))
    try:
        actions, goals = store.current("actions"), store.current("goals")
    finally:
        store.close()
    goal_account = dict(zip(goals["goal_id"].to_list(), goals["account_id"].to_list()))
    _, rows, _, _, _ = _engine(demo_data_dir)
    owners = sorted({r["kam_owner"] for r in rows.values() if r["is_key_account"] and r["kam_owner"]})
    for owner in owners[:2]:
        mine = {a for a, r in rows.items() if r["kam_owner"] == owner}
        expected = set()
        for a in actions.filter(pl.col("completed_date").is_null()).iter_rows(named=True):
            account = a["account_id"] or goal_account.get(a["goal_id"])
            if account is None or account in mine:
                expected.add(a["action_id"])
        pack = build_pack_for(demo_data_dir, settings, filters=Filters(kam_owners=(owner,)))
        shown = pack.open_actions
        assert set(shown["action_id"].to_list()) == expected
        on_goal = shown.filter(pl.col("goal_id").is_not_null())
        for a in on_goal.iter_rows(named=True):
            assert a["account_id"] == goal_account.get(a["goal_id"]) or a["account_id"] in mine
    assert any(goal_account.get(g) for g in actions["goal_id"].drop_nulls().to_list()), "demo has goal actions"


def test_html_pack_is_self_contained(demo_data_dir, no_chromium):
    document = render_html(build_pack_for(demo_data_dir, load_settings(data_dir=demo_data_dir)))
    parsed = parse(document)
    assert not [t for t, _ in parsed.tags if t in ("script", "link", "iframe", "object", "embed")]
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            assert name not in attrs or attrs[name].startswith("data:"), (tag, attrs)
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
    assert not re.search(r"https?://|@import|url\(", document)


def test_without_chromium_the_html_pack_notes_each_chart_and_the_pdf_says_what_to_install(
        demo_data_dir, no_chromium, tmp_path, capsys):
    pack = build_pack_for(demo_data_dir, load_settings(data_dir=demo_data_dir))
    document = render_html(pack)
    assert document.count("chart not drawn: Chromium not found") == len(pack.figures) > len(pack.accounts)
    assert "<img" not in document
    assert "Chromium not found" in capsys.readouterr().err
    with pytest.raises(BrowserMissing, match=r"apt-get install chromium"):
        render_pdf(pack, tmp_path / "pack.pdf")
    assert not (tmp_path / "pack.pdf").exists()


def test_cli_pack_exit_codes(demo_data_dir, no_chromium, tmp_path, capsys):
    data = ["--data-dir", str(demo_data_dir)]
    assert main(["pack", "--out", str(tmp_path / "pack.pdf"), *data]) == 2
    err = capsys.readouterr().err
    assert "apt-get install chromium" in err and "KAM_CHROMIUM" in err and ".html" in err
    assert not (tmp_path / "pack.pdf").exists()
    assert main(["pack", "--out", str(tmp_path / "pack.txt"), *data]) == 2
    assert ".html or .pdf" in capsys.readouterr().err
    out = tmp_path / "pack.html"
    assert main(["pack", "--out", str(out), "--as-of", "2026-10-31", "--key-only", *data]) == 0
    said = capsys.readouterr().out
    assert f"Wrote {out}" in said and "as of 2026-10-31" in said and "key accounts" in said
    document = out.read_text(encoding="utf-8")
    assert "as of 2026-10-31" in document and "key accounts only" in document


# ---------------------------------------------------------------- hostile CRM text


def test_hostile_crm_text_stays_inert_in_the_pack(tmp_path, no_chromium):
    from tests.test_hostile_text import HOSTILE_NAME, write_hostile_export

    names = write_hostile_export(tmp_path / "export")
    load_export(tmp_path / "export", tmp_path / "data", fmt="kam")
    data_dir = tmp_path / "data"
    pack = build_pack_for(data_dir, load_settings(data_dir=data_dir))
    document = render_html(pack)
    parsed = parse(document)
    assert not [t for t, _ in parsed.tags if t in ("script", "img", "svg", "b", "a")]
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")]
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", document)
    text = "".join(parsed.text)
    # The hostile name is shown as its text (bidi override removed), on its account's page.
    assert HOSTILE_NAME.replace("\u202e", "") in text
    assert "&lt;script&gt;" in document and "<script>" not in document
    key_names = [p.account_name for p in pack.accounts]
    assert HOSTILE_NAME in key_names and set(names.values()) & set(key_names)
    # A hostile KAM owner in the filters: the e-mail's plain text and subject carry it as text only.
    owned = build_pack_for(data_dir, load_settings(data_dir=data_dir), filters=Filters(kam_owners=(HOSTILE_NAME,)))
    email = cover_email(owned)
    for part in (email.text, email.subject):
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", part)
    assert HOSTILE_NAME.replace("\u202e", "") in email.text


# ---------------------------------------------------------------- the app


def test_app_prepares_the_pack_for_the_sidebars_as_of_and_filters(demo_data_dir, monkeypatch):
    from kam_metrics.app.pack_ui import STATE
    from tests.test_pages import run

    monkeypatch.setenv("KAM_CHROMIUM", "/nonexistent/chromium")
    _, rows, _, _, _ = _engine(demo_data_dir)
    owner = sorted({r["kam_owner"] for r in rows.values() if r["is_key_account"] and r["kam_owner"]})[-1]
    at = run(demo_data_dir, monkeypatch, query={"as_of": "2026-10-31", "owner": owner})
    assert STATE not in at.session_state
    buttons = [b for b in at.button if b.label == "Prepare weekly pack"]
    assert len(buttons) == 1
    buttons[0].click().run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    prepared = at.session_state[STATE]
    assert prepared["as_of"] == date(2026, 10, 31) and prepared["filters"] == Filters(kam_owners=(owner,))
    document = prepared["html"].decode("utf-8")
    assert "as of 2026-10-31" in document and f"KAM owner: {owner}" in document
    assert prepared["pdf"] is None and "apt-get install chromium" in prepared["missing"]
    assert_figures_match_engine(demo_data_dir, document, date(2026, 10, 31), Filters(kam_owners=(owner,)))


# ---------------------------------------------------------------- with Chromium


@pytest.mark.browser
@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_pdf_pages_cover_plus_one_per_key_account_each_stamped(demo_data_dir, tmp_path, paper, capsys):
    from pypdf import PdfReader

    pack = build_pack_for(demo_data_dir, load_settings(data_dir=demo_data_dir))
    out = tmp_path / "pack.pdf"
    pages = render_pdf(pack, out, paper=paper)
    reader = PdfReader(out)
    assert pages == len(reader.pages) == COVER_PAGES + len(pack.accounts)
    assert "taller than one" not in capsys.readouterr().err  # nothing was cut
    width_pt = float(reader.pages[0].mediabox.width)
    assert abs(width_pt - (595.3 if paper == "A4" else 612.0)) < 2
    texts = [page.extract_text() for page in reader.pages]
    for number, text in enumerate(texts, start=1):
        assert f"as of {pack.as_of.isoformat()}" in text, number
        assert re.search(rf"page\s*{number}\s*/\s*{len(texts)}", text), number
    account_texts = texts[COVER_PAGES:]
    for index, account in enumerate(pack.accounts):
        on = [i for i, text in enumerate(account_texts) if account.account_name in text]
        assert on == [index], (account.account_name, on)


@pytest.mark.browser
def test_html_pack_with_chromium_has_every_chart_inline(demo_data_dir):
    pack = build_pack_for(demo_data_dir, load_settings(data_dir=demo_data_dir))
    document = render_html(pack)
    images = [attrs for tag, attrs in parse(document).tags if tag == "img"]
    assert len(images) == len(pack.figures)
    assert all(a["src"].startswith("data:image/svg+xml") for a in images)
    assert "chart not drawn" not in document


@pytest.mark.browser
def test_cover_email_has_png_charts_by_cid(demo_data_dir):
    pack = build_pack_for(demo_data_dir, load_settings(data_dir=demo_data_dir))
    email = cover_email(pack)
    assert pack.as_of.isoformat() in email.subject
    assert set(email.images) == {"kam-bands", "kam-movers"}
    for key, data in email.images.items():
        assert data.startswith(b"\x89PNG"), key
        assert f'src="cid:{key}"' in email.html
    assert "data:image" not in email.html and "<script" not in email.html
    assert f"as of {pack.as_of.isoformat()}" in email.text


def test_the_pack_runs_without_streamlit():
    import subprocess
    import sys

    code = ("import sys, kam_metrics.pack, kam_metrics.cli; "
            "sys.exit(1 if any(m == 'streamlit' or m.startswith('streamlit.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
