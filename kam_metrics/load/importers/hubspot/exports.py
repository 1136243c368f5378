"""HubSpot export files: which file is which export (by headers, then name), the mapping's headers found in
a file, the mapping values checked, and the export date."""

from __future__ import annotations

import re
import tomllib
from datetime import date, timezone
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

from kam_metrics.load.contract import BUYING_ROLES, SOURCE_ROW, TABLES
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.importers.files import peek_header, read_raw_csv
from kam_metrics.load.importers.hubspot.context import ExportFile, HubSpotRead
from kam_metrics.load.importers.hubspot.fields import (
    ACTIVITY_KINDS,
    ID_KEY,
    KINDS,
    NAME_HINTS,
    NOT_HEADERS,
    QUIET_HEADERS,
    REQUIRED,
    SIGNATURE,
)
from kam_metrics.load.importers.hubspot.values import UNIT_ALIASES, norm_label, parse_time_zone
from kam_metrics.load.importers.mapping import Mapping


_DUP = re.compile(r"^(.*)_duplicated_\d+$")


class Headers:
    """Finds a mapping section's headers among a file's columns: exact first, else ignoring case and spacing,
    with the `<name>_duplicated_N` copies files.py makes of repeated headers."""

    def __init__(self, columns: Iterable[str]):
        self.exact: dict[str, list[str]] = {}
        self.loose: dict[str, list[str]] = {}
        for col in columns:
            if col == SOURCE_ROW:
                continue
            m = _DUP.match(col)
            base = m.group(1) if m else col
            self.exact.setdefault(base, []).append(col)
            self.loose.setdefault(norm_label(base), []).append(col)

    def find(self, header: str) -> list[str]:
        if not header:
            return []
        if header in self.exact:
            return self.exact[header]
        return self.loose.get(norm_label(header), [])

    def has(self, header: str) -> bool:
        return bool(self.find(header))


def classify(columns: list[str], name: str, m: Mapping) -> tuple[str | None, str]:
    """(kind, reason) of a file from its headers and name; (None, why) when it is not a HubSpot file."""
    headers = Headers(columns)
    lower = name.casefold()
    hinted = [k for k in KINDS if any(h in lower for h in NAME_HINTS[k])]
    matches = [k for k in KINDS if all(headers.has(m[k][key]) for key in SIGNATURE[k])]
    if len(matches) > 1:
        narrowed = [k for k in matches if k in hinted]
        matches = narrowed or matches
    if len(matches) > 1:
        # Prefer the kind whose signature names the most headers (deals need three, companies two).
        top = max(len(SIGNATURE[k]) for k in matches)
        matches = [k for k in matches if len(SIGNATURE[k]) == top]
    if len(matches) == 1:
        kind = matches[0]
        shown = " and ".join(f"'{m[kind][key]}'" for key in SIGNATURE[kind])
        return kind, f"{kind} file with {shown} headers"
    if len(matches) > 1:
        return None, f"headers fit several kinds ({', '.join(matches)})"
    by_name = [k for k in hinted if headers.has(m[k][ID_KEY[k]])]
    if len(by_name) == 1:
        kind = by_name[0]
        return kind, f"{kind} file by its name and its '{m[kind][ID_KEY[kind]]}' header"
    return None, "not a HubSpot companies, contacts, deals, calls, meetings or e-mails export"


def canonical_name(path: Path) -> str | None:
    """The contract table a file is named after (`revenue.csv` → revenue), else None."""
    if path.suffix.lower() not in (".csv", ".parquet"):
        return None
    stem = path.stem.lower()
    return stem if stem in TABLES else None


def export_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


_NAME_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def date_in_name(name: str) -> date | None:
    found = _NAME_DATE.findall(name)
    for text in reversed(found):
        try:
            return date.fromisoformat(text)
        except ValueError:
            continue
    return None


# Mapping checks.


def user_keys_of(path: Path | None) -> set[tuple[str, str]]:
    """(section, key) pairs the mapping file sets itself (already validated by load_mapping)."""
    if path is None:
        return set()
    data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    return {(section, key) for section, entries in data.items() if isinstance(entries, dict) for key in entries}


