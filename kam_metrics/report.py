"""`kam report`: the metrics frames as CSV, Parquet or JSON files (or stdout), columns named by METRICS.md keys."""

from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path
from typing import Callable

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import (
    account_metrics, cost_to_serve_breakdown, engagement_weekly, goals_status, health_history, programme_kpis,
    whale_curve,
)
from kam_metrics.settings import Settings

REPORT_KINDS = ("accounts", "programme", "goals", "whale", "health-history", "engagement-weekly", "cost-to-serve")
REPORT_FORMATS = ("csv", "parquet", "json")

_BUILDERS: dict[str, Callable] = {
    "accounts": account_metrics,
    "programme": programme_kpis,
    "goals": goals_status,
    "whale": whale_curve,
    "health-history": health_history,
    "engagement-weekly": engagement_weekly,
    "cost-to-serve": cost_to_serve_breakdown,
}


def report_frame(kind: str, con, as_of: date | None = None, filters: Filters | None = None,
                 settings: Settings | None = None) -> pl.DataFrame:
    """The frame of one report kind (see REPORT_KINDS); ValueError naming the kinds for an unknown one."""
    try:
        builder = _BUILDERS[kind]
    except KeyError:
        raise ValueError(f"unknown report '{kind}' (expected one of {', '.join(REPORT_KINDS)})") from None
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
