"""One Salesforce read: open the object files, then run the staging steps in the order their lookups need.

read_export → open every mapped file and the canonical companion files → export date → users (owner
names) → reporting currency → fx_rates → accounts (+ wallet) → contacts → opportunities (+ revenue) → cases
→ activities → notes on rows in a currency without a rate → the columns the export does not carry.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from kam_metrics.load.importers.base import ImportResult, LoadError
from kam_metrics.load.importers.canonical import read_extra_tables
from kam_metrics.load.importers.files import find_file
from kam_metrics.load.importers.mapping import load_mapping
from kam_metrics.load.importers.salesforce import tables as steps
from kam_metrics.load.importers.salesforce.absence import absent_columns
from kam_metrics.load.importers.salesforce.context import SalesforceRead, check_mapping_values
from kam_metrics.load.importers.salesforce.fields import (
    BUILT_HERE,
    DEFAULT_MAPPING,
    EXPORT_DATE_COLUMNS,
    NAME,
    OPEN_SECTIONS,
    READ_HERE,
)
from kam_metrics.load.importers.reporting import missing_rates_note, reporting_note
from kam_metrics.load.importers.salesforce.fx import missing_rate_counts, reporting_currency, stage_fx_rates
from kam_metrics.load.importers.salesforce.source import open_source
from kam_metrics.load.importers.salesforce.values import parse_date
from kam_metrics.load.importers.sf_ids import normalize_id


def read_export(folder: Path, settings, mapping: Path | None) -> ImportResult:
    """The staged canonical tables of a Salesforce export folder (rules in the package doc)."""
    if not folder.is_dir():
        raise LoadError(f"{folder}: not a folder")
    r = SalesforceRead(
        folder=folder,
        mapping=load_mapping(mapping, DEFAULT_MAPPING, open_sections=OPEN_SECTIONS),
    )
    check_mapping_values(r.mapping)
    files = r.mapping["files"]
    if find_file(r.folder, files["Account"]) is None:
        raise LoadError(
            f"{r.folder}: no {files['Account']} (mapping files.Account); a Salesforce export needs "
            "the Account object",
            file=files["Account"],
        )
    for obj in files:
        source = open_source(r.folder, obj, r.mapping, r.notes)
        if source is not None:
            r.raw_files.append(source.raw)
            r.sources[obj] = source
    legacy = [s.name for s in r.sources.values() if s.raw.encoding not in ("utf-8", "utf-8-sig")]
    if legacy:
        r.notes.append("Read as Windows-1252 (not UTF-8, as in the weekly Data Export): " + ", ".join(legacy))
    # Programme tables a CRM does not hold (wallet, goals, actions, reviews, surveys, service costs)
    # may sit beside the export as canonical files.
    extra = read_extra_tables(
        r.folder, built_here=BUILT_HERE, handled=READ_HERE, raw_files=r.raw_files, notes=r.notes,
        reject=r.out.reject, importer="Salesforce",
    )
    used = {s.name.lower() for s in r.sources.values()} | {raw.name.lower() for raw in r.raw_files}
    ignored = sorted(p.name for p in r.folder.iterdir()
                     if p.is_file() and p.suffix.lower() == ".csv" and p.name.lower() not in used)
    if ignored:
        r.notes.append("Files not used by the Salesforce importer: " + ", ".join(ignored))

    r.export_date = export_date(r)
    r.users = user_names(r)
    r.reporting, r.reporting_source = reporting_currency(r, settings)
    r.notes.append(reporting_note(r.reporting, r.reporting_source))
    r.fx = stage_fx_rates(r)
    steps.stage_accounts(r)
    steps.stage_contacts(r)
    steps.stage_opportunities(r)
    steps.stage_cases(r)
    steps.stage_activities(r)
    for table, what in (("revenue", "revenue rows"), ("opportunities", "opportunities")):
        missing = missing_rate_counts(r, table)
        if missing:
            r.notes.append(missing_rates_note(what, missing, r.reporting))

    tables = {t: r.out.frame(t) for t in r.out.staged}
    for table in present_tables(r):
        tables.setdefault(table, r.out.frame(table))
    for table, frame in extra.items():
        # IDs in companion files may be the 15-character ones the Salesforce UI shows.
        ids = [c for c in ("account_id", "contact_id", "parent_account_id") if c in frame.columns]
        extra[table] = frame.with_columns(
            [pl.col(c).map_elements(normalize_id, return_dtype=pl.String, skip_nulls=True) for c in ids]
        )
    if "wallet" in extra and "wallet" in tables:
        r.notes.append("wallet.csv: wallet taken from this file, not from Wallet_Estimate__c")
    tables.update(extra)
    return ImportResult(
        format=NAME,
        source_path=str(r.folder),
        raw_files=r.raw_files,
        tables=tables,
        skipped=r.out.skipped_frame(),
        quarantine=r.out.quarantine_frame(),
        notes=r.notes,
        export_date=r.export_date.isoformat() if r.export_date else None,
        reporting_currency=r.reporting,
        reporting_currency_source=r.reporting_source,
        absent_columns=absent_columns(r, staged=set(tables), from_files=set(extra)),
    )


def present_tables(r: SalesforceRead) -> list[str]:
    """The canonical tables this export gives (staged even when every row is skipped or rejected)."""
    present = ["accounts"]
    s = r.sources
    if "Contact" in s:
        present.append("contacts")
    if "Opportunity" in s:
        present.append("opportunities")
    if "Opportunity" in s or "revenue" in s:
        present.append("revenue")
    if "Task" in s or "Event" in s:
        present.append("activities")
    if "Case" in s:
        present.append("cases")
    if s["Account"].has("Wallet_Estimate__c"):
        present.append("wallet")
    if any(k in s for k in ("fx_rates", "CurrencyType", "DatedConversionRate")):
        present.append("fx_rates")
    return present


def export_date(r: SalesforceRead) -> date | None:
    """options.export_date of the mapping, else the latest CreatedDate/LastModifiedDate/SystemModstamp read."""
    setting = r.mapping["options"]["export_date"].strip()
    if setting:
        r.notes.append(f"Export date {setting} (mapping options.export_date)")
        return date.fromisoformat(setting)
    latest: date | None = None
    for source in r.sources.values():
        frame = source.raw.frame
        for col in frame.columns:
            if col.lower() not in EXPORT_DATE_COLUMNS:
                continue
            for value in frame[col].drop_nulls().unique().to_list():
                parsed = parse_date(value)
                if parsed and (latest is None or parsed > latest):
                    latest = parsed
    if latest is None:
        r.notes.append(
            "No CreatedDate/LastModifiedDate/SystemModstamp in the files: export date unknown; events are "
            "not filtered by date (set options.export_date in the mapping file)"
        )
    else:
        r.notes.append(f"Export date {latest.isoformat()} (the latest CreatedDate/LastModifiedDate/"
                       "SystemModstamp in the files)")
    return latest


def user_names(r: SalesforceRead) -> dict[str, str]:
    """User Id → name (Name, else FirstName LastName, else Username), from User.csv."""
    source = r.sources.get("User")
    if source is None:
        r.notes.append("No User.csv: owners are shown as Salesforce User Ids")
        return {}
    source.require("Id", purpose="owner names")
    names: dict[str, str] = {}
    for row in source.records():
        if not row.get("Id"):
            continue
        name = row.get("Name") or " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
        name = name or row.get("Username")
        if name:
            names[row["Id"]] = name
    return names
