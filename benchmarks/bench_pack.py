"""The weekly pack's time (issue 15): build the pack (every figure from the metrics engine) and write the HTML with
its charts drawn by Chromium, as `kam pack --out FILE.html` does. Targets: the demo under 10 s, the reference
size (10,000 accounts, 300 key accounts) under 60 s.

    .venv/bin/python -m benchmarks.bench_pack DATA_DIR      # a loaded data directory (e.g. the suite's)
    .venv/bin/python -m benchmarks.bench_pack --demo        # the demo, generated and loaded in a temp folder

Prints a Markdown line, then one JSON line (for benchmarks/run.py, which reads the last line starting with "{"):
{"accounts", "key_accounts", "charts", "chromium", "build_s", "render_s", "total_s", "html_bytes"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def bench(data_dir: Path) -> dict:
    from kam_metrics.pack import build_pack_for, render_html
    from kam_metrics.pack.browser import BrowserMissing, find_chromium
    from kam_metrics.settings import load_settings

    try:
        find_chromium()
        chromium = True
    except BrowserMissing:
        chromium = False
    settings = load_settings(data_dir=data_dir)
    start = time.perf_counter()
    pack = build_pack_for(data_dir, settings)
    built = time.perf_counter()
    document = render_html(pack)
    done = time.perf_counter()
    from kam_metrics.load import warehouse

    con = warehouse.connect_current(data_dir)
    try:
        accounts = con.sql("SELECT count(*) FROM accounts").fetchall()[0][0]
    finally:
        con.close()
    return {"accounts": accounts, "key_accounts": len(pack.accounts), "charts": len(pack.figures),
            "chromium": chromium, "build_s": built - start, "render_s": done - built, "total_s": done - start,
            "html_bytes": len(document.encode("utf-8"))}


def bench_demo() -> dict:
    from kam_metrics.generators.demo import write_demo
    from kam_metrics.load.pipeline import load_export

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_demo(root / "export")
        load_export(root / "export", root / "data", fmt="kam")
        return bench(root / "data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the weekly HTML pack.")
    parser.add_argument("data_dir", nargs="?", type=Path, help="a loaded data directory")
    parser.add_argument("--demo", action="store_true", help="generate and load the demo in a temp folder")
    args = parser.parse_args(argv)
    if not args.demo and args.data_dir is None:
        parser.error("give DATA_DIR or --demo")
    result = bench_demo() if args.demo else bench(args.data_dir)
    print(f"| weekly HTML pack | {result['accounts']:,} accounts | {result['key_accounts']:,} key accounts | "
          f"{result['charts']} charts | build {result['build_s']:.2f} s | render {result['render_s']:.2f} s | "
          f"total {result['total_s']:.2f} s | chromium {'yes' if result['chromium'] else 'no'} |")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
