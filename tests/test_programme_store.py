"""The programme store (issue 14): validation, events and derived state, stale saves, import/export, several
writers at once and a killed writer, on both backends (SQLite in tmp_path and a real PostgreSQL server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.programme import (
    ImportRejected, RecordNotFound, StaleRecord, ValidationError, open_store, validate_csv, validate_record,
)
from kam_metrics.programme.schema import LONG_TEXT_MAX_CHARS, TEXT_MAX_CHARS
from kam_metrics.programme.store import SQLiteStore, StoreBusy

REPO_ROOT = Path(__file__).resolve().parent.parent
REVIEW = {"account_id": "A1", "review_date": "2026-11-02", "review_type": "review_30_day", "rating": 4,
          "notes": "Went well", "next_steps": "Send the proposal"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def store(programme_location):
    s = open_store(programme_location)
    yield s
    s.close()


# --- validation (no store) ----------------------------------------------------------------------------------

def test_validate_record_names_every_bad_column():
    values, problems = validate_record("reviews", {"review_id": "R1", "account_id": "", "review_date": "31/12/2026",
                                                   "review_type": "weekly", "rating": "6", "colour": "red"})
    assert dict(problems) == {
        "colour": "unknown column of reviews (expected review_id, account_id, review_date, review_type, rating, "
                  "notes, next_steps)",
        "account_id": "required",
        "review_date": "not a date: '31/12/2026' (expected YYYY-MM-DD)",
        "review_type": "'weekly' is not one of plan_90_day, review_30_day, qbr, strategy_day, other",
        "rating": "6 is above the maximum 5",
    }


def test_validate_record_normalises_and_checks_each_table():
    v, p = validate_record("reviews", {"review_id": " R1 ", "account_id": "A1", "review_date": "2026-11-02T10:00:00Z",
                                       "review_type": " QBR ", "rating": "4"})
    assert p == [] and v["review_id"] == "R1" and v["review_date"] == "2026-11-02" and v["review_type"] == "qbr"
    assert v["rating"] == 4
    _, p = validate_record("goals", {"goal_id": "G1", "title": "Grow", "target": "10", "start_date": "2026-06-01",
                                     "due_date": "2026-01-01"})
    assert ("due_date", "due_date 2026-01-01 is before start_date 2026-06-01") in p
    assert ("current", "required when metric is empty") in p
    _, p = validate_record("actions", {"action_id": "X1", "title": "Call"})
    assert p == [("goal_id", "an action needs a goal_id or an account_id")]
    _, p = validate_record("actions", {"action_id": "X1", "title": "Call", "account_id": "A1", "alert": "cadence_overdue"})
    assert p == []
    _, p = validate_record("wallet", {"account_id": "A1", "year": "2026.5", "wallet_amount": "-3", "confidence": "sure"})
    assert dict(p) == {"year": "not a whole number: '2026.5'", "wallet_amount": "-3.0 is below the minimum 0",
                       "confidence": "'sure' is not one of low, medium, high"}
    v, p = validate_record("account_profile", {"account_id": "A1", "is_key_account": "Yes",
                                               "relationship_stage": "Cooperative"})
    assert p == [] and v["is_key_account"] is True and v["relationship_stage"] == "cooperative"
    _, p = validate_record("account_profile", {"account_id": "A1", "is_key_account": "maybe"})
    assert p == [("is_key_account", "not a yes/no value: 'maybe' (expected true/false, 1/0, yes/no or y/n)")]
    _, p = validate_record("contact_roles", {"contact_id": "C1", "buying_role": "champion", "attitude": "-3",
                                             "backup_contact_id": "C1"})
    assert dict(p) == {"attitude": "-3 is below the minimum -2"}
    _, p = validate_record("contact_roles", {"contact_id": "C1", "backup_contact_id": "C1"})
    assert p == [("backup_contact_id", "a contact cannot be their own backup")]
    _, p = validate_record("notes", {"note_id": "N1", "account_id": "A1", "note_date": "2026-01-01"})
    assert p == [("text", "required")]
    _, p = validate_record("wallet", {"account_id": "A1", "year": 2026, "product_line": "a|b", "wallet_amount": 1})
    assert p == [("product_line", "must not contain '|' (it separates the parts of the record id)")]


def test_text_is_limited_in_size_with_a_clear_error():
    ok = {"note_id": "N1", "account_id": "A1", "note_date": "2026-01-01", "text": "x" * LONG_TEXT_MAX_CHARS}
    assert validate_record("notes", ok)[1] == []
    _, p = validate_record("notes", {**ok, "text": "x" * (LONG_TEXT_MAX_CHARS + 1), "author": "y" * (TEXT_MAX_CHARS + 1)})
    assert dict(p) == {"author": f"too long: {TEXT_MAX_CHARS + 1:,} characters (at most {TEXT_MAX_CHARS:,})",
                       "text": f"too long: {LONG_TEXT_MAX_CHARS + 1:,} characters (at most {LONG_TEXT_MAX_CHARS:,})"}
    _, p = validate_record("notes", {**ok, "text": "a\x00b"})
    assert p == [("text", "contains a NUL character")]


def test_validate_csv_returns_every_error_with_file_row_and_column(tmp_path):
    path = write(tmp_path / "reviews.csv", """\
        review_id,account_id,review_date,review_type,rating,extra
        R1,A1,2026-11-02,qbr,4,ignored
        R2,A1,2026-13-40,qbr,0,
        R3,,2026-11-02,nonsense,,
        R1,A2,2026-11-03,qbr,,
        """)
    errors = [str(e) for e in validate_csv(path)]
    assert errors == [
        "reviews.csv, row 3, column review_date: not a date: '2026-13-40' (expected YYYY-MM-DD)",
        "reviews.csv, row 3, column rating: 0 is below the minimum 1",
        "reviews.csv, row 4, column account_id: required",
        "reviews.csv, row 4, column review_type: 'nonsense' is not one of plan_90_day, review_30_day, qbr, "
        "strategy_day, other",
        "reviews.csv, row 5, column review_id: record 'R1' appears twice (first in row 2)",
    ]
    missing = write(tmp_path / "m" / "wallet.csv", "account_id,wallet_amount\nA1,5\n")
    assert [str(e) for e in validate_csv(missing)] == [
        "wallet.csv, row 1, column year: required column missing from the header",
        "wallet.csv, row 1, column product_line: required column missing from the header",
    ]


# --- the store, both backends -------------------------------------------------------------------------------

def test_save_get_current_and_log(store):
    assert store.get("reviews", "R1") is None and store.version("reviews", "R1") == 0
    assert store.save("reviews", "R1", REVIEW, actor="kim") == 1
    assert store.save("reviews", "R1", {"rating": 5}, actor="dana") == 2  # other columns keep their value
    rec = store.get("reviews", "R1")
    assert rec.values == {**REVIEW, "review_id": "R1", "rating": 5} and rec.version == 2 and rec.updated_by == "dana"
    store.save("wallet", "A1|2026|", {"wallet_amount": 1_000_000.5, "confidence": "high"}, actor="kim")
    store.save("wallet", "A1|2026|Pumps", {"wallet_amount": 250_000}, actor="kim")
    store.save("notes", "N1", {"account_id": "A2", "note_date": date(2026, 11, 3), "text": "Other account"}, actor="kim")

    reviews = store.current("reviews")
    assert reviews.schema["review_date"] == pl.Date and reviews.schema["rating"] == pl.Int64
    assert reviews.select("review_id", "review_date", "rating", "_version", "_updated_by").to_dicts() == [
        {"review_id": "R1", "review_date": date(2026, 11, 2), "rating": 5, "_version": 2, "_updated_by": "dana"}]
    wallet = store.current("wallet")
    assert wallet.select("year", "product_line", "wallet_amount").to_dicts() == [
        {"year": 2026, "product_line": None, "wallet_amount": 1_000_000.5},
        {"year": 2026, "product_line": "Pumps", "wallet_amount": 250_000.0}]
    assert store.current("goals").height == 0 and "target" in store.current("goals").columns

    log = store.log()
    assert log["event_id"].to_list() == [5, 4, 3, 2, 1]  # newest first
    assert log["op"].to_list() == ["insert", "insert", "insert", "update", "insert"]
    upd = log.filter(pl.col("event_id") == 2).row(0, named=True)
    assert (upd["actor"], upd["source"], upd["table_name"], upd["record_id"], upd["version"]) == (
        "dana", "app", "reviews", "R1", 2)
    assert json.loads(upd["old_values"])["rating"] == 4 and json.loads(upd["new_values"])["rating"] == 5
    assert upd["at"].endswith("Z") and upd["at"][:4] == str(date.today().year)
    assert store.log(account_id="A2")["record_id"].to_list() == ["N1"]
    assert store.log(account_id="A1").height == 4


def test_an_unchanged_save_writes_no_event_and_a_bad_one_nothing(store):
    store.save("reviews", "R1", REVIEW, actor="kim")
    assert store.save("reviews", "R1", {**REVIEW, "review_type": "REVIEW_30_DAY "}, actor="kim") == 1
    with pytest.raises(ValidationError, match="column rating: 9 is above the maximum 5"):
        store.save("reviews", "R1", {"rating": 9}, actor="kim")
    with pytest.raises(ValidationError, match="does not match the key"):
        store.save("reviews", "R2", {**REVIEW, "review_id": "R3"}, actor="kim")
    assert store.log().height == 1 and store.get("reviews", "R1").values["rating"] == 4


def test_stale_save_is_refused_with_who_and_when_and_nothing_is_overwritten(store):
    store.save("reviews", "R1", REVIEW, actor="kim")
    opened = store.version("reviews", "R1")  # two people open the record
    store.save("reviews", "R1", {"notes": "Dana's notes"}, actor="dana", expected_version=opened)
    changed_at = store.get("reviews", "R1").updated_at
    with pytest.raises(StaleRecord) as info:
        store.save("reviews", "R1", {"notes": "Kim's notes"}, actor="kim", expected_version=opened)
    assert f"changed by dana at {changed_at} since you opened it" in str(info.value)
    assert store.get("reviews", "R1").values["notes"] == "Dana's notes" and store.log().height == 2
    # A record expected to be new (version 0) that someone else created meanwhile, and a stale delete.
    store.save("notes", "N1", {"account_id": "A1", "note_date": "2026-01-01", "text": "first"}, actor="dana",
               expected_version=0)
    with pytest.raises(StaleRecord, match="changed by dana at"):
        store.save("notes", "N1", {"account_id": "A1", "note_date": "2026-01-01", "text": "mine"}, actor="kim",
                   expected_version=0)
    with pytest.raises(StaleRecord):
        store.delete("reviews", "R1", actor="kim", expected_version=opened)
    assert store.get("notes", "N1").values["text"] == "first" and store.get("reviews", "R1") is not None
    assert store.log().height == 3


def test_delete_keeps_the_history_and_a_record_can_come_back(store):
    store.save("notes", "N1", {"account_id": "A1", "note_date": "2026-01-01", "text": "hello"}, actor="kim")
    assert store.delete("notes", "N1", actor="dana") == 2
    assert store.get("notes", "N1") is None and store.current("notes").height == 0
    with pytest.raises(RecordNotFound):
        store.delete("notes", "N1", actor="dana")
    assert store.save("notes", "N1", {"account_id": "A1", "note_date": "2026-01-02", "text": "again"}, actor="kim") == 3
    ops = store.log()["op"].to_list()
    assert ops == ["insert", "delete", "insert"]
    assert store.get("notes", "N1").values["note_date"] == "2026-01-02"  # not merged with the deleted values
    assert store.check() == []


def test_import_is_all_or_nothing_and_names_file_row_and_column(store, tmp_path):
    folder = tmp_path / "in"
    write(folder / "notes.csv", """\
        note_id,account_id,note_date,author,text
        N1,A1,2026-11-01,kim,Fine
        """)
    write(folder / "reviews.csv", """\
        review_id,account_id,review_date,review_type,rating
        R1,A1,2026-11-02,qbr,4
        R2,A1,2026-11-03,qbr,seven
        """)
    with pytest.raises(ImportRejected) as info:
        store.import_folder(folder, actor="kim")
    assert [str(e) for e in info.value.errors] == ["reviews.csv, row 3, column rating: not a whole number: 'seven'"]
    with pytest.raises(ImportRejected):
        store.import_file(folder / "reviews.csv", actor="kim")
    assert store.log().height == 0 and store.current("notes").height == 0  # the good file was not written either

    # A rule across columns that fails only with what is stored (the file lacks metric and current).
    write(tmp_path / "g" / "goals.csv", """\
        goal_id,title,target,start_date,due_date
        G1,Grow,10,2026-01-01,2026-12-31
        """)
    with pytest.raises(ImportRejected, match=r"goals.csv, row 2, column current: required when metric is empty"):
        store.import_file(tmp_path / "g" / "goals.csv", actor="kim")
    assert store.log().height == 0


def test_import_twice_writes_no_new_events_and_keeps_what_the_file_lacks(store, tmp_path):
    path = write(tmp_path / "in" / "reviews.csv", """\
        review_id,account_id,review_date,review_type,rating
        R1,A1,2026-11-02,qbr,4
        R2,A2,2026-11-03,plan_90_day,
        """)
    first = store.import_file(path, actor="loader")
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (2, 2, 0, 0)
    assert set(store.log()["source"]) == {"import:reviews.csv"}
    again = store.import_file(path, actor="loader")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2) and store.log().height == 2
    # Notes recorded in the app survive a re-import of a file without a notes column; a changed row is one event.
    store.save("reviews", "R1", {"notes": "From the app"}, actor="kim")
    path.write_text(path.read_text().replace("R2,A2,2026-11-03,plan_90_day,", "R2,A2,2026-11-03,plan_90_day,3"))
    third = store.import_file(path, actor="loader")
    assert (third.updated, third.unchanged) == (1, 1) and store.log().height == 4
    assert store.get("reviews", "R1").values["notes"] == "From the app"
    assert store.get("reviews", "R2").values["rating"] == 3


def test_export_then_import_gives_the_same_current_state(programme_location, tmp_path):
    tricky = ["line one\nline two, with \"quotes\"", "=HYPERLINK(\"http://x\")", "'quoted", "-3", "Zoë — ünïcode ✓",
              "+1 555", "@mention"]
    with open_store(programme_location) as a:
        for i, text in enumerate(tricky):
            a.save("notes", f"N{i}", {"account_id": "A1", "note_date": "2026-01-01", "text": text, "author": text[:20]},
                   actor="kim")
        a.save("goals", "G1", {"title": "Share", "target": 0.1, "current": 1 / 3, "baseline": 1e-9,
                               "start_date": "2026-01-01", "due_date": "2026-12-31", "horizon": "mid"}, actor="kim")
        a.save("actions", "X1", {"title": "Call", "account_id": "A1", "alert": "cadence_overdue",
                                 "due_date": "2026-12-01"}, actor="kim")
        a.save("wallet", "A1|2026|", {"wallet_amount": 12345.678}, actor="kim")
        a.save("account_profile", "A1", {"is_key_account": False, "executive_sponsor": "Dana"}, actor="kim")
        a.save("contact_roles", "C1", {"buying_role": "champion", "attitude": -2, "backup_contact_id": "C2"}, actor="kim")
        a.save("reviews", "R1", REVIEW, actor="kim")
        a.save("reviews", "R2", REVIEW, actor="kim")
        a.delete("reviews", "R2", actor="kim")
        counts = a.export_folder(tmp_path / "out")
        before = {t: a.current(t).drop("_version", "_updated_at", "_updated_by") for t in counts}
    assert counts == {"account_profile": 1, "contact_roles": 1, "goals": 1, "actions": 1, "reviews": 1, "wallet": 1,
                      "notes": len(tricky)}
    assert "'=HYPERLINK" in (tmp_path / "out" / "notes.csv").read_text()  # safe to open in a spreadsheet
    with open_store(tmp_path / "second.sqlite") as b:
        b.import_folder(tmp_path / "out", actor="kim")
        after = {t: b.current(t).drop("_version", "_updated_at", "_updated_by") for t in counts}
        for t in counts:
            assert after[t].equals(before[t]), t
        assert b.current("notes")["text"].to_list() == [tricky[i] for i in range(len(tricky))]


def test_rebuild_current_equals_the_stored_state(store):
    for i in range(30):
        store.save("notes", f"N{i:02d}", {"account_id": f"A{i % 3}", "note_date": "2026-01-01", "text": f"v{i}"},
                   actor="kim")
    for i in range(0, 30, 3):
        store.save("notes", f"N{i:02d}", {"text": f"changed {i}"}, actor="dana")
    for i in range(0, 30, 5):
        store.delete("notes", f"N{i:02d}", actor="kim")
    store.save("reviews", "R1", REVIEW, actor="kim")
    stored = store.stored_current()
    assert len(stored) == 31 and store.derive_current() == stored and store.check() == []
    # Spoil the current table behind the store's back: check() sees it, rebuild_current() repairs it.
    store._write(lambda tx: tx.execute("UPDATE current_records SET record_values = '{}' WHERE record_id = 'N01'"))
    store._write(lambda tx: tx.execute("DELETE FROM current_records WHERE record_id = 'N02'"))
    assert len(store.check()) == 2
    assert store.rebuild_current() == 31
    assert store.stored_current() == stored and store.check() == []
    assert store.current("notes").height == 24


def test_a_busy_store_waits_then_raises_store_busy(tmp_path):
    import sqlite3

    path = tmp_path / "p.sqlite"
    open_store(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    s = SQLiteStore(str(path), busy_timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(StoreBusy, match="busy with other writers for 1 s; nothing was saved"):
        s.save("notes", "N1", {"account_id": "A1", "note_date": "2026-01-01", "text": "x"}, actor="kim")
    assert 1.0 <= time.monotonic() - t0 < 4.0
    blocker.execute("ROLLBACK")
    assert s.save("notes", "N1", {"account_id": "A1", "note_date": "2026-01-01", "text": "x"}, actor="kim") == 1
    s.close()
    blocker.close()


# --- several processes ----------------------------------------------------------------------------------------

def _kam_env(actor: str) -> dict[str, str]:
    return dict(os.environ, KAM_ACTOR=actor, PYTHONPATH=str(REPO_ROOT))


def _config(tmp_path: Path, location: str) -> Path:
    config = tmp_path / "kam.toml"
    config.write_text(f'programme_store = "{location}"\n')
    return config


@pytest.mark.slow
def test_two_importing_processes_and_saves_at_once_lose_nothing(programme_location, tmp_path):
    n = 400
    folders = []
    for who in ("a", "b"):
        lines = ["note_id,account_id,note_date,author,text"] + [
            f"{who}{i:04d},A{i % 7},2026-01-01,{who},note {i} of {who}" for i in range(n)]
        write(tmp_path / f"in_{who}" / "notes.csv", "\n".join(lines) + "\n")
        lines = ["account_id,year,product_line,wallet_amount"] + [f"{who.upper()}{i},2026,,{i}" for i in range(n)]
        write(tmp_path / f"in_{who}" / "wallet.csv", "\n".join(lines) + "\n")
        folders.append(tmp_path / f"in_{who}")
    config = _config(tmp_path, programme_location)
    with open_store(programme_location) as s:  # the schema exists before the race starts
        procs = [subprocess.Popen([sys.executable, "-m", "kam_metrics.cli", "programme", "import", str(f),
                                   "--config", str(config), "--data-dir", str(tmp_path / "data")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_kam_env(f"proc-{i}"))
                 for i, f in enumerate(folders)]
        saved = 0
        while any(p.poll() is None for p in procs) or saved < 60:
            s.save("reviews", f"R{saved:04d}", REVIEW, actor="app")
            saved += 1
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert "locked" not in err.lower() and "busy" not in err.lower()
        assert s.current("notes").height == 2 * n and s.current("wallet").height == 2 * n
        assert s.current("reviews").height == saved
        log = s.log()
        assert log.height == 4 * n + saved
        assert log["event_id"].n_unique() == log.height
        # The saves ran while the imports did: some app events come before the imports' and some after.
        app_ids = log.filter(pl.col("actor") == "app")["event_id"]
        import_ids = log.filter(pl.col("actor") != "app")["event_id"]
        assert app_ids.min() < import_ids.min() and app_ids.max() > import_ids.max()
        assert log.group_by("actor").len().sort("actor").rows() == [("app", saved), ("proc-0", 2 * n), ("proc-1", 2 * n)]
        assert s.check() == []


_KILL_CHILD = """
import sys
from kam_metrics.programme import open_store
s = open_store(sys.argv[1])
i = 0
while True:
    s.save("notes", f"N{i:06d}", {"account_id": "A1", "note_date": "2026-01-01", "text": "x" * 2000 + str(i)},
           actor="child")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.slow
