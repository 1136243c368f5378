"""Rules every CRM importer shares: seniority inferred from a job title.

Keyword rules, first match wins (English, plus a few Swedish titles HubSpot portals use):
- vp: Vice President, VP, SVP, EVP, AVP
- c_level: Chief …, CEO, CFO, CTO, COO, CIO, CMO, CRO, CPO, CxO, President, Owner, Managing Partner,
  Founder, VD / Verkställande (direktör)
- director: Director, Head (of …), Direktör
- manager: Manager, Lead, Chef
- individual: any other title; unknown: no title.
VP comes first so that "Vice President" is not read as "President".
"""

from __future__ import annotations

import re

SENIORITY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("vp", re.compile(r"\b(vice[\s-]+president|s?e?vp|avp)\b", re.I)),
    (
        "c_level",
        re.compile(
            r"\b(chief|ceo|cfo|cto|coo|cio|cmo|cro|cpo|cxo|president|owner|managing partner|vd|verkställande)\b"
            r"|founder",
            re.I,
        ),
    ),
    ("director", re.compile(r"\b(director|head|direktör)\b", re.I)),
    ("manager", re.compile(r"\b(manager|lead)\b|chef\b", re.I)),
)


def seniority_from_title(title: str | None) -> str:
    """Contract seniority of a job title by the keyword rules above (empty title → unknown)."""
    if title is None or not title.strip():
        return "unknown"
    for level, pattern in SENIORITY_RULES:
        if pattern.search(title):
            return level
    return "individual"
