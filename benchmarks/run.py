"""The benchmark suite, one command: `uv run python -m benchmarks.run --scale 0.1 --out benchmarks/results`.

Steps, each measured in its own child process (so every peak memory is that step's own):
1. generate the canonical export at `--scale` (kam_metrics.generators.scale; 1.0 = 10,000 accounts, 10 M activities);
2. load, `--repeat` times, in pairs on the same files: the FLOOR (Polars reads every CSV, DuckDB stores the
   frames, no checks), the PEER (pandas + pandera script with the same row checks) and `kam load`;
3. every metrics-engine function on the loaded snapshot, cold and warm, including the health history of all
   accounts;
4. every page rendered through AppTest in one process, and that process's peak memory;
5. the snapshot's size on disk.
It writes `<out>/results.md` (the tables) and `<out>/results.json` (everything, with the machine and versions),
and prints the Markdown. Exports and data live under `--work` (default: a folder in the system temp dir).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks.measure import run_measured

REPO = Path(__file__).resolve().parent.parent
GIB = 1024**3

# Targets of issue 7, at the reference size (scale 1.0) on the 2-core, 24 GiB machine.
TARGETS = {
    "generate_s": 60.0,
    "load_vs_floor": 1.5,
    "peak_vs_floor": 1.5,
    "metric_warm_s": 0.2,
    "health_history_s": 2.0,
    "score_check_cold_s": 5.0,
    "score_check_what_if_s": 3.0,
    "store_save_s": 0.1,
    "overlay_extra_s": 0.02,
    "page_s": 2.0,
    "app_peak_bytes": 1.5 * GIB,
    "pack_demo_s": 10.0,
    "pack_s": 60.0,
}


def machine() -> dict:
    """Cores, memory, CPU model, OS, Python and library versions, git commit, load average."""
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("polars", "duckdb", "pandas", "pandera", "pyarrow", "numpy", "streamlit"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "cores": os.cpu_count(), "memory_bytes": mem, "cpu": cpu, "os": platform.platform(),
        "python": platform.python_version(), "versions": versions, "git_commit": commit,
        "load_average": os.getloadavg(),
    }


def _child(cmd: list[str], what: str) -> dict:
    """Run a measured child; its stdout is JSON. Raises with the child's stderr when it fails."""
    m = run_measured(cmd, cwd=str(REPO))
    if m["returncode"] != 0:
        raise RuntimeError(f"{what} failed (exit {m['returncode']}):\n{m['stderr'][-4000:]}")
    lines = [line for line in m["stdout"].splitlines() if line.startswith("{")]
    m["result"] = json.loads(lines[-1]) if lines else None
    return m


def _child_result(cmd: list[str], what: str, **empty) -> dict:
    """A measured child's JSON result; when it fails, `empty` with the error, so the report shows what ran and the
    failure shows in its tables."""
    try:
        return _child(cmd, what)["result"]
    except RuntimeError as exc:
        return {"error": str(exc)[-2000:], **empty}


def table_times(events: list, tables: dict) -> dict:
    """Main-thread seconds per table from the load's progress events: from "reading <table>" to the next
    table's (the last one's to "precomputing aggregates"), i.e. waiting for its file (read ahead on a
    background thread), checking it and taking its part of the marts. The stores run on writer threads
    alongside and are not charged to a table."""
    marks = [(stage[len("reading "):], t) for stage, t, *_ in events
             if stage.startswith("reading ") and stage[len("reading "):] in tables]
    end = next((t for stage, t, *_ in events if stage == "precomputing aggregates"), None)
    spans: dict[str, float] = {}
    for (table, start), following in zip(marks, [*marks[1:], (None, end)]):
        if following[1] is not None:
            spans[table] = following[1] - start
    return spans


