"""The Data page (pages/9_Data.py): the snapshot facts, missing files, quarantine filters and the upload flow."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st
from polars.exceptions import PanicException

from kam_metrics.app import absence, auth, formatting
from kam_metrics.app.frame import View, current_settings
from kam_metrics.app.subsets import where
from kam_metrics.app.widgets import md, table
from kam_metrics.load.contract import TABLE_ORDER
from kam_metrics.metrics import queries
from kam_metrics.settings import resolve_data_dir

_LOG = logging.getLogger(__name__)
QUARANTINE_SHOWN_ROWS = 5000

def snapshot_facts(view: View) -> pl.DataFrame:
    """The current snapshot as (item, value) rows."""
    s = view.status
    facts = [
        ("Snapshot (load id)", s.load_id),
        ("Data as of (default)", view.default_as_of.isoformat()),
        ("Figures shown as of", view.as_of.isoformat()),
        ("Loaded at", s.loaded_at.strftime("%Y-%m-%d %H:%M UTC") if s.loaded_at else "—"),
        ("Load status", s.load_status or "—"),
        ("Source", Path(s.source_path).name if s.source_path else "—"),
        ("Format", s.format or "—"),
        ("Reporting currency", view.currency),
        ("Tables in the export", ", ".join(t for t in TABLE_ORDER if t in s.present_tables) or "—"),
        ("Rows quarantined", formatting.format_count(s.quarantined_rows)),
    ]
    return pl.DataFrame({"item": [f for f, _ in facts], "value": [v for _, v in facts]})


def export_gaps(view: View) -> pl.DataFrame:
    """What the export lacks (files, then columns of the files it has) and the figures each switches off
    (METRICS.md "Data that is not there"): those figures show "—", never 0."""
    return absence.export_gaps(view.presence)


def gaps_summary(gaps: pl.DataFrame) -> str:
    """One line naming the missing files first: 'Not in this export: contacts.csv, reviews.csv; and 4 columns. …'."""
    files = [m for m in gaps["missing"].to_list() if ".csv" in m]
    columns = gaps.height - len(files)
    parts = [f"Not in this export: {md(', '.join(files))}" if files else "Every file is in this export"]
    if columns:
        parts.append(f"and {columns} column{'s' if columns != 1 else ''} of the files it has")
    return ("; ".join(parts) + ". The figures each one switches off show \"—\" with what would turn them on, "
            "never 0.")


def quarantine_filters(view: View) -> tuple[str | None, str | None]:
    """Select boxes for the quarantine's table and reason; returns the choices (None = all)."""
    reasons = view.query(queries.quarantine_reasons)
    tables = sorted(set(reasons["table"].to_list())) if not reasons.is_empty() else []
    left, right = st.columns(2)
    with left:
        table_choice = st.selectbox("Table", [None, *tables], format_func=lambda t: "All tables" if t is None else t,
                                    key="data_q_table")
    shown = where(reasons, "table", table_choice) if table_choice else reasons
    options = [None, *dict.fromkeys(shown["reason"].to_list())] if not shown.is_empty() else [None]
    counts = {}
    for row in shown.iter_rows(named=True):
        counts[row["reason"]] = counts.get(row["reason"], 0) + row["rows"]
    with right:
        reason_choice = st.selectbox(
            "Reason", options, key="data_q_reason",
            format_func=lambda r: "All reasons" if r is None else f"{formatting.safe_text(r, max_length=120)} ({counts.get(r, 0):,})",
        )
    return table_choice, reason_choice


NOT_CONFIGURED = ("Sign-in is not configured: this app runs for one user on their own machine; anyone who can open "
                  "its address sees everything. See README 'Sign-in and roles'.")
UPLOAD_WHO = "Uploading data is for the programme champion and admins."
QUARANTINE_WHO = ("The quarantined rows themselves (raw rows of any account) are shown to the programme champion "
                  "and admins; here are their counts by table and reason.")


def sign_in_status() -> None:
    """Who is signed in with which role, or that sign-in is not configured."""
    if not auth.is_auth_configured():
        st.info(NOT_CONFIGURED, icon=":material/lock_open:")
        return
    user = auth.last_access()
    st.caption(f":material/lock: Signed in as {md(user.name)} ({md(user.email or '—')}) · role "
               f"{md(user.role or '—')}")


def quarantine_counts(view: View) -> pl.DataFrame:
    """Quarantined rows counted by table and reason (no row's values)."""
    return view.query(queries.quarantine_reasons)


# ---------------------------------------------------------------- uploads


_UPLOAD_REPORT = "kam_upload_report"
UPLOAD_FORMATS = ("auto", "kam", "salesforce", "hubspot")

