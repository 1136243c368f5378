"""HubSpot exports → canonical tables: one step per table, each renaming properties and parsing values
(the rules are in the package doc of kam_metrics/load/importers/hubspot). A step stages, skips or rejects
every row of its export and leaves the lookups later steps need on the read."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import polars as pl

from kam_metrics.load.contract import BUYING_ROLES, SOURCE_FILE, SOURCE_ROW
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.importers.canonical import read_extra_tables
from kam_metrics.load.importers.hubspot.context import (
    ExportFile,
    HubSpotRead,
    RowError,
    first,
    parse_cell,
    quarantine_malformed,
)
from kam_metrics.load.importers.hubspot.fields import ACTIVITY_KINDS, BUILT_HERE
from kam_metrics.load.importers.hubspot.values import (
    UNIT_ALIASES,
    clean_owner,
    norm_label,
    normalise_id,
    parse_bool,
    parse_duration_minutes,
    parse_number,
    parse_probability,
    region_for_country,
    split_ids,
)
from kam_metrics.load.importers.rules import seniority_from_title as infer_seniority


def stage_accounts(load: HubSpotRead, f: ExportFile, *, wallet_from_file: bool) -> None:
    """Companies → accounts (and one wallet row per company from the wallet property, for the export year)."""
    m = load.mapping["companies"]
    has_wallet = wallet_from_file and bool(f.columns["wallet_amount"])
    targets = ["accounts"] + (["wallet"] if has_wallet else [])
    quarantine_malformed(load, f, targets)
    if not f.columns["is_key_account"]:
        load.result.notes.append(
            f"{f.name}: no key-account property ('{m['is_key_account']}'): every account is staged as "
            "is_key_account = false; map [companies] is_key_account to the property that marks key accounts"
        )
    year = (load.export_date or datetime.now(timezone.utc).date()).year
    if has_wallet and load.export_date is None:
        load.result.notes.append(
            f"wallet estimates staged for {year} (the current year: no export date in the file names; "
            "set [options] export_date)"
        )
    overrides = load.mapping["regions"]
    names: dict[str, list[str]] = {}
    for row, cells in f.rows():
        account_id = normalise_id(first(cells, "account_id"))
        try:
            is_key = parse_cell(cells, "is_key_account", parse_bool, m["is_key_account"])
            created = parse_cell(cells, "created_date", load.dates.date, m["created_date"])
            since = parse_cell(cells, "key_account_since", load.dates.date, m["key_account_since"])
        except RowError as err:
            load.reject("accounts", f.name, row, err.column, err.value, err.reason)
        else:
            region = first(cells, "region") or region_for_country(first(cells, "country"), overrides)
            name = first(cells, "account_name")
            load.stage(
                "accounts",
                {
                    "account_id": account_id,
                    "account_name": name,
                    "is_key_account": bool(is_key),
                    "parent_account_id": normalise_id(first(cells, "parent_account_id")),
                    "industry": first(cells, "industry"),
                    "region": region,
                    "segment": first(cells, "segment"),
                    "kam_owner": clean_owner(first(cells, "kam_owner")),
                    "executive_sponsor": clean_owner(first(cells, "executive_sponsor")),
                    "key_account_since": since,
                    "relationship_stage": first(cells, "relationship_stage"),
                    "created_date": created,
                    SOURCE_FILE: f.name,
                    SOURCE_ROW: row,
                },
            )
            if account_id is not None:
                load.account_ids.add(account_id)
                if name:
                    names.setdefault(name.casefold(), []).append(account_id)
        if has_wallet:
            try:
                amount = parse_cell(cells, "wallet_amount", parse_number, m["wallet_amount"])
            except RowError as err:
                load.reject("wallet", f.name, row, err.column, err.value, err.reason)
                continue
            if amount is None:
                load.skip("wallet", f.name, row, f"no wallet estimate ('{m['wallet_amount']}' is empty)")
                continue
            load.stage(
                "wallet",
                {
                    "account_id": account_id,
                    "year": str(year),
                    "wallet_amount": amount,
                    "product_line": None,
                    "source": "kam_estimate",
                    "confidence": None,
                    SOURCE_FILE: f.name,
                    SOURCE_ROW: row,
                },
            )
    load.account_names = {n: (ids[0] if len(ids) == 1 else None) for n, ids in names.items()}


def _company_by_name(load: HubSpotRead, cells: dict, key: str) -> str | None:
    """The account of the first associated company name that names exactly one company."""
    for value in cells.get(key, ()):
        if value is None:
            continue
        for part in value.split(";"):
            found = load.account_names.get(part.strip().casefold())
            if found:
                return found
    return None


# ---------------------------------------------------------------------------------------------------------
# Contacts → contacts.


def _buying_role(value: str | None, roles: dict[str, str], unknown: set[str]) -> str:
    if value is None:
        return "unknown"
    found: list[str] = []
    for part in value.split(";"):
        label = norm_label(part)
        if not label:
            continue
        role = roles.get(label)
        if role is None:
            role = label.replace(" ", "_") if label.replace(" ", "_") in BUYING_ROLES else None
        if role is None:
            unknown.add(part.strip())
            continue
        found.append(role)
    ranked = sorted(found, key=BUYING_ROLES.index)
    return ranked[0] if ranked else "unknown"


def stage_contacts(load: HubSpotRead, f: ExportFile) -> None:
    """Contacts → contacts; the account is the primary company, else the first associated one, else by name."""
    m = load.mapping["contacts"]
    quarantine_malformed(load, f, ["contacts"])
    if not (f.columns["first_name"] or f.columns["last_name"] or f.columns["email"]):
        raise LoadError(
            f"{f.name}: the contacts file has neither '{m['first_name']}', '{m['last_name']}' nor "
            f"'{m['email']}' (mapping [contacts] first_name / last_name / email)",
            file=f.name, column=m["first_name"],
        )
    roles = {norm_label(k): v.strip().lower() for k, v in load.mapping["buying_roles"].items()}
    unknown_roles: set[str] = set()
    by_name = 0
    for row, cells in f.rows():
        contact_id = normalise_id(first(cells, "contact_id"))
        account_id = normalise_id(first(cells, "primary_company_id"))
        if account_id is None:
            ids = split_ids(cells.get("company_ids", ()))
            account_id = ids[0] if ids else None
        if account_id is None:
            account_id = _company_by_name(load, cells, "company_names")
            by_name += account_id is not None
        if account_id is None:
            load.skip("contacts", f.name, row, "contact has no associated company")
            continue
        full_name = " ".join(p for p in (first(cells, "first_name"), first(cells, "last_name")) if p)
        title = first(cells, "title")
        load.stage(
            "contacts",
            {
                "contact_id": contact_id,
                "account_id": account_id,
                "full_name": full_name or first(cells, "email"),
                "title": title,
                "seniority": infer_seniority(title),
                "buying_role": _buying_role(first(cells, "buying_role"), roles, unknown_roles),
                "attitude": None,
                "is_active": True,
                "left_date": None,
                SOURCE_FILE: f.name,
                SOURCE_ROW: row,
            },
        )
        if contact_id is not None:
            load.contact_accounts[contact_id] = account_id
    if by_name:
        load.result.notes.append(f"{f.name}: {by_name} contact(s) linked to their company by its name")
    if unknown_roles:
        load.result.notes.append(
            f"{f.name}: buying roles not in [buying_roles], staged as unknown: {', '.join(sorted(unknown_roles))}"
        )


# ---------------------------------------------------------------------------------------------------------
# Deals → opportunities (+ revenue).

_CLOSED_LOOKING = re.compile(r"closed|won|lost|abandon|cancel|stängd|vunnen|förlorad", re.I)
RULE_NOT_WON = "deal is not closed-won"
#: Where a deal's won and closed state came from.
BY_FLAG, BY_PROBABILITY, BY_STAGE = "flag", "probability", "stage"


def _closed_flag(cells: dict, m: dict) -> bool | None:
    """The portal's own closed flag (`Is closed`, else `Is Deal Closed?`); None when the export has no value."""
    closed = parse_cell(cells, "is_closed", parse_bool, m["is_closed"])
    if closed is None:
        closed = parse_cell(cells, "is_deal_closed", parse_bool, m["is_deal_closed"])
    return closed