def bench_load(export: Path, work: Path, repeat: int) -> dict:
    py = sys.executable
    runs = []
    for i in range(repeat):
        floor_db, peer_db, data_dir = work / "floor.duckdb", work / "peer.duckdb", work / "data"
        shutil.rmtree(data_dir, ignore_errors=True)
        floor = _child([py, "-m", "benchmarks.floor", str(export), str(floor_db)], "floor")
        peer = _child([py, "-m", "benchmarks.peer_pandas", str(export), str(peer_db)], "peer")
        load = _child([py, "-m", "benchmarks.load_child", str(export), str(data_dir)], "kam load")
        runs.append({
            name: {"wall_s": m["wall_s"], "cpu_s": m["cpu_s"], "peak_rss_bytes": m["peak_rss_bytes"], **m["result"]}
            for name, m in (("floor", floor), ("peer", peer), ("kam_load", load))
        })
        for db in (floor_db, peer_db):
            db.unlink(missing_ok=True)
    last = runs[-1]["kam_load"]
    spans = table_times(last["events"], last["tables"])
    per_table = {
        t: {"rows": c["read"], "seconds": spans.get(t), "rows_per_s": (c["read"] / spans[t]) if spans.get(t) else None}
        for t, c in last["tables"].items()
    }
    return {"runs": runs, "per_table": per_table, "data_dir": str(work / "data"), "snapshot": last["snapshot"],
            "snapshot_bytes": last["snapshot_bytes"]}


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def evaluate(result: dict) -> list[dict]:
    """Each target with the measured value and whether it is met."""
    runs = result["load"]["runs"]
    checks = []

    def add(name, value, limit, met, unit=""):
        checks.append({"target": name, "value": value, "limit": limit, "met": bool(met), "unit": unit})

    gen = result["generate"]["wall_s"]
    add("export generated in under a minute", gen, TARGETS["generate_s"], gen < TARGETS["generate_s"], "s")
    add("kam load faster than the peer, in every pair", [r["kam_load"]["wall_s"] / r["peer"]["wall_s"] for r in runs],
        1.0, all(r["kam_load"]["wall_s"] < r["peer"]["wall_s"] for r in runs), "× peer")
    ratios = [r["kam_load"]["wall_s"] / r["floor"]["wall_s"] for r in runs]
    add("kam load at most 1.5 × the floor", ratios, TARGETS["load_vs_floor"],
        all(x <= TARGETS["load_vs_floor"] for x in ratios), "× floor")
    peaks = [r["kam_load"]["peak_rss_bytes"] / r["floor"]["peak_rss_bytes"] for r in runs]
    add("kam load peak memory at most 1.5 × the floor's", peaks, TARGETS["peak_vs_floor"],
        all(x <= TARGETS["peak_vs_floor"] for x in peaks), "× floor")
    funcs = result["metrics"]["functions"]
    # The health history (26 weekly dates for every account) has its own 2 s target below.
    # The score check (every account at every check date) has its own targets below.
    timed = [f for f in funcs if f["function"] != "health_history" and not f["function"].startswith("score_check")]
    slow = {f["function"]: f["warm_s"] for f in timed if f["warm_s"] >= TARGETS["metric_warm_s"]}
    slowest = max(timed, key=lambda f: f["warm_s"]) if timed else None
    add("every metrics function under 200 ms warm (health history aside)",
        slow or (slowest and {slowest["function"]: slowest["warm_s"]}), TARGETS["metric_warm_s"],
        bool(timed) and not slow, "s")
    hh = next((f for f in funcs if f["function"] == "health_history"), None)
    add("health history of all accounts under 2 s (cold)", hh and hh["cold_s"], TARGETS["health_history_s"],
        hh is not None and hh["cold_s"] < TARGETS["health_history_s"], "s")
    cold = next((f for f in funcs if f["function"] == "score_check_24_cold"), None)
    add("score check over 24 month ends under 5 s (cold)", cold and cold["cold_s"], TARGETS["score_check_cold_s"],
        cold is not None and cold["cold_s"] < TARGETS["score_check_cold_s"], "s")
    what_if = next((f for f in funcs if f["function"] == "score_check_what_if"), None)
    add("score check what-if re-run under 3 s", what_if and what_if["warm_s"], TARGETS["score_check_what_if_s"],
        what_if is not None and what_if["warm_s"] < TARGETS["score_check_what_if_s"], "s")
    overlay = result.get("overlay")
    if overlay is not None:
        am = next((f for f in overlay.get("functions", []) if f["function"] == "account_metrics"), None)
        extra = am and am["overlay_warm_s"] - am["plain_warm_s"]
        add("the store's overlay adds under 20 ms to account_metrics (warm)", extra, TARGETS["overlay_extra_s"],
            extra is not None and extra < TARGETS["overlay_extra_s"], "s")
    pack = result.get("pack")
    if pack is not None:
        demo, scaled = pack["demo"].get("total_s"), pack["scale"].get("total_s")
        add("HTML pack of the demo under 10 s", demo, TARGETS["pack_demo_s"],
            demo is not None and demo < TARGETS["pack_demo_s"], "s")
        add("HTML pack at the bench scale under 60 s", scaled, TARGETS["pack_s"],
            scaled is not None and scaled < TARGETS["pack_s"], "s")
    programme = result.get("programme")
    if programme is not None:
        by_backend = {b["backend"]: b for b in programme.get("backends", [])}
        for backend, label in (("sqlite", "embedded SQLite"), ("postgresql", "PostgreSQL")):
            b = by_backend.get(backend)
            value = None if b is None or "error" in b else max(b["insert_ms"]["median"], b["update_ms"]["median"])
            add(f"a programme store save under 100 ms ({label}, median)", value and value / 1000,
                TARGETS["store_save_s"], value is not None and value / 1000 < TARGETS["store_save_s"], "s")
    pages = result.get("pages")
    if pages is not None:
        worst = max(pages["pages"], key=lambda p: p["first_s"]) if pages["pages"] else None
        slow_pages = {p["page"]: p["first_s"] for p in pages["pages"] if p["first_s"] >= TARGETS["page_s"]}
        add("every page renders in under 2 s (first render)", slow_pages or (worst and {worst["page"]: worst["first_s"]}),
            TARGETS["page_s"], bool(pages["pages"]) and all(
                p["first_s"] < TARGETS["page_s"] and not p["exceptions"] for p in pages["pages"]), "s")
        peak = pages["app_peak_rss_bytes"]
        add("the app process stays under 1.5 GiB", peak, TARGETS["app_peak_bytes"],
            peak is not None and peak < TARGETS["app_peak_bytes"], "bytes")
    return checks


