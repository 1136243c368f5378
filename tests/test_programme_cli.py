"""`kam programme import/export/log`, the programme_store setting, and `kam load` importing an export's programme
tables without overwriting the store (issue 14), on both backends."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest

from kam_metrics.cli import main
from kam_metrics.programme import open_store
from kam_metrics.settings import Settings, SettingsError, programme_store_location, settings_from_dict, settings_toml

REVIEWS = '''\
    review_id,account_id,review_date,review_type,rating,notes
    R1,A1,2026-11-02,review_30_day,4,"Good, with ""quotes"""
    R2,A2,2026-10-01,plan_90_day,,
    '''
NOTES = """\
    note_id,account_id,note_date,author,text
    N1,A1,2026-11-03,kim,Call back next week
    """


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def kam(programme_location, tmp_path, capsys):
    """Run `kam …` in-process with the store at programme_location: (exit code, stdout, stderr)."""
    config = tmp_path / "kam.toml"
    config.write_text(f'programme_store = "{programme_location}"\n')

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, "--data-dir", str(tmp_path / "data"), "--config", str(config)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_import_with_bad_rows_prints_every_error_exits_2_and_writes_nothing(kam, tmp_path, programme_location,
                                                                          monkeypatch):
    folder = tmp_path / "in"
    write(folder / "notes.csv", NOTES)
    write(folder / "reviews.csv", """\
        review_id,account_id,review_date,review_type,rating
        R1,A1,2026-11-02,review_30_day,4
        R2,,2026-02-30,plan_90_day,12
        """)
    monkeypatch.setenv("KAM_ACTOR", "kim")
    code, out, err = kam("programme", "import", str(folder))
    assert code == 2
    assert err.splitlines()[:3] == [
        "reviews.csv, row 3, column account_id: required",
        "reviews.csv, row 3, column review_date: not a date: '2026-02-30' (expected YYYY-MM-DD)",
        "reviews.csv, row 3, column rating: 12 is above the maximum 5",
    ]
    assert "nothing was imported" in err
    with open_store(programme_location) as s:
        assert s.event_count() == 0


def test_import_export_and_log(kam, tmp_path, programme_location, monkeypatch):
    write(tmp_path / "in" / "reviews.csv", REVIEWS)
    write(tmp_path / "in" / "notes.csv", NOTES)
    write(tmp_path / "in" / "accounts.csv", "account_id,account_name\nA1,Acme\n")  # not a programme table: ignored
    monkeypatch.setenv("KAM_ACTOR", "kim from env")
    code, out, err = kam("programme", "import", str(tmp_path / "in"))
    assert code == 0, err
    assert "reviews.csv: 2 rows: 2 new, 0 changed, 0 unchanged" in out and "Imported by kim from env" in out
    code, out, _ = kam("programme", "import", str(tmp_path / "in" / "reviews.csv"), "--actor", "dana")
    assert code == 0 and "2 unchanged" in out

    code, out, _ = kam("programme", "log", "--format", "json")
    events = json.loads(out)
    assert [e["record_id"] for e in events] == ["N1", "R2", "R1"]  # notes come last in import order: newest first
    assert {e["actor"] for e in events} == {"kim from env"}
    assert {e["source"] for e in events} == {"import:reviews.csv", "import:notes.csv"}
    assert events[2]["new_values"]["notes"] == 'Good, with "quotes"' and events[2]["old_values"] is None
    code, out, _ = kam("programme", "log", "--account", "A1")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["record_id"] for r in rows] == ["N1", "R1"] and rows[0]["op"] == "insert"

    code, out, _ = kam("programme", "export", str(tmp_path / "out"))
    assert code == 0 and "Wrote 7 files" in out
    exported = list(csv.DictReader((tmp_path / "out" / "reviews.csv").open(encoding="utf-8")))
    assert [(r["review_id"], r["rating"], r["notes"]) for r in exported] == [
        ("R1", "4", 'Good, with "quotes"'), ("R2", "", "")]
    # The export imported into a fresh store gives the same records.
    with open_store(tmp_path / "copy.sqlite") as copy, open_store(programme_location) as original:
        copy.import_folder(tmp_path / "out", actor="kim")
        for table in ("reviews", "notes"):
            assert copy.current(table).drop("_updated_at", "_updated_by").equals(
                original.current(table).drop("_updated_at", "_updated_by"))


def test_actor_defaults_to_the_os_user_without_kam_actor(kam, tmp_path, programme_location, monkeypatch):
    import getpass

    monkeypatch.delenv("KAM_ACTOR", raising=False)
    write(tmp_path / "in" / "notes.csv", NOTES)
    assert kam("programme", "import", str(tmp_path / "in"))[0] == 0
    with open_store(programme_location) as s:
        assert s.log()["actor"].to_list() == [getpass.getuser()]


def test_import_of_a_missing_path_or_a_folder_without_programme_files_exits_2(kam, tmp_path):
    code, _, err = kam("programme", "import", str(tmp_path / "nowhere"))
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "empty").mkdir()
    code, _, err = kam("programme", "import", str(tmp_path / "empty"))
    assert code == 2 and "no programme table file" in err


def test_kam_load_imports_the_exports_programme_tables_and_keeps_what_the_store_holds(tmp_path, make_export):
    data = tmp_path / "data"
    write(tmp_path / "in" / "reviews.csv", REVIEWS)
    assert main(["programme", "import", str(tmp_path / "in"), "--data-dir", str(data), "--actor", "kim"]) == 0
    store_file = data / "programme.sqlite"
    assert store_file.is_file()
    with open_store(store_file) as s:
        before = s.stored_current()
    # An export that carries its own reviews.csv: R1 is in the store already (recorded there, so the store's values
    # stand), R3 is new and comes in by id, logged as coming from the load; nothing is deleted.
    export = make_export({"reviews.csv": "review_id,account_id,review_date,review_type\nR1,A1,2026-01-01,qbr\n"
                                         "R3,A1,2026-02-01,qbr\n"})
    for _ in range(2):
        assert main(["load", str(export), "--data-dir", str(data)]) == 0
    with open_store(store_file) as s:
        after = s.stored_current()
        assert {k: v for k, v in after.items() if k != ("reviews", "R3")} == before
        assert s.get("reviews", "R3").values["review_date"] == "2026-02-01"
        log = s.log()
        assert s.event_count() == 3 and log["source"][0].startswith("load:") and log["record_id"][0] == "R3"


def test_programme_store_setting(tmp_path):
    assert Settings().programme_store is None
    assert programme_store_location(Settings(), tmp_path) == str(tmp_path / "programme.sqlite")
    assert programme_store_location(Settings(programme_store="pg/store.db"), tmp_path) == str(tmp_path / "pg/store.db")
    url = "postgresql://kam@db.internal/kam"
    assert programme_store_location(settings_from_dict({"programme_store": url}), tmp_path) == url
    for bad in ("mysql://x/y", "  ", 5):
        with pytest.raises(SettingsError, match="programme_store"):
            settings_from_dict({"programme_store": bad})
    text = settings_toml(Settings())
    assert '# programme_store = "postgresql://kam@db.example/kam"  (not set: programme.sqlite in the data directory)' in text
    assert f'programme_store = "{url}"' in settings_toml(Settings(programme_store=url))
