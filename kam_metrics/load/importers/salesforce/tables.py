"""Salesforce objects → canonical tables: one step per table, each renaming fields and normalising values
(the rules are in the package doc of kam_metrics/load/importers/salesforce). A step stages, skips or rejects
every row of its object, and leaves the lookups later steps need (contact → account, …) on the read."""

from __future__ import annotations

from datetime import date

from kam_metrics.load.contract import SOURCE_ROW, TABLES
from kam_metrics.load.importers.reporting import FIX_MISSING_RATE
from kam_metrics.load.importers.salesforce.context import SalesforceRead
from kam_metrics.load.importers.salesforce.fields import (
    RULE_CHILD_EVENT,
    RULE_DELETED,
    RULE_NO_WALLET,
    RULE_NOT_WON,
    RULE_OPEN_TASK,
    RULE_RECURRENCE,
    RULE_SPLIT,
)
from kam_metrics.load.importers.salesforce.fx import rates_on
from kam_metrics.load.importers.salesforce.source import Source
from kam_metrics.load.importers.salesforce.values import (
    activity_type,
    attitude,
    clean_number,
    currency_code,
    enum_text,
    flag_text,
    fmt_float,
    iso_date,
    parse_date,
    parse_flag,
    priority,
    seniority,
    to_float,
)
from kam_metrics.load.importers.sf_ids import key_prefix, normalize_id


def stage_accounts(r: SalesforceRead) -> None:
    """Account → accounts (and, with a wallet field, one wallet row per account for the export year)."""
    src = r.sources["Account"]
    src.require("Id", purpose="accounts.account_id")
    src.require("Name", purpose="accounts.account_name")
    has_wallet = src.has("Wallet_Estimate__c")
    tables = ("accounts", "wallet") if has_wallet else ("accounts",)
    r.malformed(src, *tables)
    r.account_ids = set()
    wallet_year = (r.export_date or date.today()).year
    wallet_rates = rates_on(r, r.export_date) if has_wallet else {}
    for row in src.records():
        n = row[SOURCE_ROW]
        if parse_flag(row.get("IsDeleted")):
            for table in tables:
                r.out.skip(table, src.name, n, RULE_DELETED)
            continue
        account_id = row.get("Id")
        if account_id:
            r.account_ids.add(account_id)
        key_flag = flag_text(row.get("Key_Account__c")) if src.has("Key_Account__c") else "false"
        r.stage("accounts", src.name, n, {
            "account_id": account_id,
            "account_name": row.get("Name"),
            "is_key_account": key_flag or "false",
            "parent_account_id": row.get("ParentId"),
            "industry": row.get("Industry"),
            "region": row.get("BillingCountry"),
            "segment": row.get("Type"),
            "kam_owner": r.person(row.get("OwnerId")),
            "executive_sponsor": r.person(row.get("Executive_Sponsor__c")),
            "key_account_since": iso_date(row.get("Key_Account_Since__c")),
            "relationship_stage": enum_text(row.get("Relationship_Stage__c")),
            "created_date": iso_date(row.get("CreatedDate")),
        })
        if has_wallet:
            _wallet_row(r, src, row, wallet_year, wallet_rates)
    # A parent that is not among the accounts (deleted, or outside a filtered extract) would reject
    # the whole account; the account is kept without its parent instead.
    orphans = 0
    for staged in r.out.staged.get("accounts", []):
        parent = staged["parent_account_id"]
        if parent is not None and parent not in r.account_ids:
            staged["parent_account_id"] = None
            orphans += 1
    if orphans:
        r.notes.append(
            f"{src.name}: {orphans} accounts name a parent that is not among the accounts (deleted or not "
            "exported); their parent_account_id is left empty"
        )


