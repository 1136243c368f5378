"""HubSpot importer: a folder of HubSpot CRM exports → staged canonical tables (DATA_CONTRACT.md).

Files (CRM_FORMATS.md, "HubSpot"). Each CSV file in the folder is identified by its headers, with the
file name as a tie-breaker, never by a fixed name; `[files]` in the mapping can pin a file name per kind:
- companies (required): headers `Record ID` + `Company name`        → accounts (+ wallet)
- contacts: `Record ID` + `First Name` + `Last Name`                → contacts
- deals: `Record ID` + `Deal Name` + `Deal Stage`                   → opportunities (+ revenue)
- calls / meetings / emails: `Record ID` + `Call Title` / `Meeting name` / `Email subject`, or a
  file name containing call / meeting / email with a `Record ID` header → activities
  (HubSpot names exports like `hubspot-crm-exports-all-companies-2024-05-01.csv`; the date in such a
  name is taken as the export date.)
A canonical `<table>.csv` / `<table>.parquet` in the folder is staged as given for the tables HubSpot does
not hold (revenue, wallet, fx_rates, service_costs, cases, surveys, goals, actions, reviews); a canonical
`revenue.csv` wins over revenue from closed-won deals, a canonical `wallet.csv` over the wallet property.

Both export variants are read: view exports (UTF-8 with BOM, CRLF, minimal quoting) and all-properties
exports (no BOM, LF, every field quoted, `Associated …` columns that can appear twice: files.py renames
the second to `<name>_duplicated_0` and this module merges them). Association cells hold several IDs
joined with `;`; the first ID counts (a deal with several companies counts for the first one, and the
notes give the number of such deals).

Values:
- Datetimes `YYYY-MM-DD HH:mm` carry no zone: they are in the portal's time zone, taken as UTC unless
  `[options] portal_time_zone` gives an IANA name (`Europe/Stockholm`) or an offset (`+01:00`); they are
  converted to UTC and truncated to the date. Dates `YYYY-MM-DD` and ISO datetimes are accepted too.
  Dates, numbers and booleans are parsed here into typed columns; a value that does not parse sends the
  row to the quarantine with its column and value.
- Owners are full names; a deactivated owner `x@y.com (Deactivated User)` becomes `x@y.com`.
- region: a `[companies] region` property when mapped, else the country (`Country/Region`) through
  COUNTRY_REGIONS below (EMEA / Americas / APAC), else the country itself; `[regions]` in the mapping adds
  or overrides countries (`"Sverige" = "EMEA"`).
- is_key_account: the mapped property (default header `Key Account`, a HubSpot checkbox); empty = false;
  without that header every account is staged as not key, and the notes say so.
- wallet: the mapped wallet property (default `Wallet Estimate`) → one wallet row per company for the
  export year (source `kam_estimate`); companies without a value are skipped by rule.
- seniority is inferred from the job title by keyword rules (`infer_seniority`, first match wins):
  Vice President / VP / SVP / EVP → vp; Chief / CEO / CFO / CTO / COO / CIO / CMO / CRO / CPO / President /
  Founder / Owner (Swedish VD / verkställande) → c_level; Director / Head (direktör) → director; Manager /
  Lead (…chef, as in Inköpschef) → manager; any other title → individual; no title → unknown. Keywords
  are whole words, so "Director" is not CTO; VP rules come first, so "Vice President" is not c_level.
- buying_role: the mapped property (default `Buying Role`, HubSpot's multi-select), labels translated by
  `[buying_roles]`; of several roles the first in the contract's order counts; unknown labels → unknown.
- Won and closed deals: the portal's own flags when the export has them (all-properties exports):
  `Is Closed Won` (true → won; false → lost when `Is closed` / `Is Deal Closed?` says closed, else open),
  else `Deal probability` (1 → won; 0 or a closed flag → lost); the notes say how many deals the flags
  decided. Without them, the stage labels through `[stages]` (won / lost / open), matched without regard
  to case and spacing; defaults cover HubSpot's English default pipeline and the internal stage ids. A
  label not in `[stages]` is open; the notes list such labels, warn when one looks closed
  (closed/won/lost/…), and name labels where a closed flag and `[stages]` disagree.
  Deals: `Pipeline` → product_line (map `[deals] product_line` to another property, or to "" for none).
- Revenue (when no canonical revenue file): each closed-won deal is one revenue row, id = the deal's
  Record ID, dated its Close Date, with its amount, product line and currency (`Currency`, else
  `Deal Currency Code`).
- Reporting currency (kam_metrics/load/importers/reporting.py): the setting reporting_currency when set,
  else the only currency of the deals' currency column, else EUR; named with why in the result and the
  notes, which also count deals whose currency neither it nor a canonical fx_rates.csv converts.
- Activities: activity_type by file (call / meeting / email); account = the first associated company,
  else the account of the first associated contact; contact = the first associated contact that is in
  the contacts table (none when no contacts file was read). Duration: the mapped duration column in the
  unit `duration_unit` (calls: `Call duration` in milliseconds, HubSpot's unit; `s` and `minutes` also
  accepted; `HH:MM:SS` values are read as a clock duration), else end time − activity date for meetings
  (`Meeting end time`), in minutes.

Rows left out by rule (`skipped`): contacts and activities with no associated company, deals that are
not closed-won (for revenue, also when they have no company or an unreadable value), closed-won deals
without an amount (for revenue), companies without a wallet estimate (for wallet), activities that were
not held (status/outcome mapped to `not_held` in `[activity_outcomes]`: canceled, no show, …) and
activities dated after the export date (future meetings). Rows that cannot be translated go to the
quarantine: an unparseable date, number or boolean, a deal without any company (as an opportunity; as
revenue only when it is won), a malformed CSV row. For each target table, every source row read is
staged, skipped or quarantined exactly once.

The mapping file (`kam mapping init --format hubspot` writes the template) can rename any header (a Swedish
export has `Företagsnamn`), pin file names, map stage, buying-role and outcome labels and set options. An
unknown key, a bad value or a header the mapping names that the file lacks is a LoadError naming it; a
default header not found is only reported in the notes (and required ones stop the load).

Modules: fields.py (the exports and properties read, mapping defaults), exports.py (which file is which
export, headers, mapping checks, export date), values.py (HubSpot value forms), tables.py (one staging step
per canonical table), context.py (what a read carries between steps), reader.py (the order of the steps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kam_metrics.load.importers.base import ImportResult
from kam_metrics.load.importers.files import peek_header
from kam_metrics.load.importers.hubspot.exports import canonical_name, classify, export_files
from kam_metrics.load.importers.hubspot.fields import DEFAULT_MAPPING, FORMAT, OPEN_SECTIONS, SECTION_NOTES
from kam_metrics.load.importers.hubspot.reader import read_export
from kam_metrics.load.importers.hubspot.values import (
    clean_owner,
    parse_duration_minutes,
    region_for_country,
    split_ids,
)
from kam_metrics.load.importers.mapping import mapping_toml
from kam_metrics.load.importers.rules import seniority_from_title as infer_seniority

__all__ = [
    "DEFAULT_MAPPING", "FORMAT", "IMPORTER", "OPEN_SECTIONS", "HubSpotImporter", "clean_owner", "infer_seniority",
    "mapping_template", "parse_duration_minutes", "region_for_country", "split_ids",
]


class HubSpotImporter:
    name = FORMAT

    def detect(self, folder: Path) -> str | None:
        """A reason when the folder holds a HubSpot companies export (or HubSpot-named export files)."""
        folder = Path(folder)
        if not folder.is_dir():
            return None
        files = [p for p in export_files(folder) if canonical_name(p) is None]
        for path in files:
            kind, reason = classify(peek_header(path), path.name, DEFAULT_MAPPING)
            if kind == "companies":
                return f"{reason} ({path.name})"
        named = [p.name for p in files if p.name.casefold().startswith("hubspot-crm-exports")]
        if named:
            return f"file names like HubSpot's exports ({named[0]})"
        return None

    def read(self, folder: Path, *, settings: Any = None, mapping: Path | None = None) -> ImportResult:
        """Read a HubSpot export folder into staged canonical tables (see the module doc)."""
        return read_export(Path(folder), mapping, settings)


IMPORTER = HubSpotImporter()


def mapping_template() -> str:
    """The HubSpot mapping file with every default commented out, for `kam mapping init --format hubspot`."""
    return mapping_toml(DEFAULT_MAPPING, "KAM Health: mapping for a HubSpot export", SECTION_NOTES)