def test_a_writer_killed_mid_save_loop_leaves_the_store_readable_and_consistent(programme_location, tmp_path):
    with open_store(programme_location) as s:
        s.save("reviews", "R1", REVIEW, actor="kim")
    child = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, programme_location], stdout=subprocess.PIPE,
                             text=True, env=_kam_env("child"))
    last = -1
    deadline = time.monotonic() + 60
    while last < 150 and time.monotonic() < deadline:
        last = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert last >= 150
    with open_store(programme_location) as s:
        assert s.check() == []  # every event has its current row and every current row its event
        notes = s.current("notes")["note_id"].to_list()
        # Every save the child saw committed is there, in order, with nothing half-written after it.
        assert notes == [f"N{i:06d}" for i in range(len(notes))] and len(notes) >= last + 1
        assert s.log(table="notes").height == len(notes)
        assert s.get("reviews", "R1").values["rating"] == 4
        assert s.save("notes", "after", {"account_id": "A1", "note_date": "2026-01-01", "text": "ok"}, actor="kim") == 1


def test_import_load_adds_by_id_and_keeps_what_the_app_recorded(store):
    rows = [{"review_id": f"W{i}", "account_id": "A1", "review_date": f"2026-0{i}-01", "review_type": "qbr"}
            for i in (1, 2, 3, 4)]
    columns = ["review_id", "account_id", "review_date", "review_type"]
    done = store.import_load("reviews", rows, columns, "L1", "loader")
    assert (done.inserted, done.updated, done.unchanged, done.kept, done.refused) == (4, 0, 0, 0, [])
    assert set(store.log()["source"]) == {"load:L1"} and store.check() == []
    store.save("reviews", "W1", {"rating": 5}, actor="kim")  # changed in the app
    store.delete("reviews", "W2", actor="kim")  # deleted in the app
    store.save("reviews", "A9", {"account_id": "A1", "review_date": "2026-05-01", "review_type": "plan_90_day"},
               actor="kim")  # recorded in the app
    events = store.event_count()
    rows[2]["review_date"] = "2026-03-15"  # the CRM moved W3
    rows.append({"review_id": "A9", "account_id": "A1", "review_date": "2020-01-01", "review_type": "qbr"})
    rows.append({"review_id": "W5", "account_id": "A1", "review_date": "2026-05-01", "review_type": "nonsense"})
    done = store.import_load("reviews", rows, columns, "L2", "loader")
    # W3 updated; W1 (its rating is not an export column) and W4 unchanged; W2 (deleted) and A9 kept
    assert (done.inserted, done.updated, done.unchanged, done.kept) == (0, 1, 2, 2)
    assert len(done.refused) == 1 and done.refused[0].startswith("W5: review_type")
    assert store.event_count() == events + 1
    assert store.get("reviews", "W1").values["rating"] == 5 and store.get("reviews", "W2") is None
    assert store.get("reviews", "A9").values["review_date"] == "2026-05-01"
    assert store.get("reviews", "W3").values["review_date"] == "2026-03-15"
    assert store.log(record_id="W3")["source"][0] == "load:L2" and store.check() == []