def _wallet_row(r: SalesforceRead, src: Source, row: dict, year: int, rates: dict[str, float]) -> None:
    """The wallet row of an account: its wallet estimate for `year`, converted to the reporting currency."""
    n = row[SOURCE_ROW]
    raw = row.get("Wallet_Estimate__c")
    if raw is None:
        r.out.skip("wallet", src.name, n, RULE_NO_WALLET + f" ({src.columns['Wallet_Estimate__c']} empty)")
        return
    amount_text = clean_number(raw)
    amount = to_float(raw)
    currency = r.row_currency(row.get("CurrencyIsoCode"))
    if amount is not None and currency and currency != r.reporting:
        rate = rates.get(currency)
        if rate is None:
            r.out.reject("wallet", src.name, n, "wallet_amount", raw,
                         f"wallet estimate in {currency} and no fx rate from {currency} to {r.reporting}; "
                         + FIX_MISSING_RATE)
            return
        amount_text = fmt_float(amount * rate)
    r.stage("wallet", src.name, n, {
        "account_id": row.get("Id"),
        "year": str(year),
        "wallet_amount": amount_text,
        "source": "kam_estimate",
    })


def stage_contacts(r: SalesforceRead) -> None:
    """Contact → contacts; a contact without an account (a private contact) is quarantined."""
    src = r.sources.get("Contact")
    if src is None:
        r.notes.append("No Contact.csv: no contacts; activities and cases get no contact")
        return
    src.require("Id", purpose="contacts.contact_id")
    src.require("AccountId", purpose="contacts.account_id")
    src.require("Name", "LastName", purpose="contacts.full_name")
    r.malformed(src, "contacts")
    for row in src.records():
        n = row[SOURCE_ROW]
        if parse_flag(row.get("IsDeleted")):
            r.out.skip("contacts", src.name, n, RULE_DELETED)
            continue
        contact_id, account_id = row.get("Id"), row.get("AccountId")
        if contact_id:
            r.contact_rows[contact_id] = account_id is not None
        if account_id is None:
            r.out.reject("contacts", src.name, n, "account_id", row.get("_raw_AccountId") or "",
                         "contact has no AccountId (a private contact); a contact must belong to an account")
            continue
        if contact_id:
            r.contact_account[contact_id] = account_id
            r.contact_ids.add(contact_id)
        full_name = row.get("Name") or " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
        r.stage("contacts", src.name, n, {
            "contact_id": contact_id,
            "account_id": account_id,
            "full_name": full_name or None,
            "title": row.get("Title"),
            "seniority": seniority(row.get("Seniority__c"), row.get("Title")),
            "buying_role": enum_text(row.get("Buying_Role__c")),
            "attitude": attitude(row.get("Attitude__c")),
        })


