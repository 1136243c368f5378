"""What the loaded export carried: the tables and columns the figures may use (METRICS.md "Data that is not there").

A table is absent when its file was missing or had no data rows; a column is absent when the export did not carry
it. A figure built on something absent is null ("—" on screen, with the file or column that would turn it on),
never zero. The load records what was carried in the snapshot's `export_columns` table; a snapshot written before
that table existed falls back to its present tables, each with every contract column. An activities file whose
rows carry no contact_id counts as lacking activities.contact_id ("or no activity carries one").

`key_absence(present)` says which account keys are null for lack of data and what would turn each on; the
engine (accounts.metrics_at) applies it, and the Data page can list what each missing file or column switches off.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import duckdb

from kam_metrics.load.contract import TABLE_ORDER, TABLES
from kam_metrics.load.warehouse import snapshot_info, table_exists


@dataclass(frozen=True)
class Presence:
    """The tables and (table, column) pairs an export carried."""

    tables: frozenset[str]
    columns: frozenset[tuple[str, str]]

    def has(self, table: str, column: str | None = None) -> bool:
        """Whether the export carried `table` (with data rows) and, when given, its `column`."""
        if column is None:
            return table in self.tables
        return (table, column) in self.columns

    def missing(self, table: str, column: str | None = None) -> str | None:
        """What would turn a figure on: "reviews.csv" or "accounts.executive_sponsor"; None when present."""
        if table not in self.tables:
            return f"{table}.csv"
        if column is not None and (table, column) not in self.columns:
            return f"{table}.{column}"
        return None

    @classmethod
    def everything(cls) -> "Presence":
        """Every contract table and column (hand-built frames in tests, and metrics computed without a snapshot)."""
        return cls(frozenset(TABLE_ORDER), frozenset((t, c.name) for t in TABLE_ORDER for c in TABLES[t].columns))


#: Presence per connection to a finished snapshot (one with export_columns: it never changes once written).
_SEEN: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def presence(con: duckdb.DuckDBPyConnection) -> Presence:
    """The tables and columns the snapshot's export carried (activities.contact_id only when an activity has one)."""
    try:
        if con in _SEEN:
            return _SEEN[con]
    except TypeError:  # a connection-like object that cannot be remembered
        pass
    if table_exists(con, "export_columns"):
        pairs = con.sql("SELECT table_name, column_name FROM export_columns").fetchall()
        found = _without_empty_activity_contacts(con, Presence(frozenset(t for t, _ in pairs), frozenset(pairs)))
        try:
            _SEEN[con] = found
        except TypeError:
            pass
        return found
    tables = _present_tables_without_columns(con)
    found = Presence(tables, frozenset((t, c.name) for t in tables for c in TABLES[t].columns))
    return _without_empty_activity_contacts(con, found)


def _without_empty_activity_contacts(con, found: Presence) -> Presence:
    """`found` less activities.contact_id when no activity row carries a contact (METRICS.md: then engaged
    contacts, breadth and single_threaded are null, as when the column is absent). Activities with data rows
    are in the snapshot's activities table."""
    if not found.has("activities", "contact_id"):
        return found
    carried = con.sql("SELECT EXISTS (SELECT 1 FROM activities WHERE contact_id IS NOT NULL"
                      " AND trim(contact_id) <> '')").fetchall()[0][0]
    if carried:
        return found
    return Presence(found.tables, found.columns - {("activities", "contact_id")})


# ---------------------------------------------------------------------------------------------------------
# Which account keys each input turns on (METRICS.md "Data that is not there")

_ACTIVITIES = (("activities", None),)
_ACTIVITY_CONTACTS = (("activities", None), ("activities", "contact_id"))
_CONTACTS = (("contacts", None),)
_REVENUE = (("revenue", None),)
_WALLET = (("wallet", None),)
_REVIEWS = (("reviews", None),)

