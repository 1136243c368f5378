"""The frame of every page: set-up, the snapshot connection, the cached readers, the sidebar and its URL state.

Pages call `page(...)` first; it draws the navigation and the sidebar filters and returns a `View` (snapshot,
as_of, filters, settings) whose methods read cached metrics and queries, or stops the page with instructions
when no snapshot is loaded yet. Pages pass the metric or query FUNCTION itself (view.metric(metrics.account_metrics),
view.query(queries.account_profile, account_id)): go-to-definition works and a renamed metric fails at import.

Caching: one read-only DuckDB connection per snapshot file (st.cache_resource keyed on the snapshot
path, read from the CURRENT pointer on every rerun, so a new load switches sessions on their next
rerun); query results with st.cache_data keyed on plain values (snapshot path, the function's qualified name,
as_of, filters, arguments, settings fingerprint). Every call gets its own cursor (one per thread).

The sidebar filters (as_of, region, segment, KAM owner, key accounts only) live in session state, so
they persist across pages, and are mirrored in the URL query parameters, so a link reproduces the view.

Sign-in (kam_metrics/app/auth.py) is checked first: nobody signed in, or no role, stops the page before anything
is read. The View carries the user's Access; every metric it reads is narrowed to their scope (a KAM: their own
accounts, whatever filters a page or a link asks for).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import FunctionType
from typing import Any, Callable, Mapping, TypeVar

import duckdb
import streamlit as st

from kam_metrics import access as access_rules
from kam_metrics import metrics
from kam_metrics.access import Access
from kam_metrics.app import auth, formatting
from kam_metrics.app.formatting import escape_markdown
from kam_metrics.filters import Filters
from kam_metrics.load import warehouse
from kam_metrics.metrics import queries
from kam_metrics.metrics.presence import Presence
from kam_metrics.metrics.score_check import with_weights
from kam_metrics.programme import overlay
from kam_metrics.metrics.presence import presence as read_presence
from kam_metrics.settings import (
    DEFAULT_REPORTING_CURRENCY, Settings, SettingsError, load_settings, programme_store_location, resolve_data_dir,
    settings_toml,
)

_LOG = logging.getLogger(__name__)
ACCOUNT_PAGE = "pages/6_Account.py"
LOAD_HINT = "`kam demo && kam load demo_export`"

# (script, label, icon) of the sidebar navigation; URL paths come from the file names.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("app.py", "Weekly review", ":material/dashboard:"),
    ("pages/2_Engagement.py", "Engagement", ":material/forum:"),
    ("pages/3_Share_of_wallet.py", "Share of wallet", ":material/pie_chart:"),
    ("pages/4_Cost_to_serve.py", "Cost to serve & value", ":material/balance:"),
    ("pages/5_Programme_goals.py", "Programme goals", ":material/flag:"),
    ("pages/6_Account.py", "Account", ":material/domain:"),
    ("pages/7_Key_account_selection.py", "Key account selection", ":material/star:"),
    ("pages/8_Score_check.py", "Score check", ":material/fact_check:"),
    ("pages/9_Data.py", "Data", ":material/database:"),
)

# Query parameter names of the filters (a link reproduces the view).
QP_AS_OF, QP_REGION, QP_SEGMENT, QP_OWNER, QP_KEY_ONLY, QP_ACCOUNT = (
    "as_of", "region", "segment", "owner", "key_only", "account_id",
)
_STATE = "kam_filter_"  # canonical filter values in session state
_WIDGET = "kam_widget_"  # the sidebar widgets' own keys
_SEEN_SNAPSHOT = "kam_snapshot_seen"


def _initial_ttl() -> int:
    try:
        return load_settings().cache_ttl_seconds
    except (SettingsError, OSError):
        return Settings().cache_ttl_seconds


CACHE_TTL_SECONDS = _initial_ttl()


# ---------------------------------------------------------------- connection and cached readers


def _close(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except Exception:  # already closed or mid-query in another thread: nothing more to do
        pass


_SOURCE_SEPARATOR = "\x00"


def source_key(snapshot_path: str, store_location: str | None = None, store_event: int = 0) -> str:
    """What cached connections and results are keyed on: the snapshot file, and when the programme store holds
    anything, its location and last event id (so a save shows on the next rerun)."""
    if store_location is None or not store_event:
        return snapshot_path
    return _SOURCE_SEPARATOR.join((snapshot_path, store_location, str(int(store_event))))


@st.cache_resource(max_entries=4, show_spinner=False, on_release=_close)
def snapshot_connection(source: str) -> duckdb.DuckDBPyConnection:
    """The read-only connection to one snapshot file with the programme store laid over it (source_key), shared by
    all sessions (use a cursor per call)."""
    snapshot_path, _, rest = source.partition(_SOURCE_SEPARATOR)
    if not rest:
        return warehouse.connect_snapshot(Path(snapshot_path))
    location = rest.rpartition(_SOURCE_SEPARATOR)[0]
    try:
        store = overlay.open_existing_store(location)
    except Exception as exc:  # noqa: BLE001 - e.g. PostgreSQL unreachable: the snapshot alone still answers
        _LOG.warning("programme store %s cannot be read, showing the snapshot without it: %s", location, exc)
        return warehouse.connect_snapshot(Path(snapshot_path))
    try:
        return overlay.overlay_connection(Path(snapshot_path), store)
    finally:
        if store is not None:
            store.close()


@st.cache_resource(max_entries=4, show_spinner=False, on_release=lambda s: s.close() if s is not None else None)
def _programme_store(location: str):
    """The programme store, opened once per location and shared (reading its last event id is one small query)."""
    return overlay.open_existing_store(location)


def store_event(location: str) -> int:
    """The programme store's last event id (0 when there is no store yet, or it cannot be read)."""
    if not overlay.store_exists(location):  # a file not created yet: nothing to lay over (and nothing cached)
        return 0
    try:
        store = _programme_store(location)
        return 0 if store is None else store.last_event_id()
    except Exception as exc:  # noqa: BLE001 - the snapshot alone still answers
        _LOG.warning("programme store %s cannot be read: %s", location, exc)
        return 0