def stage_opportunities(r: SalesforceRead) -> None:
    """Opportunity → opportunities, and revenue from closed-won ones (or their line items) without a revenue.csv."""
    src = r.sources.get("Opportunity")
    revenue_file = r.sources.get("revenue")
    if revenue_file is not None:
        stage_revenue_file(r, revenue_file)
    if src is None:
        if revenue_file is None:
            r.notes.append("No Opportunity.csv and no revenue.csv: no revenue")
        return
    src.require("Id", purpose="opportunities.opportunity_id")
    src.require("AccountId", purpose="opportunities.account_id")
    src.require("StageName", purpose="opportunities.stage")
    src.require("CloseDate", purpose="opportunities.close_date")
    derive_revenue = revenue_file is None
    tables = ("opportunities", "revenue") if derive_revenue else ("opportunities",)
    r.malformed(src, *tables)
    if not src.has("IsClosed") or not src.has("IsWon"):
        r.notes.append(f"{src.name}: IsClosed/IsWon taken from StageName (Closed … / Closed Won)")

    rows = src.records()
    opps: dict[str, dict] = {}
    for row in rows:
        if row.get("Id"):
            opps[row["Id"]] = row
            if row.get("AccountId"):
                r.opportunity_account[row["Id"]] = row["AccountId"]
    lines_by_opp = _stage_line_items(r, opps) if derive_revenue else {}

    for row in rows:
        n = row[SOURCE_ROW]
        if parse_flag(row.get("IsDeleted")):
            for table in tables:
                r.out.skip(table, src.name, n, RULE_DELETED)
            continue
        stage = row.get("StageName") or ""
        is_closed = (parse_flag(row.get("IsClosed")) if src.has("IsClosed")
                     else stage.lower().startswith("closed"))
        is_won = parse_flag(row.get("IsWon")) if src.has("IsWon") else stage.lower() == "closed won"
        currency = r.row_currency(row.get("CurrencyIsoCode"))
        close_date = iso_date(row.get("CloseDate"))
        lines = lines_by_opp.get(row.get("Id") or "", [])
        product_line = row.get("Product__c")
        if product_line is None and lines:
            distinct = {ln["product_line"] for ln in lines if ln["product_line"]}
            product_line = distinct.pop() if len(distinct) == 1 else None
        r.stage("opportunities", src.name, n, {
            "opportunity_id": row.get("Id"),
            "account_id": row.get("AccountId"),
            "name": row.get("Name"),
            "stage": row.get("StageName"),
            "amount": clean_number(row.get("Amount")),
            "close_date": close_date,
            "is_closed": flag_text(row.get("IsClosed")) if src.has("IsClosed") else str(is_closed).lower(),
            "is_won": flag_text(row.get("IsWon")) if src.has("IsWon") else str(is_won).lower(),
            "product_line": product_line,
            "currency": currency,
            "created_date": iso_date(row.get("CreatedDate")),
        })
        if not derive_revenue:
            continue
        if not is_won:
            r.out.skip("revenue", src.name, n, RULE_NOT_WON)
        elif lines:
            r.out.skip("revenue", src.name, n, RULE_SPLIT)
        else:
            r.stage("revenue", src.name, n, {
                "revenue_id": row.get("Id"),
                "account_id": row.get("AccountId"),
                "revenue_date": close_date,
                "amount": clean_number(row.get("Amount")),
                "product_line": row.get("Product__c"),
                "currency": currency,
            })
    if derive_revenue:
        r.notes.append("Revenue: closed-won opportunities dated CloseDate"
                       + (" split by OpportunityLineItem" if "OpportunityLineItem" in r.sources else ""))


def _stage_line_items(r: SalesforceRead, opps: dict[str, dict]) -> dict[str, list[dict]]:
    """Stage the revenue rows of line items of closed-won opportunities; lines per opportunity."""
    src = r.sources.get("OpportunityLineItem")
    if src is None:
        return {}
    src.require("Id", purpose="revenue.revenue_id")
    src.require("OpportunityId", purpose="revenue.account_id (through the opportunity)")
    src.require("TotalPrice", "UnitPrice", purpose="revenue.amount")
    r.malformed(src, "revenue")
    products = _products(r)
    field_name = r.mapping["options"]["product_line_field"]
    by_opp: dict[str, list[dict]] = {}
    pending: list[tuple[dict, dict]] = []
    for row in src.records():
        n = row[SOURCE_ROW]
        if parse_flag(row.get("IsDeleted")):
            r.out.skip("revenue", src.name, n, RULE_DELETED)
            continue
        opp = opps.get(row.get("OpportunityId") or "")
        if opp is None:
            r.out.reject("revenue", src.name, n, "OpportunityId", row.get("_raw_OpportunityId"),
                         f"line item of an opportunity that is not in {r.sources['Opportunity'].name}")
            continue
        product = products.get(row.get("Product2Id") or "", {})
        product_line = (product.get(field_name) or product.get("Name") or row.get("ProductCode")
                        or row.get("Name"))
        line = {"row": row, "product_line": product_line}
        if parse_flag(opp.get("IsDeleted")):
            r.out.skip("revenue", src.name, n, "line item of a deleted opportunity")
            continue
        by_opp.setdefault(opp["Id"], []).append(line)
        pending.append((line, opp))
    opp_src = r.sources["Opportunity"]
    for line, opp in pending:
        row, n = line["row"], line["row"][SOURCE_ROW]
        stage = (opp.get("StageName") or "").lower()
        is_won = parse_flag(opp.get("IsWon")) if opp_src.has("IsWon") else stage == "closed won"
        if not is_won:
            r.out.skip("revenue", src.name, n, "line item of an opportunity not closed-won (IsWon = 0)")
            continue
        amount = clean_number(row.get("TotalPrice"))
        if amount is None:
            qty, price = to_float(row.get("Quantity")) or 1.0, to_float(row.get("UnitPrice"))
            amount = fmt_float(qty * price) if price is not None else row.get("UnitPrice")
        r.stage("revenue", src.name, n, {
            "revenue_id": row.get("Id"),
            "account_id": opp.get("AccountId"),
            "revenue_date": iso_date(opp.get("CloseDate")),
            "amount": amount,
            "product_line": line["product_line"],
            "currency": r.row_currency(row.get("CurrencyIsoCode") or opp.get("CurrencyIsoCode")),
        })
    return by_opp