#: The tables cost to serve is counted from (rules.COST_GROUPS); it counts those present, and is null when none is.
COST_TO_SERVE_SOURCES = ("service_costs", "activities", "cases")
#: Account keys built on cost_to_serve_ttm (null with it).
COST_TO_SERVE_KEYS = (
    "cost_to_serve_ttm", "net_contribution_ttm", "cost_to_serve_pct", "net_margin_pct", "value_to_date",
    "lifetime_value",
)

#: What each account key needs, every (table, column) of it (column None: the table with data rows). The keys
#: of COST_TO_SERVE_KEYS also need at least one of COST_TO_SERVE_SOURCES.
KEY_INPUTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "touches_90d": _ACTIVITIES,
    "touches_prior_90d": _ACTIVITIES,
    "weighted_touches_90d": _ACTIVITIES,
    "weighted_touches_prior_90d": _ACTIVITIES,
    "engagement_trend_pct": _ACTIVITIES,
    "days_since_last_touch": _ACTIVITIES,
    "engaged_contacts_90d": _ACTIVITY_CONTACTS,
    "single_threaded": _ACTIVITY_CONTACTS,
    "c_level_engaged_90d": (*_ACTIVITY_CONTACTS, *_CONTACTS, ("contacts", "seniority")),
    "decision_maker_engaged_90d": (*_ACTIVITY_CONTACTS, *_CONTACTS, ("contacts", "buying_role")),
    "champion_left": (*_CONTACTS, ("contacts", "buying_role"), ("contacts", "is_active"), ("contacts", "left_date")),
    "champion_quiet": (*_CONTACTS, ("contacts", "buying_role"), *_ACTIVITY_CONTACTS),
    "has_sponsor": (("accounts", "executive_sponsor"),),
    "plan_current": (*_REVIEWS, ("reviews", "review_type")),
    "review_current": _REVIEWS,
    "cadence_status": (*_REVIEWS, ("reviews", "review_type")),
    "nps_365d": (("surveys", None), ("surveys", "nps")),
    "nps_responses_365d": (("surveys", None), ("surveys", "nps")),
    "nps_net_365d": (("surveys", None), ("surveys", "nps")),
    "csat_365d": (("surveys", None), ("surveys", "csat")),
    "revenue_ttm": _REVENUE,
    "revenue_prior_ttm": _REVENUE,
    "revenue_growth_pct": _REVENUE,
    "gross_margin_ttm": _REVENUE,
    "wallet_current": _WALLET,
    "share_of_wallet": (*_WALLET, *_REVENUE),
    "wallet_headroom": (*_WALLET, *_REVENUE),
    **{k: _REVENUE for k in COST_TO_SERVE_KEYS if k not in ("cost_to_serve_ttm",)},
}


def cost_to_serve_sources(present: Presence) -> tuple[str, ...]:
    """The sources cost to serve counts: those of COST_TO_SERVE_SOURCES the export carried."""
    return tuple(t for t in COST_TO_SERVE_SOURCES if present.has(t))


def key_absence(present: Presence) -> dict[str, str]:
    """The account keys that are null for lack of data, each with what would turn it on (the first missing file
    or column, e.g. "activities.csv", "contacts.seniority"; for cost to serve the files it may count)."""
    out: dict[str, str] = {}
    for key, needs in KEY_INPUTS.items():
        for table, column in needs:
            missing = present.missing(table, column)
            if missing is not None:
                out[key] = missing
                break
    if not cost_to_serve_sources(present):
        for key in COST_TO_SERVE_KEYS:
            out.setdefault(key, " or ".join(f"{t}.csv" for t in COST_TO_SERVE_SOURCES))
    return out


def switched_off(present: Presence) -> dict[str, list[str]]:
    """What each missing file or column switches off: {"reviews.csv": ["plan_current", ...], ...} (account keys)."""
    out: dict[str, list[str]] = {}
    for key, missing in key_absence(present).items():
        out.setdefault(missing, []).append(key)
    return out


def _present_tables_without_columns(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    info = snapshot_info(con)
    if info.get("present_tables") is not None:
        return frozenset(t for t in info["present_tables"].split(",") if t)
    present = set()
    for table in TABLE_ORDER:
        if table_exists(con, table) and con.sql(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] > 0:
            present.add(table)
    return frozenset(present)
