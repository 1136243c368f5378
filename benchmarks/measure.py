"""Run one command in a child process and report its wall time, CPU time and peak memory (JSON on stdout).

`python -m benchmarks.measure -- CMD ...` is how every measured step runs, so each peak is the peak
of that step alone: this wrapper starts exactly one child, so RUSAGE_CHILDREN's ru_maxrss is the
child's own peak resident set (Linux reports it in KiB).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def measure(cmd: list[str], *, env: dict | None = None, cwd: str | None = None) -> dict:
    """Run `cmd` in this process's child; wall seconds, peak RSS of the child, return code, output."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_bytes": usage.ru_maxrss * 1024,
            "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


def run_measured(cmd: list[str], *, env: dict | None = None, cwd: str | None = None) -> dict:
    """Measure `cmd` from a fresh wrapper process, so the peak is not mixed with earlier children's."""
    wrapper = [sys.executable, "-m", "benchmarks.measure", "--", *cmd]
    proc = subprocess.run(wrapper, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"measure wrapper failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: python -m benchmarks.measure -- CMD ...", file=sys.stderr)
        return 2
    cmd = argv[argv.index("--") + 1:]
    print(json.dumps(measure(cmd)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