def _fmt_bytes(n):
    return "–" if n is None else f"{n / GIB:.2f} GiB" if n >= GIB / 4 else f"{n / 1024**2:.0f} MiB"


def _fmt_s(x):
    if x is None:
        return "–"
    return f"{x * 1000:.1f} ms" if x < 0.01 else f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def markdown(result: dict) -> str:
    m = result["machine"]
    rows = result["generate"]["rows"]
    lines = [
        f"## Benchmark at scale {result['scale']:g} ({sum(rows.values()):,} rows; "
        f"{rows.get('activities', 0):,} activities)",
        "",
        f"{m['cores']} cores, {_fmt_bytes(m['memory_bytes'])}, {m['cpu']}; Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + f"; commit {m['git_commit'] or 'n/a'}; {result['finished_at'][:16]} UTC; "
        f"load average at start {m['load_average'][0]:.1f}.",
        "",
        f"Export generated in {_fmt_s(result['generate']['wall_s'])} "
        f"({_fmt_bytes(result['generate']['export_bytes'])} of CSV).",
        "",
        "### Load (same files, same run)",
        "",
        "| run | floor | peer (pandas + pandera) | kam load | kam / floor | kam / peer | peak floor | peak peer | peak kam | peak kam / floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(result["load"]["runs"], 1):
        f, p, k = r["floor"], r["peer"], r["kam_load"]
        lines.append(
            f"| {i} | {_fmt_s(f['wall_s'])} | {_fmt_s(p['wall_s'])} | {_fmt_s(k['wall_s'])} | "
            f"{k['wall_s'] / f['wall_s']:.2f} | {k['wall_s'] / p['wall_s']:.2f} | {_fmt_bytes(f['peak_rss_bytes'])} | "
            f"{_fmt_bytes(p['peak_rss_bytes'])} | {_fmt_bytes(k['peak_rss_bytes'])} | "
            f"{k['peak_rss_bytes'] / f['peak_rss_bytes']:.2f} |"
        )
    lines += ["", "Wall times include the interpreter start and imports of each process.", "",
              "### kam load per table (last run)", "",
              "Main-thread time per table: waiting for its file (read ahead on a background thread), checking it and "
              "taking its part of the precomputed marts; the stores run on writer threads alongside.", "",
              "| table | rows | seconds | rows/s |", "|---|---|---|---|"]
    for t, v in result["load"]["per_table"].items():
        rate = "–" if v["rows_per_s"] is None else f"{v['rows_per_s']:,.0f}"
        lines.append(f"| {t} | {v['rows']:,} | {_fmt_s(v['seconds'])} | {rate} |")
    lines += ["", f"Snapshot on disk: {_fmt_bytes(result['load']['snapshot_bytes'])}.", "",
              f"### Metrics engine ({result['metrics']['accounts']:,} accounts, as_of {result['metrics']['as_of']}, "
              f"warm = median of {result['metrics']['repeat']})", "",
              "| function | cold | warm | rows |", "|---|---|---|---|"]
    if result["metrics"].get("error"):
        lines.append(f"| failed | {result['metrics']['error'].splitlines()[-1][:150]} | | |")
    for f in result["metrics"]["functions"]:
        lines.append(f"| {f['function']} | {_fmt_s(f['cold_s'])} | {_fmt_s(f['warm_s'])} | "
                     f"{'–' if f['rows'] is None else f['rows']} |")
    overlay = result.get("overlay")
    if overlay is not None:
        lines += ["", "### Programme store overlay", ""]
        if overlay.get("error"):
            lines.append(f"failed: {overlay['error'].splitlines()[-1][:150]}")
        else:
            lines += [f"{overlay['accounts']:,} accounts, {overlay['records']} store records laid over the snapshot "
                      f"(overlay built in {_fmt_s(overlay['build_s'])}); warm = median of alternating runs.", "",
                      "| function | plain cold | plain warm | overlay cold | overlay warm | added (warm) |",
                      "|---|---|---|---|---|---|"]
            for f in overlay["functions"]:
                lines.append(f"| {f['function']} | {_fmt_s(f['plain_cold_s'])} | {_fmt_s(f['plain_warm_s'])} | "
                             f"{_fmt_s(f['overlay_cold_s'])} | {_fmt_s(f['overlay_warm_s'])} | "
                             f"{(f['overlay_warm_s'] - f['plain_warm_s']) * 1000:+.0f} ms |")
    programme = result.get("programme")
    if programme is not None:
        lines += ["", "### Programme store saves", ""]
        if programme.get("error"):
            lines.append(f"failed: {programme['error'].splitlines()[-1][:150]}")
        else:
            from benchmarks.bench_programme import markdown as programme_markdown

            lines.append(programme_markdown(programme))
    pack = result.get("pack")
    if pack is not None:
        lines += ["", "### Weekly pack (HTML, charts by Chromium)", "",
                  "| data | accounts | key accounts | charts | build | render | total |", "|---|---|---|---|---|---|---|"]
        for label, r in (("demo", pack["demo"]), ("bench scale", pack["scale"])):
            if r.get("error"):
                lines.append(f"| {label} | failed: {r['error'].splitlines()[-1][:150]} | | | | | |")
            else:
                lines.append(f"| {label} | {r['accounts']:,} | {r['key_accounts']:,} | {r['charts']}"
                             f"{'' if r['chromium'] else ' (no Chromium: notes)'} | {_fmt_s(r['build_s'])} | "
                             f"{_fmt_s(r['render_s'])} | {_fmt_s(r['total_s'])} |")
    pages = result.get("pages")
    if pages is not None:
        lines += ["", "### Pages (AppTest, one process)", "", "| page | first render | second render | errors |",
                  "|---|---|---|---|"]
        if pages.get("error"):
            lines.append(f"| failed | {pages['error'].splitlines()[-1][:150]} | | |")
        for p in pages["pages"]:
            lines.append(f"| {p['page']} | {_fmt_s(p['first_s'])} | {_fmt_s(p['second_s'])} | "
                         f"{'; '.join(p['exceptions'])[:120] or 'none'} |")
        lines += ["", f"App process peak memory: {_fmt_bytes(pages['app_peak_rss_bytes'])}. First renders follow "
                  f"one session from the entrypoint through the pages in sidebar order (later pages reuse cached "
                  f"results of earlier ones), after importing the app's modules "
                  f"({_fmt_s(pages.get('imports_s'))}, once per server process)."]
    lines += ["", "### Targets" + ("" if result["scale"] == 1 else " (they apply at scale 1; shown for information)"),
              "", "| target | measured | met |", "|---|---|---|"]
    for c in result["targets"]:
        value = c["value"]
        if value is None:
            shown = "–"
        elif isinstance(value, list):
            shown = ", ".join(f"{v:.2f}" for v in value) + f" {c['unit']}"
        elif isinstance(value, dict):
            shown = ", ".join(f"{k} {_fmt_s(v)}" for k, v in value.items())
        elif c["unit"] == "bytes":
            shown = _fmt_bytes(value)
        elif c["unit"] == "s":
            shown = _fmt_s(value)
        else:
            shown = str(value)
        lines.append(f"| {c['target']} | {shown} | {'yes' if c['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def run(scale: float, out: Path, work: Path, repeat: int, metric_repeat: int, pages: bool, keep: bool) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    export = work / "export"
    shutil.rmtree(export, ignore_errors=True)
    py = sys.executable
    started = datetime.now(timezone.utc)
    info = machine()
    gen = run_measured([py, "-m", "kam_metrics.cli", "demo", str(export), "--scale", repr(scale)], cwd=str(REPO))
    if gen["returncode"] != 0:
        raise RuntimeError(f"generating the export failed:\n{gen['stderr'][-4000:]}")
    from kam_metrics.generators.scale import scale_row_counts

    generate = {"wall_s": gen["wall_s"], "peak_rss_bytes": gen["peak_rss_bytes"], "rows": scale_row_counts(scale),
                "export_bytes": sum(p.stat().st_size for p in export.iterdir())}
    load = bench_load(export, work, repeat)
    data_dir = Path(load["data_dir"])
    metrics = _child_result([py, "-m", "benchmarks.bench_metrics", str(data_dir), "--repeat", str(metric_repeat)],
                            "metrics", functions=[], accounts=0, as_of="n/a", repeat=metric_repeat)
    overlay = _child_result([py, "-m", "benchmarks.bench_overlay", str(data_dir)], "overlay", functions=[])
    programme = _child_result([py, "-m", "benchmarks.bench_programme"], "programme store", backends=[])
    pack = {"demo": _child_result([py, "-m", "benchmarks.bench_pack", "--demo"], "weekly pack (demo)", total_s=None),
            "scale": _child_result([py, "-m", "benchmarks.bench_pack", str(data_dir)], "weekly pack", total_s=None)}
    page_result = None
    if pages:
        page_result = _child_result([py, "-m", "benchmarks.suite_pages", str(data_dir)], "pages", pages=[],
                                    app_peak_rss_bytes=None)
    result = {
        "scale": scale, "started_at": started.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
        "machine": info, "generate": generate, "load": load, "metrics": metrics, "overlay": overlay, "programme": programme,
        "pack": pack, "pages": page_result,
    }
    result["targets"] = evaluate(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    (out / "results.md").write_text(markdown(result), encoding="utf-8")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="export size, 1.0 = the reference (default 0.1)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="where results go")
    parser.add_argument("--work", type=Path, help="folder for the export and the databases (default: temp dir)")
    parser.add_argument("--repeat", type=int, default=1, help="floor / peer / kam load pairs (default 1)")
    parser.add_argument("--metric-repeat", type=int, default=3, help="warm calls per metrics function (default 3)")
    parser.add_argument("--no-pages", action="store_true", help="skip the AppTest page renders")
    parser.add_argument("--keep", action="store_true", help="keep the export and data under --work")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.gettempdir()) / f"kam-bench-{args.scale:g}-{os.getpid()}"
    start = time.perf_counter()
    result = run(args.scale, args.out, work, args.repeat, args.metric_repeat, not args.no_pages, args.keep)
    print(markdown(result))
    print(f"(suite took {time.perf_counter() - start:.0f} s; results in {args.out}/results.md and results.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