def _products(r: SalesforceRead) -> dict[str, dict]:
    """Product2 rows by Id (for the product line of line items)."""
    src = r.sources.get("Product2")
    if src is None:
        return {}
    src.require("Id", purpose="product lines")
    return {row["Id"]: row for row in src.records() if row.get("Id")}


def stage_revenue_file(r: SalesforceRead, src: Source) -> None:
    """A canonical revenue.csv in the folder → revenue (IDs, dates, numbers and currencies normalised)."""
    r.malformed(src, "revenue")
    for row in src.records():
        values = {c: row.get(c) for c in TABLES["revenue"].column_names}
        values["account_id"] = normalize_id(values["account_id"])
        values["revenue_date"] = iso_date(values["revenue_date"])
        values["amount"] = clean_number(values["amount"])
        values["cost_of_goods"] = clean_number(values["cost_of_goods"])
        values["currency"] = currency_code(values["currency"])
        r.stage("revenue", src.name, row[SOURCE_ROW], values)
    r.notes.append(f"Revenue from {src.name}; closed-won opportunities are not counted as revenue")


def stage_cases(r: SalesforceRead) -> None:
    """Case → cases; the account is AccountId, else the account of its ContactId."""
    src = r.sources.get("Case")
    if src is None:
        return
    src.require("Id", purpose="cases.case_id")
    src.require("CreatedDate", purpose="cases.opened_date")
    src.require("AccountId", "ContactId", purpose="cases.account_id")
    r.malformed(src, "cases")
    via_contact = 0
    for row in src.records():
        n = row[SOURCE_ROW]
        if parse_flag(row.get("IsDeleted")):
            r.out.skip("cases", src.name, n, RULE_DELETED)
            continue
        account_id = row.get("AccountId")
        if account_id is None:
            contact_id = row.get("ContactId")
            account_id = r.contact_account.get(contact_id or "")
            if account_id is None:
                r.out.reject("cases", src.name, n, "account_id", row.get("_raw_AccountId") or "",
                             "case has no AccountId and " + r.contact_problem(contact_id))
                continue
            via_contact += 1
        if row.get("Id"):
            r.case_account[row["Id"]] = account_id
        r.stage("cases", src.name, n, {
            "case_id": row.get("Id"),
            "account_id": account_id,
            "opened_date": iso_date(row.get("CreatedDate")),
            "closed_date": iso_date(row.get("ClosedDate")),
            "priority": priority(row.get("Priority")),
            "status": row.get("Status"),
        })
    if via_contact:
        r.notes.append(f"{src.name}: {via_contact} cases without AccountId took their contact's account")


def stage_activities(r: SalesforceRead) -> None:
    """Task and Event → activities (closed tasks, events up to the export date)."""
    type_map = r.mapping["activity_types"]
    dropped_contacts = 0
    type_cache: dict[tuple, str] = {}
    files = r.mapping["files"]
    if "Task" not in r.sources and "Event" not in r.sources:
        r.notes.append(f"No {files['Task']} or {files['Event']}: no activities")
        return
    for obj in ("Task", "Event"):
        src = r.sources.get(obj)
        if src is None:
            r.notes.append(f"No {files[obj]}: no activities from {obj}s")
            continue
        src.require("Id", purpose="activities.activity_id")
        if obj == "Task":
            src.require("ActivityDate", "CompletedDateTime", "CreatedDate", purpose="activities.activity_date")
            if not src.has("IsClosed"):
                r.notes.append(f"{src.name}: no IsClosed column; tasks with Status = Completed are closed")
        else:
            src.require("ActivityDate", "ActivityDateTime", purpose="activities.activity_date")
        r.malformed(src, "activities")
        for row in src.records():
            dropped_contacts += _stage_activity(r, src, row, obj == "Event", type_map, type_cache)
    if dropped_contacts:
        r.notes.append(
            f"{dropped_contacts} activities name a contact that is not among the contacts loaded; "
            "their contact_id is left empty"
        )


