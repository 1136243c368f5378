"""Mapping files: TOML that renames a CRM export's files, headers and values for an importer.

Each importer declares its defaults as nested dicts of strings, e.g.

    DEFAULTS = {
        "files": {"Account": "Account.csv", ...},
        "Account": {"Key_Account__c": "Key_Account__c", ...},   # our field → the export's header
        "stages": {"Closed won": "won", ...},                     # value maps may add keys
    }

`load_mapping(path, defaults, open_sections=...)` returns the defaults overlaid with the file. A
key that the defaults do not have (outside the sections listed in `open_sections`, whose keys are
free, such as value maps) is an error that names it, as is a value that is not a string.
`mapping_toml(defaults)` writes the defaults, commented, for `kam mapping init`.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from kam_metrics.load.importers.base import LoadError

Mapping = dict[str, dict[str, str]]


def load_mapping(path: Path | None, defaults: Mapping, *, open_sections: tuple[str, ...] = ()) -> Mapping:
    merged: Mapping = copy.deepcopy(defaults)
    if path is None:
        return merged
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"{path}: mapping file not found", file=str(path))
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LoadError(f"{path}: not a valid TOML mapping file: {exc}", file=str(path)) from exc
    for section, entries in data.items():
        if section not in merged:
            raise LoadError(
                f"{path}: unknown section [{section}] (expected one of: {', '.join(merged)})", file=str(path)
            )
        if not isinstance(entries, dict):
            raise LoadError(f"{path}: [{section}] must be a table of key = \"value\" lines", file=str(path))
        for key, value in entries.items():
            if section not in open_sections and key not in merged[section]:
                raise LoadError(
                    f"{path}: unknown key '{section}.{key}' (expected one of: {', '.join(merged[section])})",
                    file=str(path),
                )
            if not isinstance(value, str):
                raise LoadError(f"{path}: '{section}.{key}' must be a string, got {value!r}", file=str(path))
            merged[section][key] = value
    return merged


def mapping_toml(defaults: Mapping, title: str, notes: dict[str, str] | None = None) -> str:
    """The defaults as a TOML file whose every line is commented out, ready to edit."""
    out = [f"# {title}", "# Uncomment and change only what differs in your export.", ""]
    for section, entries in defaults.items():
        if notes and section in notes:
            out.append(f"# {notes[section]}")
        out.append(f'# ["{section}"]' if not section.isidentifier() else f"# [{section}]")
        for key, value in entries.items():
            k = key if key.isascii() and key.replace("_", "").replace("-", "").isalnum() else '"' + key.replace('"', '\\"') + '"'
            out.append(f'# {k} = "{value}"')
        out.append("")
    return "\n".join(out)