def deal_state(cells: dict, m: dict, stages: dict[str, str]) -> tuple[str, str]:
    """(won / lost / open, what decided it) of one deal; RowError for a flag that does not parse.

    1. `Is Closed Won` (HubSpot's hs_is_closed_won): true → won; false → lost when the deal is closed
       (`Is closed` / `Is Deal Closed?`, else probability 0, else a closed stage), open otherwise.
    2. else `Deal probability`: 1 → won; otherwise lost when closed (the closed flag, else probability 0).
    3. else the stage label through [stages] (a label not in it is open).
    """
    won = parse_cell(cells, "is_closed_won", parse_bool, m["is_closed_won"])
    probability = parse_cell(cells, "probability", parse_probability, m["probability"])
    if won is not None or probability is not None:
        closed = _closed_flag(cells, m)
        if won is None:
            won, by = probability == 1, BY_PROBABILITY
        else:
            by = BY_FLAG
        if won:
            return "won", by
        if closed is None and probability is not None:
            closed = probability == 0
        if closed is None:
            label = first(cells, "stage")
            closed = bool(label) and stages.get(norm_label(label), "open") != "open"
        return ("lost" if closed else "open"), by
    label = first(cells, "stage")
    return (stages.get(norm_label(label), "open") if label else "open"), BY_STAGE


