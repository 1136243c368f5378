"""Uploading an export through the Data page in Debian's Chromium: the load report, the switch to the new
snapshot, and a zip-slip archive refused with a clear message (plus, through AppTest, a loader that fails
unexpectedly: a clear message, no traceback, the snapshot unchanged).

Run with `uv run pytest tests/test_browser_upload.py -m browser`. Screenshots go to $KAM_SCREENSHOTS.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.load import warehouse
from kam_metrics.generators.demo import write_demo
from tests.test_browser import browser, errors, page, screenshot, serve, settle, shots  # noqa: F401 (fixtures)

BAD_DATES = 3  # activities whose date cannot be read
BAD_AMOUNTS = 2  # revenue rows whose amount is not a number


def zip_folder(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


@pytest.fixture(scope="module")
def upload_data_dir(tmp_path_factory, demo_data_dir) -> Path:
    """A data directory with the demo loaded, that these tests may load into."""
    data_dir = tmp_path_factory.mktemp("upload") / "data"
    shutil.copytree(demo_data_dir, data_dir)
    return data_dir


@pytest.fixture(scope="module")
def upload_url(upload_data_dir):
    with serve(upload_data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def export_zip(tmp_path_factory) -> Path:
    """The demo export, zipped, with a few activities that fail a check."""
    root = tmp_path_factory.mktemp("upload_export")
    folder = root / "export"
    write_demo(folder)
    activities = pl.read_csv(folder / "activities.csv", infer_schema=False)
    pl.concat([activities, activities.head(BAD_DATES).with_columns(
        pl.format("ACT-BADDATE-{}", pl.int_range(pl.len())).alias("activity_id"),
        pl.lit("31/31/2026").alias("activity_date"),
    )]).write_csv(folder / "activities.csv")
    revenue = pl.read_csv(folder / "revenue.csv", infer_schema=False)
    pl.concat([revenue, revenue.head(BAD_AMOUNTS).with_columns(
        pl.format("REV-BADAMOUNT-{}", pl.int_range(pl.len())).alias("revenue_id"), pl.lit("twelve").alias("amount"),
    )]).write_csv(folder / "revenue.csv")
    return zip_folder(folder, root / "weekly_export.zip")


def open_data_page(tab, url: str) -> None:
    tab.goto(f"{url}/Data")
    settle(tab, "Data", charts=False)


def upload(tab, archive: Path) -> None:
    form = tab.locator('[data-testid="stForm"]')
    form.scroll_into_view_if_needed()
    tab.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(archive))
    tab.get_by_text(archive.name).first.wait_for(timeout=30_000)  # the uploader lists the file once it is sent
    form.get_by_role("button", name="Load export").click()


@pytest.mark.browser
def test_uploading_a_zip_loads_it_and_reports_per_table(upload_url, upload_data_dir, page, shots, export_zip):
    before = warehouse.current_load_id(upload_data_dir)
    open_data_page(page, upload_url)
    upload(page, export_zip)
    done = page.get_by_text("Loaded: snapshot")
    done.wait_for(timeout=120_000)
    settle(page, "Data", charts=False)
    assert errors(page) == []

    after = warehouse.current_load_id(upload_data_dir)
    assert after != before and after is not None
    assert after in done.inner_text(), "the report names the snapshot that is now current"
    # Rows per table: activities read = demo rows + 5, loaded = demo rows, 5 quarantined.
    counts = page.locator('[data-testid="stDataFrame"]').filter(has_text="quarantined")
    assert counts.count() >= 1
    report = page.locator('[data-testid="stExpander"]').filter(has_text="Full load report")
    report.get_by_text("Full load report").click()
    text = report.inner_text()
    rows = {l.split()[0]: [int(v) for v in l.split()[1:5]] for l in text.splitlines()
            if l.split()[:1] in (["activities"], ["revenue"], ["accounts"])}
    demo_activities, demo_revenue = (pl.read_csv(folder, infer_schema=False).height for folder in (
        export_zip.parent / "export" / "activities.csv", export_zip.parent / "export" / "revenue.csv"))
    # read, loaded, quarantined, skipped: the bad rows are read and quarantined, the others loaded.
    assert rows["activities"] == [demo_activities, demo_activities - BAD_DATES, BAD_DATES, 0]
    assert rows["revenue"] == [demo_revenue, demo_revenue - BAD_AMOUNTS, BAD_AMOUNTS, 0]
    assert rows["accounts"][2] == 0
    # Rows per reason, naming the column (issue 12, item 7).
    assert re.search(rf"\b{BAD_DATES} rows: activities\.activity_date is not a date", text), text
    assert re.search(rf"\b{BAD_AMOUNTS} rows: revenue\.amount is not a number", text), text
    reasons = page.locator('[data-testid="stDataFrame"]').filter(has_text="not a date")
    assert reasons.count() == 2, "the new load's quarantine above, and the report's top reasons"
    # The warning links to the quarantine section of this page, which now lists the new load's rows.
    link = page.get_by_role("link", name="see them in the quarantine")
    assert link.get_attribute("href").endswith("#quarantine")
    assert page.locator("#quarantine").count() == 1
    assert page.get_by_text(f"{BAD_DATES + BAD_AMOUNTS} rows failed a check").count() == 1
    page.get_by_text("Data updated").first.wait_for(timeout=10_000)
    screenshot(page, shots, "upload_report")


@pytest.mark.browser
def test_a_zip_slip_archive_is_refused_clearly(upload_url, upload_data_dir, page, shots, export_zip, tmp_path):
    before = warehouse.current_load_id(upload_data_dir)
    evil = tmp_path / "evil_export.zip"
    shutil.copy(export_zip, evil)
    with zipfile.ZipFile(evil, "a") as archive:
        archive.writestr("../../outside.csv", "account_id\nX\n")
    open_data_page(page, upload_url)
    upload(page, evil)
    refusal = page.get_by_text("Not loaded:")
    refusal.wait_for(timeout=60_000)
    message = refusal.inner_text()
    assert "outside.csv" in message and "points outside the export folder" in message, message
    assert page.locator('[data-testid="stException"]').count() == 0
    assert warehouse.current_load_id(upload_data_dir) == before, "the current snapshot stays"
    assert warehouse.leftovers(upload_data_dir) == []
    assert not (upload_data_dir.parent / "outside.csv").exists()
    screenshot(page, shots, "upload_zip_slip_refused")


def test_a_loader_failure_is_reported_without_a_traceback(tmp_path, demo_data_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from kam_metrics.load import upload as upload_module

    data_dir = tmp_path / "data"
    shutil.copytree(demo_data_dir, data_dir)
    before = warehouse.current_load_id(data_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("boom in the loader")

    monkeypatch.setattr(upload_module, "load_upload", broken)
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("KAM_CONFIG", raising=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/9_Data.py").run()
    at.file_uploader(key="kam_upload_files").upload("accounts.csv", b"account_id,account_name\nA1,Acme\n")
    at.form_submit_button[0].click().run()
    assert not at.exception
    message = at.error[0].value
    assert message.startswith("Not loaded: the load failed unexpectedly (RuntimeError: boom in the loader)")
    assert "current snapshot is unchanged" in message
    assert warehouse.current_load_id(data_dir) == before
