"""Reading export files as text, for every importer: encodings, BOMs, binary files, ragged rows.

`read_raw_csv` returns every cell as text (empty cells as null) with `_source_row`, the 1-based
row number in the file with the header excluded. Rows whose field count differs from the header
are kept out of the frame and returned as `malformed` so they reach the quarantine, never vanish.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kam_metrics.load.contract import SOURCE_ROW
from kam_metrics.load.importers.base import LoadError, RawFile

BOM = b"\xef\xbb\xbf"


@dataclass
class TextTable:
    raw: RawFile
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (source row, reason)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes, name: str, *, legacy_encodings: bool) -> tuple[str, str]:
    """Text and encoding name; UTF-8 (BOM or not), else Windows-1252 when legacy encodings are allowed."""
    if data.startswith(BOM):
        data = data[len(BOM):]
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        return data.decode("utf-8"), encoding
    except UnicodeDecodeError as exc:
        if legacy_encodings:
            # Salesforce's weekly export is Windows-1252; its undefined bytes fall back to Latin-1.
            try:
                return data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                return data.decode("latin-1"), "latin-1"
        line = data[: exc.start].count(b"\n") + 1
        raise LoadError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02X} on line {line}); "
            "save the file as UTF-8 (with or without BOM)",
            file=name,
        ) from exc


def _check_text_file(data: bytes, name: str) -> None:
    if not data or data.isspace():  # as `not data.strip()`, without copying the file
        raise LoadError(f"{name}: the file is empty (expected a header row)", file=name)
    head = data[:8192]
    if b"\x00" in head or head.startswith((b"PK\x03\x04", b"PAR1", b"\xd0\xcf\x11\xe0")):
        raise LoadError(f"{name}: not a CSV file (binary content, e.g. a spreadsheet or archive)", file=name)


BIG_FILE_BYTES = 32 * 1024 * 1024
_READ_ERRORS = (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError)


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_raw_csv(path: Path, *, name: str | None = None, legacy_encodings: bool = False) -> TextTable:
    """Read a CSV file as text; raises LoadError for a file that cannot be read as a table."""
    name = name or path.name
    path = Path(path)
    if path.stat().st_size >= BIG_FILE_BYTES:
        # A big, plain UTF-8 file: Polars reads it from disk (no copy of the file in memory) while a
        # thread hashes it. Anything unusual (BOM, odd header, a row Polars refuses) takes the exact
        # path below, which reads the bytes.
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        if head and not head.isspace() and not head.startswith(BOM) and _header_is_utf8(head):
            _check_text_file(head, name)
            with ThreadPoolExecutor(max_workers=1) as pool:
                digest_job = pool.submit(_sha256_file, path)
                try:
                    frame = pl.read_csv(path, infer_schema=False, has_header=True, quote_char='"')
                except _READ_ERRORS:
                    frame = None
                digest = digest_job.result()
            if frame is not None:
                return _text_table(frame, name, digest, "utf-8", path.stat().st_size, [])
    data = path.read_bytes()
    return read_raw_csv_bytes(data, name, legacy_encodings=legacy_encodings)


def _header_is_utf8(data: bytes) -> bool:
    """Whether the header line (Polars decodes it leniently) is valid UTF-8; the rows Polars checks itself."""
    end = data.find(b"\n", 0, 1 << 20)
    prefix = data[: max(end + 1, 1 << 16)]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=False)
    except UnicodeDecodeError:
        return False
    return True


def read_raw_csv_bytes(data: bytes, name: str, *, legacy_encodings: bool = False) -> TextTable:
    _check_text_file(data, name)
    # The SHA-256 runs in a thread (hashlib releases the GIL) while Polars parses.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest_job = pool.submit(sha256_bytes, data)
        frame, malformed, encoding = _parse_csv(data, name, legacy_encodings)
        digest = digest_job.result()
    return _text_table(frame, name, digest, encoding, len(data), malformed)


def _text_table(frame: pl.DataFrame, name: str, digest: str, encoding: str, size: int,
                malformed: list[tuple[int, str]]) -> TextTable:
    frame = _clean_columns(frame, name)
    # Empty cells as null; Polars already reads unquoted empty fields as null, so only the columns
    # that still hold an empty string (a quoted "") need the pass.
    text_columns = [c for c in frame.columns if c != SOURCE_ROW]
    has_empty = frame.select([(pl.col(c).str.len_bytes() == 0).any().alias(c) for c in text_columns]).row(0) \
        if text_columns and frame.height else ()
    frame = frame.with_columns(
        [
            pl.when(pl.col(c).str.len_bytes() == 0).then(None).otherwise(pl.col(c)).alias(c)
            for c, empty in zip(text_columns, has_empty)
            if empty
        ]
    )
    if SOURCE_ROW not in frame.columns:
        frame = frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    raw = RawFile(name=name, sha256=digest, frame=frame, encoding=encoding, size_bytes=size)
    return TextTable(raw=raw, malformed=malformed)


def _parse_csv(data: bytes, name: str, legacy_encodings: bool) -> tuple[pl.DataFrame, list[tuple[int, str]], str]:
    """(frame of text, malformed rows, encoding). UTF-8 goes to Polars as bytes, without a decoded copy."""
    encoding = "utf-8-sig" if data.startswith(BOM) else "utf-8"
    payload = data[len(BOM):] if data.startswith(BOM) else data
    text: str | None = None
    if not _header_is_utf8(data):
        text, encoding = decode(data, name, legacy_encodings=legacy_encodings)  # LoadError unless legacy
        payload = text.encode("utf-8")
    try:
        # Rows with fewer fields than the header get their missing trailing fields as empty (Polars
        # pads them); rows with more fields make Polars fail and take the exact path below.
        frame = pl.read_csv(io.BytesIO(payload), infer_schema=False, has_header=True, quote_char='"')
        return frame, [], encoding
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError) as exc:
        if text is None:
            # Polars also refuses invalid UTF-8 in the rows: decode() names the byte and line
            # (or, for legacy exports, re-reads the file as Windows-1252).
            text, encoding = decode(data, name, legacy_encodings=legacy_encodings)
            if encoding not in ("utf-8", "utf-8-sig"):
                payload = text.encode("utf-8")
                try:
                    frame = pl.read_csv(io.BytesIO(payload), infer_schema=False, has_header=True, quote_char='"')
                    return frame, [], encoding
                except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError) as exc2:
                    exc = exc2
        frame, malformed = _read_with_csv_module(text, name, exc)
        return frame, malformed, encoding


def _read_with_csv_module(text: str, name: str, exc: Exception) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Exact, row-by-row read: rows whose field count differs from the header go to `malformed`."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=False))
    except csv.Error as err:  # pragma: no cover - csv with strict=False rarely raises
        raise LoadError(f"{name}: not a readable CSV file ({err})", file=name) from err
    if not rows:
        raise LoadError(f"{name}: the file is empty (expected a header row)", file=name)
    header = rows[0]
    width = len(header)
    good: list[list[str | None]] = []
    numbers: list[int] = []
    malformed: list[tuple[int, str]] = []
    for i, row in enumerate(rows[1:], start=1):
        if len(row) == width:
            good.append(row)
            numbers.append(i)
        elif len(row) == 0 or (len(row) == 1 and row[0] == "" and width > 1):
            malformed.append((i, "empty line"))
        else:
            malformed.append((i, f"row has {len(row)} fields, the header has {width}"))
    names = _dedupe(header)
    columns = {n: [r[j] for r in good] for j, n in enumerate(names)}
    frame = pl.DataFrame(columns, schema={n: pl.String for n in names})
    frame = frame.with_columns(pl.Series(SOURCE_ROW, numbers, dtype=pl.Int64))
    return frame, malformed


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_duplicated_{seen[n] - 1}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def _clean_columns(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Trim header names and strip a BOM that survived; refuse a header with empty names only."""
    cleaned = [c.strip().lstrip("\ufeff") for c in frame.columns]
    if all(c == "" for c in cleaned):
        raise LoadError(f"{name}: the header row is empty", file=name)
    cleaned = _dedupe([c or f"column_{i + 1}" for i, c in enumerate(cleaned)])
    return frame.rename(dict(zip(frame.columns, cleaned)))


