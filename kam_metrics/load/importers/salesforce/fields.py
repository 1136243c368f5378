"""The Salesforce objects and fields the importer reads: the mapping defaults, the notes of `kam mapping init`,
and the rules by which rows are skipped (module doc of kam_metrics/load/importers/salesforce)."""

from __future__ import annotations

from kam_metrics.load.importers.mapping import Mapping

NAME = "salesforce"

# --------------------------------------------------------------------------------------------------
# Mapping defaults: section per Salesforce object, "our field" → the export's header.
# --------------------------------------------------------------------------------------------------

DEFAULT_MAPPING: Mapping = {
    "files": {
        "Account": "Account.csv",
        "Contact": "Contact.csv",
        "Opportunity": "Opportunity.csv",
        "OpportunityLineItem": "OpportunityLineItem.csv",
        "Product2": "Product2.csv",
        "Task": "Task.csv",
        "Event": "Event.csv",
        "Case": "Case.csv",
        "User": "User.csv",
        "CurrencyType": "CurrencyType.csv",
        "DatedConversionRate": "DatedConversionRate.csv",
        "revenue": "revenue.csv",
        "fx_rates": "fx_rates.csv",
    },
    "options": {
        "export_date": "",
        "currency": "",
        "product_line_field": "Name",
    },
    "Account": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "Name": "Name",
        "ParentId": "ParentId",
        "Type": "Type",
        "Industry": "Industry",
        "BillingCountry": "BillingCountry",
        "OwnerId": "OwnerId",
        "CreatedDate": "CreatedDate",
        "CurrencyIsoCode": "CurrencyIsoCode",
        "Key_Account__c": "Key_Account__c",
        "Key_Account_Since__c": "Key_Account_Since__c",
        "Executive_Sponsor__c": "Executive_Sponsor__c",
        "Wallet_Estimate__c": "Wallet_Estimate__c",
        "Relationship_Stage__c": "Relationship_Stage__c",
    },
    "Contact": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "AccountId": "AccountId",
        "Name": "Name",
        "FirstName": "FirstName",
        "LastName": "LastName",
        "Title": "Title",
        "Seniority__c": "Seniority__c",
        "Buying_Role__c": "Buying_Role__c",
        "Attitude__c": "Attitude__c",
    },
    "Opportunity": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "AccountId": "AccountId",
        "Name": "Name",
        "StageName": "StageName",
        "Amount": "Amount",
        "CloseDate": "CloseDate",
        "IsClosed": "IsClosed",
        "IsWon": "IsWon",
        "CurrencyIsoCode": "CurrencyIsoCode",
        "CreatedDate": "CreatedDate",
        "Product__c": "Product__c",
    },
    "OpportunityLineItem": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "OpportunityId": "OpportunityId",
        "Product2Id": "Product2Id",
        "ProductCode": "ProductCode",
        "Name": "Name",
        "Quantity": "Quantity",
        "UnitPrice": "UnitPrice",
        "TotalPrice": "TotalPrice",
        "CurrencyIsoCode": "CurrencyIsoCode",
    },
    "Product2": {"Id": "Id", "Name": "Name", "ProductCode": "ProductCode", "Family": "Family"},
    "Task": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "WhoId": "WhoId",
        "WhatId": "WhatId",
        "AccountId": "AccountId",
        "Subject": "Subject",
        "ActivityDate": "ActivityDate",
        "CompletedDateTime": "CompletedDateTime",
        "Status": "Status",
        "IsClosed": "IsClosed",
        "Type": "Type",
        "TaskSubtype": "TaskSubtype",
        "CallDurationInSeconds": "CallDurationInSeconds",
        "OwnerId": "OwnerId",
        "IsRecurrence": "IsRecurrence",
        "CreatedDate": "CreatedDate",
    },
    "Event": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "WhoId": "WhoId",
        "WhatId": "WhatId",
        "AccountId": "AccountId",
        "Subject": "Subject",
        "ActivityDate": "ActivityDate",
        "ActivityDateTime": "ActivityDateTime",
        "DurationInMinutes": "DurationInMinutes",
        "Type": "Type",
        "EventSubtype": "EventSubtype",
        "OwnerId": "OwnerId",
        "IsChild": "IsChild",
        "IsRecurrence": "IsRecurrence",
        "CreatedDate": "CreatedDate",
    },
    "Case": {
        "Id": "Id",
        "IsDeleted": "IsDeleted",
        "AccountId": "AccountId",
        "ContactId": "ContactId",
        "CreatedDate": "CreatedDate",
        "ClosedDate": "ClosedDate",
        "Priority": "Priority",
        "Status": "Status",
    },
    "User": {"Id": "Id", "Name": "Name", "FirstName": "FirstName", "LastName": "LastName", "Username": "Username"},
    "CurrencyType": {"IsoCode": "IsoCode", "ConversionRate": "ConversionRate", "IsCorporate": "IsCorporate"},
    "DatedConversionRate": {"IsoCode": "IsoCode", "ConversionRate": "ConversionRate", "StartDate": "StartDate"},
    "activity_types": {
        "Email": "email",
        "ListEmail": "email",
        "List Email": "email",
        "Call": "call",
        "Meeting": "meeting",
        "QBR": "qbr",
        "Site Visit": "site_visit",
        "Workshop": "workshop",
        "Executive Meeting": "exec_meeting",
    },
}
OPEN_SECTIONS = ("activity_types",)

