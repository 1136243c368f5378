"""The load as named steps: one progress object, the order of the steps, and what a failing step leaves."""

from __future__ import annotations

import threading
import zipfile

import pytest

from kam_metrics.load import pipeline, warehouse
from kam_metrics.load.pipeline import LoadProgress
from kam_metrics.load.verify import verify_snapshot


def test_progress_never_moves_backwards_and_names_each_event():
    events = []
    progress = LoadProgress(lambda event, fraction: events.append((event, fraction)))
    progress.stage("reading", 0.05)
    progress.advance(0.35)  # no event
    progress.report("reading accounts")  # at where the load has reached
    progress.report("checking accounts", 0.5)
    progress.report("writing raw rows accounts.csv", 0.4)  # behind: reported at 0.5
    progress.stage("publishing", 0.97)
    assert events == [("reading", 0.05), ("reading accounts", 0.35), ("checking accounts", 0.5),
                      ("writing raw rows accounts.csv", 0.5), ("publishing", 0.97)]


def test_the_named_steps_of_a_zip_load_come_in_order(make_export, tmp_path, monkeypatch):
    folder = make_export()
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    steps = []
    announce = LoadProgress.stage
    monkeypatch.setattr(LoadProgress, "stage", lambda self, name, fraction: (steps.append(name),
                                                                              announce(self, name, fraction)))
    events = []
    pipeline.load_export(archive, tmp_path / "data", progress=lambda event, fraction: events.append(event))
    assert steps == ["unpacking", "reading", "checking", "writing raw rows", "writing snapshot",
                     "precomputing aggregates", "publishing", "switching"]
    # Between the steps, the per-table events; "done" last.
    assert [e for e in events if e in steps] == steps and events[-1] == "done"
    assert events.index("reading accounts") < events.index("checking accounts") < events.index("writing accounts")


def test_a_step_that_fails_leaves_no_half_snapshot_and_no_writer_running(make_export, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    first = pipeline.load_export(make_export(), data_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "_write_load_records", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.load_export(make_export({"accounts.csv": "account_id,account_name,is_key_account\nA1,a,true\n"}),
                             data_dir)
    assert warehouse.leftovers(data_dir) == []
    assert warehouse.current_snapshot_path(data_dir) == first.snapshot_path
    assert verify_snapshot(data_dir) == []
    assert not [t.name for t in threading.enumerate() if t.name.startswith("kam-store")]