def upload_section() -> None:
    """Load a new export from the browser: one zip or the export's CSV/Parquet files, checked by kam_metrics.load.upload."""
    from kam_metrics.load.importers.base import LoadError
    from kam_metrics.load.upload import load_upload

    if not auth.last_access().may_upload:
        st.caption(UPLOAD_WHO)
        return
    settings = current_settings()
    report = st.session_state.pop(_UPLOAD_REPORT, None)
    if report:
        upload_report(report)
    if not settings.upload_enabled:
        st.caption("Uploads are turned off on this server (setting upload_enabled = false); load exports with "
                   "`kam load PATH`.")
        return
    st.caption(f"One .zip of an export, or its files (accounts.csv, activities.csv, revenue.csv and any optional "
               f"table), up to {settings.max_upload_mb} MB. The export is checked and loaded into a new snapshot; "
               "the current one stays in place until the load has fully succeeded.")
    with st.form("kam_upload_form", clear_on_submit=True, border=True):
        files = st.file_uploader("Export files", type=["csv", "parquet", "zip"], accept_multiple_files=True,
                                 key="kam_upload_files", max_upload_size=max(int(settings.max_upload_mb), 1))
        fmt = st.selectbox("Format", UPLOAD_FORMATS, key="kam_upload_format",
                           help="auto detects canonical files, a Salesforce or a HubSpot export.")
        submitted = st.form_submit_button("Load export", icon=":material/upload:", type="primary")
    if not submitted:
        return
    if not files:
        st.warning("Choose the export's files (or one zip) first.", icon=":material/upload_file:")
        return
    bar = st.progress(0.0, text="starting")

    def progress(stage: str, fraction: float) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=stage)

    try:
        result = load_upload([(f.name, f.getvalue()) for f in files], resolve_data_dir(), fmt=fmt,
                             settings=settings, progress=progress)
    except LoadError as exc:
        bar.empty()
        st.error(f"Not loaded: {md(exc)}", icon=":material/error:")
        return
    except (Exception, PanicException) as exc:  # a loader bug: say so plainly; the current snapshot is untouched
        bar.empty()
        _LOG.exception("upload failed unexpectedly")
        st.error(f"Not loaded: the load failed unexpectedly ({md(type(exc).__name__)}: {md(str(exc)[:300])}). "
                 "The current snapshot is unchanged. This is a bug in KAM Health: please report it with the "
                 "server log.", icon=":material/error:")
        return
    st.session_state[_UPLOAD_REPORT] = upload_summary(result)
    st.rerun()


def upload_summary(result: Any) -> dict:
    """What the Data page shows after an upload of a pipeline.LoadReport (plain values, kept in session state
    across the rerun)."""
    counts = [{"table": t.table, "read": t.read, "loaded": t.loaded, "quarantined": t.quarantined,
               "skipped": t.skipped} for t in result.tables if t.is_present]
    return {
        "load_id": result.load_id, "as_of": str(result.as_of_default or "—"), "text": result.as_text(),
        "counts": counts, "quarantined": sum(c["quarantined"] for c in counts),
        "reasons": [{"table": t, "reason": r, "rows": n} for t, r, n in result.top_reasons()],
        "absent": [t.table for t in result.tables if not t.is_present],
    }


def upload_report(report: dict) -> None:
    """The report of the upload just loaded: rows per table, the top quarantine reasons, a link to the quarantine."""
    st.success(f"Loaded: snapshot {md(report['load_id'])}, data as of {md(report['as_of'])}. Every page now shows "
               "it.", icon=":material/check_circle:")
    counts = pl.DataFrame(report.get("counts") or [], schema={"table": pl.String, "read": pl.Int64,
                                                              "loaded": pl.Int64, "quarantined": pl.Int64,
                                                              "skipped": pl.Int64})
    if report.get("quarantined"):
        rows = report["quarantined"]
        st.warning(f"{rows:,} {'row' if rows == 1 else 'rows'} failed a check and {'was' if rows == 1 else 'were'} "
                   "quarantined: [see them in the quarantine](#quarantine).", icon=":material/report:")
    else:
        st.caption("Every row passed the checks: nothing was quarantined.")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Rows per table in this load**")
        table(counts, key="upload_counts", file_name="load_counts", link_accounts=False, height="content")
        if report.get("absent"):
            st.caption("Not in this export: " + md(", ".join(report["absent"])))
    with right:
        if report.get("reasons"):
            st.markdown("**Top quarantine reasons**")
            table(pl.DataFrame(report["reasons"], schema={"table": pl.String, "reason": pl.String, "rows": pl.Int64}),
                  key="upload_reasons", file_name="quarantine_reasons", link_accounts=False)
    with st.expander("Full load report"):
        st.code(report["text"], language=None)