def settings_key(settings: Settings) -> str:
    """A short fingerprint of the settings, so cached results depend on them."""
    return hashlib.sha256(settings_toml(settings).encode("utf-8")).hexdigest()[:16]


# The modules whose public functions a page may read through the cache.
_READ_MODULES = (metrics, queries)
_R = TypeVar("_R")


def qualified_name(function: Callable[..., Any]) -> str:
    """'module.qualname' of a metric or query function exported by kam_metrics.metrics or its queries module.

    Anything else (a name as a string, a lambda, a function of another module) is refused with a TypeError.
    """
    if not isinstance(function, FunctionType):
        raise TypeError(f"pass the metric or query function itself, not {type(function).__name__} {function!r}")
    if not any(getattr(module, function.__name__, None) is function for module in _READ_MODULES):
        raise TypeError(f"{function.__module__}.{function.__qualname__} is not a function of kam_metrics.metrics "
                        "or kam_metrics.metrics.queries")
    return f"{function.__module__}.{function.__qualname__}"


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=1000)
def _cached_call(snapshot_path: str, function_name: str, args: tuple, kwargs: tuple, settings_fingerprint: str,
                 _function: Callable[..., Any], _settings: Settings | None) -> Any:
    """_function(cursor, *args, **kwargs[, settings]) on the snapshot; cached on its qualified name and the plain values."""
    cursor = snapshot_connection(snapshot_path).cursor()
    try:
        extra = dict(kwargs)
        if _settings is not None:
            extra["settings"] = _settings
        return _function(cursor, *args, **extra)
    finally:
        cursor.close()


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=16)
def _cached_presence(snapshot_path: str) -> Presence:
    """What the snapshot's export carried (kam_metrics.metrics.presence), once per snapshot."""
    cursor = snapshot_connection(snapshot_path).cursor()
    try:
        return read_presence(cursor)
    finally:
        cursor.close()


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=64)
def _cached_score_check(snapshot_path: str, as_of: date, filters: Filters, settings_fingerprint: str,
                        weights: tuple[tuple[str, float], ...] | None, _settings: Settings):
    """The score check's pairs for these weights (None: the settings'); the inputs come from the cached reader."""
    inputs = _cached_call(snapshot_path, qualified_name(metrics.score_check_inputs), (as_of, filters), (),
                          settings_fingerprint, metrics.score_check_inputs, _settings)
    settings = _settings if weights is None else with_weights(_settings, dict(weights))
    return metrics.score_check_pairs(inputs, settings)