def stage_opportunities(load: HubSpotRead, f: ExportFile, *, revenue_from_deals: bool) -> None:
    """Deals → opportunities, and closed-won deals → revenue when no canonical revenue file is given.

    Won and closed come from the portal's flags when the export has them (`deal_state`), the stage mapping
    only when not. A deal that is not won is never revenue: it is skipped for revenue by rule, also when it
    cannot be staged as an opportunity (no company, an unreadable value).
    """
    m = load.mapping["deals"]
    targets = ["opportunities"] + (["revenue"] if revenue_from_deals else [])
    quarantine_malformed(load, f, targets)
    stages = {norm_label(k): v.strip().lower() for k, v in load.mapping["stages"].items()}
    unmapped: dict[str, int] = {}
    disagree: dict[tuple[str, bool], int] = {}  # (stage label, flag says closed) → deals, when [stages] decides
    decided = {BY_FLAG: 0, BY_PROBABILITY: 0, BY_STAGE: 0}
    multi_company = 0
    by_name = 0
    has_company_column = bool(f.columns["company_ids"] or f.columns["company_names"])
    for row, cells in f.rows():
        deal_id = normalise_id(first(cells, "opportunity_id"))
        label = first(cells, "stage")
        try:
            state, by = deal_state(cells, m, stages)
            closed_flag = _closed_flag(cells, m) if by == BY_STAGE else None
        except RowError as err:
            for table in targets:
                load.reject(table, f.name, row, err.column, err.value, err.reason)
            continue
        is_won = state == "won"
        try:
            amount = parse_cell(cells, "amount", parse_number, m["amount"])
            close = parse_cell(cells, "close_date", load.dates.date, m["close_date"])
            created = parse_cell(cells, "created_date", load.dates.date, m["created_date"])
            ids = split_ids(cells.get("company_ids", ()))
            account_id = ids[0] if ids else _company_by_name(load, cells, "company_names")
            if account_id is None:
                raise RowError(
                    m["company_ids"], first(cells, "company_names"), "deal has no associated company"
                )
        except RowError as err:
            load.reject("opportunities", f.name, row, err.column, err.value, err.reason)
            if not revenue_from_deals:
                continue
            if not is_won:
                load.skip("revenue", f.name, row, RULE_NOT_WON)
            elif err.reason == "deal has no associated company":
                load.reject("revenue", f.name, row, err.column, err.value,
                            f"closed-won deal has no associated company ('{m['company_ids']}' is empty)")
            else:
                load.reject("revenue", f.name, row, err.column, err.value, err.reason)
            continue
        by_name += not ids
        multi_company += len(ids) > 1
        decided[by] += 1
        if by == BY_STAGE:
            if label and norm_label(label) not in stages:
                unmapped[label] = unmapped.get(label, 0) + 1
            if closed_flag is not None and closed_flag != (state != "open"):
                key = (label or "", closed_flag)
                disagree[key] = disagree.get(key, 0) + 1
        currency = first(cells, "currency") or first(cells, "currency_code")
        product_line = first(cells, "product_line")
        load.stage(
            "opportunities",
            {
                "opportunity_id": deal_id,
                "account_id": account_id,
                "name": first(cells, "name"),
                "stage": label,
                "amount": amount,
                "close_date": close,
                "is_closed": state in ("won", "lost"),
                "is_won": is_won,
                "product_line": product_line,
                "currency": currency,
                "created_date": created,
                SOURCE_FILE: f.name,
                SOURCE_ROW: row,
            },
        )
        if not revenue_from_deals:
            continue
        if not is_won:
            load.skip("revenue", f.name, row, RULE_NOT_WON)
        elif amount is None:
            load.skip("revenue", f.name, row, f"closed-won deal without an amount ('{m['amount']}' is empty)")
        else:
            load.stage(
                "revenue",
                {
                    "revenue_id": deal_id,
                    "account_id": account_id,
                    "revenue_date": close,
                    "amount": amount,
                    "cost_of_goods": None,
                    "product_line": product_line,
                    "currency": currency,
                    SOURCE_FILE: f.name,
                    SOURCE_ROW: row,
                },
            )
    notes = load.result.notes
    if not has_company_column:
        notes.append(
            f"{f.name}: no '{m['company_ids']}' column, so deals cannot be linked to companies; "
            "export deals with their associated companies"
        )
    if multi_company:
        notes.append(
            f"{f.name}: {multi_company} deal(s) associated with several companies count for the first company only"
        )
    if by_name:
        notes.append(f"{f.name}: {by_name} deal(s) linked to their company by its name")
    if revenue_from_deals:
        notes.append(f"{f.name}: no revenue file, so closed-won deals are the booked revenue (dated Close Date)")
    _state_notes(load, f, decided, disagree)
    closed_looking = sorted(label for label in unmapped if _CLOSED_LOOKING.search(label))
    if closed_looking:
        notes.append(
            f"{f.name}: stage labels that look closed but are not in [stages], staged as open: "
            + ", ".join(f"'{label}' ({unmapped[label]})" for label in closed_looking)
            + "; map them to won or lost in the mapping file"
        )
    others = sorted(label for label in unmapped if label not in closed_looking)
    if others:
        notes.append(
            f"{f.name}: stage labels not in [stages], staged as open: "
            + ", ".join(f"'{label}' ({unmapped[label]})" for label in others)
        )


