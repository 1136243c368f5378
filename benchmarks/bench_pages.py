"""Render time of every page on the demo data (or a given data directory), cold and warm cache.

    uv run python benchmarks/bench_pages.py [--data-dir DIR] [--repeat 3] [--target-warm 1.5] [--target-cold 8]

Without --data-dir the demo export is written and loaded into a temporary directory first. Each page is run
through Streamlit's AppTest from the entrypoint (as a browser session would): "cold" after clearing every
Streamlit cache (first visitor after a load), "warm" the median of the following runs (cached metrics).
Exits non-zero when a page misses a target, so CI can watch for regressions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PAGES = [
    None, "pages/2_Engagement.py", "pages/3_Share_of_wallet.py", "pages/4_Cost_to_serve.py",
    "pages/5_Programme_goals.py", "pages/6_Account.py", "pages/7_Key_account_selection.py", "pages/8_Score_check.py",
    "pages/9_Data.py",
]


def demo_data_dir(root: Path) -> Path:
    from kam_metrics.generators.demo import write_demo
    from kam_metrics.load.pipeline import load_export

    export = root / "demo_export"
    write_demo(export)
    load_export(export, root / "data", fmt="kam")
    return root / "data"


def render(page: str | None) -> float:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    start = time.perf_counter()
    at.run()
    if page:
        at.switch_page(page).run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise SystemExit(f"{page or 'app.py'} raised: {[e.value for e in at.exception]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target-warm", type=float, default=1.5, help="seconds a warm page may take")
    parser.add_argument("--target-cold", type=float, default=8.0, help="seconds a cold page may take")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kam-bench-") as scratch:
        data_dir = args.data_dir or demo_data_dir(Path(scratch))
        os.environ["KAM_DATA_DIR"] = str(data_dir)
        import streamlit as st

        failures = 0
        print(f"{'page':<36}{'cold s':>9}{'warm s':>9}")
        for page in PAGES:
            st.cache_data.clear()
            st.cache_resource.clear()
            cold = render(page)
            warm = statistics.median(render(page) for _ in range(max(args.repeat, 1)))
            # A page run includes the home page (the entrypoint runs first), as in a browser session.
            slow = cold > args.target_cold or warm > args.target_warm
            failures += slow
            print(f"{page or 'app.py (home)':<36}{cold:>9.2f}{warm:>9.2f}{'  SLOW' if slow else ''}")
        print(f"targets: cold ≤ {args.target_cold:g} s, warm ≤ {args.target_warm:g} s")
        return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
