"""`kam report`: the metrics frames as CSV, Parquet or JSON files (or stdout), columns named by METRICS.md keys."""

from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path
from typing import Callable, Mapping

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import (
    account_metrics, alerts, cost_to_serve_breakdown, engagement_weekly, goals_status, health_history,
    programme_report, score_check_backtest, whale_curve,
)
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.opportunities import pipeline_at, with_pipeline_to_headroom
from kam_metrics.settings import Settings

REPORT_KINDS = ("accounts", "programme", "goals", "whale", "health-history", "engagement-weekly", "cost-to-serve",
                "alerts", "backtest")
REPORT_FORMATS = ("csv", "parquet", "json")
#: The pipeline columns the accounts report adds after account_metrics' (METRICS.md "Pipeline").
PIPELINE_REPORT_COLUMNS = ("open_pipeline", "open_deal_count", "win_rate_365d", "pipeline_to_headroom")


def accounts_report(con, as_of: date | None = None, filters: Filters | None = None,
                    settings: Settings | None = None) -> pl.DataFrame:
    """`kam report accounts`: account_metrics with the pipeline keys (open_pipeline, open_deal_count,
    win_rate_365d, pipeline_to_headroom) appended."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    pipeline_job = E.in_background(con, lambda cur: pipeline_at(cur, [as_of], filters))
    frame = account_metrics(con, as_of, filters, settings)
    pipe = pipeline_job.result().drop("as_of")
    frame = with_pipeline_to_headroom(frame.join(pipe, on="account_id", how="left", maintain_order="left"))
    return frame.select(*[c for c in frame.columns if c not in PIPELINE_REPORT_COLUMNS], *PIPELINE_REPORT_COLUMNS)


_BUILDERS: dict[str, Callable] = {
    "accounts": accounts_report,
    "programme": programme_report,
    "goals": goals_status,
    "whale": whale_curve,
    "health-history": health_history,
    "engagement-weekly": engagement_weekly,
    "cost-to-serve": cost_to_serve_breakdown,
    "alerts": alerts,
    "backtest": score_check_backtest,
}


def report_frame(kind: str, con, as_of: date | None = None, filters: Filters | None = None,
                 settings: Settings | None = None, weights: Mapping[str, float] | None = None) -> pl.DataFrame:
    """The frame of one report kind (see REPORT_KINDS); ValueError naming the kinds for an unknown one.
    `weights`: health weights replacing the settings' for the backtest only ("what if")."""
    try:
        builder = _BUILDERS[kind]
    except KeyError:
        raise ValueError(f"unknown report '{kind}' (expected one of {', '.join(REPORT_KINDS)})") from None
    if weights is not None:
        if kind != "backtest":
            raise ValueError(f"--weights applies to the backtest report only, not '{kind}'")
        return builder(con, as_of, filters, settings, weights=weights)
    return builder(con, as_of, filters, settings)


def report_bytes(frame: pl.DataFrame, fmt: str) -> bytes:
    """The frame serialised: CSV (booleans true/false, missing values empty, dates ISO), Parquet, or JSON
    (an array of row objects, missing values null)."""
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.write_csv(buffer, null_value="", date_format="%Y-%m-%d")
    elif fmt == "parquet":
        frame.write_parquet(buffer)
    elif fmt == "json":
        frame.write_json(buffer)
    else:
        raise ValueError(f"unknown report format '{fmt}' (expected one of {', '.join(REPORT_FORMATS)})")
    return buffer.getvalue()


def write_report(frame: pl.DataFrame, fmt: str, out: Path | str | None = None) -> Path | None:
    """Write the frame as `fmt` to `out`, or to stdout when out is None; returns the path written."""
    data = report_bytes(frame, fmt)
    if out is None:
        stream = getattr(sys.stdout, "buffer", None)
        if stream is not None:
            stream.write(data)
            stream.flush()
        else:  # a text-only stdout (captured in tests): Parquet cannot go there
            if fmt == "parquet":
                raise ValueError("Parquet output needs a file (--out PATH) or a binary stdout")
            sys.stdout.write(data.decode("utf-8"))
        return None
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