def _state_notes(load: HubSpotRead, f: ExportFile, decided: dict[str, int],
                 disagree: dict[tuple[str, bool], int]) -> None:
    """Notes saying where won and closed came from, and where the closed flag and [stages] disagree."""
    m = load.mapping["deals"]
    notes = load.result.notes
    closed_header = next((m[k] for k in ("is_closed", "is_deal_closed") if f.columns[k]), None)
    if decided[BY_FLAG]:
        flags = [f"'{m['is_closed_won']}'"] + ([f"'{closed_header}'"] if closed_header else [])
        notes.append(f"{f.name}: won and closed from the portal's flags {' and '.join(flags)} for "
                     f"{decided[BY_FLAG]} deal(s); [stages] is not used for them")
    if decided[BY_PROBABILITY]:
        notes.append(f"{f.name}: won and closed from '{m['probability']}' (1 = won) for {decided[BY_PROBABILITY]} "
                     "deal(s) without an 'Is Closed Won' value")
    if decided[BY_STAGE] and not f.columns["is_closed_won"]:
        notes.append(f"{f.name}: no '{m['is_closed_won']}' column: won and closed deals from the stage labels "
                     "([stages] in the mapping file)")
    if disagree:
        shown = ", ".join(
            f"'{label}' ({'closed' if flag else 'open'} per the flag, staged as {'open' if flag else 'closed'}: {n})"
            for (label, flag), n in sorted(disagree.items())
        )
        notes.append(f"{f.name}: '{closed_header}' and [stages] disagree for {shown}; without "
                     f"'{m['is_closed_won']}' the stage labels decide, so map them in [stages]")


