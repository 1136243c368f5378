"""Every page of the app rendered through Streamlit's AppTest, in one process, as one app server would.

`python -m benchmarks.suite_pages DATA_DIR` (run from the repository root) prints JSON: per page the
first render (one session started at the entrypoint and switched from page to page as the sidebar
lists them, so the first page opens the snapshot and later pages reuse what earlier ones cached) and a
second render (caches warm), any exception the page raised, and this process's peak resident memory.
The Account page gets the key account with the most activities, the heaviest one. Used by
benchmarks/run.py; benchmarks/bench_pages.py is the pages' own stand-alone timing script.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def page_files() -> list[Path]:
    return [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]


def busiest_key_account(data_dir: Path) -> str | None:
    from kam_metrics.load import warehouse

    con = warehouse.connect_current(data_dir)
    try:
        rows = con.sql(
            "SELECT a.account_id FROM accounts a JOIN activities t USING (account_id) WHERE a.is_key_account "
            "GROUP BY a.account_id ORDER BY count(*) DESC, a.account_id LIMIT 1"
        ).fetchall()
    finally:
        con.close()
    return rows[0][0] if rows else None


def _timed_run(at) -> tuple[float, list[str]]:
    start = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - start
    return seconds, [f"{e.message}"[:300] for e in at.exception]


def bench(data_dir: Path, timeout: float = 300) -> dict:
    """One AppTest session from the entrypoint (as a browser session): each page twice, in the sidebar's order."""
    from streamlit.testing.v1 import AppTest

    os.environ["KAM_DATA_DIR"] = str(data_dir)
    account_id = busiest_key_account(data_dir)
    # The app's modules are imported once per server process; that start-up is reported on its own. So are the
    # libraries `kam app` imports before its server takes a request (kam_metrics.app.serve: pandas and pyarrow,
    # which Streamlit would otherwise import at the first table of the process, about a second).
    start = time.perf_counter()
    from kam_metrics.app.serve import preload

    preload()
    import plotly.graph_objects  # noqa: F401

    from kam_metrics.app import charts, frame, widgets  # noqa: F401
    from kam_metrics.app.views import (  # noqa: F401
        account, cost_to_serve, data, engagement, key_account_selection, programme_goals, share_of_wallet,
        weekly_review,
    )

    from kam_metrics import metrics
    imports_s = time.perf_counter() - start
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    pages = []
    for path in page_files():
        rel = path.relative_to(REPO).as_posix()
        if account_id and "Account" in path.name:
            at.query_params["account_id"] = account_id
        times, errors = [], []
        for _ in range(2):
            if rel != "app.py" or pages:
                at.switch_page(rel)
            seconds, errs = _timed_run(at)
            times.append(seconds)
            errors += errs
        pages.append({"page": path.name, "first_s": times[0], "second_s": times[1], "exceptions": errors})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"account_id": account_id, "imports_s": imports_s, "pages": pages, "app_peak_rss_bytes": peak}


def main(argv: list[str]) -> int:
    print(json.dumps(bench(Path(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
