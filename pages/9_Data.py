"""Data: the current snapshot, load history, rows per table and the quarantine (rows that failed a check)."""

import streamlit as st

from kam_metrics.app import widgets
from kam_metrics.app.frame import page
from kam_metrics.app.views import data
from kam_metrics.metrics import queries

view = page(
    "Data", ":material/database:",
    caption="What the dashboard is reading: the current snapshot, every load, how many rows of each table were "
            "read, loaded, quarantined or skipped, and the quarantined rows with their reasons.",
    require_snapshot=False,
)
data.sign_in_status()
if view is None:
    st.subheader("Load an export")
    data.upload_section()
    st.stop()

st.subheader("Current snapshot")
widgets.table(data.snapshot_facts(view), key="data_facts", file_name="snapshot", link_accounts=False)

st.subheader("What this export lacks")
gaps = data.export_gaps(view)
if gaps.is_empty():
    st.success("The export has every table and column of the data contract.", icon=":material/check_circle:")
else:
    st.caption(data.gaps_summary(gaps))
    widgets.table(gaps, key="data_missing", file_name="export_gaps", link_accounts=False,
                  labels={"missing": "Not in the export", "switches_off": "Figures switched off (shown as —)"},
                  height="content")

st.subheader("Rows per table")
st.caption("Read: rows in the file; loaded: rows that passed every check; quarantined: rows that failed one "
           "(see below); skipped: rows left out on purpose (e.g. open tasks are not activities).")
widgets.table(view.query(queries.table_counts), key="data_counts", file_name="table_counts",
              link_accounts=False)

st.subheader("Load history")
widgets.table(view.query(queries.load_history), key="data_history", file_name="load_history",
              link_accounts=False)

st.subheader("Quarantine")
if view.status.quarantined_rows == 0:
    st.success("No row was quarantined in this load.", icon=":material/check_circle:")
elif not view.access.may_see_quarantine_rows:
    st.caption(data.QUARANTINE_WHO)
    widgets.table(data.quarantine_counts(view), key="data_quarantine_counts", file_name="quarantine_counts",
                  link_accounts=False)
else:
    table_choice, reason_choice = data.quarantine_filters(view)
    rows = view.query(queries.quarantine, table_choice, reason_choice)
    if rows.height > data.QUARANTINE_SHOWN_ROWS:
        st.caption(f"{rows.height:,} rows; the first {data.QUARANTINE_SHOWN_ROWS:,} are shown, the download has all.")
    widgets.table(rows, key="data_quarantine", file_name="quarantine", link_accounts=False,
                  max_rows=data.QUARANTINE_SHOWN_ROWS)

st.subheader("Load a new export")
data.upload_section()
