"""What one Salesforce read carries from step to step: the mapping, the files read, the output so far, and
the lookups a later object needs from an earlier one (contact → account, opportunity → account, …)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kam_metrics.load.contract import ACTIVITY_TYPES, SOURCE_FILE, SOURCE_ROW
from kam_metrics.load.importers.base import LoadError, RawFile
from kam_metrics.load.importers.mapping import Mapping
from kam_metrics.load.importers.salesforce.fields import DEFAULT_MAPPING
from kam_metrics.load.importers.salesforce.source import Source
from kam_metrics.load.importers.salesforce.values import currency_code
from kam_metrics.load.importers.sf_ids import key_prefix, normalize_id
from kam_metrics.load.importers.staging import Staging

#: The reason given for a row the CSV reader could not split.
MALFORMED = "unreadable CSV row"


@dataclass
class SalesforceRead:
    folder: Path
    mapping: Mapping
    reporting: str = "EUR"  # the reporting currency, upper case (fx.reporting_currency decides it)
    reporting_source: str = ""  # why that currency (a sentence for the load report)
    notes: list[str] = field(default_factory=list)
    out: Staging = field(default_factory=Staging)
    raw_files: list[RawFile] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)
    export_date: date | None = None
    users: dict[str, str] = field(default_factory=dict)  # User Id → name
    fx: list[tuple[str, float, date | None]] = field(default_factory=list)  # (currency, rate, valid_from) staged
    # Lookups filled by the steps, for the steps after them.
    account_ids: set[str] = field(default_factory=set)  # accounts staged
    contact_account: dict[str, str] = field(default_factory=dict)  # every non-deleted contact with an account
    contact_ids: set[str] = field(default_factory=set)  # contacts staged
    contact_rows: dict[str, bool] = field(default_factory=dict)  # contact Id → has an account (non-deleted)
    opportunity_account: dict[str, str] = field(default_factory=dict)
    case_account: dict[str, str] = field(default_factory=dict)
    _people: dict[str, str] = field(default_factory=dict)  # owner/sponsor value → display name

    def stage(self, table: str, src_file: str, src_row: int, values: dict) -> None:
        """Stage a row of `table` from row `src_row` of `src_file`."""
        self.out.stage(table, {**values, SOURCE_FILE: src_file, SOURCE_ROW: src_row})

    def malformed(self, src: Source, *tables: str) -> None:
        """Quarantine the rows of `src` the CSV reader could not split, for each of `tables`."""
        self.out.malformed(src.name, src.malformed, tables, MALFORMED)

    def person(self, value: str | None) -> str | None:
        """A user's name for a User Id (prefix 005), else the value as given."""
        if value is None:
            return None
        person = self._people.get(value)
        if person is None:
            ident = normalize_id(value)
            person = self.users.get(ident, ident) if key_prefix(ident) == "005" else value
            self._people[value] = person
        return person

    def row_currency(self, value: str | None) -> str | None:
        """The row's CurrencyIsoCode, else the mapping's options.currency, else None (the reporting currency)."""
        return currency_code(value) or (self.mapping["options"]["currency"].strip().upper() or None)

    def contact_problem(self, contact_id: str | None) -> str:
        """Why a contact gives no account (for a quarantine reason)."""
        if contact_id is None:
            return "no ContactId"
        if "Contact" not in self.sources:
            return f"its contact '{contact_id}' cannot be looked up (no Contact.csv)"
        if contact_id not in self.contact_rows:
            return f"its contact '{contact_id}' is not in {self.sources['Contact'].name}"
        return f"its contact '{contact_id}' has no AccountId"


def check_mapping_values(mapping: Mapping) -> None:
    """LoadError for a value of the mapping file that cannot be used (the keys load_mapping has checked)."""
    for key, value in mapping["activity_types"].items():
        if value.strip().lower() not in ACTIVITY_TYPES:
            raise LoadError(
                f"mapping: activity_types.'{key}' = '{value}' is not an activity type "
                f"(expected one of: {', '.join(ACTIVITY_TYPES)})"
            )
    s = mapping["options"]
    if s["export_date"].strip():
        try:
            date.fromisoformat(s["export_date"].strip())
        except ValueError:
            raise LoadError(
                f"mapping: options.export_date = '{s['export_date']}' is not a date YYYY-MM-DD"
            ) from None
    if s["currency"].strip() and not re.fullmatch(r"[A-Za-z]{3}", s["currency"].strip()):
        raise LoadError(f"mapping: options.currency = '{s['currency']}' is not a 3-letter ISO currency code")
    if s["product_line_field"] not in DEFAULT_MAPPING["Product2"]:
        raise LoadError(
            f"mapping: options.product_line_field = '{s['product_line_field']}' "
            f"(expected one of: Name, ProductCode, Family)"
        )