@dataclass(frozen=True)
class View:
    """What a page shows: the snapshot, the as_of date, the account filters and the settings."""

    snapshot_path: str
    as_of: date
    filters: Filters
    settings: Settings
    status: queries.SnapshotStatus
    default_as_of: date
    settings_fingerprint: str = field(default="")
    source_key: str = field(default="")  # the snapshot with the programme store (source_key); "" = the snapshot
    access: Access = field(default=access_rules.LOCAL)  # who is looking: every read is narrowed to their scope

    @property
    def scope(self) -> Filters:
        """Every account they may see (no other filter): what a page passes for "all accounts"."""
        return self.access.scope_filters(Filters())

    def scoped(self, filters: Filters | None) -> Filters:
        """The filters (the view's when None) narrowed to what they may see."""
        return self.access.scope_filters(self.filters if filters is None else filters)

    @property
    def source(self) -> str:
        """What cached results are keyed on and read from: the snapshot with the programme store laid over it."""
        return self.source_key or self.snapshot_path

    @property
    def currency(self) -> str:
        return self.status.reporting_currency or self.settings.reporting_currency or DEFAULT_REPORTING_CURRENCY

    def has(self, table: str) -> bool:
        """Whether the loaded export contained this contract table."""
        return table in self.status.present_tables

    @property
    def presence(self) -> Presence:
        """The tables and columns the export carried (metrics.presence), read once per snapshot and cached."""
        return _cached_presence(self.source)

    def missing(self, table: str, column: str | None = None) -> str | None:
        """What would turn a figure on: "reviews.csv" or "accounts.executive_sponsor"; None when present."""
        return self.presence.missing(table, column)

    def metric(self, function: Callable[..., _R], *, as_of: date | None = None, filters: Filters | None = None,
               **kwargs) -> _R:
        """A metrics-engine function (e.g. metrics.account_metrics) at as_of for the filters, cached."""
        return _cached_call(
            self.source, qualified_name(function), (as_of or self.as_of, self.scoped(filters)),
            tuple(sorted(kwargs.items())), self.settings_fingerprint, function, self.settings,
        )

    def movement(self, date_from: date, date_to: date, *, filters: Filters | None = None,
                 account_id: str | None = None):
        """Why health moved between two dates (metrics.health_movement), cached."""
        return _cached_call(
            self.source, qualified_name(metrics.health_movement),
            (date_from, date_to, self.scoped(filters)),
            (("account_id", account_id),), self.settings_fingerprint, metrics.health_movement, self.settings,
        )

    def score_check_pairs(self, weights: Mapping[str, float] | None = None):
        """The score check's pairs (metrics.score_check_pairs) at as_of for the filters, scored with the settings'
        health weights or `weights` ("what if"); the inputs are read once and cached, each re-scoring too."""
        key = None if weights is None else tuple(sorted((k, float(v)) for k, v in weights.items()))
        return _cached_score_check(self.source, self.as_of, self.scoped(None), self.settings_fingerprint, key,
                                   self.settings)

    def query(self, function: Callable[..., _R], *args, with_settings: bool = False, **kwargs) -> _R:
        """A row query (e.g. queries.account_profile) with plain arguments, cached."""
        return _cached_call(
            self.source, qualified_name(function), args, tuple(sorted(kwargs.items())),
            self.settings_fingerprint if with_settings else "", function, self.settings if with_settings else None,
        )


# ---------------------------------------------------------------- the sidebar (filters in state and URL)


def _qp_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v != ""]


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _init_filter_state(options: dict[str, list[str]], bounds: tuple[date, date]) -> None:
    """Seed the filter state once per session from the URL (a shared link), ignoring values that do not exist."""
    if _STATE + "ready" in st.session_state:
        return
    as_of = _parse_date(st.query_params.get(QP_AS_OF))
    if as_of is not None and not (bounds[0] <= as_of <= bounds[1]):
        as_of = None
    st.session_state[_STATE + "as_of"] = as_of
    st.session_state[_STATE + "regions"] = [v for v in _qp_list(QP_REGION) if v in options["regions"]]
    st.session_state[_STATE + "segments"] = [v for v in _qp_list(QP_SEGMENT) if v in options["segments"]]
    st.session_state[_STATE + "kam_owners"] = [v for v in _qp_list(QP_OWNER) if v in options["kam_owners"]]
    st.session_state[_STATE + "key_only"] = st.query_params.get(QP_KEY_ONLY, "").lower() in ("true", "1", "yes")
    st.session_state[_STATE + "ready"] = True


def _copy_widget(name: str, default_as_of: date | None = None) -> None:
    value = st.session_state[_WIDGET + name]
    if name == "as_of":
        value = value if isinstance(value, date) and value != default_as_of else None
    st.session_state[_STATE + name] = value


def _clear_filters() -> None:
    for name, empty in (("as_of", None), ("regions", []), ("segments", []), ("kam_owners", []), ("key_only", False)):
        st.session_state[_STATE + name] = empty