def read_raw_parquet(path: Path, *, name: str | None = None) -> TextTable:
    """Read a Parquet file, every column cast to text for the raw layer."""
    name = name or path.name
    data = path.read_bytes()
    if not data:
        raise LoadError(f"{name}: the file is empty", file=name)
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several error types for a corrupt file
        raise LoadError(f"{name}: not a readable Parquet file ({exc.__class__.__name__})", file=name) from exc
    frame = frame.with_columns(
        [
            (pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.f") if frame.schema[c] in (pl.Datetime,) else pl.col(c))
            .cast(pl.String)
            .alias(c)
            for c in frame.columns
        ]
    )
    frame = _clean_columns(frame, name).with_row_index(SOURCE_ROW, offset=1).with_columns(
        pl.col(SOURCE_ROW).cast(pl.Int64)
    )
    return TextTable(raw=RawFile(name=name, sha256=sha256_bytes(data), frame=frame, size_bytes=len(data)))


def peek_header(path: Path, *, legacy_encodings: bool = False) -> list[str]:
    """The header row of a CSV file (trimmed, BOM stripped) from its first MiB, without reading the whole file.

    Undecodable bytes are replaced (Windows-1252 is tried first when legacy encodings are allowed); a header
    the csv module cannot split gives [].
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    if head.startswith(BOM):
        head = head[len(BOM):]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("cp1252" if legacy_encodings else "utf-8", errors="replace")
    try:
        row = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return []
    return [c.strip().lstrip("\ufeff") for c in row]


def find_file(folder: Path, wanted: str) -> Path | None:
    """The file in `folder` whose name equals `wanted`, case-insensitively; None for an empty name."""
    if not wanted.strip():
        return None
    exact = folder / wanted
    if exact.is_file():
        return exact
    lowered = wanted.strip().lower()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.lower() == lowered:
            return path
    return None
