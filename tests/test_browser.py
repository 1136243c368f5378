"""The live app in Debian's Chromium through Playwright: every page draws its charts without an error box,
deep links and filter links work, and a table row opens its account.

Run with `uv run pytest tests/test_browser.py -m browser`. Screenshots go to $KAM_SCREENSHOTS (default: a
pytest temporary folder) so a person can look at every page.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PAGES = {  # URL path → what its title says
    "": "Weekly review",
    "Engagement": "Engagement",
    "Share_of_wallet": "Share of wallet",
    "Cost_to_serve": "Cost to serve & lifetime value",
    "Programme_goals": "Programme goals",
    "Account": "Account",
    "Key_account_selection": "Key account selection",
    "Score_check": "Score check",
    "Data": "Data",
}
CHARTLESS = {"Data"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(data_dir: Path, *, port: int | None = None, command: list[str] | None = None,
          env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the app on a data directory (streamlit run on a free port); yields its URL, stops it afterwards.

    `command` replaces the `streamlit run` line (it must listen on `port`; it may be a launcher such as `kam app`
    whose server is its child: the command runs in a process group of its own, stopped as a whole), `env` adds to
    the environment."""
    port = port or free_port()
    extra_env = env or {}
    env = dict(os.environ, KAM_DATA_DIR=str(data_dir))
    env.pop("KAM_CONFIG", None)
    env.update(extra_env)
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on a full pipe
    process = subprocess.Popen(
        command or [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                    "--server.port", str(port), "--browser.gatherUsageStats", "false",
                    "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"streamlit did not start:\n{log.read().decode(errors='replace')}")
                time.sleep(0.5)
        yield url
    finally:
        _stop_group(process)
        log.close()


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group `process` leads, SIGKILL to what is left of it after 10 s."""
    def signal_group(sig: int) -> bool:
        try:
            os.killpg(process.pid, sig)
            return True
        except ProcessLookupError:
            return False

    signal_group(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while (process.poll() is None or signal_group(0)) and time.monotonic() < deadline:
        time.sleep(0.1)
    signal_group(signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def app_url(demo_data_dir):
    with serve(demo_data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("KAM_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()


def settle(tab, title: str, charts: bool = True) -> None:
    """Wait until the page shows its title, has stopped running and (if it has any) drawn its charts."""
    tab.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
    tab.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000,
    )
    if charts:  # the charts, or the error box that replaced them
        tab.locator('.js-plotly-plot, [data-testid="stException"]').first.wait_for(timeout=60_000)
    tab.wait_for_timeout(800)


def errors(tab) -> list[str]:
    boxes = tab.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return boxes.all_inner_texts()


def screenshot(tab, folder: Path, name: str) -> None:
    """A full-length screenshot: the app scrolls inside its main block, so the viewport is stretched to it."""
    height = tab.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    tab.set_viewport_size({"width": 1500, "height": min(max(int(height) + 40, 1000), 12_000)})
    tab.wait_for_timeout(1000)
    tab.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    tab.set_viewport_size({"width": 1500, "height": 1000})


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_draws_without_errors(app_url, page, shots, path):
    page.goto(f"{app_url}/{path}")
    settle(page, PAGES[path], charts=path not in CHARTLESS)
    assert errors(page) == []
    if path not in CHARTLESS:
        assert page.locator(".js-plotly-plot").count() >= 2
        for chart in page.locator(".js-plotly-plot").all()[:3]:
            assert chart.locator(".main-svg").count() >= 1
    screenshot(page, shots, path or "home")


def test_account_deep_link(app_url, page, shots):
    from kam_metrics.generators.demo import CHAMPION_LEFT_ACCOUNT, account_names

    page.goto(f"{app_url}/Account?account_id={CHAMPION_LEFT_ACCOUNT}")
    settle(page, "Account")
    name = account_names()[CHAMPION_LEFT_ACCOUNT]
    page.get_by_role("heading", name=name).wait_for(timeout=30_000)
    # the warning once (the relationship penalties table says it again, as the reason of its penalty)
    warnings = page.locator('[data-testid="stAlert"]').filter(has_text="A champion or decision maker left")
    assert warnings.count() == 1
    assert errors(page) == []
    screenshot(page, shots, "account_deep_link")


def test_filters_in_the_url_survive_navigation(app_url, page):
    page.goto(f"{app_url}/?region=EMEA&key_only=true")
    settle(page, "Weekly review")
    assert "EMEA" in page.locator('[data-testid="stSidebar"]').inner_text()
    page.get_by_role("link", name="Engagement").click()
    settle(page, "Engagement")
    page.wait_for_function("() => location.search.includes('region=EMEA')", timeout=20_000)
    assert "key_only=true" in page.evaluate("location.search")
    assert "EMEA" in page.locator('[data-testid="stSidebar"]').inner_text()


def test_selecting_a_table_row_opens_the_account(app_url, page):
    page.goto(f"{app_url}/")
    settle(page, "Weekly review")
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    # The first column holds the row-selection checkboxes; the first data row sits below the header.
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)
    page.wait_for_url("**/Account?*", timeout=30_000)
    settle(page, "Account")
    assert "account_id=" in page.url
    assert errors(page) == []
