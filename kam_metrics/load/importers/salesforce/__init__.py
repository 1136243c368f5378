"""Salesforce importer: a folder of `<Object>.csv` files → staged canonical tables.

Accepts the three variants users have (docs/CRM_FORMATS.md):
1. the weekly Setup > Data Export: Windows-1252, every field quoted, booleans "0"/"1", datetimes
   `YYYY-MM-DD HH:MM:SS` (GMT), the empty-lookup placeholder `000000000000000AAA` (read as empty);
2. Data Loader / API extracts: UTF-8 with or without BOM, `…T…Z` / `…+0000` datetimes, true/false or
   1/empty booleans, header case varying (`ID,NAME`): headers are matched case-insensitively;
3. files re-saved in Excel: TRUE/FALSE, dates `MM/DD/YY`, datetimes `MM/DD/YY hh:mm AM` (US order).

IDs: every ID column is normalised to the 18-character form (sf_ids.normalize_id) before joining.

Rules (each row left out is listed in `skipped` with its rule, every other row is staged or
quarantined, per target table):
- IsDeleted = 1 → skipped (deleted record), for every object.
- Account → accounts (+ wallet from the wallet field, for the year of the export date, converted
  from the account currency to the reporting currency). Owner names come from User.csv when present,
  else the owner Id is kept. Executive_Sponsor__c holding a User Id is resolved to the name too.
- Contact → contacts. A contact without an account (a private contact) is quarantined. Seniority:
  the Seniority field when filled, else from Title by keywords, first match wins:
  VP / SVP / EVP / Vice President → vp; Chief / CEO / CFO / CTO / COO / CIO / President / Founder →
  c_level; Director / Head → director; Manager / Lead → manager; any other title → individual;
  no title → unknown.
- Task → activities when closed (IsClosed = 1; without an IsClosed column: Status = Completed); open
  tasks are skipped. Date: ActivityDate, else CompletedDateTime, else CreatedDate.
- Event → activities when dated on or before the export date (ActivityDate, else ActivityDateTime);
  later events are skipped, as are invitee copies (IsChild = 1) and recurring-series masters
  (IsRecurrence = 1, also for tasks). Duration: DurationInMinutes, or CallDurationInSeconds / 60.
- Activity account: AccountId, else WhatId when it is an account (001), an opportunity (006, its
  account) or a case (500, its account), else the account of the WhoId contact (003). None of these
  → quarantined. The contact is WhoId when it is a contact that was staged (else left empty, noted).
- An account whose ParentId is not among the accounts (deleted, or not in a filtered extract) keeps
  no parent (noted), rather than being rejected with everything that hangs on it.
- Activity type: (1) Type, TaskSubtype or EventSubtype matched exactly (case-insensitive) against the
  `[activity_types]` section of the mapping; a result of email or call is final; (2) otherwise
  keywords in Type, the subtypes and Subject, in this order of rules: qbr (QBR, business review),
  workshop, site_visit (site visit, on-site, visit), email (email, e-mail), call (call, phone),
  exec_meeting (exec, executive, EBR, C-level), meeting (meeting, meet, demo, presentation, lunch,
  dinner); a meeting from step 1 is refined by rules qbr…site_visit and exec_meeting; (3) otherwise
  an Event is a meeting and a Task is other.
- Case → cases; the account is AccountId, else the account of its ContactId; neither → quarantined
  (the reason names both). Priority Urgent → critical, Normal → medium.
- Opportunity → opportunities. IsClosed/IsWon, when missing, come from StageName (noted).
- Revenue: a `revenue.csv` in canonical form in the folder wins. Otherwise each closed-won opportunity
  is revenue dated CloseDate; with OpportunityLineItem.csv its line items are the revenue rows instead
  (amount TotalPrice, product line from Product2 Name via Product2Id, else ProductCode, else the
  line Name); opportunities that are not closed-won are skipped for revenue.
- Reporting currency (kam_metrics/load/importers/reporting.py): the setting reporting_currency when set,
  else the org's corporate currency (CurrencyType IsCorporate = 1; without that flag, its only rate of 1),
  else the only currency of the money-bearing rows (opportunities, line items, accounts with a wallet
  estimate, revenue.csv), else EUR; named with why in the result and the notes. Rows whose currency no rate
  converts are counted in the notes (revenue, opportunities) or quarantined (wallet), naming the fix.
- Currencies: CurrencyIsoCode per row (`000` is not a currency). fx_rates from an `fx_rates.csv` in
  the folder, else CurrencyType.csv and DatedConversionRate.csv: Salesforce rates are units of the
  currency per 1 unit of the corporate currency, so rate = ConversionRate(reporting) /
  ConversionRate(currency). A dated rate is re-based with the reporting currency's rate in force on
  its StartDate; dated rates replace the static rate of their currency.
- The export date is the `options.export_date` of the mapping file, else the latest CreatedDate,
  LastModifiedDate or SystemModstamp in the files read.

File names, every header used and the custom programme fields can be renamed in a TOML mapping file
(`kam mapping init --format salesforce` writes the template). A mapped field that is not in the file
is listed in the notes; a missing required one stops the load with a LoadError naming it.

Modules: fields.py (the objects and fields read, mapping defaults, skip rules), source.py (files, headers,
records; detect), values.py (Salesforce value forms, derived fields), fx.py (fx_rates and the wallet's
rate), tables.py (one staging step per canonical table), context.py (what a read carries between steps),
reader.py (the order of the steps).
"""

from __future__ import annotations

from pathlib import Path

from kam_metrics.load.importers.base import ImportResult
from kam_metrics.load.importers.mapping import mapping_toml
from kam_metrics.load.importers.rules import seniority_from_title
from kam_metrics.load.importers.salesforce.fields import DEFAULT_MAPPING, NAME, OPEN_SECTIONS, SECTION_NOTES
from kam_metrics.load.importers.salesforce.reader import read_export
from kam_metrics.load.importers.salesforce.source import detect
from kam_metrics.load.importers.salesforce.values import activity_type, iso_date, parse_date, parse_flag

__all__ = [
    "DEFAULT_MAPPING", "IMPORTER", "NAME", "OPEN_SECTIONS", "SalesforceImporter", "activity_type", "iso_date",
    "mapping_template", "parse_date", "parse_flag", "seniority_from_title",
]


def mapping_template() -> str:
    """The default Salesforce mapping as commented TOML, for `kam mapping init --format salesforce`."""
    return mapping_toml(
        DEFAULT_MAPPING,
        "Salesforce mapping for `kam load --format salesforce`: [Object] sections map our field names "
        "(keys) to the headers of your export (values), matched case-insensitively. Set a value to \"\" "
        "to ignore a field.",
        notes=SECTION_NOTES,
    )


class SalesforceImporter:
    name = NAME

    def detect(self, folder: Path) -> str | None:
        """A reason when the folder holds an Account.csv with Salesforce headers."""
        return detect(folder)

    def read(self, folder: Path, *, settings=None, mapping: Path | None = None) -> ImportResult:
        return read_export(Path(folder), settings, mapping)


IMPORTER = SalesforceImporter()