def filter_query_params() -> dict[str, str | list[str]]:
    """The URL query parameters of the current filters (empty filters are left out)."""
    params: dict[str, str | list[str]] = {}
    as_of = st.session_state.get(_STATE + "as_of")
    if as_of:
        params[QP_AS_OF] = as_of.isoformat()
    for name, qp in (("regions", QP_REGION), ("segments", QP_SEGMENT), ("kam_owners", QP_OWNER)):
        values = st.session_state.get(_STATE + name) or []
        if values:
            params[qp] = list(values)
    if st.session_state.get(_STATE + "key_only"):
        params[QP_KEY_ONLY] = "true"
    return params


def _sync_query_params(extra: dict[str, str] | None = None) -> None:
    """Write the filters (and page parameters like account_id) into the URL, touching only what changed."""
    wanted = filter_query_params() | (extra or {})
    managed = {QP_AS_OF, QP_REGION, QP_SEGMENT, QP_OWNER, QP_KEY_ONLY} | set(extra or {})
    for name in managed:
        if name in wanted:
            value = wanted[name]
            current = st.query_params.get_all(name)
            if current != (value if isinstance(value, list) else [value]):
                st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]


def _option_text(value: Any) -> str:
    """A filter option as shown (the CRM value itself stays the option): no control or bidi characters, capped."""
    return formatting.safe_text(value, max_length=80)


def _sidebar_filters(view_seed: dict, user: Access = access_rules.LOCAL) -> tuple[date, Filters]:
    options, bounds, default_as_of = view_seed["options"], view_seed["bounds"], view_seed["default_as_of"]
    if not user.sees_all:  # a KAM picks among their own owners only, preset to them (a URL's others are ignored)
        options = options | {"kam_owners": access_rules.owners_in_scope(user, options["kam_owners"])}
    _init_filter_state(options, bounds)
    state = st.session_state
    if not user.sees_all:
        mine = [o for o in state.get(_STATE + "kam_owners") or [] if o in options["kam_owners"]]
        state[_STATE + "kam_owners"] = mine or list(options["kam_owners"])
    as_of = state.get(_STATE + "as_of") or default_as_of
    state[_WIDGET + "as_of"] = as_of
    for name in ("regions", "segments", "kam_owners", "key_only"):
        state[_WIDGET + name] = state[_STATE + name]
    with st.sidebar:
        st.markdown("**View**")
        st.date_input(
            "As of", key=_WIDGET + "as_of", min_value=bounds[0], max_value=bounds[1], format="YYYY-MM-DD",
            on_change=_copy_widget, args=("as_of", default_as_of),
            help=f"Time travel: figures as if the data ended on this date. Default: {default_as_of} "
                 "(the latest activity or revenue date, not after today).",
        )
        st.multiselect("Region", options["regions"], key=_WIDGET + "regions", on_change=_copy_widget,
                       args=("regions",), placeholder="All regions", format_func=_option_text)
        st.multiselect("Segment", options["segments"], key=_WIDGET + "segments", on_change=_copy_widget,
                       args=("segments",), placeholder="All segments", format_func=_option_text)
        st.multiselect("KAM owner", options["kam_owners"], key=_WIDGET + "kam_owners", on_change=_copy_widget,
                       args=("kam_owners",), placeholder="All owners", format_func=_option_text)
        st.toggle("Key accounts only", key=_WIDGET + "key_only", on_change=_copy_widget, args=("key_only",))
        if filter_query_params():
            st.button("Clear filters", on_click=_clear_filters, icon=":material/filter_alt_off:",
                      key="kam_clear_filters")
    filters = Filters(
        regions=tuple(state[_STATE + "regions"]), segments=tuple(state[_STATE + "segments"]),
        kam_owners=tuple(state[_STATE + "kam_owners"]), key_only=bool(state[_STATE + "key_only"]),
    )
    return as_of, user.scope_filters(filters)


def _navigation() -> None:
    with st.sidebar:
        st.markdown("### KAM Health")
        for script, label, icon in PAGES:
            st.page_link(script, label=label, icon=icon)
        st.divider()


def _no_snapshot(title: str, data_dir: Path) -> None:
    st.title(title)
    st.info(
        f"No data loaded yet in the data directory {escape_markdown(data_dir.name or data_dir)}. Load the demo with "
        f"{LOAD_HINT}, "
        "or your own export with `kam load PATH` (a folder or zip of the contract's CSV files: "
        "accounts.csv, activities.csv and revenue.csv at least), then reload this page.",
        icon=":material/upload_file:",
    )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=16)
