"""Issue 16 in a real browser against a real OpenID Connect provider (tests/oidc_provider.py): a KAM signs in,
sees only their own accounts, is refused another KAM's deep link, records a note that carries their e-mail and
signs out; someone without a role gets "No access"; then leadership signs in and sees every account.

The app runs the way `kam app` starts it, its `[auth]` secrets in `<data_dir>/secrets.toml`, roles in
`<data_dir>/kam.toml`. Screenshots of every step go to $KAM_SCREENSHOTS (default: a pytest temporary folder).
"""

from __future__ import annotations

import re
import sys

import polars as pl
import pytest

from kam_metrics.load.pipeline import load_export
from tests.oidc_provider import authorize, block_external, end_session, oidc_provider, write_auth_secrets
from tests.test_browser import (  # noqa: F401
    CHARTLESS, PAGES, browser, errors, free_port, screenshot, serve, settle, shots,
)

pytestmark = pytest.mark.browser

LEADERSHIP_EMAIL = "lena.leadership@example.com"
LEADERSHIP_NAME = "Lena Leadership"
STRANGER_EMAIL = "stranger@example.org"  # signs in at the provider, has no role in kam.toml
NOTE_TEXT = "Sign-in test: agreed the Q1 workshop with their operations lead."


def email_of(name: str) -> str:
    """A KAM's e-mail from their kam_owner name ("Aisha Rahman" → aisha.rahman@example.com)."""
    return ".".join(name.lower().split()) + "@example.com"


@pytest.fixture(scope="module")
def kams(demo_export_dir) -> dict[str, dict[str, str]]:
    """Two KAMs of the demo, A and B: {"A": {"name", "email"}, ...} with each one's key accounts (id → name).

    Read from the demo's own accounts.csv: the first two kam_owner names (alphabetical) with two or more key
    accounts."""
    accounts = pl.read_csv(demo_export_dir / "accounts.csv", infer_schema_length=0)
    key = accounts.filter(pl.col("is_key_account").str.to_lowercase() == "true", pl.col("kam_owner").is_not_null())
    counts = key.group_by("kam_owner").len().filter(pl.col("len") >= 2).sort("kam_owner")
    names = counts["kam_owner"].to_list()[:2]
    assert len(names) == 2, counts
    out = {}
    for label, name in zip("AB", names):
        rows = key.filter(pl.col("kam_owner") == name).sort("account_id")
        out[label] = {"name": name, "email": email_of(name),
                      "accounts": dict(zip(rows["account_id"].to_list(), rows["account_name"].to_list()))}
    # every account of the export that A does not own (key or not), to check none of them shows for A
    out["not_A"] = dict(accounts.filter(pl.col("kam_owner").fill_null("") != out["A"]["name"])
                        .select("account_id", "account_name").iter_rows())
    # the goals whose actions A may see: those on A's accounts (A completes their actions) and the programme-wide
    # ones (no account; the champion's)
    goals = pl.read_csv(demo_export_dir / "goals.csv", infer_schema_length=0)
    out["account_goals_of_A"] = set(goals.filter(pl.col("account_id").is_in(list(out["A"]["accounts"])))["goal_id"])
    out["programme_goals"] = set(goals.filter(pl.col("account_id").is_null())["goal_id"])
    actions = pl.read_csv(demo_export_dir / "actions.csv", infer_schema_length=0)
    open_goals = set(actions.filter(pl.col("completed_date").is_null())["goal_id"])
    assert open_goals - out["account_goals_of_A"] - out["programme_goals"], \
        "the demo has no open action on another KAM's goal: nothing to check"
    return out


@pytest.fixture(scope="module")
def provider():
    with oidc_provider() as running:
        yield running


@pytest.fixture(scope="module")
def signin_app(tmp_path_factory, demo_export_dir, kams, provider):
    """The demo in a data directory of its own, with [access]/[people] in kam.toml and the provider's [auth]
    secrets in secrets.toml, served on 127.0.0.1 (the host of redirect_uri)."""
    data_dir = tmp_path_factory.mktemp("signin_browser") / "data"
    load_export(demo_export_dir, data_dir)
    a, b = kams["A"], kams["B"]
    (data_dir / "kam.toml").write_text(
        "[access]\n"
        f'leadership = ["{LEADERSHIP_EMAIL}"]\n'
        f'kam = ["{a["email"]}", "{b["email"]}"]\n'
        "\n[people]\n"
        f'"{a["email"]}" = "{a["name"]}"\n'
        f'"{b["email"]}" = "{b["name"]}"\n',
        encoding="utf-8",
    )
    for person in (a, b):
        provider.set_user(person["email"], name=person["name"])
    provider.set_user(LEADERSHIP_EMAIL, name=LEADERSHIP_NAME)
    port = free_port()
    write_auth_secrets(data_dir / "secrets.toml", provider, port)
    kam_app = [sys.executable, "-m", "kam_metrics.cli", "--data-dir", str(data_dir), "app", "--port", str(port),
               "--no-demo", "--require-login"]  # refuses to start unless the [auth] secrets and [access] are found
    with serve(data_dir, port=port, command=kam_app) as url:
        yield url


