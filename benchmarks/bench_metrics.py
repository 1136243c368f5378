"""Every metrics-engine function (and every `kam report` kind) on a loaded snapshot, cold and warm.

    uv run python -m benchmarks.bench_metrics DATA_DIR [--repeat N] [--as-of YYYY-MM-DD] [--check-targets]

Prints a Markdown table, then one JSON line (for benchmarks/run.py, which reads the last line starting
with "{"): {"as_of", "accounts", "repeat", "functions": [{"function", "cold_s", "warm_s", "rows"}]}.

Cold = the first call on a new read-only connection to the current snapshot (fresh DuckDB buffer pool;
imports already warm); warm = the median of N more calls on that connection. Every public function of
kam_metrics.metrics whose first parameter is `con` is timed with all accounts, the default (or given) as_of
and default settings; `health_movement` compares as_of − 7 with as_of, `metrics_at` is asked for as_of only.
Targets (METRICS issue, benchmarks only): every function < 50 ms on the demo data (≤ 1,000 accounts),
< 200 ms at 10,000 accounts / 10M activities, health history of all accounts < 2 s; the score check over 24
month ends < 5 s cold (score_check_24_cold) and a what-if re-run with other weights < 3 s (score_check_what_if;
the score check's own functions have no 200 ms target). `--check-targets` exits
1 when a warm time misses its target.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HISTORY_FUNCTIONS = ("health_history", "report:health-history")
#: The score check reads every account at every check date: its own targets (issue 13), not the 200 ms one.
SCORE_CHECK_FUNCTIONS = ("score_check_backtest", "score_check_inputs", "report:backtest", "score_check_24_cold",
                         "score_check_what_if")
SCORE_CHECK_TARGETS = {"score_check_24_cold": 5.0, "score_check_what_if": 3.0}
#: Other weights for the what-if timing (any that differ from the defaults).
WHAT_IF_WEIGHTS = {"recency": 10, "trend": 20, "breadth": 10, "loyalty": 10, "wallet": 10, "profitability": 10,
                   "cadence": 10, "relationship": 40}


def month_ends_before(last: date, count: int) -> list[date]:
    """The `count` month ends up to `last`, oldest first."""
    out, d = [], last
    while len(out) < count:
        end = date(d.year, d.month, 1) + timedelta(days=32)
        end = date(end.year, end.month, 1) - timedelta(days=1)
        if end <= last:
            out.append(end)
        d = date(d.year, d.month, 1) - timedelta(days=1)
    return sorted(out)


def score_check_calls(as_of: date):
    """The score check as the page runs it: cold over 24 month ends (inputs, pairs, summary, bands, misses, false
    alarms), and a what-if re-run with other weights on inputs already read (what a slider move costs)."""
    import importlib

    sc = importlib.import_module("kam_metrics.metrics.score_check")
    from kam_metrics.settings import Settings

    dates = month_ends_before(as_of - timedelta(days=sc.HORIZON_DAYS), 24)

    def figures(inputs, settings):
        pairs = sc.score_check_pairs(inputs, settings)
        sc.score_check_summary(pairs)
        sc.score_check_bands(pairs)
        sc.score_check_by_date(pairs)
        sc.score_check_misses(pairs)
        sc.score_check_false_alarms(pairs)
        return pairs

    def cold(con):
        return figures(sc.score_check_inputs(con, as_of, dates=dates), Settings())

    cache: dict = {}

    def what_if(con):
        if "inputs" not in cache:  # read once (the page's cached reader); the re-scoring is what is timed
            cache["inputs"] = sc.score_check_inputs(con, as_of, dates=dates)
        return figures(cache["inputs"], sc.with_weights(Settings(), WHAT_IF_WEIGHTS))

    return [("score_check_24_cold", cold), ("score_check_what_if", what_if)]


def metric_calls(as_of: date):
    """(name, function taking a connection) for every public metrics function and report kind."""
    from kam_metrics import metrics
    from kam_metrics.filters import NO_FILTERS
    from kam_metrics.report import REPORT_KINDS, report_frame
    from kam_metrics.settings import Settings

    special = {
        "health_movement": lambda f: (lambda con: f(con, as_of - timedelta(days=7), as_of)),
        "metrics_at": lambda f: (lambda con: f(con, [as_of], NO_FILTERS, Settings())),
        "default_as_of": lambda f: (lambda con: f(con)),
    }
    calls = []
    for name in metrics.__all__:
        func = getattr(metrics, name)
        if not inspect.isfunction(func):
            continue
        params = list(inspect.signature(func).parameters)
        if not params or params[0] != "con":
            continue
        calls.append((name, special[name](func) if name in special else (lambda f: lambda con: f(con, as_of))(func)))
    for kind in REPORT_KINDS:
        calls.append((f"report:{kind}", (lambda k: lambda con: report_frame(k, con, as_of))(kind)))
    return calls + score_check_calls(as_of)


def targets(accounts: int) -> tuple[float, float]:
    """(per-function target, health-history target) in seconds for a snapshot of this many accounts."""
    return (0.05, 2.0) if accounts <= 1000 else (0.2, 2.0)


def bench(data_dir: Path, repeat: int, as_of: date | None = None) -> dict:
    from kam_metrics.load import warehouse
    from kam_metrics.metrics import default_as_of

    con = warehouse.connect_current(data_dir)
    as_of = as_of or default_as_of(con)
    accounts = con.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
    activities = con.execute("SELECT count(*) FROM activities").fetchall()[0][0]
    con.close()
    per_function, history = targets(accounts)
    results = []
    for name, call in metric_calls(as_of):
        con = warehouse.connect_current(data_dir)
        try:
            start = time.perf_counter()
            out = call(con)
            cold = time.perf_counter() - start
            warm = []
            for _ in range(repeat):
                start = time.perf_counter()
                call(con)
                warm.append(time.perf_counter() - start)
        finally:
            con.close()
        warm_s = statistics.median(warm) if warm else cold
        if name in SCORE_CHECK_FUNCTIONS:
            target = SCORE_CHECK_TARGETS.get(name)
            measured = cold if name == "score_check_24_cold" else warm_s
            ok = target is None or measured <= target
        else:
            target = history if name in HISTORY_FUNCTIONS else per_function
            ok = warm_s <= target
        results.append({"function": name, "cold_s": cold, "warm_s": warm_s, "min_s": min(warm, default=cold),
                        "rows": getattr(out, "height", None), "target_s": target, "ok": ok})
    return {"as_of": as_of.isoformat(), "accounts": accounts, "activities": activities, "repeat": repeat,
            "functions": results}


def markdown(result: dict) -> str:
    lines = [
        f"# Metrics benchmark: {result['accounts']:,} accounts, {result['activities']:,} activities, "
        f"as_of {result['as_of']}, warm = median of {result['repeat']}",
        "",
        "| function | rows | cold ms | warm ms | warm min ms | target ms | ok |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["functions"]:
        rows = "" if r["rows"] is None else f"{r['rows']:,}"
        target = "–" if r["target_s"] is None else f"{r['target_s'] * 1000:.0f}"
        lines.append(f"| {r['function']} | {rows} | {r['cold_s'] * 1000:.1f} | {r['warm_s'] * 1000:.1f} | "
                     f"{r['min_s'] * 1000:.1f} | {target} | {'yes' if r['ok'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the metrics functions on a loaded data directory.")
    parser.add_argument("data_dir", type=Path, help="a data directory with a loaded snapshot")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--check-targets", action="store_true")
    args = parser.parse_args(argv)
    result = bench(args.data_dir, args.repeat, args.as_of)
    print(markdown(result))
    print()
    machine = {**result, "functions": [
        {k: r[k] for k in ("function", "cold_s", "warm_s", "rows")} for r in result["functions"]
        if not r["function"].startswith("report:")
    ]}
    print(json.dumps(machine))
    if args.check_targets and not all(r["ok"] for r in result["functions"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
