"""The programme store (issue 14): plans and reviews, goals, actions, wallet estimates, account profiles,
contact roles and notes, recorded as events beside the snapshots. No Streamlit here."""

from kam_metrics.programme.schema import TABLE_ORDER, TABLES, FileError, ValidationError, validate_csv, validate_record
from kam_metrics.programme.store import (
    ImportRejected, ImportResult, ProgrammeStore, Record, RecordNotFound, StaleRecord, StoreBusy, StoreError,
    open_store,
)

__all__ = [
    "TABLE_ORDER", "TABLES", "FileError", "ValidationError", "validate_csv", "validate_record", "ImportRejected",
    "ImportResult", "ProgrammeStore", "Record", "RecordNotFound", "StaleRecord", "StoreBusy", "StoreError",
    "open_store",
]
