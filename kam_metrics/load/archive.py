"""Safe extraction of an export zip: no path escaping the target, no links, bounded size and count."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from kam_metrics.load.importers.base import LoadError


def check_zip(path: Path, *, max_entries: int, max_uncompressed_bytes: int) -> list[zipfile.ZipInfo]:
    """The zip's file entries after every safety check; LoadError naming the first offending entry."""
    name = Path(path).name
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise LoadError(f"{name}: not a readable zip file ({exc})", file=name) from exc
    with archive:
        infos = archive.infolist()
    if len(infos) > max_entries:
        raise LoadError(f"{name}: too many entries ({len(infos)} > {max_entries})", file=name)
    total = 0
    files = []
    for info in infos:
        entry = info.filename
        pure = PurePosixPath(entry.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or (pure.parts and pure.parts[0].endswith(":")):
            raise LoadError(f"{name}: entry '{entry}' points outside the export folder; refused", file=name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise LoadError(f"{name}: entry '{entry}' is a symbolic link; refused", file=name)
        if info.is_dir():
            continue
        total += info.file_size
        if total > max_uncompressed_bytes:
            raise LoadError(
                f"{name}: unpacks to more than {max_uncompressed_bytes // 1_000_000} MB; refused (zip bomb guard)",
                file=name,
            )
        files.append(info)
    return files


def extract_zip(path: Path, target: Path, *, max_entries: int, max_uncompressed_bytes: int) -> Path:
    """Extract a checked zip into `target`; returns the export folder (the single top folder if there is one)."""
    files = check_zip(path, max_entries=max_entries, max_uncompressed_bytes=max_uncompressed_bytes)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    written = 0
    with zipfile.ZipFile(path) as archive:
        for info in files:
            parts = [p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", ".")]
            if any(p.startswith("__MACOSX") for p in parts):
                continue
            dest = root.joinpath(*parts).resolve()
            if root not in dest.parents:
                raise LoadError(f"{Path(path).name}: entry '{info.filename}' points outside the export folder; refused")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > max_uncompressed_bytes:  # the header sizes may lie
                        raise LoadError(f"{Path(path).name}: unpacks to more than declared; refused (zip bomb guard)")
                    out.write(chunk)
    entries = [p for p in root.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return root
