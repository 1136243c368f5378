"""Which contract columns a HubSpot export does not carry (ImportResult.absent_columns).

A column is absent when none of the properties it is read from is in the export (the mapped header is not in
the file, the mapping sets it to "", or the file is not in the folder), or when HubSpot has no such property
(contacts' attitude, is_active and left_date, revenue's cost_of_goods, the wallet's product_line and
confidence). Required columns are not listed: the load needs them (or fills them by a documented rule, as
is_key_account). Tables taken from canonical files beside the export say what they carry by their header.
"""

from __future__ import annotations

from kam_metrics.load.importers.base import absent_from
from kam_metrics.load.importers.hubspot.context import ExportFile
from kam_metrics.load.importers.hubspot.fields import ACTIVITY_KINDS

#: table → optional contract column → the (export kind, mapping key) pairs it is read from; () = never.
SOURCES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "accounts": {
        "parent_account_id": (("companies", "parent_account_id"),),
        "industry": (("companies", "industry"),),
        "region": (("companies", "region"), ("companies", "country")),
        "segment": (("companies", "segment"),),
        "kam_owner": (("companies", "kam_owner"),),
        "executive_sponsor": (("companies", "executive_sponsor"),),
        "key_account_since": (("companies", "key_account_since"),),
        "relationship_stage": (("companies", "relationship_stage"),),
        "created_date": (("companies", "created_date"),),
    },
    "contacts": {
        "title": (("contacts", "title"),),
        "seniority": (("contacts", "title"),),  # inferred from the job title
        "buying_role": (("contacts", "buying_role"),),
        "attitude": (),
        "is_active": (),
        "left_date": (),
    },
    "activities": {  # from any of the calls, meetings and e-mails exports read
        "contact_id": tuple((kind, "contact_ids") for kind in ACTIVITY_KINDS),  # and only with contacts (below)
        "owner": tuple((kind, "owner") for kind in ACTIVITY_KINDS),
        "duration_minutes": tuple((kind, key) for kind in ACTIVITY_KINDS for key in ("duration", "end_time")),
        "subject": tuple((kind, "subject") for kind in ACTIVITY_KINDS),
    },
    "opportunities": {
        "name": (("deals", "name"),),
        "amount": (("deals", "amount"),),
        "product_line": (("deals", "product_line"),),
        "currency": (("deals", "currency"), ("deals", "currency_code")),
        "created_date": (("deals", "created_date"),),
    },
    "revenue": {  # from closed-won deals
        "cost_of_goods": (),
        "product_line": (("deals", "product_line"),),
        "currency": (("deals", "currency"), ("deals", "currency_code")),
    },
    "wallet": {  # from the companies' wallet property
        "product_line": (),
        "confidence": (),
    },
}


def absent_columns(files: dict[str, ExportFile], staged: set[str], from_files: set[str]) -> dict[str, set[str]]:
    """The contract columns of each table in `staged` that the export files do not carry; tables in `from_files`
    (canonical files beside the export) are left to their header."""

    def has(kind: str, key: str) -> bool:
        f = files.get(kind)
        return f is not None and bool(f.columns.get(key))

    carried: dict[str, dict[str, bool]] = {}
    for table, columns in SOURCES.items():
        if table not in staged or table in from_files:
            continue
        carried[table] = {column: any(has(kind, key) for kind, key in keys) for column, keys in columns.items()}
    if "activities" in carried and "contacts" not in files:
        carried["activities"]["contact_id"] = False  # an associated contact is kept only when contacts are read
    return absent_from(carried)
