"""Which contract columns a Salesforce export does not carry (ImportResult.absent_columns).

A column is absent when none of the fields it is read from is in the export (the mapped header is not in the
object's file, or the file is not in the folder), or when Salesforce has no such field at all (contacts'
is_active and left_date, revenue's cost_of_goods, the wallet's product_line and confidence). Required columns
are not listed: the load needs them (or fills them by a documented rule, as is_key_account). Tables taken from
canonical files beside the export say what they carry by their header.
"""

from __future__ import annotations

from kam_metrics.load.contract import TABLES
from kam_metrics.load.importers.base import absent_from
from kam_metrics.load.importers.salesforce.context import SalesforceRead

#: table → optional contract column → the (object, field) pairs it is read from; () = never in an export.
SOURCES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "accounts": {
        "parent_account_id": (("Account", "ParentId"),),
        "industry": (("Account", "Industry"),),
        "region": (("Account", "BillingCountry"),),
        "segment": (("Account", "Type"),),
        "kam_owner": (("Account", "OwnerId"),),
        "executive_sponsor": (("Account", "Executive_Sponsor__c"),),
        "key_account_since": (("Account", "Key_Account_Since__c"),),
        "relationship_stage": (("Account", "Relationship_Stage__c"),),
        "created_date": (("Account", "CreatedDate"),),
    },
    "contacts": {
        "title": (("Contact", "Title"),),
        "seniority": (("Contact", "Seniority__c"), ("Contact", "Title")),
        "buying_role": (("Contact", "Buying_Role__c"),),
        "attitude": (("Contact", "Attitude__c"),),
        "is_active": (),
        "left_date": (),
    },
    "activities": {
        "contact_id": (("Task", "WhoId"), ("Event", "WhoId")),  # and only with a Contact.csv (below)
        "owner": (("Task", "OwnerId"), ("Event", "OwnerId")),
        "duration_minutes": (("Task", "CallDurationInSeconds"), ("Event", "DurationInMinutes")),
        "subject": (("Task", "Subject"), ("Event", "Subject")),
    },
    "opportunities": {
        "name": (("Opportunity", "Name"),),
        "amount": (("Opportunity", "Amount"),),
        "product_line": (("Opportunity", "Product__c"), ("OpportunityLineItem", "Id")),
        "currency": (("Opportunity", "CurrencyIsoCode"),),  # or options.currency (below)
        "created_date": (("Opportunity", "CreatedDate"),),
    },
    "revenue": {  # from closed-won opportunities or their line items (a revenue.csv: its header)
        "cost_of_goods": (),
        "product_line": (("Opportunity", "Product__c"), ("OpportunityLineItem", "Id")),
        "currency": (("Opportunity", "CurrencyIsoCode"), ("OpportunityLineItem", "CurrencyIsoCode")),
    },
    "cases": {
        "closed_date": (("Case", "ClosedDate"),),
        "priority": (("Case", "Priority"),),
        "status": (("Case", "Status"),),
    },
    "wallet": {  # from the account's wallet estimate
        "product_line": (),
        "confidence": (),
    },
}


def absent_columns(r: SalesforceRead, staged: set[str], from_files: set[str]) -> dict[str, set[str]]:
    """The contract columns of each table in `staged` that the export does not carry; tables in `from_files`
    (canonical files beside the export) are left to their header."""

    def has(obj: str, fld: str) -> bool:
        source = r.sources.get(obj)
        return source is not None and source.has(fld)

    carried: dict[str, dict[str, bool]] = {}
    for table, columns in SOURCES.items():
        if table not in staged or table in from_files:
            continue
        carried[table] = {column: any(has(obj, fld) for obj, fld in fields) for column, fields in columns.items()}
    if "activities" in carried and "Contact" not in r.sources:
        carried["activities"]["contact_id"] = False  # a WhoId names a contact only when the contacts are read
    currency_option = bool(r.mapping["options"]["currency"].strip())
    for table in ("opportunities", "revenue"):
        if table in carried and currency_option:
            carried[table]["currency"] = True  # every row is in the mapping's options.currency
    revenue_file = r.sources.get("revenue")
    if "revenue" in staged and revenue_file is not None and "revenue" not in from_files:
        carried["revenue"] = {c.name: revenue_file.has(c.name) for c in TABLES["revenue"].columns if not c.required}
    return absent_from(carried)
