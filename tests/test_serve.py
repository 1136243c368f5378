"""`kam app` starts the server through kam_metrics.app.serve, which imports a first page's libraries before the
server takes a request, so the first visitor after a start waits no longer than any other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from kam_metrics import cli
from tests.test_browser import REPO, free_port


def test_kam_app_runs_streamlit_through_the_preloading_launcher(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, **kw: seen.setdefault("cmd", cmd) and 0)
    assert cli.main(["--data-dir", str(tmp_path / "data"), "app", "--no-demo", "--port", "8765"]) == 0
    assert seen["cmd"][1:4] == ["-m", "kam_metrics.app.serve", str(REPO / "app.py")]
    assert seen["cmd"][seen["cmd"].index("--server.port") + 1] == "8765"


def test_the_server_has_pandas_and_pyarrow_loaded_before_its_first_request(tmp_path):
    port = free_port()
    env = dict(os.environ, KAM_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kam_metrics.app.serve", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.3)
        # No page has been requested: what is mapped now was imported at start.
        maps = open(f"/proc/{process.pid}/maps").read()
        assert "/pandas/_libs/" in maps and "pyarrow" in maps
    finally:
        process.terminate()
        process.wait(timeout=10)