@pytest.fixture
def tab(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    block_external(context)
    page = context.new_page()
    yield page
    context.close()


def sidebar(tab):
    return tab.locator('[data-testid="stSidebar"]')


def page_text(tab) -> str:
    """Everything the page holds as text, the tables' accessible copies and the charts' SVG labels included."""
    return tab.locator("body").text_content() or ""


def grid_rows(grid) -> list[list[str]]:
    """A table's header and rows as text, from the accessible copy the data grid keeps beside its canvas."""
    grid.scroll_into_view_if_needed()
    grid.locator("table").first.wait_for(state="attached", timeout=30_000)
    return grid.locator("table").first.evaluate(
        "t => [...t.querySelectorAll('tr')].map(r => [...r.querySelectorAll('th, td')].map(c => c.textContent.trim()))"
    )


def sign_in(tab, email: str, shots, shot: str | None = None) -> None:
    """From the sign-in page: "Sign in", the provider's form as `email`, back in the app."""
    tab.get_by_role("button", name="Sign in", exact=True).click()
    tab.locator('input[name="sub"]').wait_for(timeout=30_000)
    if shot:
        tab.locator('input[name="sub"]').fill(email)
        tab.screenshot(path=str(shots / f"{shot}.png"), full_page=True)
    authorize(tab, email)
    tab.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/(\?.*)?$"), timeout=30_000)


def test_kam_signs_in_sees_own_accounts_records_a_note_signs_out_then_no_role_then_leadership_sees_all(
        signin_app, tab, shots, kams):
    a, b = kams["A"], kams["B"]
    a_id, a_name = next(iter(a["accounts"].items()))
    b_id, b_name = next(iter(b["accounts"].items()))

    # not signed in: the sign-in page and nothing of the data
    tab.goto(signin_app)
    tab.get_by_role("heading", name="KAM Health").wait_for(timeout=60_000)
    tab.get_by_text("Sign in to see the key account programme.").wait_for()
    assert a_name not in page_text(tab) and b_name not in page_text(tab)
    screenshot(tab, shots, "signin_01_signed_out")

    # KAM A signs in at the provider and lands on the Weekly review, scoped to their accounts
    sign_in(tab, a["email"], shots, "signin_02_provider_form")
    settle(tab, "Weekly review")
    sidebar(tab).get_by_text(f"Signed in as {a['name']} · kam").wait_for(timeout=30_000)
    owner_filter = sidebar(tab).locator('[data-testid="stMultiSelect"]').filter(has_text="KAM owner")
    assert a["name"] in owner_filter.inner_text() and b["name"] not in owner_filter.inner_text()
    text = page_text(tab)
    assert any(name in text for name in a["accounts"].values()), "none of A's key accounts on the Weekly review"
    shown_not_a = sorted(name for name in kams["not_A"].values() if name in text)
    assert shown_not_a == [], f"accounts of others on A's Weekly review: {shown_not_a}"
    # the open actions: those toward A's goals (each with Complete) and the programme-wide ones (without)
    main = tab.locator('[data-testid="stMain"]')
    action_goals = re.findall(r"· goal (G-[\w-]+)", main.inner_text())
    own = [g for g in action_goals if g in kams["account_goals_of_A"]]
    others = sorted(set(action_goals) - kams["account_goals_of_A"] - kams["programme_goals"])
    assert own and others == [], f"open actions of A's goals: {own}; of others' goals: {others}"
    assert main.get_by_role("button", name="Complete").count() == len(own)
    assert errors(tab) == []
    screenshot(tab, shots, "signin_03_kam_weekly_review")

    # a deep link to B's account: refused, nothing of it shown
    tab.goto(f"{signin_app}/Account?account_id={b_id}")
    tab.locator('[data-testid="stAlert"]').filter(has_text="not yours").wait_for(timeout=60_000)
    tab.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    assert b_name not in page_text(tab)
    screenshot(tab, shots, "signin_04_kam_not_yours")

    # A's own account: record a note; the history names A's e-mail
    tab.goto(f"{signin_app}/Account?account_id={a_id}")
    settle(tab, "Account")
    tab.get_by_role("heading", name=a_name).first.wait_for(timeout=30_000)
    tab.get_by_role("tab", name="Note", exact=True).click()
    tab.get_by_role("textbox", name="Note", exact=True).fill(NOTE_TEXT)
    tab.get_by_role("button", name="Add note").click()
    saved = tab.get_by_text(re.compile(r"Note saved \(NOTE-\w+\)")).first
    saved.wait_for(timeout=30_000)
    note_id = re.search(r"NOTE-\w+", saved.inner_text()).group(0)
    history = tab.locator('[data-testid="stDataFrame"]').last  # History, the page's last table
    history.scroll_into_view_if_needed()
    history.locator("table").filter(has_text=note_id).wait_for(state="attached", timeout=30_000)  # after the rerun
    header, *rows = grid_rows(history)
    assert "Who" in header and "Record" in header, header
    note_rows = [dict(zip(header, row)) for row in rows if note_id in row]
    assert [(r["Who"], r["What"]) for r in note_rows] == [(a["email"], "note added")], (note_id, header, rows[:3])
    assert errors(tab) == []
    screenshot(tab, shots, "signin_05_kam_note_recorded")

    # sign out: the provider's end-session page, then the app's sign-in page again
    sidebar(tab).get_by_role("button", name="Sign out").click()
    end_session(tab)
    tab.get_by_text("Sign in to see the key account programme.").wait_for(timeout=30_000)
    screenshot(tab, shots, "signin_06_signed_out_again")

    # someone the provider knows but kam.toml gives no role: No access, nothing of the data, and a way out
    sign_in(tab, STRANGER_EMAIL, shots)
    tab.get_by_role("heading", name="No access").wait_for(timeout=60_000)
    # the address as it is (a code span, no link, no invisible word joiner in what one copies)
    assert tab.locator('[data-testid="stMain"] code').filter(has_text=STRANGER_EMAIL).inner_text() == STRANGER_EMAIL
    assert tab.locator('[data-testid="stMain"] a[href^="mailto:"]').count() == 0
    assert a_name not in page_text(tab) and b_name not in page_text(tab)
    screenshot(tab, shots, "signin_07_no_access")
    tab.get_by_role("button", name="Sign out").click()
    end_session(tab)
    tab.get_by_text("Sign in to see the key account programme.").wait_for(timeout=30_000)

    # leadership signs in: every account, B's among them
    sign_in(tab, LEADERSHIP_EMAIL, shots)
    settle(tab, "Weekly review")
    sidebar(tab).get_by_text(f"Signed in as {LEADERSHIP_NAME} · leadership").wait_for(timeout=30_000)
    text = page_text(tab)
    assert b_name in text and a_name in text
    screenshot(tab, shots, "signin_08_leadership_weekly_review")
    tab.goto(f"{signin_app}/Account?account_id={b_id}")
    settle(tab, "Account")
    tab.get_by_role("heading", name=b_name).first.wait_for(timeout=30_000)
    assert tab.locator('[data-testid="stAlert"]').filter(has_text="not yours").count() == 0
    assert errors(tab) == []
    screenshot(tab, shots, "signin_09_leadership_account")


def test_a_kam_sees_only_their_own_accounts_on_every_page(signin_app, tab, shots, kams):
    """Signed in once (the identity cookie opens every later page's session), each page of the app as KAM A: some of
    A's accounts or none, never another's (tables' accessible copies and charts' labels included)."""
    a = kams["A"]
    tab.goto(signin_app)
    sign_in(tab, a["email"], shots)
    sidebar(tab).get_by_text(f"Signed in as {a['name']} · kam").wait_for(timeout=60_000)
    leaks = {}
    for path, title in PAGES.items():
        tab.goto(f"{signin_app}/{path}")
        settle(tab, title, charts=path not in CHARTLESS)
        sidebar(tab).get_by_text(f"Signed in as {a['name']} · kam").wait_for(timeout=30_000)
        text = page_text(tab)
        shown = sorted(name for name in kams["not_A"].values() if name in text)
        if shown:
            leaks[path or "home"] = shown[:5]
        assert errors(tab) == [], (path, errors(tab))
        screenshot(tab, shots, f"signin_kam_{path or 'home'}")
    assert leaks == {}, f"accounts of others shown to {a['name']}: {leaks}"