def _snapshot_seed(snapshot_path: str, today: date) -> dict:
    """What the sidebar needs from a snapshot: status, filter options, the as_of range and default."""
    cursor = snapshot_connection(snapshot_path).cursor()
    try:
        status = queries.snapshot_status(cursor)
        options = queries.filter_options(cursor)
        first, last = queries.date_bounds(cursor)
        default = metrics.default_as_of(cursor, today=today)
    finally:
        cursor.close()
    first = first or default
    last = max(d for d in (last, default, today) if d is not None)
    return {"status": status, "options": options, "bounds": (min(first, default), last), "default_as_of": default}


def page(title: str, icon: str = ":material/monitoring:", *, caption: str | None = None,
         require_snapshot: bool = True) -> View | None:
    """Set up a page: config, navigation, settings, snapshot, sidebar filters.

    Without a snapshot the page says how to load one and stops, or (require_snapshot=False) returns None.
    """
    st.set_page_config(page_title=f"{title} · KAM Health", page_icon=icon, layout="wide")
    auth.sign_in_gate(title, PAGES[0][1])  # signed in (or sign-in not configured) before anything else
    data_dir = resolve_data_dir()
    try:
        settings = load_settings(data_dir=data_dir)
    except SettingsError as exc:
        _navigation()
        st.title(title)
        st.error(f"The settings file cannot be used: {escape_markdown(exc)}", icon=":material/error:")
        st.stop()
    user = auth.current_access(settings)  # a person without a role stops here, before any data is read
    _navigation()
    snapshot = warehouse.current_snapshot_path(data_dir)
    if snapshot is None:
        auth.sidebar_user(user)
        _no_snapshot(title, data_dir)
        if require_snapshot:
            st.stop()
        return None
    snapshot_path = str(snapshot.resolve())
    location = programme_store_location(settings, data_dir)
    source = source_key(snapshot_path, location, store_event(location))
    seed = _snapshot_seed(source, date.today())
    user = auth.current_access(settings, seed["options"]["kam_owners"])
    auth.sidebar_user(user)
    as_of, filters = _sidebar_filters(seed, user)
    status: queries.SnapshotStatus = seed["status"]
    view = View(snapshot_path=snapshot_path, as_of=as_of, filters=filters, settings=settings, status=status,
                default_as_of=seed["default_as_of"], settings_fingerprint=settings_key(settings), source_key=source,
                access=user)
    st.title(title)
    if caption:
        st.caption(caption)
    previous = st.session_state.get(_SEEN_SNAPSHOT)
    if previous is not None and previous != snapshot_path:
        st.info(f"Data updated: as of {view.default_as_of.isoformat()} (load {escape_markdown(status.load_id)}).",
                icon=":material/sync:")
    st.session_state[_SEEN_SNAPSHOT] = snapshot_path
    _sync_query_params()
    _filter_summary(view)
    return view


def _filter_summary(view: View) -> None:
    parts = [f"as of **{view.as_of.isoformat()}**" + (" (time travel)" if view.as_of != view.default_as_of else "")]
    f = view.filters
    owners = tuple(o for o in f.kam_owners if o != access_rules.NO_OWNER)
    for label, values in (("region", f.regions), ("segment", f.segments), ("owner", owners)):
        if values:
            parts.append(f"{label}: {escape_markdown(', '.join(values))}")
    if f.key_only:
        parts.append("key accounts only")
    st.caption(" · ".join(parts))


def data_status_line(view: View) -> None:
    """One line: which snapshot, as_of, when it was loaded and how many rows were quarantined."""
    s = view.status
    loaded = s.loaded_at.strftime("%Y-%m-%d %H:%M UTC") if s.loaded_at else "unknown time"
    source = Path(s.source_path).name if s.source_path else "unknown source"
    quarantine = (f"{s.quarantined_rows:,} row{'s' if s.quarantined_rows != 1 else ''} quarantined"
                  if s.quarantined_rows else "no rows quarantined")
    st.caption(
        f":material/database: Snapshot {escape_markdown(s.load_id)} · data as of {view.default_as_of.isoformat()} · "
        f"loaded {loaded} from {escape_markdown(source)} ({escape_markdown(s.format or 'unknown format')}) · {quarantine}"
    )


# ---------------------------------------------------------------- page helpers


def open_account(account_id: str) -> None:
    """Go to the Account page for this account, keeping the filters."""
    st.switch_page(ACCOUNT_PAGE, query_params=filter_query_params() | {QP_ACCOUNT: str(account_id)})


def current_settings() -> Settings:
    """The settings of the data directory (the page has already reported a broken settings file)."""
    return load_settings(data_dir=resolve_data_dir())
