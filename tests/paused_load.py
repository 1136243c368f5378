"""`kam` whose load stops at one named step: it touches a marker file there and waits to be killed.

    python tests/paused_load.py STAGE MARKER <kam arguments>

The kill tests (test_robustness.py, through the `paused_load_command` fixture) run a real `kam load` in a
subprocess and SIGKILL it at each step. The pause is patched in here, so the load code carries no test hook.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kam_metrics import cli
from kam_metrics.load.pipeline import LoadProgress

WAIT_S = 300  # long enough for any test to kill us; a forgotten process still ends


def pause_at(stage: str, marker: Path) -> None:
    """Make every load in this process touch `marker` and wait once its named step `stage` begins."""
    announce = LoadProgress.stage

    def stage_then_pause(self: LoadProgress, name: str, fraction: float) -> None:
        announce(self, name, fraction)
        if name == stage:
            marker.touch()
            time.sleep(WAIT_S)
            raise SystemExit(f"paused at {stage!r} for {WAIT_S} s and was not killed")

    LoadProgress.stage = stage_then_pause


def main(argv: list[str]) -> int:
    stage, marker, *kam_args = argv
    pause_at(stage, Path(marker))
    return cli.main(kam_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
