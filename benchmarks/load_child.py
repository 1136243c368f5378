"""`kam load` with a stopwatch: the same call as the command (pipeline.load_export), timing each stage.

`python -m benchmarks.load_child EXPORT_DIR DATA_DIR` prints JSON: seconds, the progress events with
their times and the resident memory then, rows per table, the snapshot path and size. Per-table times come from the pipeline's
per-table progress events ("checking <table>" … next event).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    from kam_metrics.load.pipeline import load_export

    events: list[tuple[str, float, int]] = []
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * page

    def progress(stage: str, fraction: float) -> None:
        events.append((stage, time.perf_counter() - t0, rss()))

    start = time.perf_counter()
    report = load_export(Path(argv[0]), Path(argv[1]), progress=progress)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "seconds": seconds, "import_s": start - t0, "events": events,
        "tables": {t.table: {"read": t.read, "loaded": t.loaded, "quarantined": t.quarantined} for t in report.tables
                   if t.is_present},
        "snapshot": str(report.snapshot_path), "snapshot_bytes": report.snapshot_path.stat().st_size,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
