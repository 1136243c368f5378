"""The programme store's saves, embedded (SQLite file) and PostgreSQL, as the app makes them.

    uv run python -m benchmarks.bench_programme [--saves N] [--existing N]

Prints a Markdown table, then one JSON line (for benchmarks/run.py, which reads the last line starting with "{"):
{"saves", "existing", "backends": [{"backend", "insert_ms": {median, p95, max}, "update_ms": {...}}]}.

Each backend starts with `--existing` records (a programme's few years of reviews), then times `--saves` new
30-day reviews (expected_version 0, as the app's form) and as many updates of them (expected_version = the
version read, as a second save of the form). Each save is one transaction, committed to disk: the PostgreSQL
server runs with fsync on (durable), unlike the test suite's throwaway one. Target (issue 14): a save under
100 ms on both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

TARGET_MS = 100.0
ACTOR = "Benchmark"


def _review(i: int) -> dict:
    return {"account_id": f"ACC-{1000 + i % 300}", "review_date": (date(2026, 1, 1) + timedelta(days=i % 300)).isoformat(),
            "review_type": "review_30_day", "rating": 1 + i % 5, "notes": f"Review {i}: steady, one open risk.",
            "next_steps": "Book the QBR."}


def _stats(values: list[float]) -> dict:
    values = sorted(values)
    return {"median": statistics.median(values), "p95": values[int(0.95 * (len(values) - 1))], "max": values[-1]}


def time_saves(location: str, saves: int, existing: int) -> dict:
    """Insert then update `saves` reviews after `existing` ones; milliseconds per save."""
    from kam_metrics.programme.store import open_store

    with open_store(location) as store:
        for i in range(existing):
            store.save("reviews", f"R-OLD-{i}", _review(i), ACTOR, source="benchmark")
        inserts, updates, versions = [], [], {}
        for i in range(saves):
            start = time.perf_counter()
            versions[i] = store.save("reviews", f"R-NEW-{i}", _review(i), ACTOR, expected_version=0)
            inserts.append(1000 * (time.perf_counter() - start))
        for i in range(saves):
            values = {**_review(i), "rating": 1 + (i + 2) % 5, "notes": f"Review {i}, revised."}
            start = time.perf_counter()
            store.save("reviews", f"R-NEW-{i}", values, ACTOR, expected_version=versions[i])
            updates.append(1000 * (time.perf_counter() - start))
    return {"insert_ms": _stats(inserts), "update_ms": _stats(updates)}


def bench(saves: int, existing: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.postgres_server import PostgresServer, find_bin_dir

    results = []
    with tempfile.TemporaryDirectory(prefix="kam-bench-store-") as tmp:
        results.append({"backend": "sqlite", **time_saves(str(Path(tmp) / "programme.sqlite"), saves, existing)})
    bin_dir = find_bin_dir()
    if bin_dir is None:
        results.append({"backend": "postgresql", "error": "no PostgreSQL binaries in /usr/lib/postgresql/*/bin"})
    else:
        server = PostgresServer(bin_dir, durable=True).start()
        try:
            results.append({"backend": "postgresql", **time_saves(server.create_database(), saves, existing)})
        finally:
            server.stop()
    for r in results:
        r["ok"] = "error" not in r and max(r["insert_ms"]["median"], r["update_ms"]["median"]) < TARGET_MS
    return {"saves": saves, "existing": existing, "target_ms": TARGET_MS, "backends": results}


def markdown(result: dict) -> str:
    lines = [f"Programme store: {result['saves']} new 30-day reviews, then {result['saves']} updates of them, "
             f"after {result['existing']:,} existing records; one committed transaction each.", "",
             "| backend | insert median | insert p95 | update median | update p95 | max | target |",
             "|---|---|---|---|---|---|---|"]
    for r in result["backends"]:
        if "error" in r:
            lines.append(f"| {r['backend']} | failed: {r['error']} | | | | | |")
            continue
        i, u = r["insert_ms"], r["update_ms"]
        lines.append(f"| {r['backend']} | {i['median']:.1f} ms | {i['p95']:.1f} ms | {u['median']:.1f} ms | "
                     f"{u['p95']:.1f} ms | {max(i['max'], u['max']):.1f} ms | "
                     f"{'met' if r['ok'] else 'not met'} (< {result['target_ms']:.0f} ms) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time programme store saves (SQLite and PostgreSQL).")
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--existing", type=int, default=2000)
    args = parser.parse_args(argv)
    result = bench(args.saves, args.existing)
    print(markdown(result))
    print()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
