"""Snapshots: the atomic switch, readers beside a load, one load at a time, leftovers, verify."""

from __future__ import annotations

import threading

import duckdb
import pytest

from kam_metrics.load import warehouse
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.verify import verify_snapshot


def test_a_reader_holding_the_old_snapshot_keeps_working_while_a_new_load_completes(make_export, load_folder, tmp_path):
    data_dir = tmp_path / "data"
    first = load_folder(make_export(), data_dir=data_dir)
    old = warehouse.connect_current(data_dir)
    assert old.sql("SELECT count(*) FROM accounts").fetchall() == [(3,)]
    bigger = make_export({"accounts.csv": "account_id,account_name,is_key_account\nA1,a,true\nA2,b,false\nA3,c,false\nA4,d,false\n"})
    second = load_folder(bigger, data_dir=data_dir)
    # The old connection still answers from the old snapshot; a new one sees the new data.
    assert old.sql("SELECT count(*) FROM accounts").fetchall() == [(3,)]
    assert warehouse.current_snapshot_path(data_dir) == second.snapshot_path != first.snapshot_path
    assert warehouse.connect_current(data_dir).sql("SELECT count(*) FROM accounts").fetchall() == [(4,)]


def test_readers_in_a_loop_never_see_a_half_written_snapshot(make_export, load_folder, tmp_path):
    data_dir = tmp_path / "data"
    small = make_export()
    load_folder(small, data_dir=data_dir)
    big = make_export({"accounts.csv": "account_id,account_name,is_key_account\n"
                       + "".join(f"A{i},n{i},false\n" for i in range(1, 2001))})
    seen, errors = set(), []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                con = warehouse.connect_current(data_dir)
                seen.add(con.sql("SELECT count(*) FROM accounts").fetchall()[0][0])
                con.close()
            except Exception as exc:  # noqa: BLE001 - any error is a failure of the test
                errors.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for folder in (big, small, big, small):
            load_folder(folder, data_dir=data_dir)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert seen <= {3, 2000} and 3 in seen


def test_a_second_load_at_the_same_time_is_refused(make_export, load_folder, tmp_path):
    data_dir = tmp_path / "data"
    with warehouse.load_lock(data_dir):
        with pytest.raises(LoadError, match="another load is running"):
            load_folder(make_export(), data_dir=data_dir)
    load_folder(make_export(), data_dir=data_dir)  # free again afterwards


def test_leftovers_of_a_killed_load_are_reported_and_cleaned(make_export, load_folder, tmp_path):
    data_dir = tmp_path / "data"
    load_folder(make_export(), data_dir=data_dir)
    half = warehouse.snapshot_dir(data_dir) / "20990101T000000000000Z-dead00.duckdb.tmp"
    half.write_bytes(b"half a database")
    assert warehouse.leftovers(data_dir) == [half]
    current = warehouse.current_snapshot_path(data_dir)
    assert current is not None and current != half
    report = load_folder(make_export(), data_dir=data_dir)
    assert report.cleaned_leftovers == [half.name]
    assert not half.exists()


def test_verify_passes_on_a_load_and_catches_tampering(make_export, load_folder, tmp_path):
    data_dir = tmp_path / "data"
    report = load_folder(make_export({"activities.csv": "activity_id,account_id,activity_date,activity_type\nX1,A1,2026-11-01,email\nX2,A9,2026-11-01,email\n"}), data_dir=data_dir)
    assert verify_snapshot(data_dir) == []
    con = duckdb.connect(str(report.snapshot_path))
    con.execute("DELETE FROM activities")
    con.execute("UPDATE raw__activities SET account_id = 'A1' WHERE _source_row = 2")  # the row that did not load
    con.execute("DELETE FROM raw__revenue")
    con.close()
    problems = verify_snapshot(data_dir)
    assert any("activities: load log says 1 rows loaded, the table holds 0" in p for p in problems), problems
    assert any("activities.csv: raw rows do not match their stored checksum" in p for p in problems), problems
    # a row of revenue.csv that neither loaded nor stayed raw is caught as lost... (none was raw: all loaded)
    assert not any(p.startswith("revenue.csv") for p in problems), problems
    assert any("activities.csv: 2 rows read, 0 loaded + 1 kept raw" in p for p in problems), problems


def test_a_pointer_that_moves_while_it_is_read_is_followed(make_export, load_folder, tmp_path, monkeypatch):
    """CURRENT names a snapshot that a concurrent load pruned: the reader re-reads the pointer."""
    data_dir = tmp_path / "data"
    first = load_folder(make_export(), data_dir=data_dir)
    second = load_folder(make_export(), data_dir=data_dir)
    reads = iter([first.load_id, second.load_id, second.load_id])
    monkeypatch.setattr(warehouse, "current_load_id", lambda d: next(reads))
    first.snapshot_path.unlink()  # pruned by the load that wrote `second`
    assert warehouse.current_snapshot_path(data_dir) == second.snapshot_path