def check_mapping(m: Mapping, path: Path | None) -> timezone | ZoneInfo:
    """Check the mapping's values; returns the portal time zone."""
    where = str(path) if path else "mapping"

    def bad(msg: str) -> LoadError:
        return LoadError(f"{where}: {msg}", file=str(path) if path else None)

    for label, value in m["stages"].items():
        if value.strip().lower() not in ("won", "lost", "open"):
            raise bad(f"[stages] '{label}' = '{value}': expected won, lost or open")
    for label, value in m["buying_roles"].items():
        if value.strip().lower() not in BUYING_ROLES:
            raise bad(f"[buying_roles] '{label}' = '{value}': expected one of {', '.join(BUYING_ROLES)}")
    for label, value in m["activity_outcomes"].items():
        if value.strip().lower() not in ("held", "not_held"):
            raise bad(f"[activity_outcomes] '{label}' = '{value}': expected held or not_held")
    for kind, keys in REQUIRED.items():
        for key in keys:
            if not m[kind][key].strip():
                raise bad(f"'{kind}.{key}' cannot be empty: the {kind} export needs that column")
    for kind in ACTIVITY_KINDS:
        unit = m[kind]["duration_unit"].strip().lower()
        if unit not in UNIT_ALIASES:
            raise bad(f"'{kind}.duration_unit' = '{m[kind]['duration_unit']}': expected ms, s or minutes")
    export_date = m["options"]["export_date"].strip()
    if export_date:
        try:
            date.fromisoformat(export_date)
        except ValueError:
            raise bad(f"'options.export_date' = '{export_date}': expected YYYY-MM-DD") from None
    try:
        return parse_time_zone(m["options"]["portal_time_zone"])
    except ValueError as exc:
        raise bad(f"'options.portal_time_zone': {exc}") from None


def identify(
    folder: Path, m: Mapping, mapping_path: Path | None
) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """kind → file (pinned ones from [files], the others by headers and name) and the CSV files ignored,
    with why. Raises LoadError without a companies file."""
    found: dict[str, Path] = {}
    ignored: list[tuple[str, str]] = []
    pinned: set[str] = set()
    for kind in KINDS:
        name = m["files"][kind].strip()
        if not name:
            continue
        path = folder / name
        if not path.is_file():
            raise LoadError(
                f"{mapping_path}: 'files.{kind}' = '{name}' but {folder} has no such file", file=name
            )
        found[kind] = path
        pinned.add(path.name)
    candidates: dict[str, list[Path]] = {}
    for path in export_files(folder):
        if path.name in pinned or canonical_name(path) is not None:
            continue
        kind, reason = classify(peek_header(path), path.name, m)
        if kind is None:
            ignored.append((path.name, reason))
        elif kind in found:
            ignored.append((path.name, f"{kind} is pinned to {found[kind].name} in the mapping"))
        else:
            candidates.setdefault(kind, []).append(path)
    for kind, paths in candidates.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            raise LoadError(
                f"{folder}: several HubSpot {kind} exports ({names}); keep one or pin it with [files] {kind} = \"…\"",
                file=paths[1].name,
            )
        found[kind] = paths[0]
    if "companies" not in found:
        others = ", ".join(f"{k}: {p.name}" for k, p in found.items()) or "none"
        spreadsheets = [p.name for p in folder.iterdir() if p.suffix.lower() in (".xlsx", ".xls")]
        hint = (
            f"; spreadsheets are not read, export from HubSpot as CSV ({', '.join(sorted(spreadsheets))})"
            if spreadsheets
            else ""
        )
        heads = " and ".join(f"'{m['companies'][k]}'" for k in SIGNATURE["companies"])
        raise LoadError(
            f"{folder}: no HubSpot companies export (a CSV file with {heads} headers, or pinned with "
            f"[files] companies = \"…\"); HubSpot files found: {others}{hint}",
            column=m["companies"]["account_name"],
        )
    return found, ignored


def export_date_of(m: Mapping, found: dict[str, Path]) -> date | None:
    given = m["options"]["export_date"].strip()
    if given:
        return date.fromisoformat(given)
    dates = [d for d in (date_in_name(p.name) for p in found.values()) if d is not None]
    return max(dates) if dates else None


def open_file(load: HubSpotRead, kind: str, path: Path) -> ExportFile:
    """Read an identified file, resolve its headers; LoadError for a required or user-named header it lacks."""
    table = read_raw_csv(path)
    raw = table.raw
    load.result.raw_files.append(raw)
    headers = Headers(raw.frame.columns)
    section = load.mapping[kind]
    columns: dict[str, list[str]] = {}
    not_found: list[str] = []
    for key, header in section.items():
        if key in NOT_HEADERS:
            continue
        cols = headers.find(header)
        columns[key] = cols
        if cols or not header:
            continue
        if key in REQUIRED[kind]:
            raise LoadError(
                f"{raw.name}: the {kind} file has no '{header}' column (mapping [{kind}] {key}); "
                "rename it in the mapping file if your export calls it differently",
                file=raw.name, column=header,
            )
        if (kind, key) in load.user_keys:
            raise LoadError(
                f"{load.mapping_path}: [{kind}] {key} = '{header}' but {raw.name} has no such column",
                file=raw.name, column=header,
            )
        if key not in QUIET_HEADERS.get(kind, ()):
            not_found.append(f"'{header}' ({key})")
    if not_found:
        load.result.notes.append(f"{raw.name}: mapped headers not found, left empty: {', '.join(not_found)}")
    return ExportFile(kind=kind, path=path, raw=raw, malformed=table.malformed, columns=columns)
