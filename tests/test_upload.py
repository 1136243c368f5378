"""Uploads: zip slip, zip bombs, links, oversized uploads, unsafe names, uploads turned off."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from kam_metrics.load import warehouse
from kam_metrics.load.importers.base import LoadError
from kam_metrics.settings import Settings
from kam_metrics.load.upload import load_upload
from tests.conftest import BASE_EXPORT


def export_files() -> list[tuple[str, bytes]]:
    import textwrap

    return [(name, textwrap.dedent(text).encode()) for name, text in BASE_EXPORT.items()]


def zipped(entries: list[tuple[str, bytes]], links: list[str] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_individual_files_and_a_zip_both_load(tmp_path):
    report = load_upload(export_files(), tmp_path / "d1")
    assert {t.table: t.loaded for t in report.tables}["accounts"] == 3
    nested = [(f"kam-export/{n}", d) for n, d in export_files()]
    report = load_upload([("export.zip", zipped(nested))], tmp_path / "d2")
    assert {t.table: t.loaded for t in report.tables}["revenue"] == 3
    # The load log names the uploaded file, not the scratch folder it was unpacked into.
    assert report.source_path == "export.zip (uploaded)"
    con = warehouse.connect_current(tmp_path / "d2")
    assert con.sql("SELECT source_path FROM load_log").fetchall() == [("export.zip (uploaded)",)]


@pytest.mark.parametrize(
    "upload,settings,message",
    [
        ([("x.zip", zipped(export_files() + [("../../evil.csv", b"a")]))], Settings(),
         "entry '../../evil.csv' points outside the export folder"),
        ([("x.zip", zipped(export_files() + [("/etc/cron.d/evil", b"a")]))], Settings(),
         "entry '/etc/cron.d/evil' points outside the export folder"),
        ([("x.zip", zipped(export_files(), links=["accounts2.csv"]))], Settings(),
         "entry 'accounts2.csv' is a symbolic link"),
        ([("x.zip", zipped(export_files() + [("zeros.bin", b"\0" * 3_000_000)]))], Settings(max_zip_uncompressed_mb=2),
         "unpacks to more than 2 MB; refused (zip bomb guard)"),
        ([("x.zip", zipped(export_files() + [(f"f{i}.txt", b"") for i in range(30)]))], Settings(max_zip_entries=20),
         "too many entries (33 > 20)"),
        (export_files() + [("big.csv", b"x" * 1_200_000)], Settings(max_upload_mb=1),
         "over the limit of 1 MB (max_upload_mb)"),
        (export_files() + [("../accounts.csv", b"x")], Settings(), "not an acceptable file name"),
        (export_files(), Settings(upload_enabled=False), "uploads are turned off"),
        ([("x.zip", b"PK\x03\x04 not really a zip")], Settings(), "not a readable zip file"),
    ],
    ids=["zip-slip", "absolute-path", "symlink", "zip-bomb", "entry-count", "oversized", "unsafe-name", "disabled",
         "corrupt-zip"],
)
def test_hostile_uploads_are_refused_and_change_nothing(tmp_path, upload, settings, message):
    data_dir = tmp_path / "data"
    before = load_upload(export_files(), data_dir).snapshot_path
    with pytest.raises(LoadError) as err:
        load_upload(upload, data_dir, settings=settings)
    assert message in str(err.value)
    assert warehouse.current_snapshot_path(data_dir) == before
    assert not (tmp_path / "evil.csv").exists()


def test_progress_goes_through_the_load_stages(tmp_path):
    stages = []
    load_upload(export_files(), tmp_path / "d", progress=lambda stage, fraction: stages.append((stage, fraction)))
    names = [s for s, _ in stages]
    assert names[0] == "reading" and names[-1] == "done"
    assert {"checking", "writing snapshot", "publishing"} <= set(names)
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
