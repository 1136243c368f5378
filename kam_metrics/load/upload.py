"""Exports uploaded in the app: size limits, safe file names, zip checks, then the usual load.

Streamlit hands the Data page a list of (name, bytes); `load_upload` writes them to a scratch
folder (a single .zip is extracted with kam_metrics.load.archive's checks) and runs
pipeline.load_export with a progress callback. Nothing here imports streamlit.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePath

from kam_metrics.load.archive import extract_zip
from kam_metrics.load.importers.base import LoadError
from kam_metrics.load.pipeline import LoadReport, Progress, load_export
from kam_metrics.settings import Settings

SAFE_NAME = re.compile(r"^[\w][\w .()\-]*$", re.UNICODE)


def check_upload(files: list[tuple[str, bytes]], settings: Settings) -> None:
    """Refuse an upload that is off, empty, too big, or has unsafe file names; before anything is written."""
    if not settings.upload_enabled:
        raise LoadError("uploads are turned off on this server (setting upload_enabled = false); use `kam load`")
    if not files:
        raise LoadError("no files uploaded")
    total = sum(len(data) for _, data in files)
    limit = settings.max_upload_mb * 1_000_000
    if total > limit:
        raise LoadError(f"upload of {total / 1e6:.1f} MB is over the limit of {settings.max_upload_mb} MB (max_upload_mb)")
    zips = [name for name, _ in files if name.lower().endswith(".zip")]
    if zips and len(files) > 1:
        raise LoadError(f"{zips[0]}: upload either one .zip or the individual files of an export, not both")
    seen = set()
    for name, _ in files:
        base = PurePath(name.replace("\\", "/")).name
        if base != name or not SAFE_NAME.match(name) or ".." in name:
            raise LoadError(f"{name!r}: not an acceptable file name (use plain names such as accounts.csv)")
        if name.lower() in seen:
            raise LoadError(f"{name}: uploaded twice")
        seen.add(name.lower())


def load_upload(
    files: list[tuple[str, bytes]],
    data_dir: Path,
    *,
    fmt: str = "auto",
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Check and load an uploaded export (one zip or its files) into a new snapshot."""
    settings = settings or Settings()
    check_upload(files, settings)
    with tempfile.TemporaryDirectory(prefix="kam-upload-") as scratch:
        root = Path(scratch)
        if len(files) == 1 and files[0][0].lower().endswith(".zip"):
            archive = root / files[0][0]
            archive.write_bytes(files[0][1])
            folder = extract_zip(
                archive, root / "export", max_entries=settings.max_zip_entries,
                max_uncompressed_bytes=settings.max_zip_uncompressed_mb * 1_000_000,
            )
            source = folder
        else:
            source = root / "export"
            source.mkdir()
            for name, data in files:
                (source / name).write_bytes(data)
        kwargs = {"progress": progress} if progress else {}
        label = files[0][0] if len(files) == 1 else f"upload of {len(files)} files ({', '.join(n for n, _ in files)})"
        return load_export(source, data_dir, fmt=fmt, settings=settings, source_name=f"{label} (uploaded)", **kwargs)