def _stage_activity(r: SalesforceRead, src: Source, row: dict, is_event: bool, type_map: dict[str, str],
                    type_cache: dict[tuple, str]) -> bool:
    """Stage, skip or reject one Task or Event row; True when its contact was left out (not among the contacts)."""
    n = row[SOURCE_ROW]
    if parse_flag(row.get("IsDeleted")):
        r.out.skip("activities", src.name, n, RULE_DELETED)
        return False
    if is_event and parse_flag(row.get("IsChild")):
        r.out.skip("activities", src.name, n, RULE_CHILD_EVENT)
        return False
    if parse_flag(row.get("IsRecurrence")):
        r.out.skip("activities", src.name, n, RULE_RECURRENCE)
        return False
    if is_event:
        day_text = row.get("ActivityDate") or row.get("ActivityDateTime")
        day = parse_date(day_text)
        if day and r.export_date and day > r.export_date:
            r.out.skip("activities", src.name, n,
                       f"event after the export date ({r.export_date.isoformat()})")
            return False
        duration = clean_number(row.get("DurationInMinutes"))
    else:
        if src.has("IsClosed"):
            closed = parse_flag(row.get("IsClosed"))
        else:
            closed = (row.get("Status") or "").strip().lower() == "completed"
        if closed is None:
            r.out.reject("activities", src.name, n, "IsClosed", row.get("_raw_IsClosed"),
                         "not a checkbox value (expected 1/0 or true/false)")
            return False
        if not closed:
            r.out.skip("activities", src.name, n, RULE_OPEN_TASK)
            return False
        day_text = row.get("ActivityDate") or row.get("CompletedDateTime") or row.get("CreatedDate")
        seconds = to_float(row.get("CallDurationInSeconds"))
        duration = fmt_float(seconds / 60.0) if seconds is not None else clean_number(
            row.get("CallDurationInSeconds"))

    who, what = row.get("WhoId"), row.get("WhatId")
    contact_id = who if key_prefix(who) == "003" else None
    account_id = row.get("AccountId")
    if account_id is None and what:
        prefix = key_prefix(what)
        if prefix == "001":
            account_id = what
        elif prefix == "006":
            account_id = r.opportunity_account.get(what)
        elif prefix == "500":
            account_id = r.case_account.get(what)
    if account_id is None and contact_id:
        account_id = r.contact_account.get(contact_id)
    if account_id is None:
        what_text = f"WhatId '{what}' does not lead to an account" if what else "WhatId is empty"
        who_text = (r.contact_problem(contact_id).replace("its contact", "contact") if contact_id
                    else (f"WhoId '{who}' is not a contact" if who else "WhoId is empty"))
        r.out.reject("activities", src.name, n, "account_id", row.get("_raw_AccountId") or "",
                     f"activity has no account: AccountId is empty, {what_text}, {who_text}")
        return False
    dropped = bool(contact_id) and contact_id not in r.contact_ids
    if dropped:
        contact_id = None
    type_key = (row.get("Type"), row.get("TaskSubtype"), row.get("EventSubtype"), row.get("Subject"), is_event)
    kind = type_cache.get(type_key)
    if kind is None:
        kind = activity_type(type_key[0], type_key[1:3], type_key[3], is_event=is_event, type_map=type_map)
        type_cache[type_key] = kind
    r.stage("activities", src.name, n, {
        "activity_id": row.get("Id"),
        "account_id": account_id,
        "activity_date": iso_date(day_text),
        "activity_type": kind,
        "contact_id": contact_id,
        "owner": r.person(row.get("OwnerId")),
        "duration_minutes": duration,
        "subject": row.get("Subject"),
    })
    return dropped
