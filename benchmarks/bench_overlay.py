"""What the programme store's overlay costs the metrics: account_metrics on the plain snapshot and on the snapshot
with ~100 store records laid over it (issue 14's target: under 20 ms more at 10,000 accounts).

    .venv/bin/python -m benchmarks.bench_overlay DATA_DIR [--records 100] [--repeat 15]

Prints a Markdown table, then one JSON line (for benchmarks/run.py, which reads the last line starting with "{"):
{"accounts", "records", "build_s", "functions": [{"function", "plain_cold_s", "plain_warm_s", "overlay_cold_s",
"overlay_warm_s"}]}.

The store is a fresh file in a temporary folder (the data directory's own store is not touched): 40 reviews
(a 90-day plan and a 30-day review on 20 key accounts), 20 wallet estimates, 10 goals, 10 account profiles and
20 contact roles (half of them champions).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from kam_metrics.load import warehouse
from kam_metrics.metrics import account_metrics, default_as_of, programme_kpis
from kam_metrics.programme import open_store
from kam_metrics.programme.overlay import overlay_connection, overlay_plan


def fill(store, con, n: int) -> int:
    as_of = default_as_of(con)
    keys = [r[0] for r in con.sql("SELECT account_id FROM accounts WHERE is_key_account ORDER BY account_id "
                                  "LIMIT ?", params=[max(n // 5, 1)]).fetchall()]
    others = [r[0] for r in con.sql("SELECT account_id FROM accounts WHERE NOT is_key_account ORDER BY account_id "
                                    "LIMIT ?", params=[max(n // 10, 1)]).fetchall()]
    contacts = [r[0] for r in con.sql("SELECT contact_id FROM contacts ORDER BY contact_id LIMIT ?",
                                      params=[max(n // 5, 1)]).fetchall()]
    written = 0
    for i, a in enumerate(keys):
        day = (as_of - timedelta(days=3 + i % 20)).isoformat()
        store.save("reviews", f"B-P{i}", {"account_id": a, "review_date": day, "review_type": "plan_90_day"}, "bench")
        store.save("reviews", f"B-R{i}", {"account_id": a, "review_date": day, "review_type": "review_30_day"}, "bench")
        store.save("wallet", f"{a}|{as_of.year}|", {"wallet_amount": 1_000_000 + i}, "bench")
        written += 3
    for i, a in enumerate(others):
        store.save("goals", f"B-G{i}", {"title": f"Goal {i}", "account_id": a, "target": 10, "current": i % 10,
                                        "start_date": f"{as_of.year}-01-01", "due_date": f"{as_of.year}-12-31"},
                   "bench")
        store.save("account_profile", a, {"executive_sponsor": f"Sponsor {i}"}, "bench")
        written += 2
    for i, c in enumerate(contacts):
        store.save("contact_roles", c, {"buying_role": "champion" if i % 2 else "decision_maker"}, "bench")
        written += 1
    return written


def timed_pair(plain_fn, overlay_fn, repeat: int) -> tuple[float, float, float, float]:
    """(cold, warm) of each, the warm runs alternating between the two (so a busy machine slows both alike)."""
    colds = []
    for fn in (plain_fn, overlay_fn):
        start = time.perf_counter()
        fn()
        colds.append(time.perf_counter() - start)
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for i, fn in enumerate((plain_fn, overlay_fn)):
            start = time.perf_counter()
            fn()
            runs[i].append(time.perf_counter() - start)
    return colds[0], statistics.median(runs[0]), colds[1], statistics.median(runs[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("data_dir")
    p.add_argument("--records", type=int, default=100)
    p.add_argument("--repeat", type=int, default=15)
    args = p.parse_args(argv)
    snapshot = warehouse.current_snapshot_path(Path(args.data_dir))
    plain = warehouse.connect_snapshot(snapshot)
    n_accounts = plain.sql("SELECT count(*) FROM accounts").fetchall()[0][0]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "programme.sqlite")
        written = fill(store, plain, args.records)
        start = time.perf_counter()
        con = overlay_connection(snapshot, store)
        build = time.perf_counter() - start
        plan = overlay_plan(con)
        rows, functions = [], []
        for name, fn in (("account_metrics", account_metrics), ("programme_kpis", programme_kpis)):
            pc, pw, oc, ow = timed_pair(lambda: fn(plain), lambda: fn(con), args.repeat)
            rows += [(name, "plain", pc, pw), (name, "overlay", oc, ow)]
            functions.append({"function": name, "plain_cold_s": pc, "plain_warm_s": pw, "overlay_cold_s": oc,
                              "overlay_warm_s": ow})
        print(f"{n_accounts:,} accounts; {written} store records; overlay tables {sorted(plan.tables)}, "
              f"{len(plan.review_accounts)} accounts' review marts, {len(plan.dm_changes)} decision-maker changes, "
              f"{len(plan.new_champions)} new champions; overlay built in {build * 1000:.0f} ms")
        print("| function | connection | cold | warm (median) |\n|---|---|---|---|")
        for name, kind, cold, warm in rows:
            print(f"| {name} | {kind} | {cold * 1000:.0f} ms | {warm * 1000:.0f} ms |")
        con.close()
        store.close()
    plain.close()
    print()
    print(json.dumps({"accounts": n_accounts, "records": written, "build_s": build, "functions": functions}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