SECTION_NOTES = {
    "files": "File name of each Salesforce object in the export folder (matched case-insensitively). "
    "revenue.csv / fx_rates.csv: optional files in canonical form that replace the derived tables.",
    "options": "export_date: YYYY-MM-DD, else the latest CreatedDate/LastModifiedDate/SystemModstamp. "
    "currency: ISO code of rows without CurrencyIsoCode (single-currency orgs), else the reporting currency. "
    "product_line_field: Product2 field naming a product line (Name, ProductCode or Family).",
    "Account": "Account → accounts: Name → account_name, ParentId → parent_account_id, BillingCountry → region, "
    "Type → segment, OwnerId → kam_owner (a name from User.csv), Key_Account__c → is_key_account (a checkbox), "
    "Executive_Sponsor__c → executive_sponsor (a name or a User Id), Wallet_Estimate__c → a wallet row for the "
    "year of the export date, Relationship_Stage__c → relationship_stage.",
    "Contact": "Contact → contacts: Name (else FirstName LastName) → full_name; Seniority__c wins over the "
    "seniority inferred from Title; Buying_Role__c → buying_role; Attitude__c → attitude (-2 … 2 or "
    "Opponent … Mentor).",
    "Opportunity": "Opportunity → opportunities, and closed-won ones → revenue dated CloseDate; "
    "Product__c → product_line.",
    "Case": "Case → cases: CreatedDate → opened_date, ClosedDate → closed_date; without AccountId the "
    "account of ContactId.",
    "activity_types": "Exact Type / TaskSubtype / EventSubtype values → activity type "
    "(email, call, meeting, exec_meeting, qbr, site_visit, workshop, other). Add your own values.",
}

# Fields whose absence is normal and not worth a note (alternatives or refinements of other fields).
QUIET_FIELDS = {
    "Contact": {"Name", "FirstName", "LastName"},
    "Task": {"CompletedDateTime", "IsRecurrence", "CreatedDate", "Status", "CallDurationInSeconds"},
    "Event": {"ActivityDateTime", "ActivityDate", "IsChild", "IsRecurrence", "CreatedDate", "EventSubtype"},
    "OpportunityLineItem": {"Quantity", "UnitPrice", "TotalPrice", "ProductCode", "Name", "Product2Id"},
    "User": {"Name", "FirstName", "LastName", "Username"},
    "Product2": {"ProductCode", "Family"},
    "CurrencyType": {"IsCorporate"},
}
EXPORT_DATE_COLUMNS = ("createddate", "lastmodifieddate", "systemmodstamp")
ID_FIELDS = {
    "Id", "AccountId", "ParentId", "OwnerId", "WhoId", "WhatId", "ContactId", "OpportunityId", "Product2Id",
}

RULE_DELETED = "IsDeleted = 1 (deleted record)"
RULE_OPEN_TASK = "open task (IsClosed = 0)"
RULE_CHILD_EVENT = "invitee copy of another event (IsChild = 1)"
RULE_RECURRENCE = "recurring series master (IsRecurrence = 1); its occurrences are separate rows"
RULE_NOT_WON = "opportunity not closed-won (IsWon = 0): not revenue"
RULE_SPLIT = "closed-won opportunity split into its line items (OpportunityLineItem.csv)"
RULE_NO_WALLET = "no wallet estimate on the account"

# What a missing mapped field means for the load, appended to its note.
MISSING_CONSEQUENCE = {
    ("Account", "Key_Account__c"): "; is_key_account set to false for all accounts",
    ("Account", "Wallet_Estimate__c"): "; no wallet rows",
    ("Account", "Executive_Sponsor__c"): "; executive_sponsor left empty",
    ("Account", "Relationship_Stage__c"): "; relationship_stage left empty",
    ("Account", "Key_Account_Since__c"): "; key_account_since left empty",
    ("Account", "OwnerId"): "; kam_owner left empty",
    ("Account", "CurrencyIsoCode"): "; amounts are in the options.currency of the mapping, else the reporting "
    "currency",
    ("Opportunity", "CurrencyIsoCode"): "; amounts are in the options.currency of the mapping, else the "
    "reporting currency",
    ("Contact", "Title"): "; seniority from the Seniority field only",
    ("Contact", "Seniority__c"): "; seniority inferred from Title",
    ("Contact", "Buying_Role__c"): "; buying_role set to unknown",
    ("Contact", "Attitude__c"): "; attitude left empty",
    ("Opportunity", "Product__c"): "; product_line from line items only",
    ("Task", "Type"): "; activity type from TaskSubtype and Subject",
    ("Event", "Type"): "; activity type from Subject",
}

# Tables the Salesforce objects (or the importer's own revenue.csv / fx_rates.csv handling) give.
BUILT_HERE = ("accounts", "contacts", "activities", "opportunities", "cases")
READ_HERE = ("revenue", "fx_rates")  # canonical files the reader itself takes (see files.revenue / files.fx_rates)
