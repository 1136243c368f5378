"""Sessions keep rendering while exports are loaded into the same data directory.

Four AppTest sessions, each in its own thread, switch through every page in a loop (one process, so they
share the app's cached connections and results, as the sessions of one Streamlit server do). Meanwhile two
loads run one after the other into their data directory, and a third load started while the first holds the
load lock is refused with "another load is running". Each session must render without an exception or
error box before, during and after the loads, draw every page on each new snapshot and say "Data updated"
once when it first sees it.

Ordering uses events, not sleeps: the first load pauses inside its progress callback (lock held) until the
third load has been refused and every session has rendered a page while the load was running; the next
step starts once every session has drawn every page on the new snapshot.

AppTest is written for one test at a time: each run swaps a process-wide mock Runtime in and out, patches
config.get_option and resets PagesManager.uses_pages_directory. Run from several threads, those swaps race
(one session's Runtime is set to None while another draws a download button). `_one_server` below gives all
sessions one shared Runtime, as a real server has, and keeps the other two globals stable; the app code runs
unchanged.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from streamlit.testing.v1 import AppTest

from kam_metrics.load import warehouse
from kam_metrics.app.formatting import escape_markdown
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.pipeline import load_export
from kam_metrics.settings import Settings

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
PAGES = {  # script → title
    "app.py": "Weekly review",
    "pages/2_Engagement.py": "Engagement",
    "pages/3_Share_of_wallet.py": "Share of wallet",
    "pages/4_Cost_to_serve.py": "Cost to serve & lifetime value",
    "pages/5_Programme_goals.py": "Programme goals",
    "pages/6_Account.py": "Account",
    "pages/7_Key_account_selection.py": "Key account selection",
    "pages/8_Score_check.py": "Score check",
    "pages/9_Data.py": "Data",
}
SESSIONS = 4
STEP_TIMEOUT = 150.0  # seconds for one coordinated step; the whole test takes well under a minute when idle
# Keep only the current snapshot: each load deletes the one the sessions were reading, the hardest case.
LOAD_SETTINGS = Settings(keep_snapshots=1)
SEEN_SNAPSHOT = "kam_snapshot_seen"  # kam_metrics.app.frame keeps the snapshot a session last drew here


@dataclass
class Render:
    session: int
    page: str
    title: str | None
    snapshot: str | None  # load id of the snapshot the render used
    started: float
    seconds: float
    exceptions: list[str]
    errors: list[str]
    updated_notes: list[str]
    no_data: list[str]  # the page said no snapshot is loaded


@dataclass
class Board:
    """What the sessions report; the conductor waits on it."""

    renders: list[Render] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)

    def add(self, render: Render) -> None:
        with self.cond:
            self.renders.append(render)
            self.cond.notify_all()

    def fail(self, message: str) -> None:
        with self.cond:
            self.failures.append(message)
            self.cond.notify_all()

    def wait_for(self, what: str, predicate) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        with self.cond:
            while not predicate(self.renders):
                if self.failures:
                    raise AssertionError(f"a session failed while waiting for {what}: {self.failures[0]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; renders so far: {len(self.renders)}")
                self.cond.wait(timeout=min(left, 1.0))


def pages_drawn(renders: list[Render], session: int, snapshot: str) -> set[str]:
    return {r.page for r in renders if r.session == session and r.snapshot == snapshot and r.title == PAGES[r.page]}


def every_session_drew_every_page(snapshot: str):
    return lambda renders: all(pages_drawn(renders, s, snapshot) == set(PAGES) for s in range(SESSIONS))


def load_id_of(snapshot_path: str | None) -> str | None:
    return Path(snapshot_path).stem if snapshot_path else None


def session_loop(index: int, board: Board) -> None:
    """One browser tab: open the app, then switch through every page until told to stop."""
    try:
        at = AppTest.from_file(APP, default_timeout=STEP_TIMEOUT)
        first = True
        while not board.stop.is_set():
            for page in PAGES:
                if board.stop.is_set():
                    return
                started = time.monotonic()
                if first:
                    at.run()  # the entry point: app.py
                    first = False
                else:
                    at.switch_page(page).run()
                board.add(Render(
                    session=index, page=page, title=at.title[0].value if at.title else None,
                    snapshot=load_id_of(at.session_state[SEEN_SNAPSHOT] if SEEN_SNAPSHOT in at.session_state else None),
                    started=started, seconds=time.monotonic() - started,
                    exceptions=[str(e.value) for e in at.exception], errors=[str(e.value) for e in at.error],
                    updated_notes=[str(i.value) for i in at.info if str(i.value).startswith("Data updated")],
                    no_data=[str(i.value) for i in at.info if str(i.value).startswith("No data loaded yet")],
                ))
    except BaseException as exc:  # reported to the conductor, which fails the test
        board.fail(f"session {index}: {type(exc).__name__}: {exc}")


@pytest.fixture
def _one_server(monkeypatch):
    """Let several AppTests run at once in one process: one shared Runtime and stable AppTest globals."""
    from streamlit import config
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
    from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    runtime = MagicMock(spec=Runtime)  # what AppTest builds for each run, built once and shared
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.dataframe_source_mgr = DataframeSourceManager()
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    runtime.bidi_component_registry = BidiComponentManager()
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: runtime))
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    # AppTest resets the class attribute before each run and sets it again while building its PagesManager;
    # a subclass takes the reset, so the real class keeps "this app has a pages/ directory" for every thread.
    monkeypatch.setattr(app_test, "PagesManager", type("SharedPagesManager", (PagesManager,), {}))
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    # AppTest patches config.get_option during each run and restores it afterwards; with runs overlapping, a
    # restore would switch AppTest mode off under a running session. With the option on throughout, every
    # saved and restored value agrees.
    original = config.get_option
    monkeypatch.setattr(config, "get_option", lambda name: True if name == "global.appTest" else original(name))


def test_sessions_render_while_loads_switch_the_snapshot(demo_data_dir, demo_export_dir, tmp_path, monkeypatch,
                                                         _one_server):
    data_dir = tmp_path / "data"
    shutil.copytree(demo_data_dir, data_dir)  # the demo, loaded; this test may load into its copy
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("KAM_CONFIG", raising=False)
    first_snapshot = warehouse.current_load_id(data_dir)
    board = Board()
    threads = [threading.Thread(target=session_loop, args=(i, board), name=f"session-{i}", daemon=True)
               for i in range(SESSIONS)]
    load_started, release_load = threading.Event(), threading.Event()
    load_outcome: dict[str, object] = {}
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        board.wait_for("every session to draw every page on the demo", every_session_drew_every_page(first_snapshot))

        # Load 1 pauses at its first stage, holding the load lock, until told to go on.
        def paused(stage: str, fraction: float) -> None:
            if not load_started.is_set():
                load_started.set()
                if not release_load.wait(STEP_TIMEOUT):
                    raise TimeoutError("load 1 was never released")

        def first_load() -> None:
            try:
                load_outcome["report"] = load_export(demo_export_dir, data_dir, fmt="kam", settings=LOAD_SETTINGS, progress=paused)
            except BaseException as exc:
                load_outcome["error"] = exc

        loader = threading.Thread(target=first_load, name="load-1", daemon=True)
        loader.start()
        assert load_started.wait(STEP_TIMEOUT), "load 1 did not start"
        during_from = time.monotonic()

        # Load 3, at the same time: refused cleanly, nothing changed.
        with pytest.raises(LoadError, match="another load is running"):
            load_export(demo_export_dir, data_dir, fmt="kam")
        assert warehouse.current_load_id(data_dir) == first_snapshot
        assert warehouse.leftovers(data_dir) == []

        # Every session renders a page while load 1 is running.
        board.wait_for("every session to draw every page during load 1", lambda renders: all(
            {r.page for r in renders if r.session == s and r.started >= during_from} == set(PAGES)
            for s in range(SESSIONS)))
        renders_during_load = sum(1 for r in board.renders if r.started >= during_from)
        release_load.set()
        loader.join(STEP_TIMEOUT)
        assert "error" not in load_outcome, load_outcome.get("error")
        second_snapshot = load_outcome["report"].load_id
        assert warehouse.current_load_id(data_dir) == second_snapshot != first_snapshot
        assert [p.stem for p in warehouse.list_snapshots(data_dir)] == [second_snapshot], "the old one is deleted"
        board.wait_for("every session to draw every page on load 1", every_session_drew_every_page(second_snapshot))

        # Load 2, after load 1, while the sessions go on rendering.
        third_snapshot = load_export(demo_export_dir, data_dir, fmt="kam", settings=LOAD_SETTINGS).load_id
        assert warehouse.current_load_id(data_dir) == third_snapshot
        board.wait_for("every session to draw every page on load 2", every_session_drew_every_page(third_snapshot))
    finally:
        board.stop.set()
        release_load.set()
        for thread in threads:
            thread.join(STEP_TIMEOUT)
    elapsed = time.monotonic() - began

    assert board.failures == []
    renders = list(board.renders)
    assert not any(t.is_alive() for t in threads)
    for r in renders:
        assert r.exceptions == [], (r.session, r.page, r.exceptions)
        assert r.errors == [], (r.session, r.page, r.errors)
        assert r.no_data == [], (r.session, r.page, r.no_data)
        assert r.title == PAGES[r.page], (r.session, r.page, r.title)
        assert r.snapshot in (first_snapshot, second_snapshot, third_snapshot), r
    for s in range(SESSIONS):
        mine = [r for r in renders if r.session == s]
        # Snapshots only move forward in a session, and each switch is announced exactly once, on the first
        # render of the new snapshot, naming its load.
        order = [first_snapshot, second_snapshot, third_snapshot]
        assert [order.index(r.snapshot) for r in mine] == sorted(order.index(r.snapshot) for r in mine)
        for snapshot in (second_snapshot, third_snapshot):
            on_it = [r for r in mine if r.snapshot == snapshot]
            assert on_it[0].updated_notes and escape_markdown(snapshot) in on_it[0].updated_notes[0], on_it[0]
            assert all(not r.updated_notes for r in on_it[1:]), "said once, not on every rerun"
        assert all(not r.updated_notes for r in mine if r.snapshot == first_snapshot)

    per_snapshot = defaultdict(int)
    for r in renders:
        per_snapshot[r.snapshot] += 1
    print(f"\n{SESSIONS} sessions, {len(renders)} renders ({renders_during_load} while load 1 held the lock; "
          f"per snapshot: {[per_snapshot[s] for s in (first_snapshot, second_snapshot, third_snapshot)]}), "
          f"2 loads + 1 refused, {elapsed:.1f} s; slowest render {max(r.seconds for r in renders):.1f} s")
