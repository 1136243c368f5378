"""Typed settings: every default of docs/METRICS.md plus the app's own, overridable by kam.toml.

The file is read from `--config PATH`, else `kam.toml` in the data directory. A key the settings do
not know, or a value of the wrong type, is a `SettingsError` that names the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from kam_metrics.load.contract import ACTIVITY_TYPES, CASE_PRIORITIES

ENV_DATA_DIR = "KAM_DATA_DIR"
ENV_CONFIG = "KAM_CONFIG"
DEFAULT_DATA_DIR = "data"
CONFIG_FILE_NAME = "kam.toml"

HEALTH_COMPONENTS = (
    "recency", "trend", "breadth", "loyalty", "wallet", "profitability", "cadence", "relationship",
)
#: The relationship component's penalties (METRICS.md "Health score", relationship row), each a setting.
RELATIONSHIP_PENALTIES = (
    "champion_left", "champion_quiet", "no_decision_maker_engaged", "no_c_level_engaged",
    "key_account_without_sponsor",
)
SELECTION_INPUTS = ("revenue_ttm", "wallet_current", "net_margin_pct", "revenue_growth_pct", "engaged_contacts_90d")


class SettingsError(ValueError):
    """A settings file that cannot be used; the message names the file and the key."""


def _frozen(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Settings:
    # Money and time
    # None: the export's own currency (a Salesforce org's corporate currency, a single-currency export's
    # currency), EUR for a canonical export; a code here overrides that.
    reporting_currency: str | None = None
    default_gross_margin: float = 0.35
    # Lifetime value
    retention_rate: float = 0.90
    discount_rate: float = 0.10
    ltv_horizon_years: int = 5
    # Engagement weights and costs per activity type, cost per case priority
    activity_weights: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"email": 1, "call": 2, "meeting": 3, "workshop": 3, "site_visit": 4, "qbr": 5, "exec_meeting": 5, "other": 1}
        )
    )
    activity_costs: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"email": 5, "call": 25, "meeting": 150, "workshop": 600, "site_visit": 800, "qbr": 1200,
             "exec_meeting": 1000, "other": 20}
        )
    )
    case_costs: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"low": 50, "medium": 150, "high": 400, "critical": 1000})
    )
    # Health score
    health_weights: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"recency": 15, "trend": 15, "breadth": 15, "loyalty": 15, "wallet": 15, "profitability": 15, "cadence": 10,
             "relationship": 15}
        )
    )
    # Points taken off the relationship score's 100 for each flag that is true (a null flag takes nothing)
    relationship_penalties: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"champion_left": 60, "champion_quiet": 30, "no_decision_maker_engaged": 20, "no_c_level_engaged": 10,
             "key_account_without_sponsor": 20}
        )
    )
    # While champion_left is true, health is at most this (an account whose champion just left is never green)
    champion_left_health_cap: float = 69.0
    band_green_min: float = 70.0
    band_amber_min: float = 40.0
    recency_full_days: int = 14
    recency_zero_days: int = 90
    breadth_full_contacts: int = 5
    wallet_full_share: float = 0.5
    profitability_full_pct: float = 20.0
    profitability_zero_pct: float = -10.0
    health_history_weeks: int = 26
    # Below this health coverage (% of the applicable component weight), health is null, band insufficient_data
    min_health_coverage_pct: float = 50.0
    # Relationships and cadence
    multithread_min_contacts: int = 3
    champion_left_days: int = 90
    champion_quiet_days: int = 60
    plan_window_days: int = 90
    review_window_days: int = 30
    no_touch_alert_days: int = 30
    # Programme and selection
    key_account_min: int = 5
    key_account_max: int = 25
    goal_on_track_tolerance: float = 0.10
    goal_at_risk_tolerance: float = 0.25
    selection_weights: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"revenue_ttm": 25, "wallet_current": 25, "net_margin_pct": 20, "revenue_growth_pct": 15,
             "engaged_contacts_90d": 15}
        )
    )
    # Warehouse and app
    keep_snapshots: int = 5
    cache_ttl_seconds: int = 600
    upload_enabled: bool = True
    max_upload_mb: int = 200
    max_zip_entries: int = 2000
    max_zip_uncompressed_mb: int = 2000
    # The programme store (plans, reviews, goals, actions, wallet, profiles, contact roles, notes): None is
    # <data_dir>/programme.sqlite; a file path (relative to the data directory) or a postgresql:// URL.
    programme_store: str | None = None
    # Sign-in (kam_metrics/access.py): [access] role -> e-mails or "@domain"s, [people] e-mail -> kam_owner name
    access: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    people: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


DEFAULT_REPORTING_CURRENCY = "EUR"  # when neither the settings nor the export name a currency

# What a setting that is not set (None) means, for `kam settings`.
UNSET_MEANING = {
    "reporting_currency": "the export's own currency, e.g. a Salesforce org's corporate currency; EUR for a "
                          "canonical export",
    "programme_store": "programme.sqlite in the data directory",
}
# An example value printed (commented) for a setting that is not set.
UNSET_EXAMPLE = {"reporting_currency": "EUR", "programme_store": "postgresql://kam@db.example/kam"}
PROGRAMME_STORE_FILE = "programme.sqlite"

# The keys each mapping setting accepts (an unknown one is an error, a missing one keeps its default).
_MAPPING_KEYS = {
    "activity_weights": ACTIVITY_TYPES,
    "activity_costs": ACTIVITY_TYPES,
    "case_costs": CASE_PRIORITIES,
    "health_weights": HEALTH_COMPONENTS,
    "relationship_penalties": RELATIONSHIP_PENALTIES,
    "selection_weights": SELECTION_INPUTS,
}


def _check_type(key: str, value: Any, expected: type, source: str) -> Any:
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise SettingsError(
            f"{source}: setting '{key}' must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def settings_from_dict(data: Mapping[str, Any], source: str = "settings") -> Settings:
    """Build Settings from a parsed TOML mapping, checking every key and type."""
    defaults = Settings()
    types = {f.name: f.type for f in dataclasses.fields(Settings)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in types:
            raise SettingsError(f"{source}: unknown setting '{key}'")
        if key in ("access", "people"):
            changes[key] = _access_table(key, value, source)
        elif key in _MAPPING_KEYS:
            if not isinstance(value, dict):
                raise SettingsError(f"{source}: setting '{key}' must be a table like [{key}]")
            merged = dict(getattr(defaults, key))
            for sub, v in value.items():
                if sub not in _MAPPING_KEYS[key]:
                    raise SettingsError(
                        f"{source}: unknown key '{key}.{sub}' (expected one of {', '.join(_MAPPING_KEYS[key])})"
                    )
                merged[sub] = _check_type(f"{key}.{sub}", v, float, source)
                if merged[sub] < 0:
                    raise SettingsError(f"{source}: setting '{key}.{sub}' must be ≥ 0")
            changes[key] = _frozen(merged)
        else:
            expected = {"str": str, "str | None": str, "float": float, "int": int, "bool": bool}[types[key]]
            changes[key] = _check_type(key, value, expected, source)
    settings = dataclasses.replace(defaults, **changes)
    if settings.band_amber_min > settings.band_green_min:
        raise SettingsError(f"{source}: setting 'band_amber_min' must not exceed 'band_green_min'")
    if not 0.0 <= settings.min_health_coverage_pct <= 100.0:
        raise SettingsError(f"{source}: setting 'min_health_coverage_pct' must be between 0 and 100")
    if not 0.0 <= settings.champion_left_health_cap <= 100.0:
        raise SettingsError(f"{source}: setting 'champion_left_health_cap' must be between 0 and 100")
    if not any(v > 0 for v in settings.health_weights.values()):
        raise SettingsError(f"{source}: at least one of the health_weights must be above 0")
    if settings.programme_store is not None:
        store = settings.programme_store.strip()
        scheme = store.split("://", 1)[0].lower() if "://" in store else None
        if not store or (scheme is not None and scheme not in ("postgresql", "postgres")):
            raise SettingsError(f"{source}: setting 'programme_store' must be a file path or a postgresql:// URL, "
                                f"got {settings.programme_store!r}")
    if settings.keep_snapshots < 1:
        raise SettingsError(f"{source}: setting 'keep_snapshots' must be at least 1")
    return settings


#: The roles of [access], highest first (kam_metrics/access.py).
ACCESS_ROLES = ("admin", "champion", "leadership", "kam", "viewer")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_DOMAIN = re.compile(r"@[^@\s]+")


def _access_table(key: str, value: Any, source: str) -> Mapping[str, Any]:
    """[access] (each role a list of e-mails or "@domain"s) or [people] (e-mail = kam_owner name), checked."""
    if not isinstance(value, dict):
        raise SettingsError(f"{source}: setting '{key}' must be a table like [{key}]")
    out: dict[str, Any] = {}
    for sub, v in value.items():
        name = f"{key}.{sub}"
        if key == "access":
            if sub not in ACCESS_ROLES:
                raise SettingsError(f"{source}: unknown key '{name}' (expected one of {', '.join(ACCESS_ROLES)})")
            if not isinstance(v, list) or not all(isinstance(e, str) for e in v):
                raise SettingsError(f"{source}: setting '{name}' must be a list of e-mails or \"@domain\"s")
            for entry in v:
                if not (_EMAIL.fullmatch(entry.strip()) or _DOMAIN.fullmatch(entry.strip())):
                    raise SettingsError(f"{source}: setting '{name}': {entry!r} is neither an e-mail nor "
                                        "\"@domain\"")
            out[sub] = tuple(e.strip() for e in v)
        else:
            if not _EMAIL.fullmatch(sub.strip()):
                raise SettingsError(f"{source}: setting '{name}': the key must be an e-mail")
            if not isinstance(v, str) or not v.strip():
                raise SettingsError(f"{source}: setting '{name}' must be a kam_owner name (text)")
            out[sub.strip()] = v
    return MappingProxyType(out)


def load_settings(config: str | Path | None = None, data_dir: str | Path | None = None) -> Settings:
    """Settings from `config`, else $KAM_CONFIG, else `<data_dir>/kam.toml`, else the defaults."""
    path: Path | None = None
    if config:
        path = Path(config)
        if not path.is_file():
            raise SettingsError(f"{path}: settings file not found")
    elif os.environ.get(ENV_CONFIG):
        path = Path(os.environ[ENV_CONFIG])
        if not path.is_file():
            raise SettingsError(f"{path}: settings file not found (from ${ENV_CONFIG})")
    else:
        candidate = resolve_data_dir(data_dir) / CONFIG_FILE_NAME
        path = candidate if candidate.is_file() else None
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not a valid TOML file: {exc}") from exc
    return settings_from_dict(data, source=str(path))


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory: the argument, else $KAM_DATA_DIR, else ./data."""
    return Path(data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR)


