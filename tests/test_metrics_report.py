"""`kam report` frames and files: every kind, every format, CSV booleans and missing values."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.load import warehouse
from kam_metrics.filters import Filters
from kam_metrics.load.pipeline import load_export
from kam_metrics.report import REPORT_KINDS, report_bytes, report_frame, write_report

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "handbuilt"
AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("report_data")
    load_export(FIXTURE, data_dir)
    connection = warehouse.connect_current(data_dir)
    yield connection
    connection.close()


def test_report_kinds_are_the_documented_ones():
    assert REPORT_KINDS == ("accounts", "programme", "goals", "whale", "health-history", "engagement-weekly",
                            "cost-to-serve", "alerts", "backtest")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if x.startswith("| `kam report KIND"))
    for kind in REPORT_KINDS:
        assert kind in line, kind


@pytest.mark.parametrize("kind", REPORT_KINDS)
def test_every_kind_gives_a_frame(con, kind):
    frame = report_frame(kind, con, AS_OF)
    assert isinstance(frame, pl.DataFrame) and frame.height > 0


def test_programme_and_goals_column_order(con):
    assert report_frame("programme", con, AS_OF).columns[:2] == ["key", "value"]
    goals = report_frame("goals", con, AS_OF)
    assert goals.columns[:6] == ["goal_id", "current", "progress", "expected", "status", "action_completion"]


def test_unknown_kind_and_format_name_the_choices(con):
    with pytest.raises(ValueError, match="unknown report 'nope'.*accounts"):
        report_frame("nope", con, AS_OF)
    with pytest.raises(ValueError, match="unknown report format 'xlsx'"):
        report_bytes(pl.DataFrame({"a": [1]}), "xlsx")


def test_csv_writes_booleans_as_true_false_and_missing_as_empty(con):
    frame = report_frame("accounts", con, AS_OF, Filters(regions=("APAC",)))  # A3 only
    text = report_bytes(frame, "csv").decode("utf-8")
    header, row = text.splitlines()[:2]
    cells = dict(zip(header.split(","), row.split(",")))
    assert cells["account_id"] == "A3"
    assert cells["is_key_account"] == "true"
    assert cells["single_threaded"] == "true"
    assert cells["champion_left"] == "false"
    assert cells["days_since_last_touch"] == ""  # no activity: missing
    assert cells["revenue_growth_pct"] == ""
    assert cells["as_of"] == "2025-06-30"
    assert float(cells["revenue_ttm"]) == 5500.0


def test_files_in_every_format_round_trip(con, tmp_path):
    frame = report_frame("goals", con, AS_OF)
    csv_path = write_report(frame, "csv", tmp_path / "out" / "goals.csv")
    assert pl.read_csv(csv_path)["goal_id"].to_list() == frame["goal_id"].to_list()
    parquet_path = write_report(frame, "parquet", tmp_path / "goals.parquet")
    assert pl.read_parquet(parquet_path).equals(frame)
    json_path = write_report(frame, "json", tmp_path / "goals.json")
    rows = json.loads(json_path.read_text(encoding="utf-8"))
    assert [r["goal_id"] for r in rows] == frame["goal_id"].to_list()
    g6 = next(r for r in rows if r["goal_id"] == "G6")
    assert g6["progress"] is None and g6["status"] is None


def test_stdout_when_no_path(con, capsysbinary):
    frame = report_frame("programme", con, AS_OF)
    assert write_report(frame, "csv", None) is None
    out = capsysbinary.readouterr().out.decode("utf-8")
    assert out.startswith("key,value,value_7d_ago,change\n")
    assert "key_account_count,3.0," in out
    write_report(frame, "parquet", None)
    data = capsysbinary.readouterr().out
    assert pl.read_parquet(io.BytesIO(data)).equals(frame)
