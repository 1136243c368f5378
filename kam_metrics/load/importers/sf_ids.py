"""Salesforce record IDs: 15-character (case-sensitive) to 18-character (case-insensitive) form.

Salesforce shows 15-character IDs in the UI and reports and writes 18-character IDs in exports and
API extracts. The 3 extra characters are a checksum of the letter case of the first 15: for each
block of 5 characters, bit i is set when character i is an upper-case letter, and the 5-bit number
indexes the alphabet A–Z0–5. Every ID is normalised to 18 characters before joining.

An 18-character ID whose case was damaged (e.g. upper-cased by a spreadsheet) is repaired from its
checksum, so that `normalize_id(x.upper()) == normalize_id(x)` for every real ID.
"""

from __future__ import annotations

import re

SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

# Salesforce writes these for an empty lookup in the weekly Data Export.
EMPTY_LOOKUP_PLACEHOLDERS = frozenset({"000000000000000AAA", "000000000000000"})

_ID15 = re.compile(r"^[A-Za-z0-9]{15}$")
_ID18 = re.compile(r"^[A-Za-z0-9]{15}[A-Za-z0-5]{3}$")


# Upper-case ASCII letters → "1", every other character → "0": the case bits of an ID in one call.
_CASE_BITS = {c: "0" for c in range(128)} | {ord(c): "1" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def checksum_suffix(id15: str) -> str:
    """The 3-character case checksum of a 15-character ID.

    For each block of 5 characters, bit i is set when character i is an upper-case letter; the
    5-bit number indexes A–Z0–5. (Reversing a block of bits makes character 0 the lowest bit.)
    """
    bits = id15.translate(_CASE_BITS)
    return (
        SUFFIX_ALPHABET[int(bits[4::-1], 2)]
        + SUFFIX_ALPHABET[int(bits[9:4:-1], 2)]
        + SUFFIX_ALPHABET[int(bits[14:9:-1], 2)]
    )


def is_salesforce_id(value: str | None) -> bool:
    """True for a 15- or 18-character Salesforce ID (shape only)."""
    return bool(value) and (bool(_ID15.match(value)) or bool(_ID18.match(value)))


def normalize_id(value: str | None) -> str | None:
    """The 18-character form of a Salesforce ID; None for empty and the empty-lookup placeholder.

    Values that are not shaped like a Salesforce ID are returned trimmed and unchanged.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or value in EMPTY_LOOKUP_PLACEHOLDERS:
        return None
    if _ID15.match(value):
        return value + checksum_suffix(value)
    if _ID18.match(value):
        head, suffix = value[:15], value[15:].upper()
        if checksum_suffix(head) == suffix:
            return head + suffix
        return _restore_case(head, suffix)
    return value


def _restore_case(head: str, suffix: str) -> str:
    """Re-apply the letter case the checksum records to the first 15 characters."""
    chars = []
    for block in range(3):
        bits = SUFFIX_ALPHABET.index(suffix[block])
        for i, ch in enumerate(head[block * 5: block * 5 + 5]):
            chars.append(ch.upper() if bits & (1 << i) else ch.lower())
    return "".join(chars) + suffix


def key_prefix(value: str | None) -> str | None:
    """The 3-character object key prefix of an ID (001 account, 003 contact, 006 opportunity, …)."""
    return value[:3] if value and len(value) >= 3 else None