# ---------------------------------------------------------------------------------------------------------
# Calls / meetings / e-mails → activities.


def stage_activities(load: HubSpotRead, f: ExportFile, *, has_contacts: bool) -> None:
    """Calls, meetings or e-mails → activities (held ones, up to the export date)."""
    kind = f.kind
    m = load.mapping[kind]
    activity_type = ACTIVITY_KINDS[kind]
    unit = UNIT_ALIASES[m["duration_unit"].strip().lower()]
    outcomes = {norm_label(k): v.strip().lower() for k, v in load.mapping["activity_outcomes"].items()}
    cutoff = load.export_date or datetime.now(timezone.utc).date()
    quarantine_malformed(load, f, ["activities"])
    via_contact = 0
    dropped_contacts = 0
    for row, cells in f.rows():
        status = first(cells, "status")
        if status is not None and outcomes.get(norm_label(status)) == "not_held":
            load.skip("activities", f.name, row, f"{activity_type} not held ({m['status']} '{status}')")
            continue
        try:
            start, day = None, None
            when = first(cells, "activity_date")
            if when is not None:
                try:
                    start, day = load.dates.moment(when)
                except ValueError as exc:
                    raise RowError(m["activity_date"], when, str(exc)) from None
            duration = parse_cell(cells, "duration", lambda v: parse_duration_minutes(v, unit), m["duration"])
            if duration is None and start is not None:
                end = parse_cell(cells, "end_time", lambda v: load.dates.moment(v)[0], m["end_time"])
                if end is not None:
                    duration = (end - start).total_seconds() / 60
        except RowError as err:
            load.reject("activities", f.name, row, err.column, err.value, err.reason)
            continue
        if day is not None and day > cutoff:
            load.skip("activities", f.name, row, f"{activity_type} dated after the export date ({cutoff})")
            continue
        contact_ids = split_ids(cells.get("contact_ids", ()))
        company_ids = split_ids(cells.get("company_ids", ()))
        account_id = company_ids[0] if company_ids else None
        if account_id is None:
            for cid in contact_ids:
                if cid in load.contact_accounts:
                    account_id = load.contact_accounts[cid]
                    via_contact += 1
                    break
        if account_id is None:
            load.skip("activities", f.name, row, f"{activity_type} has no associated company")
            continue
        contact_id = next((c for c in contact_ids if c in load.contact_accounts), None) if has_contacts else None
        dropped_contacts += bool(contact_ids) and contact_id is None
        load.stage(
            "activities",
            {
                "activity_id": normalise_id(first(cells, "activity_id")),
                "account_id": account_id,
                "activity_date": day,
                "activity_type": activity_type,
                "contact_id": contact_id,
                "owner": clean_owner(first(cells, "owner")),
                "duration_minutes": duration,
                "subject": first(cells, "subject"),
                SOURCE_FILE: f.name,
                SOURCE_ROW: row,
            },
        )
    if via_contact:
        load.result.notes.append(f"{f.name}: {via_contact} {kind} linked to a company through their contact")
    if dropped_contacts:
        why = "no contacts file was read" if not has_contacts else "none of their contacts is in the contacts table"
        load.result.notes.append(f"{f.name}: {dropped_contacts} {kind} staged without a contact ({why})")


# ---------------------------------------------------------------------------------------------------------
# Canonical extras and staged frames.


def read_canonical(load: HubSpotRead) -> dict[str, pl.DataFrame]:
    """Contract tables given as `<table>.csv|.parquet` for what HubSpot does not hold, staged as given."""
    out = read_extra_tables(
        load.folder, built_here=BUILT_HERE, raw_files=load.result.raw_files, notes=load.result.notes,
        reject=load.reject, importer="HubSpot",
    )
    if "revenue" in out:
        load.result.notes.append("revenue.csv: revenue taken from this file, not from closed-won deals")
    if "wallet" in out:
        load.result.notes.append("wallet.csv: wallet taken from this file, not from the companies export")
    return out
