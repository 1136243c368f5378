"""The HubSpot exports and properties the importer reads: the mapping defaults (headers per export kind, stage,
buying-role and outcome labels), the notes of `kam mapping init`, and the headers that identify each kind."""

from __future__ import annotations

from kam_metrics.load.contract import BUYING_ROLES
from kam_metrics.load.importers.mapping import Mapping

FORMAT = "hubspot"

# ---------------------------------------------------------------------------------------------------------
# Mapping defaults: section → {our key: the export's header (or a value label → our value)}.
# An empty string means "this export has no such column".

KINDS = ("companies", "contacts", "deals", "calls", "meetings", "emails")
ACTIVITY_KINDS = {"calls": "call", "meetings": "meeting", "emails": "email"}

DEFAULT_STAGES = {
    # HubSpot's default sales pipeline (labels as shown in English portals, old and new capitalisation).
    "Appointment Scheduled": "open",
    "Qualified To Buy": "open",
    "Presentation Scheduled": "open",
    "Decision Maker Bought-In": "open",
    "Contract Sent": "open",
    "Closed won": "won",
    "Closed lost": "lost",
    "Closed: abandoned": "lost",
    # Internal stage ids, as some exports and the API show them.
    "appointmentscheduled": "open",
    "qualifiedtobuy": "open",
    "presentationscheduled": "open",
    "decisionmakerboughtin": "open",
    "contractsent": "open",
    "closedwon": "won",
    "closedlost": "lost",
}

DEFAULT_BUYING_ROLES = {
    # HubSpot's built-in "Buying Role" options (hs_buying_role) → contract buying_role.
    "Decision Maker": "decision_maker",
    "Budget Holder": "economic_buyer",
    "Economic Buyer": "economic_buyer",
    "Champion": "champion",
    "Influencer": "influencer",
    "End User": "user",
    "User": "user",
    "Gatekeeper": "gatekeeper",
    "Legal & Compliance": "gatekeeper",
    "Blocker": "blocker",
    "Executive Sponsor": "decision_maker",
    "Other": "unknown",
}

DEFAULT_ACTIVITY_OUTCOMES = {
    # Call status, meeting outcome and e-mail send status labels; unlisted labels count as held.
    "Completed": "held",
    "Sent": "held",
    "Scheduled": "held",
    "Canceled": "not_held",
    "Cancelled": "not_held",
    "No show": "not_held",
    "Rescheduled": "not_held",
    "Failed": "not_held",
    "Busy": "not_held",
    "No answer": "not_held",
    "Missed": "not_held",
    "Bounced": "not_held",
    "Queued": "not_held",
    "Ringing": "not_held",
    "In progress": "not_held",
    "Connecting": "not_held",
}


def _activity_section(subject: str, duration: str, unit: str, end_time: str, status: str) -> dict[str, str]:
    return {
        "activity_id": "Record ID",
        "activity_date": "Activity date",
        "company_ids": "Associated Company IDs",
        "contact_ids": "Associated Contact IDs",
        "owner": "Activity assigned to",
        "subject": subject,
        "duration": duration,
        "duration_unit": unit,
        "end_time": end_time,
        "status": status,
    }


