"""One HubSpot read: identify the export files, then run the staging steps in the order their lookups need.

read_export → mapping checks → identify files → export date → canonical companion files → accounts
(+ wallet) → contacts → opportunities (+ revenue) → activities (calls, meetings, e-mails) → the columns the
export does not carry → the reporting currency (the setting, else the deals' only currency, else EUR).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from kam_metrics.load.importers.base import ImportResult, LoadError
from kam_metrics.load.importers.hubspot.absence import absent_columns
from kam_metrics.load.importers.hubspot.context import ExportFile, HubSpotRead
from kam_metrics.load.importers.hubspot.exports import check_mapping, export_date_of, identify, open_file, user_keys_of
from kam_metrics.load.importers.hubspot.fields import ACTIVITY_KINDS, DEFAULT_MAPPING, FORMAT, KINDS, OPEN_SECTIONS
from kam_metrics.load.importers.hubspot.tables import (
    read_canonical,
    stage_accounts,
    stage_activities,
    stage_contacts,
    stage_opportunities,
)
from kam_metrics.load.importers.hubspot.values import DateParser
from kam_metrics.load.importers.mapping import load_mapping
from kam_metrics.load.importers.reporting import choose, missing_rates_note, only_currency, reporting_note, valid_code


def read_export(folder: Path, mapping: Path | None, settings: Any = None) -> ImportResult:
    """The staged canonical tables of a HubSpot export folder (rules in the package doc)."""
    if not folder.is_dir():
        raise LoadError(f"{folder}: not a folder")
    m = load_mapping(mapping, DEFAULT_MAPPING, open_sections=OPEN_SECTIONS)
    user_keys = user_keys_of(mapping)
    tz = check_mapping(m, mapping)
    found, ignored = identify(folder, m, mapping)
    export_date = export_date_of(m, found)
    result = ImportResult(format=FORMAT, source_path=str(folder))
    result.export_date = export_date.isoformat() if export_date else None
    for name, why in ignored:
        result.notes.append(f"{name}: ignored ({why})")
    load = HubSpotRead(
        folder=folder, mapping=m, user_keys=user_keys, mapping_path=mapping, dates=DateParser(tz),
        export_date=export_date, result=result,
    )
    canonical = read_canonical(load)
    files = {kind: open_file(load, kind, path) for kind, path in found.items()}

    stage_accounts(load, files["companies"], wallet_from_file="wallet" not in canonical)
    if "contacts" in files:
        stage_contacts(load, files["contacts"])
    if "deals" in files:
        stage_opportunities(load, files["deals"], revenue_from_deals="revenue" not in canonical)
    activity_files = [files[k] for k in ACTIVITY_KINDS if k in files]
    for f in activity_files:
        stage_activities(load, f, has_contacts="contacts" in files)

    present = ["accounts"]
    if activity_files:
        present.append("activities")
    if "contacts" in files:
        present.append("contacts")
    if "deals" in files:
        present.append("opportunities")
        if "revenue" not in canonical:
            present.append("revenue")
    for table in [*load.out.staged, *present]:
        result.tables.setdefault(table, load.out.frame(table, typed=True))
    result.tables.update(canonical)
    result.absent_columns = absent_columns(files, staged=set(result.tables), from_files=set(canonical))
    reporting_currency(load, files.get("deals"), canonical.get("fx_rates"), settings)
    result.skipped = load.out.skipped_frame()
    result.quarantine = load.out.quarantine_frame()
    missing_kinds = [k for k in KINDS if k not in files]
    if missing_kinds:
        result.notes.append("no HubSpot " + ", ".join(missing_kinds) + " export in the folder")
    return result


def reporting_currency(load: HubSpotRead, deals: ExportFile | None, fx: pl.DataFrame | None, settings: Any) -> None:
    """The reporting currency (importers/reporting.py): the setting, else the only currency of the deals'
    currency column, else EUR; recorded on the result with a note, plus a note for deals whose currency no
    fx rate converts."""
    result = load.result
    currencies: list[str] = []
    origin = ""
    if deals is not None:
        columns = [c for key in ("currency", "currency_code") for c in deals.columns[key]]
        frame = deals.raw.frame
        _, currencies = only_currency(v for c in columns for v in frame[c].unique().to_list())
        origin = ", ".join(f"'{c}'" for c in columns)
    code, why = choose(settings, currencies=currencies, currency_origin=f"the deals' {origin}" if origin else "")
    result.reporting_currency, result.reporting_currency_source = code, why
    result.notes.append(reporting_note(code, why))
    have = {code}
    if fx is not None and "currency" in fx.columns:
        have |= {c for c in (valid_code(v) for v in fx["currency"].to_list()) if c}
    for table, what in (("revenue", "revenue rows"), ("opportunities", "deals")):
        missing: dict[str, int] = {}
        for row in load.out.staged.get(table, []):
            cur = valid_code(row.get("currency"))
            if cur and cur not in have:
                missing[cur] = missing.get(cur, 0) + 1
        if missing:
            result.notes.append(missing_rates_note(what, missing, code))
