"""Shared fixtures: small hand-written exports, the demo export, and loaded data directories."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from kam_metrics.load.pipeline import LoadReport, load_export

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"  # the specifications beside our CI; the repository carries copies in docs/

# A minimal valid canonical export: the three required tables.
BASE_EXPORT = {
    "accounts.csv": """\
        account_id,account_name,is_key_account,region,segment,kam_owner,executive_sponsor
        A1,Acme Industrial,true,EMEA,Enterprise,Kim Lee,Dana Ortiz
        A2,Beta Logistics,false,Americas,Mid-market,,
        A3,Gamma Foods,yes,APAC,Enterprise,Kim Lee,
        """,
    "activities.csv": """\
        activity_id,account_id,activity_date,activity_type,contact_id,duration_minutes
        X1,A1,2026-11-01,email,,5
        X2,A2,2026-11-02,call,,30
        X3,A3,2026-10-15,meeting,,60
        """,
    "revenue.csv": """\
        revenue_id,account_id,revenue_date,amount,cost_of_goods,product_line,currency
        R1,A1,2026-10-01,1000,300,Pumps,EUR
        R2,A2,2026-10-01,500,,Valves,
        R3,A3,2026-09-01,-50,0,Pumps,EUR
        """,
}


def write_export(folder: Path, files: dict[str, str | bytes | None], base: bool = True) -> Path:
    """Write an export folder: BASE_EXPORT (unless base=False) overlaid with `files` (None removes a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    merged: dict[str, str | bytes | None] = dict(BASE_EXPORT) if base else {}
    merged.update(files)
    for name, content in merged.items():
        if content is None:
            continue
        data = content if isinstance(content, bytes) else textwrap.dedent(content).encode("utf-8")
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def make_export(tmp_path):
    """make_export({"accounts.csv": "...", ...}) → a folder with the base export overlaid."""
    counter = {"n": 0}

    def make(files: dict[str, str | bytes | None] | None = None, base: bool = True) -> Path:
        counter["n"] += 1
        return write_export(tmp_path / f"export{counter['n']}", files or {}, base=base)

    return make


@pytest.fixture
def load_folder(tmp_path):
    """load_folder(folder, **kw) → LoadReport, into tmp_path/'data' (or data_dir=...)."""

    def load(folder: Path, data_dir: Path | None = None, **kwargs) -> LoadReport:
        return load_export(folder, data_dir or tmp_path / "data", **kwargs)

    return load


@pytest.fixture(scope="session")
def demo_export_dir(tmp_path_factory) -> Path:
    from kam_metrics.generators.demo import write_demo

    out = tmp_path_factory.mktemp("demo") / "demo_export"
    write_demo(out)
    return out


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory, demo_export_dir) -> Path:
    """A data directory with the demo export loaded (read it only; never load into it in a test)."""
    data_dir = tmp_path_factory.mktemp("demo_data")
    load_export(demo_export_dir, data_dir, fmt="kam")
    return data_dir


@pytest.fixture
def paused_load_command():
    """paused_load_command(stage, marker, *kam_args) → the command line of a `kam *kam_args` process whose load
    touches `marker` when its named step `stage` begins (pipeline.LoadProgress.stage) and then waits to be
    killed (tests/paused_load.py patches the step in that process; the load code carries no test hook)."""

    def command(stage: str, marker: Path, *kam_args: str) -> list[str]:
        return [sys.executable, str(REPO_ROOT / "tests" / "paused_load.py"), stage, str(marker), *kam_args]

    return command


def assert_close(actual, expected, *, rel: float = 1e-9, floor: float = 1e-9, label: str = "") -> None:
    """Element-wise relative comparison of two float Series (as math.isclose: rel_tol=rel, abs_tol=floor).

    Nulls must sit in the same places. The tiny absolute floor only lets values that should be 0 differ by
    floating-point noise; anything larger is compared relative to its size, so sums of ~10^5 that differ in
    the 12th digit (as they do between processors) are equal.
    """
    import polars as pl

    a = pl.Series(actual, dtype=pl.Float64) if not isinstance(actual, pl.Series) else actual.cast(pl.Float64)
    b = pl.Series(expected, dtype=pl.Float64) if not isinstance(expected, pl.Series) else expected.cast(pl.Float64)
    assert a.len() == b.len(), f"{label}: {a.len()} values against {b.len()}"
    assert (a.is_null() == b.is_null()).all(), f"{label}: nulls differ"
    both = a.is_not_null() & b.is_not_null()
    a, b = a.filter(both), b.filter(both)
    scale = pl.DataFrame({"a": a.abs(), "b": b.abs()}).select(pl.max_horizontal("a", "b")).to_series()
    bad = ((a - b).abs() > (scale * rel).clip(lower_bound=floor))
    assert not bad.any(), f"{label}: {a.filter(bad).head(3).to_list()} against {b.filter(bad).head(3).to_list()}"


# --- The programme store's two backends (issue 14) ---------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server from Debian's binaries for the whole session (stopped at the end). Without the
    binaries this FAILS rather than skips: CI must run the PostgreSQL backend (scripts/test.sh installs them)."""
    from tests.postgres_server import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (initdb, pg_ctl): install Debian's "
                    "`postgresql` package (scripts/test.sh does when run as root)", pytrace=False)
    server = PostgresServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def programme_location(request, tmp_path) -> str:
    """Where an empty programme store lives: a SQLite file in tmp_path, or a new database on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "programme.sqlite")
    return request.getfixturevalue("postgres_server").create_database()
