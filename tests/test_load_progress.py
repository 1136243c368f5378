"""`kam load` shows its progress: a redrawn status line on a terminal, plain lines otherwise (issue 12, item 10)."""

from __future__ import annotations

import io
import re
import time

from kam_metrics.cli import main
from kam_metrics.load.pipeline import ProgressEvent, load_export
from kam_metrics.load.terminal import TerminalProgress, progress_line


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_names_the_step_table_rows_and_rate():
    e = ProgressEvent(event="checking activities", step="checking", is_step=False, fraction=0.5, elapsed_s=5.0,
                      rows_done=2_500_000, table="activities", table_rows=10_000_000)
    # 2,500,000 rows in 5.0 s = 500,000 rows/s
    assert progress_line(e) == "checking activities: 10,000,000 rows; 2,500,000 rows done, 500,000 rows/s; 5.0 s"
    assert progress_line(e, elapsed_s=10.0).endswith("2,500,000 rows done, 250,000 rows/s; 10.0 s")
    first = ProgressEvent(event="reading", step="reading", is_step=True, fraction=0.05, elapsed_s=0.25, rows_done=0)
    assert progress_line(first) == "reading; 0.2 s"
    one = ProgressEvent(event="writing accounts", step="writing snapshot", is_step=False, fraction=0.4,
                        elapsed_s=1.0, rows_done=1, table="accounts", table_rows=1)
    assert progress_line(one) == "writing accounts: 1 row; 1 rows done, 1 rows/s; 1.0 s"


def test_the_events_carry_the_rows_of_each_table(make_export, tmp_path):
    events: list[ProgressEvent] = []
    load_export(make_export(), tmp_path / "data", on_event=events.append)
    # The base export: 3 accounts, 3 activities, 3 revenue rows.
    checking = [(e.table, e.table_rows, e.rows_done) for e in events if e.event.startswith("checking ")]
    assert checking == [("accounts", 3, 0), ("activities", 3, 3), ("revenue", 3, 6)]
    assert events[-1].event == "done" and events[-1].rows_done == 9 and events[-1].fraction == 1.0
    writing = {e.table: e.table_rows for e in events if e.event.startswith("writing ") and e.table}
    assert writing == {"accounts": 3, "activities": 3, "revenue": 3}
    assert [e.step for e in events if e.event == "checking revenue"] == ["writing snapshot"]
    assert all(a.elapsed_s <= b.elapsed_s for a, b in zip(events, events[1:]))


def test_on_a_terminal_one_status_line_is_redrawn(make_export, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    stream = FakeTerminal()
    with TerminalProgress(stream, tick_s=None) as progress:
        load_export(make_export(), tmp_path / "data", on_event=progress)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1  # one line, ended once
    drawn = text[1:-1].split("\r")
    assert all(len(d) <= 59 for d in drawn)  # cut to the terminal's width
    lines = [d.rstrip() for d in drawn]
    assert lines[0] == "kam load: reading; " + lines[0].rsplit("; ", 1)[1]
    assert any(re.fullmatch(r"kam load: checking accounts: 3 rows; \d+\.\d s", line) for line in lines)
    assert any(line.startswith("kam load: checking revenue: 3 rows; 6 rows done, ") for line in lines)
    assert re.fullmatch(r"kam load: done; 9 rows done, [\d,]+ rows/s; \d+\.\d s", lines[-1])
    # A shorter line is padded over the longer one before it, so nothing of the old line stays visible.
    for before, after in zip(drawn, drawn[1:]):
        assert len(after) >= len(before.rstrip())


def test_on_a_terminal_the_elapsed_time_moves_between_events():
    stream = FakeTerminal()
    e = ProgressEvent(event="checking activities", step="checking", is_step=False, fraction=0.5, elapsed_s=1.0,
                      rows_done=0, table="activities", table_rows=10)
    with TerminalProgress(stream, tick_s=0.02) as progress:
        progress(e)
        deadline = time.monotonic() + 5
        while "; 1.0 s" in stream.getvalue().rsplit("\r", 1)[-1] and time.monotonic() < deadline:
            time.sleep(0.02)
    seconds = [float(m) for m in re.findall(r"; (\d+\.\d) s", stream.getvalue())]
    assert len(seconds) >= 3 and seconds[0] == 1.0 and seconds[-1] > 1.0


def test_kam_load_prints_plain_progress_lines_on_stderr_and_the_report_on_stdout(make_export, tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path / "data"), "load", str(make_export())]) == 0
    captured = capsys.readouterr()
    assert "Top quarantine reasons" not in captured.err and "kam load:" not in captured.out
    assert captured.out.startswith("Loaded ")
    err = captured.err
    assert "\r" not in err and "\x1b" not in err  # no control characters but the line ends
    lines = err.splitlines()
    assert all(line.startswith("kam load: ") for line in lines)
    # One line per named step and per table checked (no zip: no unpacking), then done.
    events = [re.split(r"[:;]", line.removeprefix("kam load: "))[0] for line in lines]
    assert events == ["reading", "checking", "checking accounts", "writing raw rows", "writing snapshot",
                      "checking activities", "checking revenue", "precomputing aggregates", "publishing",
                      "switching", "done"]
    assert lines[2].startswith("kam load: checking accounts: 3 rows; ")
    assert lines[6].startswith("kam load: checking revenue: 3 rows; 6 rows done, ")
    assert re.fullmatch(r"kam load: done; 9 rows done, [\d,]+ rows/s; \d+\.\d s", lines[-1])