def programme_store_location(settings: Settings, data_dir: str | Path | None = None) -> str:
    """Where the programme store is: the setting (a postgresql:// URL, or a path relative to the data
    directory), else programme.sqlite in the data directory."""
    store = (settings.programme_store or "").strip()
    if store.lower().startswith(("postgresql://", "postgres://")):
        return store
    base = resolve_data_dir(data_dir)
    return str(base / (store or PROGRAMME_STORE_FILE))


def settings_toml(settings: Settings | None = None) -> str:
    """The settings as a commented TOML document (the defaults unless given)."""
    s = settings or Settings()
    lines = ["# KAM Health settings (defaults from METRICS.md). Remove what you do not change."]
    tables = []
    for f in dataclasses.fields(Settings):
        value = getattr(s, f.name)
        if f.name in ("access", "people"):
            continue
        if f.name in _MAPPING_KEYS:
            tables.append(f"\n[{f.name}]")
            tables += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        elif value is None:
            example = _toml_value(UNSET_EXAMPLE.get(f.name, ""))
            lines.append(f"# {f.name} = {example}  (not set: {UNSET_MEANING.get(f.name, 'its default')})")
        else:
            lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines + tables + _access_tables(s)) + "\n"


def _access_tables(s: Settings) -> list[str]:
    """[access] and [people] as TOML lines (a commented example when not set)."""
    out = ["\n# Sign-in roles (README \"Sign-in and roles\"): each a list of e-mails or \"@domain\"s."]
    if not s.access:
        out += ["# [access]", '# admin = ["it@example.com"]', '# kam = ["@example.com"]']
    else:
        out.append("[access]")
        out += [f"{role} = [{', '.join(_toml_value(e) for e in entries)}]" for role, entries in s.access.items()]
    out.append("\n# The kam_owner name of each KAM's e-mail.")
    if not s.people:
        out += ["# [people]", '# "ana@example.com" = "Ana Grünewald"']
    else:
        out.append("[people]")
        out += [f"{_toml_value(email)} = {_toml_value(name)}" for email, name in s.people.items()]
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)
