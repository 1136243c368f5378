"""Data safety: loads killed at every stage, and fuzzed input to the canonical reader.

The loader must never crash with a traceback on bad bytes: it either writes a snapshot (rows it
cannot use go to the quarantine, and the counts add up) or refuses the file with a LoadError.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kam_metrics.load import warehouse
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.pipeline import load_export
from kam_metrics.load.verify import verify_snapshot
from tests.conftest import BASE_EXPORT, write_export

STAGES = ["reading", "checking", "writing snapshot", "writing raw rows", "precomputing aggregates", "publishing",
          "switching"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_load_killed_at_any_stage_leaves_the_previous_snapshot_current(tmp_path, stage, paused_load_command):
    data_dir = tmp_path / "data"
    first = load_export(write_export(tmp_path / "first", {}), data_dir)
    second_export = write_export(
        tmp_path / "second",
        {"accounts.csv": "account_id,account_name,is_key_account\nA1,a,true\nA2,b,false\nA3,c,false\nA4,d,true\n"},
    )
    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        paused_load_command(stage, marker, "--data-dir", str(data_dir), "load", str(second_export)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the load never reached the stage"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The previous snapshot is still current, readable and intact.
    assert warehouse.current_snapshot_path(data_dir) == first.snapshot_path
    con = warehouse.connect_current(data_dir)
    assert con.sql("SELECT count(*) FROM accounts").fetchall() == [(3,)]
    con.close()
    assert verify_snapshot(data_dir) == []
    # The next load cleans what the killed one left and succeeds.
    again = load_export(second_export, data_dir)
    assert warehouse.leftovers(data_dir) == []
    assert warehouse.current_snapshot_path(data_dir) == again.snapshot_path
    assert verify_snapshot(data_dir) == []


def _load_or_refuse(folder: Path, data_dir: Path) -> None:
    """The property: a LoadError naming a file, or a snapshot whose counts add up."""
    try:
        report = load_export(folder, data_dir)
    except LoadError as exc:
        assert str(exc).strip(), "a LoadError must say what is wrong"
        return
    for c in report.tables:
        assert c.read == c.loaded + c.quarantined + c.skipped, c
    assert verify_snapshot(data_dir) == []


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
_counter = {"n": 0}


def _fresh(tmp_path: Path) -> tuple[Path, Path]:
    _counter["n"] += 1
    return tmp_path / f"ex{_counter['n']}", tmp_path / f"data{_counter['n']}"


@FUZZ
@given(table=st.sampled_from(sorted(BASE_EXPORT)), data=st.binary(max_size=600))
def test_random_bytes_in_any_file(tmp_path, table, data):
    folder, data_dir = _fresh(tmp_path)
    _load_or_refuse(write_export(folder, {table: data}), data_dir)


@FUZZ
@given(
    table=st.sampled_from(sorted(BASE_EXPORT)),
    cut=st.integers(min_value=0, max_value=400),
    extra=st.lists(st.sampled_from(list(",\"\n\r;\t x1-") + ["\u202e", "é", "\x00", "=1+1"]), max_size=40).map("".join),
)
def test_truncated_ragged_and_badly_quoted_files(tmp_path, table, cut, extra):
    import textwrap

    original = textwrap.dedent(BASE_EXPORT[table]).encode()
    mangled = original[: cut % (len(original) + 1)] + extra.encode("utf-8")
    folder, data_dir = _fresh(tmp_path)
    _load_or_refuse(write_export(folder, {table: mangled}), data_dir)


@FUZZ
@given(
    cells=st.lists(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["", "nan", "inf", "-0", "1e308", "1e309", "2024-02-30", "9999-12-31", "0000-01-01",
                             "<script>alert(1)</script>", "[x](javascript:alert(1))", "=HYPERLINK(\"x\")", "ü" * 5000,
                             "\u200f\u202e", "true", "TRUE", "1", " y "]),
        ),
        min_size=8, max_size=8,
    )
)
def test_hostile_cell_values(tmp_path, cells):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["activity_id", "account_id", "activity_date", "activity_type", "contact_id", "owner",
                     "duration_minutes", "subject"])
    writer.writerow(["X1", "A1", "2026-11-01", "email", "", "", "5", "ok"])
    writer.writerow(cells)
    folder, data_dir = _fresh(tmp_path)
    _load_or_refuse(write_export(folder, {"activities.csv": buf.getvalue().encode("utf-8", "surrogatepass")}), data_dir)


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n", b"activity_id,account_id,activity_date,activity_type\n", b"\xef\xbb\xbf",
     b"activity_id,account_id,activity_date,activity_type\r\nX1,A1,2026-11-01,email\r\n",
     "activity_id,account_id,activity_date,activity_type\nX1,A1,2026-11-01,email\n".encode("utf-16"),
     b'activity_id,account_id,activity_date,activity_type\n"X1,A1,2026-11-01,email\n'],
    ids=["empty", "blank-lines", "header-only", "bom-only", "crlf", "utf-16", "unbalanced-quote"],
)
def test_edge_files(tmp_path, content):
    folder, data_dir = _fresh(tmp_path)
    _load_or_refuse(write_export(folder, {"activities.csv": content}), data_dir)


# --- the CRM importers get the same treatment ----------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
CRM_EXPORTS = {
    "salesforce-weekly": FIXTURES / "salesforce" / "weekly",
    "salesforce-dataloader": FIXTURES / "salesforce" / "dataloader",
    "hubspot-view": FIXTURES / "hubspot" / "view",
    "hubspot-allprops": FIXTURES / "hubspot" / "allprops",
}


def _crm_copy(tmp_path: Path, name: str) -> tuple[Path, Path, list[Path]]:
    import shutil

    folder, data_dir = _fresh(tmp_path)
    shutil.copytree(CRM_EXPORTS[name], folder)
    return folder, data_dir, sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv")


def _crm_load_or_refuse(folder: Path, data_dir: Path, fmt: str) -> None:
    try:
        report = load_export(folder, data_dir, fmt=fmt)
    except LoadError as exc:
        assert str(exc).strip()
        return
    for c in report.tables:
        assert c.read == c.loaded + c.quarantined + c.skipped, c
    assert verify_snapshot(data_dir) == []


@FUZZ
@given(export=st.sampled_from(sorted(CRM_EXPORTS)), which=st.integers(0, 20), data=st.binary(max_size=600))
def test_crm_importers_on_random_bytes(tmp_path, export, which, data):
    folder, data_dir, files = _crm_copy(tmp_path, export)
    files[which % len(files)].write_bytes(data)
    _crm_load_or_refuse(folder, data_dir, export.split("-")[0])


@FUZZ
@given(
    export=st.sampled_from(sorted(CRM_EXPORTS)),
    which=st.integers(0, 20),
    cut=st.integers(min_value=0, max_value=3000),
    extra=st.lists(st.sampled_from(list(',"\n\r;\t x1-') + ["\u202e", "é", "\xf3", "000000000000000AAA", "=1+1",
                                                           "2024-13-45", "TRUE"]), max_size=40).map("".join),
    encoding=st.sampled_from(["utf-8", "cp1252", "utf-8-sig"]),
)
def test_crm_importers_on_truncated_ragged_and_mixed_encoding_files(tmp_path, export, which, cut, extra, encoding):
    folder, data_dir, files = _crm_copy(tmp_path, export)
    target = files[which % len(files)]
    original = target.read_bytes()
    tail = extra.encode(encoding, errors="replace")
    target.write_bytes(original[: cut % (len(original) + 1)] + tail)
    _crm_load_or_refuse(folder, data_dir, export.split("-")[0])
