"""`kam load`'s progress on a terminal: the step, the table, the rows done and rows/s, on standard error.

On a terminal one status line is redrawn in place (a carriage return, padded over the previous line, cut to
the terminal's width) at every event of the load and, while a long step runs, every half second so the
elapsed time moves; the line is ended once the load is done or fails. When standard error is not a terminal
(a pipe, a log file, CI) it prints plain lines instead, one per named step and one per table checked, with
no control characters. The load report itself goes to standard output.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

from kam_metrics.load.pipeline import ProgressEvent

TICK_S = 0.5  # how often the status line is redrawn between events (a terminal only)


def progress_line(e: ProgressEvent, elapsed_s: float | None = None) -> str:
    """One line of progress: "checking activities: 10,000,000 rows; 2,500,000 rows done, 410,000 rows/s; 6.1 s"."""
    elapsed = e.elapsed_s if elapsed_s is None else elapsed_s
    line = e.event
    if e.table_rows is not None:
        line += f": {e.table_rows:,} {'row' if e.table_rows == 1 else 'rows'}"
    if e.rows_done:
        line += f"; {e.rows_done:,} rows done"
        if elapsed > 0:
            line += f", {e.rows_done / elapsed:,.0f} rows/s"
    return f"{line}; {elapsed:.1f} s"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a file
        return False


class TerminalProgress:
    """The `on_event` listener of `kam load`: a redrawn status line on a terminal, plain lines otherwise.

    Use it as a context manager around the load, so the status line is ended (and the redrawing stopped)
    whether the load succeeds or fails.
    """

    def __init__(self, stream: TextIO, *, is_terminal: bool | None = None, tick_s: float | None = TICK_S,
                 prefix: str = "kam load: ") -> None:
        self.stream = stream
        self.is_terminal = _is_terminal(stream) if is_terminal is None else is_terminal
        self.prefix = prefix
        self.last: ProgressEvent | None = None
        self._told_at = 0.0  # time.monotonic() when `last` was told
        self._width = 0  # of the status line drawn last
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.is_terminal and tick_s:
            self._ticker = threading.Thread(target=self._tick, args=(tick_s,), name="kam-progress", daemon=True)

    def __enter__(self) -> TerminalProgress:
        if self._ticker is not None:
            self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __call__(self, e: ProgressEvent) -> None:
        with self._lock:
            self.last, self._told_at = e, time.monotonic()
            if self.is_terminal:
                self._draw(progress_line(e))
            elif e.is_step or e.event.startswith("checking ") or e.event == "done":
                self.stream.write(self.prefix + progress_line(e) + "\n")
                self.stream.flush()

    def close(self) -> None:
        """Stop redrawing and end the status line (a terminal)."""
        self._stop.set()
        if self._ticker is not None and self._ticker.is_alive():
            self._ticker.join()
        with self._lock:
            if self.is_terminal and self._width:
                self.stream.write("\n")
                self.stream.flush()
                self._width = 0

    def _draw(self, text: str) -> None:
        columns = shutil.get_terminal_size(fallback=(100, 24)).columns
        line = (self.prefix + text)[: max(columns - 1, 20)]
        self.stream.write("\r" + line + " " * max(self._width - len(line), 0))
        self.stream.flush()
        self._width = len(line)

    def _tick(self, every_s: float) -> None:
        """Redraw the last event with the elapsed time moving on, until closed."""
        while not self._stop.wait(every_s):
            with self._lock:
                e = self.last
                if e is not None and e.event != "done":
                    self._draw(progress_line(e, elapsed_s=e.elapsed_s + time.monotonic() - self._told_at))