DEFAULT_MAPPING: Mapping = {
    "files": {kind: "" for kind in KINDS},
    "options": {"portal_time_zone": "UTC", "export_date": ""},
    "companies": {
        "account_id": "Record ID",
        "account_name": "Company name",
        "kam_owner": "Company owner",
        "industry": "Industry",
        "country": "Country/Region",
        "region": "",
        "segment": "",
        "created_date": "Create Date",
        "parent_account_id": "",
        "is_key_account": "Key Account",
        "key_account_since": "",
        "executive_sponsor": "Executive Sponsor",
        "relationship_stage": "",
        "wallet_amount": "Wallet Estimate",
    },
    "contacts": {
        "contact_id": "Record ID",
        "first_name": "First Name",
        "last_name": "Last Name",
        "email": "Email",
        "title": "Job Title",
        "primary_company_id": "Primary Associated Company ID",
        "company_ids": "Associated Company IDs",
        "company_names": "Associated Company",
        "buying_role": "Buying Role",
    },
    "deals": {
        "opportunity_id": "Record ID",
        "name": "Deal Name",
        "stage": "Deal Stage",
        "amount": "Amount",
        "close_date": "Close Date",
        "created_date": "Create Date",
        "product_line": "Pipeline",
        "currency": "Currency",
        "currency_code": "Deal Currency Code",
        "is_closed_won": "Is Closed Won",
        "is_closed": "Is closed",
        "is_deal_closed": "Is Deal Closed?",
        "probability": "Deal probability",
        "company_ids": "Associated Company IDs",
        "company_names": "Associated Company",
    },
    "calls": _activity_section("Call Title", "Call duration", "ms", "", "Call status"),
    "meetings": _activity_section("Meeting name", "", "minutes", "Meeting end time", "Meeting outcome"),
    "emails": _activity_section("Email subject", "", "minutes", "", "Email send status"),
    "stages": dict(DEFAULT_STAGES),
    "buying_roles": dict(DEFAULT_BUYING_ROLES),
    "activity_outcomes": dict(DEFAULT_ACTIVITY_OUTCOMES),
    "regions": {},
}
OPEN_SECTIONS = ("stages", "buying_roles", "activity_outcomes", "regions")
# Keys of a file section that are settings, not headers.
NOT_HEADERS = {"duration_unit"}
# Headers only some exports carry (alternatives, or the portal's own flags in all-properties exports): their
# absence is normal and gets no "not found" note (the deals step says where won and closed come from).
QUIET_HEADERS = {
    "deals": {"currency", "currency_code", "is_closed_won", "is_closed", "is_deal_closed", "probability"},
}

SECTION_NOTES = {
    "files": "Pin a file name per kind (empty: identified by its headers and name).",
    "options": "portal_time_zone: IANA name (Europe/Stockholm) or offset (+01:00); export_date: YYYY-MM-DD "
    "(default: the date in HubSpot's file names).",
    "companies": "Headers of the companies export (our field = \"the export's header\"; \"\" = not in the export). "
    "region: a region property; empty derives the region from country.",
    "contacts": "Headers of the contacts export.",
    "deals": "Headers of the deals export. product_line defaults to the pipeline. currency / currency_code: the "
    "deal's currency. is_closed_won, is_closed / is_deal_closed and probability: the portal's own flags; when "
    "the export has them they decide won and closed, [stages] only when it has not.",
    "calls": "Headers of the calls export; duration_unit: ms, s or minutes.",
    "meetings": "Headers of the meetings export; duration from end_time - activity_date when duration is \"\".",
    "emails": "Headers of the e-mails export.",
    "stages": "Deal stage label = won / lost / open (add your portal's own labels).",
    "buying_roles": "Buying Role label = " + " / ".join(BUYING_ROLES) + ".",
    "activity_outcomes": "Call status / meeting outcome / e-mail status label = held / not_held.",
    "regions": "Country = region, e.g. \"Sverige\" = \"EMEA\" (adds to or overrides the built-in table).",
}

# Required headers per kind (a file without them stops the load), and the headers that identify a file.
REQUIRED = {
    "companies": ("account_id", "account_name"),
    "contacts": ("contact_id",),
    "deals": ("opportunity_id", "stage", "close_date"),
    "calls": ("activity_id", "activity_date"),
    "meetings": ("activity_id", "activity_date"),
    "emails": ("activity_id", "activity_date"),
}
SIGNATURE = {
    "companies": ("account_id", "account_name"),
    "contacts": ("contact_id", "first_name", "last_name"),
    "deals": ("opportunity_id", "name", "stage"),
    "calls": ("activity_id", "subject"),
    "meetings": ("activity_id", "subject"),
    "emails": ("activity_id", "subject"),
}
ID_KEY = {"companies": "account_id", "contacts": "contact_id", "deals": "opportunity_id"} | {
    k: "activity_id" for k in ACTIVITY_KINDS
}
NAME_HINTS = {
    "companies": ("compan", "företag", "foretag"),
    "contacts": ("contact", "kontakt"),
    "deals": ("deal", "affär", "affar"),
    "calls": ("call", "samtal"),
    "meetings": ("meeting", "möte", "mote"),
    "emails": ("email", "e-mail", "e-post", "epost"),
}
# Tables built from HubSpot's own exports; other contract tables may come as canonical files.
BUILT_HERE = ("accounts", "contacts", "opportunities", "activities")
