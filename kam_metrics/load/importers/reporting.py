"""The reporting currency of an export: the one rule every importer applies (docs/CRM_FORMATS.md, "Reporting
currency").

1. The setting `reporting_currency` (kam.toml) when it is set: a non-empty string. None, an empty string or a
   settings object without the attribute is "not set".
2. Else the export's own currency: a Salesforce org's corporate currency (CurrencyType, IsCorporate = 1), else
   the only currency of the export's money-bearing rows (every non-empty, valid currency code of them is the
   same one).
3. Else the default, EUR (the canonical format's currency when nothing says otherwise).

The importer converts to that currency (Salesforce rates are re-based to it) and names it, with why, in
`ImportResult.reporting_currency` / `reporting_currency_source` and in a note.
"""

from __future__ import annotations

import re
from typing import Iterable

#: The reporting currency when neither the setting nor the export names one.
DEFAULT_REPORTING_CURRENCY = "EUR"
#: What fixes an amount whose currency has no rate to the reporting currency.
FIX_MISSING_RATE = "set reporting_currency in kam.toml or add fx_rates.csv"
SOURCE_SETTING = "setting reporting_currency"

_CODE = re.compile(r"^[A-Z]{3}$")


def currency_setting(settings) -> str | None:
    """The reporting currency the settings set explicitly (upper case), else None (not set)."""
    value = getattr(settings, "reporting_currency", None)
    if isinstance(value, str) and value.strip():
        return value.strip().upper()
    return None


def valid_code(value: str | None) -> str | None:
    """An ISO 4217-shaped code (three letters, upper-cased), else None (empty, `000`, anything else)."""
    text = (value or "").strip().upper()
    return text if _CODE.match(text) else None


def only_currency(codes: Iterable[str | None]) -> tuple[str | None, list[str]]:
    """(the single valid currency among `codes` or None, every valid currency found, sorted)."""
    found = sorted({c for c in (valid_code(v) for v in codes) if c})
    return (found[0] if len(found) == 1 else None), found


def choose(
    settings,
    *,
    corporate: tuple[str, str] | None = None,
    currencies: list[str] | None = None,
    currency_origin: str = "",
) -> tuple[str, str]:
    """(reporting currency, why) by the rule of the module doc.

    `corporate`: (code, why) of the org's corporate currency, when the export has one; `currencies`: the valid
    currencies of the export's money-bearing rows; `currency_origin`: where they come from, for the sentence
    (e.g. "CurrencyIsoCode").
    """
    setting = currency_setting(settings)
    if setting:
        return setting, SOURCE_SETTING
    if corporate is not None:
        return corporate
    currencies = currencies or []
    if len(currencies) == 1:
        origin = f" ({currency_origin})" if currency_origin else ""
        return currencies[0], f"the only currency in the export{origin}"
    if currencies:
        return DEFAULT_REPORTING_CURRENCY, (
            f"the default, as the export has several currencies ({', '.join(currencies)}) and no corporate "
            f"currency; set reporting_currency in kam.toml to choose"
        )
    return DEFAULT_REPORTING_CURRENCY, "the default, as the export names no currency"


def reporting_note(code: str, source: str) -> str:
    """The load-report line naming the reporting currency and why."""
    return f"reporting currency {code}: {source}"


def missing_rates_note(what: str, missing: dict[str, int], reporting: str) -> str:
    """A note for rows whose currency has no rate to the reporting currency, with the fix."""
    shown = ", ".join(f"{code} ({n})" for code, n in sorted(missing.items()))
    return f"{what} in currencies without an fx rate to {reporting}: {shown}; {FIX_MISSING_RATE}"
