"""Importers: one per export format, each turning an export folder into staged canonical tables.

`get_importer(name)` returns the importer for "kam" (canonical), "salesforce" or "hubspot";
`detect_format(folder)` picks one from file names and headers and says why.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kam_metrics.load.importers.base import Importer, LoadError

FORMATS = {
    "kam": "kam_metrics.load.importers.canonical",
    "salesforce": "kam_metrics.load.importers.salesforce",
    "hubspot": "kam_metrics.load.importers.hubspot",
}
FORMAT_ALIASES = {"canonical": "kam"}


def get_importer(name: str) -> Importer:
    name = FORMAT_ALIASES.get(name, name)
    if name not in FORMATS:
        raise LoadError(f"unknown format '{name}' (expected one of: auto, {', '.join(FORMATS)})")
    return importlib.import_module(FORMATS[name]).IMPORTER


def available_importers() -> dict[str, Importer]:
    out = {}
    for name, module in FORMATS.items():
        try:
            out[name] = importlib.import_module(module).IMPORTER
        except ModuleNotFoundError:
            continue
    return out


def detect_format(folder: Path) -> tuple[str, str]:
    """(format, reason) for an export folder; LoadError when no importer recognises it."""
    for name, importer in available_importers().items():
        reason = importer.detect(folder)
        if reason:
            return name, reason
    listing = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "no files"
    raise LoadError(
        f"{folder}: not a recognised export (found {listing}); expected accounts.csv (canonical), "
        "Account.csv (Salesforce) or a HubSpot companies export"
    )
