"""Issue 14 in a real browser: a KAM champion records a 30-day review and a 90-day plan on an overdue key account
and sees its cadence change on the Account page and the Weekly review, creates an action from an alert and sees it
in the open actions; then a new `kam load` of the export keeps all of it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from kam_metrics.app.programme_ui import ACTOR_LABEL
from kam_metrics.generators.demo import OVERDUE_ACCOUNTS
from kam_metrics.load.pipeline import load_export
from tests.test_browser import REPO, browser, errors, page, screenshot, serve, settle, shots  # noqa: F401

pytestmark = pytest.mark.browser

ACCOUNT = OVERDUE_ACCOUNTS[0]  # Meridian Health Partners: no plan in 90 days, no review in 30


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, demo_export_dir):
    """The demo loaded into a data directory of this module's own (its programme store starts with the load's)."""
    folder = tmp_path_factory.mktemp("programme_browser") / "data"
    load_export(demo_export_dir, folder)
    return folder


@pytest.fixture(scope="module")
def app_url(data_dir):
    with serve(data_dir) as url:
        yield url


def tile(page, label: str) -> str:
    """The value of a KPI tile, by its label."""
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def choose(page, label: str, option: str, attempts: int = 3) -> None:
    """Pick an option of a select box by its label (exactly), once the app has finished its run.

    A rerun that redraws the select box closes its list (CI saw the list never show its options under load), so
    the list is opened again until the option shows, and the choice is checked on the box afterwards."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
    wanted = page.get_by_role("option", name=option, exact=True)
    for _ in range(attempts):
        wait_rerun(page)
        box.locator("button[aria-label=Open]").click()  # Streamlit 1.67's select box is a react-aria combo box
        try:
            wanted.wait_for(timeout=10_000)
            wanted.click(timeout=10_000)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        if shown(box) == option:
            return
    raise AssertionError(f"could not choose {option!r} in the select box {label!r}: it shows {shown(box)!r}")


def shown(box) -> str:
    """The value a select box shows (in its combo box's input)."""
    wait_rerun(box.page)
    return box.locator("input").first.input_value()


def wait_rerun(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(500)


def test_record_plan_and_review_then_action_then_reload(app_url, page, shots, data_dir, demo_export_dir):
    page.goto(f"{app_url}/")
    settle(page, "Weekly review")
    cadence_before = tile(page, "Cadence compliance")

    page.goto(f"{app_url}/Account?account_id={ACCOUNT}")
    settle(page, "Account")
    assert tile(page, "Plan cadence") == "overdue"
    page.get_by_label(ACTOR_LABEL, exact=True).fill("Kim Lee")
    page.get_by_label(ACTOR_LABEL, exact=True).press("Enter")
    wait_rerun(page)

    # a 30-day review (the form's default type) dated as_of: a review in the last 30 days, no plan: partial
    page.get_by_role("button", name="Save plan / review").click()
    wait_rerun(page)
    page.get_by_text(re.compile(r"Saved: review 30 day of")).first.wait_for(timeout=30_000)
    assert tile(page, "Plan cadence") == "partial"
    # then a 90-day plan (a plan is also a review, METRICS.md): on cadence
    choose(page, "Type", "plan 90 day")
    page.get_by_role("button", name="Save plan / review").click()
    wait_rerun(page)
    page.get_by_text(re.compile(r"Saved: plan 90 day of")).first.wait_for(timeout=30_000)
    assert tile(page, "Plan cadence") == "on cadence"
    assert page.get_by_text("Kim Lee").count() >= 1  # the history names who recorded it
    assert errors(page) == []
    screenshot(page, shots, "programme_account_recorded")

    # the Weekly review's cadence compliance counts it; an action from the first alert joins the open actions
    page.goto(f"{app_url}/")
    settle(page, "Weekly review")
    cadence_after = tile(page, "Cadence compliance")
    assert float(cadence_after.rstrip("%")) > float(cadence_before.rstrip("%"))
    page.get_by_label(ACTOR_LABEL, exact=True).fill("Kim Lee")  # a new page load is a new session: name again
    page.get_by_label(ACTOR_LABEL, exact=True).press("Enter")
    wait_rerun(page)
    page.get_by_text("Create action from an alert").click()
    form = page.locator('[data-testid="stExpander"]').filter(has_text="Create action from an alert")
    form.get_by_label("Action", exact=True).fill("Call the new champion's manager")
    form.get_by_label("Owner", exact=True).fill("Kim Lee")
    form.get_by_role("button", name=re.compile("Create action")).click()
    wait_rerun(page)
    open_actions = page.locator('[data-testid="stMain"]')
    open_actions.get_by_text("Call the new champion's manager").first.wait_for(timeout=30_000)
    assert errors(page) == []
    screenshot(page, shots, "programme_open_actions")

    # a new load of the same export: the review, the cadence and the action stay
    done = subprocess.run([sys.executable, "-m", "kam_metrics.cli", "--data-dir", str(data_dir), "load",
                           str(demo_export_dir)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    page.goto(f"{app_url}/")
    settle(page, "Weekly review")
    assert tile(page, "Cadence compliance") == cadence_after
    page.get_by_text("Call the new champion's manager").first.wait_for(timeout=30_000)
    page.goto(f"{app_url}/Account?account_id={ACCOUNT}")
    settle(page, "Account")
    assert tile(page, "Plan cadence") == "on cadence"
