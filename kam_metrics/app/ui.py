"""The Streamlit layer shared by every page: snapshot connection, cached readers, the sidebar, page helpers.

This and the files in pages/ are the only modules that import Streamlit. Pages call `page(...)` first;
it returns a `View` (snapshot, as_of, filters, settings) whose methods read cached metrics and queries,
or stops the page with instructions when no snapshot is loaded yet.

Caching: one read-only DuckDB connection per snapshot file (st.cache_resource keyed on the snapshot
path, read from the CURRENT pointer on every rerun, so a new load switches sessions on their next
rerun); query results with st.cache_data keyed on plain values (snapshot path, function, as_of,
filters, arguments, settings fingerprint). Every call gets its own cursor (one per thread).

The sidebar filters (as_of, region, segment, KAM owner, key accounts only) live in session state, so
they persist across pages, and are mirrored in the URL query parameters, so a link reproduces the view.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import polars as pl
import streamlit as st
from polars.exceptions import PanicException

from kam_metrics.app import charts, formatting

from kam_metrics.metrics import queries

from kam_metrics.load import warehouse
from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.app.formatting import (
    currency_symbol, escape_markdown, format_metric, format_metric_delta, frame_to_csv, metric_kind,
)
from kam_metrics.settings import Settings, SettingsError, load_settings, resolve_data_dir, settings_toml

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
    ("pages/8_Data.py", "Data", ":material/database:"),
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


@st.cache_resource(max_entries=4, show_spinner=False, on_release=_close)
def snapshot_connection(snapshot_path: str) -> duckdb.DuckDBPyConnection:
    """The read-only connection to one snapshot file, shared by all sessions (use a cursor per call)."""
    return warehouse.connect_snapshot(Path(snapshot_path))


def settings_key(settings: Settings) -> str:
    """A short fingerprint of the settings, so cached results depend on them."""
    return hashlib.sha256(settings_toml(settings).encode("utf-8")).hexdigest()[:16]


_MODULES = {"metrics": "kam_metrics.metrics", "queries": "kam_metrics.metrics.queries"}


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=1000)
def _cached_call(snapshot_path: str, module: str, name: str, args: tuple, kwargs: tuple,
                 settings_fingerprint: str, _settings: Settings | None) -> Any:
    function = getattr(importlib.import_module(_MODULES[module]), name)
    cursor = snapshot_connection(snapshot_path).cursor()
    try:
        extra = dict(kwargs)
        if _settings is not None:
            extra["settings"] = _settings
        return function(cursor, *args, **extra)
    finally:
        cursor.close()


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

    @property
    def currency(self) -> str:
        return self.status.reporting_currency or self.settings.reporting_currency

    def has(self, table: str) -> bool:
        """Whether the loaded export contained this contract table."""
        return table in self.status.present_tables

    def metric(self, name: str, *, as_of: date | None = None, filters: Filters | None = None, **kwargs) -> Any:
        """A metrics-engine function (kam_metrics.metrics.<name>) at as_of for the filters, cached."""
        return _cached_call(
            self.snapshot_path, "metrics", name,
            (as_of or self.as_of, self.filters if filters is None else filters),
            tuple(sorted(kwargs.items())), self.settings_fingerprint, self.settings,
        )

    def movement(self, date_from: date, date_to: date, *, filters: Filters | None = None,
                 account_id: str | None = None) -> pl.DataFrame:
        """Why health moved between two dates (kam_metrics.metrics.health_movement), cached."""
        return _cached_call(
            self.snapshot_path, "metrics", "health_movement",
            (date_from, date_to, self.filters if filters is None else filters),
            (("account_id", account_id),), self.settings_fingerprint, self.settings,
        )

    def query(self, name: str, *args, with_settings: bool = False, **kwargs) -> Any:
        """A row query (kam_metrics.metrics.queries.<name>), cached."""
        return _cached_call(
            self.snapshot_path, "queries", name, args, tuple(sorted(kwargs.items())),
            self.settings_fingerprint if with_settings else "", self.settings if with_settings else None,
        )


# ---------------------------------------------------------------- metric definitions (help tooltips)


@st.cache_resource(show_spinner=False)
def _definitions() -> dict[str, str]:
    try:
        reference = importlib.import_module("kam_metrics.metrics.reference")
        return {key: getattr(d, "definition", str(d)) for key, d in reference.metric_definitions().items()}
    except (ImportError, AttributeError, OSError, ValueError):
        return {}


def metric_help(key: str, extra: str | None = None) -> str | None:
    """The METRICS.md definition of a key, for a help tooltip (None when unknown)."""
    definition = _definitions().get(key)
    text = f"**{key}**: {definition}" if definition else None
    if extra:
        text = f"{text}\n\n{extra}" if text else extra
    return text


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


def _sidebar_filters(view_seed: dict) -> tuple[date, Filters]:
    options, bounds, default_as_of = view_seed["options"], view_seed["bounds"], view_seed["default_as_of"]
    _init_filter_state(options, bounds)
    state = st.session_state
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
    return as_of, filters


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
        from kam_metrics.metrics import default_as_of

        status = queries.snapshot_status(cursor)
        options = queries.filter_options(cursor)
        first, last = queries.date_bounds(cursor)
        default = default_as_of(cursor, today=today)
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
    _navigation()
    data_dir = resolve_data_dir()
    try:
        settings = load_settings(data_dir=data_dir)
    except SettingsError as exc:
        st.title(title)
        st.error(f"The settings file cannot be used: {escape_markdown(exc)}", icon=":material/error:")
        st.stop()
    snapshot = warehouse.current_snapshot_path(data_dir)
    if snapshot is None:
        _no_snapshot(title, data_dir)
        if require_snapshot:
            st.stop()
        return None
    snapshot_path = str(snapshot.resolve())
    seed = _snapshot_seed(snapshot_path, date.today())
    as_of, filters = _sidebar_filters(seed)
    status: queries.SnapshotStatus = seed["status"]
    view = View(snapshot_path=snapshot_path, as_of=as_of, filters=filters, settings=settings, status=status,
                default_as_of=seed["default_as_of"], settings_fingerprint=settings_key(settings))
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
    for label, values in (("region", f.regions), ("segment", f.segments), ("owner", f.kam_owners)):
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


def needs(view: View, table: str, what: str | None = None) -> bool:
    """Whether the export has `table`; when not, say which file turns the view on and return False."""
    if view.has(table):
        return True
    what = what or queries.VIEW_NEEDS.get(table, "this view")
    st.info(f"Add {table}.csv to your export to see {what}.", icon=":material/add_notes:")
    return False


def empty(message: str) -> None:
    st.info(message, icon=":material/info:")


def chart(figure, *, key: str | None = None, select_account: bool = False) -> None:
    """Draw a Plotly figure; with select_account, clicking a point whose customdata is an account opens it."""
    if not select_account:
        st.plotly_chart(figure, key=key, config={"displaylogo": False})
        return
    event = st.plotly_chart(figure, key=key, on_select="rerun", selection_mode=("points",),
                            config={"displaylogo": False})
    points = (getattr(event, "selection", None) or {}).get("points", []) if event else []
    for point in points:
        account_id = point.get("customdata")
        if isinstance(account_id, list):
            account_id = account_id[0] if account_id else None
        if account_id:
            open_account(str(account_id))


@dataclass(frozen=True)
class Kpi:
    """One KPI tile: a METRICS.md key, its label, value, change and help."""

    key: str
    label: str
    value: str
    delta: str | int | None = None
    help: str | None = None
    delta_color: str = "normal"
    delta_description: str | None = None


def kpi_tiles(kpis: Sequence[Kpi], columns: int = 4) -> None:
    """Draw KPI tiles in rows of `columns`."""
    for start in range(0, len(kpis), columns):
        cols = st.columns(columns)
        for col, kpi in zip(cols, kpis[start:start + columns]):
            with col:
                st.metric(kpi.label, kpi.value, delta=kpi.delta, help=kpi.help, delta_color=kpi.delta_color,
                          border=True, delta_description=kpi.delta_description)


def kpi(key: str, label: str, value: Any, currency: str, *, change: Any = None, extra_help: str | None = None,
        delta_color: str = "normal", description: str | None = None) -> Kpi:
    """A KPI tile for a METRICS.md key, its value written the way the key asks and its change as the delta."""
    delta: Any = format_metric_delta(key, change, currency) if change is not None else None
    if isinstance(delta, str) and not any(ch in "123456789" for ch in delta):
        delta = 0  # no change at the precision shown: grey, no arrow
    return Kpi(key=key, label=label, value=format_metric(key, value, currency), delta=delta,
               help=metric_help(key, extra_help), delta_color=delta_color, delta_description=description)


# ---------------------------------------------------------------- tables


_LABELS = {
    "account_name": "Account", "account_id": "ID", "is_key_account": "Key", "kam_owner": "KAM owner",
    "ttm": "TTM", "pct": "%", "90d": "90 d", "365d": "365 d", "nps": "NPS", "csat": "CSAT", "hhi": "HHI",
    "id": "ID", "c": "C",
}


@st.cache_resource(show_spinner=False)
def _reference_labels() -> dict[str, str]:
    try:
        reference = importlib.import_module("kam_metrics.metrics.reference")
        return {key: d.label for key, d in reference.metric_definitions().items() if getattr(d, "label", None)}
    except (ImportError, AttributeError, OSError, ValueError):
        return {}


def column_label(name: str) -> str:
    """A readable column header for a key: its kam_metrics.metrics.reference label, else the words ('revenue_ttm' → 'Revenue TTM')."""
    if name in _LABELS:
        return _LABELS[name]
    if name in _reference_labels():
        return _reference_labels()[name]
    words = [(_LABELS.get(w, w)) for w in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


_PLAIN_INTEGERS = frozenset({"year", "wallet_year", "source_row", "rating", "attitude", "rank", "position"})


def _column_config(frame: pl.DataFrame, currency: str, labels: dict[str, str] | None) -> dict:
    config: dict[str, Any] = {}
    sym = currency_symbol(currency)
    for name, dtype in frame.schema.items():
        label = (labels or {}).get(name) or column_label(name)
        kind = metric_kind(name)
        if dtype == pl.Boolean:
            config[name] = st.column_config.CheckboxColumn(label)
        elif dtype.is_numeric():
            if kind == "money":
                config[name] = st.column_config.NumberColumn(f"{label} ({sym.strip()})", format="%,.0f")
            elif name.endswith("_pct"):
                config[name] = st.column_config.NumberColumn(label, format="%.1f%%")
            elif name in _PLAIN_INTEGERS:
                config[name] = st.column_config.NumberColumn(label, format="%d")
            elif kind == "count" or dtype.is_integer():
                config[name] = st.column_config.NumberColumn(label, format="%,d")
            else:
                config[name] = st.column_config.NumberColumn(label, format="%,.1f")
        elif dtype == pl.Date:
            config[name] = st.column_config.DateColumn(label, format="YYYY-MM-DD")
        elif isinstance(dtype, pl.Datetime):
            config[name] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")
        else:
            config[name] = st.column_config.TextColumn(label)
    return config


def display_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame ready to show and export: ratio keys become `<key>_pct` (× 100), list and struct columns text."""
    exprs = []
    for name, dtype in frame.schema.items():
        if name in formatting.RATIO_KEYS and dtype.is_numeric():
            exprs.append((pl.col(name) * 100).alias(f"{name}_pct"))
        elif isinstance(dtype, pl.List):
            exprs.append(pl.col(name).list.eval(pl.element().cast(pl.String)).list.join(", ").alias(name))
        elif isinstance(dtype, pl.Struct):
            exprs.append(pl.col(name).struct.json_encode().alias(name))
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


def table(frame: pl.DataFrame, *, key: str, currency: str = "EUR", file_name: str | None = None,
          labels: dict[str, str] | None = None, link_accounts: bool = True, height: int | str = "auto",
          hide: Iterable[str] = (), max_rows: int | None = None) -> None:
    """A table with a CSV download (all rows); with link_accounts, selecting a row opens that account's page."""
    exported = display_frame(frame)
    # On screen, CRM text loses control and bidi-override characters; the CSV keeps the data as loaded.
    shown = formatting.safe_text_columns(exported.head(max_rows) if max_rows is not None else exported)
    config = _column_config(shown, currency, labels)
    for name in hide:
        if name in config:
            config[name] = None
    selectable = link_accounts and "account_id" in shown.columns and shown.height > 0
    event = st.dataframe(
        shown, key=key, hide_index=True, column_config=config, height=height, placeholder="—",
        on_select="rerun" if selectable else "ignore", selection_mode="single-row",
    )
    left, right = st.columns([3, 1])
    with left:
        if selectable:
            st.caption("Select a row to open the account.")
    with right:
        # The CSV is written when the button is clicked, not on every render (tens of thousands of rows take
        # a good part of a second to escape and write).
        st.download_button(
            "Download CSV", data=lambda: frame_to_csv(exported), file_name=f"{file_name or key}.csv",
            mime="text/csv", key=f"{key}_csv", icon=":material/download:", on_click="ignore",
        )
    if selectable and event is not None:
        rows = event.selection.rows if hasattr(event, "selection") else []
        if rows:
            open_account(str(shown["account_id"][rows[0]]))


# ---------------------------------------------------------------- frame helpers the pages use


def key_accounts(accounts: pl.DataFrame) -> pl.DataFrame:
    """Only the key accounts."""
    if accounts.is_empty() or "is_key_account" not in accounts.columns:
        return accounts
    return accounts.filter(pl.col("is_key_account"))


def focus_accounts(accounts: pl.DataFrame, limit: int = 30, by: str = "revenue_ttm") -> tuple[pl.DataFrame, str]:
    """The accounts a per-account chart shows: the key accounts in the filter, else the top `limit` by revenue."""
    keys = key_accounts(accounts)
    if not keys.is_empty():
        chosen = keys.sort(by, descending=True, nulls_last=True).head(limit)
        note = f"key accounts ({chosen.height})" + (f", top {limit} by {column_label(by)}" if keys.height > limit else "")
        return chosen, note
    chosen = accounts.sort(by, descending=True, nulls_last=True).head(limit)
    return chosen, f"top {chosen.height} accounts by {column_label(by)} (no key account in this filter)"


def rows_for(frame: pl.DataFrame, account_ids: Iterable[str] | str) -> pl.DataFrame:
    """The rows of these accounts."""
    if frame.is_empty() or "account_id" not in frame.columns:
        return frame
    ids = [account_ids] if isinstance(account_ids, str) else list(account_ids)
    return frame.filter(pl.col("account_id").is_in(ids))


def with_names(frame: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """The frame with account_name (and is_key_account) joined from the accounts, name first."""
    if frame.is_empty() or "account_id" not in frame.columns:
        return frame
    extra = [c for c in ("account_name", "is_key_account") if c not in frame.columns and c in accounts.columns]
    if not extra:
        return frame
    joined = frame.join(accounts.select("account_id", *extra), on="account_id", how="left")
    first = [c for c in ("account_name", "account_id", "is_key_account") if c in joined.columns]
    return joined.select(*first, *[c for c in joined.columns if c not in first])


def pick(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """The named columns that exist, in that order."""
    return frame.select([c for c in columns if c in frame.columns])


def sort_by(frame: pl.DataFrame, column: str, descending: bool = False) -> pl.DataFrame:
    if frame.is_empty() or column not in frame.columns:
        return frame
    return frame.sort(column, descending=descending, nulls_last=True)


def where(frame: pl.DataFrame, column: str, value: Any) -> pl.DataFrame:
    """Rows whose column equals value (None: is null)."""
    if frame.is_empty() or column not in frame.columns:
        return frame
    return frame.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)


def where_not_null(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    if frame.is_empty() or column not in frame.columns:
        return frame
    return frame.filter(pl.col(column).is_not_null())


def first_row(frame: pl.DataFrame) -> dict | None:
    return frame.row(0, named=True) if frame is not None and not frame.is_empty() else None


def kpi_values(kpis: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """programme_kpis as {key: {value, value_7d_ago, change}}."""
    return {row["key"]: row for row in kpis.iter_rows(named=True)} if not kpis.is_empty() else {}


def value_counts(frame: pl.DataFrame, column: str, order: Sequence[Any]) -> tuple[list[str], list[int]]:
    """Counts of a column's values in a given order (others appended), for small bar charts."""
    if frame.is_empty() or column not in frame.columns:
        return [], []
    counts = dict(frame.group_by(column).len().iter_rows())
    keys = [k for k in order if k in counts] + sorted((k for k in counts if k not in order), key=str)
    return [str(k if k is not None else "none").replace("_", " ") for k in keys], [counts[k] for k in keys]


def sum_where(frame: pl.DataFrame, column: str, flag: str) -> float | None:
    """Σ column over rows where flag is true (e.g. revenue of key accounts)."""
    if frame.is_empty() or column not in frame.columns or flag not in frame.columns:
        return None
    return float(frame.filter(pl.col(flag)).select(pl.col(column).sum()).item() or 0.0)


def health_movers(movement: pl.DataFrame, accounts: pl.DataFrame, limit: int = 5) -> pl.DataFrame:
    """The accounts whose health changed most between the two dates (|change| largest first), named."""
    if movement.is_empty():
        return pl.DataFrame(schema={"account_id": pl.String, "health_from": pl.Float64, "health_to": pl.Float64,
                                    "health_change": pl.Float64})
    rows = movement.filter((pl.col("component") == "health") & pl.col("change").is_not_null()
                           & (pl.col("change") != 0))
    rows = rows.filter(pl.col("account_id").is_in(accounts["account_id"].to_list()))
    top = rows.with_columns(pl.col("change").abs().alias("_size")).sort("_size", descending=True).head(limit)
    top = top.select("account_id", pl.col("contribution_from").alias("health_from"),
                     pl.col("contribution_to").alias("health_to"), pl.col("change").alias("health_change"))
    return with_names(top, accounts)


def components_only(movement: pl.DataFrame, account_id: str) -> pl.DataFrame:
    """One account's movement rows of the seven components (without the health total)."""
    if movement.is_empty():
        return movement
    return movement.filter((pl.col("account_id") == account_id) & (pl.col("component") != "health"))


def account_choices(accounts: pl.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Account ids for a picker and their display text ('Name (ID) ★' for key accounts)."""
    if accounts.is_empty():
        return [], {}
    ids = accounts["account_id"].to_list()
    names = accounts["account_name"].to_list()
    keys = accounts["is_key_account"].to_list() if "is_key_account" in accounts.columns else [False] * len(ids)
    return ids, {i: f"{formatting.safe_text(n, max_length=80)} ({i})" + (" ★" if k else "")
                 for i, n, k in zip(ids, names, keys)}


def md(value: Any) -> str:
    """CRM text escaped for st.markdown / st.caption / st.subheader."""
    return escape_markdown(value)


def fmt(key: str, value: Any, currency: str = "EUR") -> str:
    return format_metric(key, value, currency)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------- page assemblies (named, so pages stay declarative)


WEEK = timedelta(days=7)
DELTA_NOTE = "vs 7 days earlier"


def programme_tiles(view: View) -> list[Kpi]:
    """The weekly review's KPI tiles: programme keys with their change against 7 days earlier."""
    k = kpi_values(view.metric("programme_kpis"))
    accounts = view.metric("account_metrics")
    # 7 days earlier only the key accounts' revenue is shown: revenue_ttm alone, not every account key.
    accounts_before = view.query("revenue_at", view.as_of - WEEK, view.filters)
    cur = view.currency

    def tile(key: str, label: str, needs: str | None = None, **kw) -> Kpi:
        row = k.get(key, {})
        note = DELTA_NOTE if needs is None or view.has(needs) else f"needs {needs}.csv"
        return kpi(key, label, row.get("value"), cur, change=row.get("change"), description=note, **kw)

    count = k.get("key_account_count", {}).get("value")
    lo, hi = view.settings.key_account_min, view.settings.key_account_max
    inside = count is not None and lo <= count <= hi
    key_revenue = sum_where(accounts, "revenue_ttm", "is_key_account")
    key_revenue_before = sum_where(accounts_before, "revenue_ttm", "is_key_account")
    share = k.get("key_revenue_share_pct", {}).get("value")
    non_key_growth = k.get("non_key_revenue_growth_pct", {}).get("value")
    revenue_change = None if key_revenue is None or key_revenue_before is None else key_revenue - key_revenue_before
    return [
        kpi("key_account_count", "Key accounts", count, cur, change=k.get("key_account_count", {}).get("change"),
            extra_help=f"Guidance: {lo}–{hi} key accounts.", delta_color="off",
            description=f"{'within' if inside else 'outside'} the {lo}–{hi} guidance"),
        kpi("revenue_ttm", "Key revenue TTM", key_revenue, cur, change=revenue_change,
            extra_help="Σ revenue_ttm of the key accounts. key_revenue_share_pct: "
                       + (metric_help("key_revenue_share_pct") or "their share of all revenue TTM."),
            description=f"{formatting.format_pct(share)} of all revenue"),
        tile("key_revenue_growth_pct", "Key revenue growth",
             extra_help=f"Non-key accounts: {formatting.format_pct(non_key_growth)} "
                        "(non_key_revenue_growth_pct)."),
        tile("programme_nps", "Programme NPS", needs="surveys"),
        tile("health_mean", "Mean health (key accounts)"),
        tile("sponsor_coverage_pct", "Sponsor coverage"),
        tile("cadence_compliance_pct", "Cadence compliance", needs="reviews"),
        tile("multithreaded_pct", "Multi-threaded", needs="contacts"),
    ]


def band_summary(view: View) -> str:
    """'12 green · 3 amber · 2 red' for the key accounts."""
    k = kpi_values(view.metric("programme_kpis"))
    parts = []
    for band in ("green", "amber", "red"):
        value = k.get(f"{band}_count", {}).get("value")
        parts.append(f"{format_metric(f'{band}_count', value)} {band}")
    return " · ".join(parts)


# Alerts that only mean something when the export has the table they are computed from.
ALERT_NEEDS = {"cadence_overdue": "reviews", "champion_left": "contacts", "champion_quiet": "contacts",
               "share_of_wallet_above_1": "wallet"}


def alerts_table(view: View) -> pl.DataFrame:
    """The alerts, most severe first, with the columns the weekly review shows (none that lack their data)."""
    alerts = view.metric("alerts")
    if alerts.is_empty():
        return alerts
    blind = [kind for kind, table in ALERT_NEEDS.items() if not view.has(table)]
    if blind:
        alerts = alerts.filter(~pl.col("alert").is_in(blind))
        if alerts.is_empty():
            return alerts
    order = {"high": 0, "medium": 1, "low": 2}
    ranked = alerts.with_columns(pl.col("severity").replace_strict(order, default=3, return_dtype=pl.Int64).alias("_r"))
    ranked = ranked.sort("_r", "account_name").drop("_r")
    return pick(ranked, ["severity", "account_name", "alert", "detail", "account_id"])


def engagement_tiles(view: View, accounts: pl.DataFrame) -> list[Kpi]:
    """Portfolio engagement: touches and weighted touches of the last 90 days against the prior 90, contacts, C-level reach."""
    cur = view.currency
    if accounts.is_empty():
        return []
    touches = accounts["touches_90d"].sum()
    weighted = accounts["weighted_touches_90d"].sum()
    prior = accounts["weighted_touches_prior_90d"].sum()
    trend = None if not prior else 100.0 * (weighted - prior) / prior
    falling = accounts.filter(pl.col("engagement_trend_pct") <= -25).height
    reached = accounts.filter(pl.col("c_level_engaged_90d").fill_null(False)).height
    single = accounts.filter(pl.col("is_key_account") & pl.col("single_threaded").fill_null(False)).height
    return [
        kpi("touches_90d", "Touches, last 90 days", touches, cur),
        Kpi("weighted_touches_90d", "Weighted touches, last 90 days", formatting.format_number(weighted, decimals=0),
            delta=formatting.format_pct(trend, signed=True) if trend is not None else None,
            help=metric_help("weighted_touches_90d", "Delta: engagement_trend_pct of the summed weighted touches "
                                                     "against the prior 90 days."),
            delta_description="vs prior 90 days"),
        Kpi("engagement_trend_pct", "Engagement down ≥ 25 %", formatting.format_count(falling),
            help=metric_help("engagement_trend_pct", "Counted: accounts whose engagement_trend_pct ≤ −25."),
            delta_color="off"),
        Kpi("c_level_engaged_90d", "C-level reached",
            f"{formatting.format_count(reached)} of {formatting.format_count(accounts.height)}",
            help=metric_help("c_level_engaged_90d")),
        Kpi("single_threaded", "Single-threaded key accounts", formatting.format_count(single),
            help=metric_help("single_threaded")),
    ]


ENGAGEMENT_COLUMNS = [
    "account_name", "is_key_account", "kam_owner", "touches_90d", "weighted_touches_90d", "weighted_touches_prior_90d",
    "engagement_trend_pct", "engaged_contacts_90d", "c_level_engaged_90d", "decision_maker_engaged_90d",
    "single_threaded", "days_since_last_touch", "account_id",
]


def engagement_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """Accounts by engagement trend, steepest fall first (accounts without a prior period last)."""
    return pick(sort_by(accounts, "engagement_trend_pct"), ENGAGEMENT_COLUMNS)


def recent_weeks(weekly: pl.DataFrame, weeks: int) -> pl.DataFrame:
    """The rows of the last `weeks` ISO weeks present in a weekly series."""
    if weekly.is_empty():
        return weekly
    starts = sorted(weekly["week_start"].unique().to_list())[-weeks:]
    return weekly.filter(pl.col("week_start").is_in(starts))


def ids(frame: pl.DataFrame) -> list[str]:
    return frame["account_id"].to_list() if not frame.is_empty() and "account_id" in frame.columns else []


def account_picker(label: str, accounts: pl.DataFrame, *, key: str, default: str | None = None) -> str | None:
    """A select box of accounts (by name); returns the chosen account_id."""
    options, names = account_choices(accounts)
    if not options:
        return None
    index = options.index(default) if default in options else 0
    return st.selectbox(label, options, index=index, format_func=lambda i: names.get(i, i), key=key)


def concentration_tiles(view: View) -> list[Kpi]:
    """Portfolio concentration: top-20 % revenue share, HHI, whale peak and profit erosion (METRICS.md portfolio economics)."""
    row = first_row(view.metric("portfolio_concentration")) or {}
    cur = view.currency
    return [
        kpi("top20_revenue_share_pct", "Revenue share of the top 20 % accounts", row.get("top20_revenue_share_pct"), cur),
        Kpi("revenue_hhi", "Revenue concentration (HHI)", formatting.format_number(row.get("revenue_hhi"), decimals=0),
            help=metric_help("revenue_hhi", "Below 1,500: unconcentrated; 1,500–2,500: moderate; above: high."),
            delta_color="off"),
        kpi("whale_peak_pct", "Whale curve peak", row.get("whale_peak_pct"), cur),
        kpi("profit_erosion_pct", "Profit erosion", row.get("profit_erosion_pct"), cur),
    ]


def wallet_tiles(view: View, accounts: pl.DataFrame) -> list[Kpi]:
    """Wallet totals over the accounts with a wallet estimate: wallet, our revenue, share, headroom."""
    cur = view.currency
    with_wallet = where_not_null(accounts, "wallet_current")
    wallet = with_wallet["wallet_current"].sum() if not with_wallet.is_empty() else None
    revenue = with_wallet["revenue_ttm"].sum() if not with_wallet.is_empty() else None
    headroom = with_wallet["wallet_headroom"].sum() if not with_wallet.is_empty() else None
    share = (revenue / wallet) if wallet else None
    above = accounts.filter(pl.col("share_of_wallet") > 1).height if "share_of_wallet" in accounts.columns else 0
    return [
        kpi("wallet_current", "Wallet of these accounts", wallet, cur,
            extra_help=f"Σ wallet_current over the {with_wallet.height} accounts with a wallet estimate."),
        kpi("share_of_wallet", "Our share of it", share, cur,
            extra_help="Σ revenue_ttm / Σ wallet_current over the accounts with a wallet estimate."),
        kpi("wallet_headroom", "Headroom", headroom, cur, extra_help="Σ wallet_headroom."),
        Kpi("share_of_wallet", "Share of wallet above 100 %", formatting.format_count(above),
            help="Accounts whose revenue TTM exceeds the wallet estimate: a data issue to check in wallet.csv.",
            delta_color="off"),
    ]


WALLET_COLUMNS = ["account_name", "is_key_account", "kam_owner", "revenue_ttm", "wallet_current", "share_of_wallet",
                  "wallet_headroom", "revenue_growth_pct", "is_share_of_wallet_above_1", "account_id"]


def wallet_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """Accounts with a wallet estimate, largest headroom first."""
    return pick(sort_by(where_not_null(accounts, "wallet_current"), "wallet_headroom", descending=True), WALLET_COLUMNS)


def whitespace_table(wallet_by_product_line: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Product-line wallets of the accounts, largest headroom (wallet − revenue) first."""
    data = where_not_null(rows_for(wallet_by_product_line, ids(accounts)), "wallet_amount")
    if data.is_empty():
        return data
    data = data.with_columns(
        (pl.col("wallet_amount") - pl.col("revenue_ttm").fill_null(0)).clip(lower_bound=0).alias("wallet_headroom"))
    return with_names(data, accounts).sort("wallet_headroom", descending=True)


def with_wallet(accounts: pl.DataFrame) -> pl.DataFrame:
    return where_not_null(accounts, "wallet_current")


def economics_tiles(view: View, accounts: pl.DataFrame) -> list[Kpi]:
    """Portfolio economics of the accounts: revenue, cost to serve, net contribution, lifetime value, value destroyers."""
    cur = view.currency

    def total(column: str) -> float | None:
        return accounts[column].sum() if column in accounts.columns and not accounts.is_empty() else None

    revenue, cost = total("revenue_ttm"), total("cost_to_serve_ttm")
    destroyers = value_destroyers(accounts)
    return [
        kpi("revenue_ttm", "Revenue TTM", revenue, cur, extra_help="Σ over the accounts in the filter."),
        kpi("cost_to_serve_ttm", "Cost to serve TTM", cost, cur,
            extra_help="Σ over the accounts in the filter.",
            description=f"{formatting.format_pct(100 * cost / revenue if revenue else None)} of revenue"),
        kpi("net_contribution_ttm", "Net contribution TTM", total("net_contribution_ttm"), cur,
            extra_help="Σ over the accounts in the filter."),
        kpi("lifetime_value", "Lifetime value", total("lifetime_value"), cur, extra_help="Σ over the accounts in the filter."),
        Kpi("net_contribution_ttm", "Value-destroying accounts", formatting.format_count(destroyers.height),
            help="Accounts whose net_contribution_ttm is negative: the cost to serve exceeds the gross margin.",
            delta_color="off",
            delta_description=formatting.format_money(destroyers["net_contribution_ttm"].sum(), cur) + " net"
            if not destroyers.is_empty() else None),
    ]


def value_destroyers(accounts: pl.DataFrame) -> pl.DataFrame:
    """Accounts with a negative net contribution TTM, most negative first."""
    if accounts.is_empty() or "net_contribution_ttm" not in accounts.columns:
        return accounts.clear() if not accounts.is_empty() else accounts
    return accounts.filter(pl.col("net_contribution_ttm") < 0).sort("net_contribution_ttm")


VALUE_COLUMNS = ["account_name", "is_key_account", "kam_owner", "revenue_ttm", "gross_margin_ttm", "cost_to_serve_ttm",
                 "cost_to_serve_pct", "net_contribution_ttm", "net_margin_pct", "lifetime_value", "value_to_date",
                 "health", "band", "account_id"]


def value_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """The accounts' economics, lowest net contribution first."""
    return pick(sort_by(accounts, "net_contribution_ttm"), VALUE_COLUMNS)


def breakdown_table(breakdown: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Cost-to-serve components of these accounts (account, group, component, cost), largest first."""
    data = rows_for(breakdown, ids(accounts))
    if data.is_empty():
        return data
    data = data.filter(pl.col("cost_ttm") != 0).sort("cost_ttm", descending=True)
    return pick(with_names(data, accounts), ["account_name", "component_group", "component", "quantity", "cost_ttm",
                                             "account_id"])


def whale_with_names(whale: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    return with_names(whale, accounts).sort("rank") if not whale.is_empty() else whale


GOAL_STATUS_ORDER = ("off_track", "overdue", "at_risk", "on_track", "achieved", None)
GOAL_COLUMNS = ["title", "account_name", "metric", "baseline", "target", "current", "progress", "expected", "status",
                "action_completion", "start_date", "due_date", "owner", "goal_id", "account_id"]


def programme_goals(goals: pl.DataFrame) -> pl.DataFrame:
    """Goals without an account (the programme's own), in goal order."""
    return where(goals, "account_id", None).sort("goal_id") if not goals.is_empty() else goals


def account_goals(goals: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Goals of the accounts in the filter, worst status first, with the account name."""
    if goals.is_empty():
        return goals
    data = goals.filter(pl.col("account_id").is_in(ids(accounts)))
    rank = {s: i for i, s in enumerate(GOAL_STATUS_ORDER)}
    data = data.with_columns(pl.col("status").replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
                             .alias("_rank")).sort("_rank", "due_date").drop("_rank")
    return with_names(data, accounts)


def goal_table(goals: pl.DataFrame) -> pl.DataFrame:
    return pick(goals, GOAL_COLUMNS)


def goal_status_counts(goals: pl.DataFrame) -> tuple[list[str], list[int], list[str]]:
    """Counts of goals per status in the order off track → achieved, with each status's colour."""
    labels, counts = value_counts(goals, "status", GOAL_STATUS_ORDER)
    colors = [charts.STATUS_COLORS.get(l.replace(" ", "_") if l != "none" else None, charts.STATUS_COLORS[None])
              for l in labels]
    return labels, counts, colors


def goal_tiles(view: View, goals: pl.DataFrame) -> list[Kpi]:
    """Goals by status: how many are achieved, on track, at risk, off track or overdue."""
    counts = dict(zip(*value_counts(goals, "status", GOAL_STATUS_ORDER)))
    help_status = metric_help("status")
    return [Kpi("status", label, formatting.format_count(counts.get(name, 0)), help=help_status)
            for name, label in (("achieved", "Achieved"), ("on track", "On track"), ("at risk", "At risk"),
                                ("off track", "Off track"), ("overdue", "Overdue"))]


def relationship_tiles(view: View) -> list[Kpi]:
    """Sponsor coverage, cadence compliance and multi-threading of the key accounts, with the week's change."""
    k = kpi_values(view.metric("programme_kpis"))
    return [kpi(key, label, k.get(key, {}).get("value"), view.currency, change=k.get(key, {}).get("change"),
                description=DELTA_NOTE)
            for key, label in (("sponsor_coverage_pct", "Sponsor coverage"),
                               ("cadence_compliance_pct", "Cadence compliance"),
                               ("multithreaded_pct", "Multi-threaded"))]


def cadence_table(view: View, accounts: pl.DataFrame) -> pl.DataFrame:
    """Per key account: last 90-day plan, last review, days since each and the cadence status, overdue first."""
    dates = view.query("cadence_dates", view.as_of, view.filters)
    if dates.is_empty():
        return dates
    status = pick(accounts, ["account_id", "plan_current", "review_current", "cadence_status"])
    data = dates.join(status, on="account_id", how="left")
    rank = {"overdue": 0, "partial": 1, "on_cadence": 2}
    data = data.with_columns(pl.col("cadence_status").replace_strict(rank, default=3, return_dtype=pl.Int64)
                             .alias("_rank")).sort("_rank", pl.col("days_since_review").fill_null(10**6),
                                                   descending=[False, True]).drop("_rank")
    return pick(data, ["account_name", "kam_owner", "cadence_status", "last_plan_date", "days_since_plan",
                       "last_review_date", "days_since_review", "plan_current", "review_current", "account_id"])


def relationship_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """Key accounts' sponsor and multi-threading: engaged contacts, decision maker reached, champion flags."""
    data = key_accounts(accounts)
    data = sort_by(data, "engaged_contacts_90d")
    return pick(data, ["account_name", "kam_owner", "executive_sponsor", "has_sponsor", "engaged_contacts_90d",
                       "decision_maker_engaged_90d", "c_level_engaged_90d", "single_threaded", "champion_left",
                       "champion_quiet", "account_id"])


# ---------------------------------------------------------------- the Account page


_PICK = "kam_account_pick"
_PICK_SEEN = "kam_account_seen"


def choose_account(accounts: pl.DataFrame, default: str | None = None) -> str | None:
    """The Account page's picker: `?account_id=…` in the URL opens that account; the choice is written back to the URL."""
    options, names = account_choices(accounts)
    if not options:
        return None
    wanted = st.query_params.get(QP_ACCOUNT)
    if wanted and wanted != st.session_state.get(_PICK_SEEN):
        st.session_state[_PICK_SEEN] = wanted
        if wanted in names:
            st.session_state[_PICK] = wanted
        else:
            st.warning(f"No account with id {md(wanted)} in this snapshot; pick one below.", icon=":material/search_off:")
    if st.session_state.get(_PICK) not in names:
        st.session_state[_PICK] = default if default in names else options[0]
    chosen = st.selectbox("Account", options, format_func=lambda i: names.get(i, i), key=_PICK,
                          help="Type to search by name or id. ★ = key account.")
    st.session_state[_PICK_SEEN] = chosen
    if st.query_params.get(QP_ACCOUNT) != chosen:
        st.query_params[QP_ACCOUNT] = chosen
    return chosen


def account_heading(profile: dict) -> tuple[str, str]:
    """The account's name (escaped for Markdown) and a one-line description of it."""
    parts = ["key account" + (f" since {profile['key_account_since']}" if profile.get("key_account_since") else "")
             if profile.get("is_key_account") else "not a key account"]
    for label, column in (("region", "region"), ("segment", "segment"), ("industry", "industry"),
                          ("KAM", "kam_owner"), ("sponsor", "executive_sponsor"), ("stage", "relationship_stage")):
        if profile.get(column):
            parts.append(f"{label}: {profile[column]}")
    return md(profile.get("account_name") or profile["account_id"]), md(f"{profile['account_id']} · " + " · ".join(parts))


def account_flags(row: dict, settings: Settings, present: Iterable[str] = ("contacts", "reviews", "wallet")) -> list[str]:
    """Plain-language warnings about the account (champion left or quiet, single-threaded, overdue, value-destroying).

    `present`: the contract tables the export has; a flag whose table is missing is not raised.
    """
    present = set(present)
    flags = []
    if row.get("champion_left"):
        flags.append(f"A champion or decision maker left in the last {settings.champion_left_days} days.")
    if row.get("champion_quiet"):
        flags.append(f"An active champion has had no activity for {settings.champion_quiet_days} days.")
    if row.get("single_threaded") and "contacts" in present:
        flags.append(f"Single-threaded: fewer than {settings.multithread_min_contacts} engaged contacts in the last 90 days.")
    if row.get("is_key_account") and row.get("cadence_status") == "overdue" and "reviews" in present:
        flags.append("Plan cadence overdue: no 90-day plan in the last 90 days and no review in the last 30.")
    if (row.get("net_contribution_ttm") or 0) < 0:
        flags.append("Destroys value: the cost to serve exceeds the gross margin over the last 12 months.")
    if (row.get("engagement_trend_pct") or 0) <= -50:
        flags.append(f"Engagement collapsing: weighted touches down {abs(row['engagement_trend_pct']):.0f}% "
                     "against the prior 90 days.")
    if row.get("is_share_of_wallet_above_1") and "wallet" in present:
        flags.append("Revenue exceeds the wallet estimate (share of wallet above 100 %): check wallet.csv.")
    return flags


def account_tiles(view: View, row: dict) -> list[Kpi]:
    """The account's headline figures."""
    cur = view.currency
    band = row.get("band")
    return [
        kpi("health", "Health", row.get("health"), cur, description=f"{band} band" if band else "no score",
            delta_color="off"),
        kpi("revenue_ttm", "Revenue TTM", row.get("revenue_ttm"), cur,
            description=f"{formatting.format_pct(row.get('revenue_growth_pct'), signed=True)} vs prior TTM"),
        kpi("share_of_wallet", "Share of wallet", row.get("share_of_wallet"), cur,
            description=f"headroom {formatting.format_money(row.get('wallet_headroom'), cur)}"),
        kpi("net_contribution_ttm", "Net contribution TTM", row.get("net_contribution_ttm"), cur,
            description=f"net margin {formatting.format_pct(row.get('net_margin_pct'))}"),
        kpi("lifetime_value", "Lifetime value", row.get("lifetime_value"), cur),
        kpi("engaged_contacts_90d", "Engaged contacts (90 d)", row.get("engaged_contacts_90d"), cur,
            description="C-level reached" if row.get("c_level_engaged_90d") else "no C-level contact"),
        kpi("days_since_last_touch", "Days since last touch", row.get("days_since_last_touch"), cur),
        Kpi("cadence_status", "Plan cadence",
            (row.get("cadence_status") or "—").replace("_", " ") if view.has("reviews") else "—",
            help=metric_help("cadence_status"),
            delta_description=None if view.has("reviews") else "needs reviews.csv") if row.get("is_key_account") else
        kpi("nps_365d", "NPS (365 d)", row.get("nps_365d"), cur),
    ]


def economics_account_tiles(view: View, row: dict) -> list[Kpi]:
    cur = view.currency
    return [
        kpi("revenue_ttm", "Revenue TTM", row.get("revenue_ttm"), cur),
        kpi("gross_margin_ttm", "Gross margin TTM", row.get("gross_margin_ttm"), cur),
        kpi("cost_to_serve_ttm", "Cost to serve TTM", row.get("cost_to_serve_ttm"), cur,
            description=f"{formatting.format_pct(row.get('cost_to_serve_pct'))} of revenue"),
        kpi("net_contribution_ttm", "Net contribution TTM", row.get("net_contribution_ttm"), cur),
        kpi("value_to_date", "Value to date", row.get("value_to_date"), cur),
    ]


CONTACT_COLUMNS = ["full_name", "title", "seniority", "buying_role", "attitude", "is_active", "left_date",
                   "last_touch_date", "days_since_last_touch", "touches_90d", "is_champion_left", "is_champion_quiet"]


def contacts_table(contacts: pl.DataFrame) -> pl.DataFrame:
    return pick(contacts, CONTACT_COLUMNS)


def wallet_lines_for(view: View, account_id: str) -> pl.DataFrame:
    """The account's product lines: revenue TTM, wallet and share (from wallet_by_product_line)."""
    return rows_for(view.metric("wallet_by_product_line", filters=NO_FILTERS), account_id)


# ---------------------------------------------------------------- key account selection


def with_candidates(accounts: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """Every account with its selection score and, for candidates, 'promote' or 'review' and the reason."""
    if accounts.is_empty():
        return accounts
    extra = pick(candidates, ["account_id", "candidate", "reason"])
    if extra.is_empty():
        extra = pl.DataFrame(schema={"account_id": pl.String, "candidate": pl.String, "reason": pl.String})
    return accounts.join(extra, on="account_id", how="left")


def selection_chart_accounts(scored: pl.DataFrame, limit: int = 40) -> pl.DataFrame:
    """The accounts the selection chart shows: all key accounts and candidates, then the best-scored up to `limit`."""
    if scored.is_empty():
        return scored
    must = scored.filter(pl.col("is_key_account") | pl.col("candidate").is_not_null())
    rest = scored.filter(~pl.col("account_id").is_in(must["account_id"].to_list()))
    rest = rest.sort("selection_score", descending=True, nulls_last=True).head(max(limit - must.height, 0))
    return pl.concat([must, rest], how="diagonal_relaxed")


SELECTION_COLUMNS = ["account_name", "is_key_account", "selection_score", "candidate", "reason", "band", "revenue_ttm",
                     "wallet_current", "net_margin_pct", "revenue_growth_pct", "engaged_contacts_90d", "kam_owner",
                     "account_id"]


def selection_table(scored: pl.DataFrame, candidate: str | None = None) -> pl.DataFrame:
    """Accounts by selection score (optionally only 'promote' or 'review' candidates), best first."""
    data = scored if candidate is None else where(scored, "candidate", candidate)
    return pick(sort_by(data, "selection_score", descending=True), SELECTION_COLUMNS)


def selection_tiles(view: View, scored: pl.DataFrame) -> list[Kpi]:
    k = kpi_values(view.metric("programme_kpis"))
    count = k.get("key_account_count", {}).get("value")
    lo, hi = view.settings.key_account_min, view.settings.key_account_max
    keys = key_accounts(scored)
    lowest = keys["selection_score"].min() if not keys.is_empty() else None
    promote = where(scored, "candidate", "promote").height
    review = where(scored, "candidate", "review").height
    return [
        kpi("key_account_count", "Key accounts", count, view.currency, extra_help=f"Guidance: {lo}–{hi}.",
            description=f"{'within' if count is not None and lo <= count <= hi else 'outside'} the {lo}–{hi} guidance",
            delta_color="off"),
        Kpi("selection_score", "Lowest key account score", formatting.format_number(lowest),
            help=metric_help("selection_score", "A non-key account scoring at least this is a promotion candidate.")),
        Kpi("selection_score", "Promotion candidates", formatting.format_count(promote),
            help="Non-key accounts whose selection_score ≥ the lowest selection_score among key accounts."),
        Kpi("selection_score", "Review candidates", formatting.format_count(review),
            help="Key accounts with band red, or a selection_score in the lowest quartile of key accounts."),
    ]


# ---------------------------------------------------------------- the Data page


def snapshot_facts(view: View) -> pl.DataFrame:
    """The current snapshot as (item, value) rows."""
    s = view.status
    facts = [
        ("Snapshot (load id)", s.load_id),
        ("Data as of (default)", view.default_as_of.isoformat()),
        ("Figures shown as of", view.as_of.isoformat()),
        ("Loaded at", s.loaded_at.strftime("%Y-%m-%d %H:%M UTC") if s.loaded_at else "—"),
        ("Load status", s.load_status or "—"),
        ("Source", Path(s.source_path).name if s.source_path else "—"),
        ("Format", s.format or "—"),
        ("Reporting currency", view.currency),
        ("Tables in the export", ", ".join(t for t in queries.TABLE_ORDER if t in s.present_tables) or "—"),
        ("Rows quarantined", formatting.format_count(s.quarantined_rows)),
    ]
    return pl.DataFrame({"item": [f for f, _ in facts], "value": [v for _, v in facts]})


def missing_tables(view: View) -> pl.DataFrame:
    """Optional contract files the export lacks and what each would turn on."""
    missing = [t for t in queries.OPTIONAL_TABLES if t not in view.status.present_tables]
    return pl.DataFrame({"file": [f"{t}.csv" for t in missing],
                         "turns_on": [queries.VIEW_NEEDS.get(t, "") for t in missing]},
                        schema={"file": pl.String, "turns_on": pl.String})


def quarantine_filters(view: View) -> tuple[str | None, str | None]:
    """Select boxes for the quarantine's table and reason; returns the choices (None = all)."""
    reasons = view.query("quarantine_reasons")
    tables = sorted(set(reasons["table"].to_list())) if not reasons.is_empty() else []
    left, right = st.columns(2)
    with left:
        table_choice = st.selectbox("Table", [None, *tables], format_func=lambda t: "All tables" if t is None else t,
                                    key="data_q_table")
    shown = where(reasons, "table", table_choice) if table_choice else reasons
    options = [None, *dict.fromkeys(shown["reason"].to_list())] if not shown.is_empty() else [None]
    counts = {}
    for row in shown.iter_rows(named=True):
        counts[row["reason"]] = counts.get(row["reason"], 0) + row["rows"]
    with right:
        reason_choice = st.selectbox(
            "Reason", options, key="data_q_reason",
            format_func=lambda r: "All reasons" if r is None else f"{formatting.safe_text(r, max_length=120)} ({counts.get(r, 0):,})",
        )
    return table_choice, reason_choice


QUARANTINE_SHOWN_ROWS = 5000



# ---------------------------------------------------------------- uploads (Data page)


_UPLOAD_REPORT = "kam_upload_report"
UPLOAD_FORMATS = ("auto", "kam", "salesforce", "hubspot")


def current_settings() -> Settings:
    """The settings of the data directory (the page has already reported a broken settings file)."""
    return load_settings(data_dir=resolve_data_dir())


def upload_section() -> None:
    """Load a new export from the browser: one zip or the export's CSV/Parquet files, checked by kam_metrics.load.upload."""
    from kam_metrics.load.importers.base import LoadError
    from kam_metrics.load.upload import load_upload

    settings = current_settings()
    report = st.session_state.pop(_UPLOAD_REPORT, None)
    if report:
        upload_report(report)
    if not settings.upload_enabled:
        st.caption("Uploads are turned off on this server (setting upload_enabled = false); load exports with "
                   "`kam load PATH`.")
        return
    st.caption(f"One .zip of an export, or its files (accounts.csv, activities.csv, revenue.csv and any optional "
               f"table), up to {settings.max_upload_mb} MB. The export is checked and loaded into a new snapshot; "
               "the current one stays in place until the load has fully succeeded.")
    with st.form("kam_upload_form", clear_on_submit=True, border=True):
        files = st.file_uploader("Export files", type=["csv", "parquet", "zip"], accept_multiple_files=True,
                                 key="kam_upload_files", max_upload_size=max(int(settings.max_upload_mb), 1))
        fmt = st.selectbox("Format", UPLOAD_FORMATS, key="kam_upload_format",
                           help="auto detects canonical files, a Salesforce or a HubSpot export.")
        submitted = st.form_submit_button("Load export", icon=":material/upload:", type="primary")
    if not submitted:
        return
    if not files:
        st.warning("Choose the export's files (or one zip) first.", icon=":material/upload_file:")
        return
    bar = st.progress(0.0, text="starting")

    def progress(stage: str, fraction: float) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=stage)

    try:
        result = load_upload([(f.name, f.getvalue()) for f in files], resolve_data_dir(), fmt=fmt,
                             settings=settings, progress=progress)
    except LoadError as exc:
        bar.empty()
        st.error(f"Not loaded: {md(exc)}", icon=":material/error:")
        return
    except (Exception, PanicException) as exc:  # a loader bug: say so plainly; the current snapshot is untouched
        bar.empty()
        _LOG.exception("upload failed unexpectedly")
        st.error(f"Not loaded: the load failed unexpectedly ({md(type(exc).__name__)}: {md(str(exc)[:300])}). "
                 "The current snapshot is unchanged. This is a bug in KAM Health: please report it with the "
                 "server log.", icon=":material/error:")
        return
    st.session_state[_UPLOAD_REPORT] = upload_summary(result)
    st.rerun()


def upload_summary(result: Any) -> dict:
    """What the Data page shows after an upload of a pipeline.LoadReport (plain values, kept in session state
    across the rerun)."""
    counts = [{"table": t.table, "read": t.read, "loaded": t.loaded, "quarantined": t.quarantined,
               "skipped": t.skipped} for t in result.tables if t.is_present]
    return {
        "load_id": result.load_id, "as_of": str(result.as_of_default or "—"), "text": result.as_text(),
        "counts": counts, "quarantined": sum(c["quarantined"] for c in counts),
        "reasons": [{"table": t, "reason": r, "rows": n} for t, r, n in result.top_reasons()],
        "absent": [t.table for t in result.tables if not t.is_present],
    }


def upload_report(report: dict) -> None:
    """The report of the upload just loaded: rows per table, the top quarantine reasons, a link to the quarantine."""
    st.success(f"Loaded: snapshot {md(report['load_id'])}, data as of {md(report['as_of'])}. Every page now shows "
               "it.", icon=":material/check_circle:")
    counts = pl.DataFrame(report.get("counts") or [], schema={"table": pl.String, "read": pl.Int64,
                                                              "loaded": pl.Int64, "quarantined": pl.Int64,
                                                              "skipped": pl.Int64})
    if report.get("quarantined"):
        rows = report["quarantined"]
        st.warning(f"{rows:,} {'row' if rows == 1 else 'rows'} failed a check and {'was' if rows == 1 else 'were'} "
                   "quarantined: [see them in the quarantine](#quarantine).", icon=":material/report:")
    else:
        st.caption("Every row passed the checks: nothing was quarantined.")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Rows per table in this load**")
        table(counts, key="upload_counts", file_name="load_counts", link_accounts=False, height="content")
        if report.get("absent"):
            st.caption("Not in this export: " + md(", ".join(report["absent"])))
    with right:
        if report.get("reasons"):
            st.markdown("**Top quarantine reasons**")
            table(pl.DataFrame(report["reasons"], schema={"table": pl.String, "reason": pl.String, "rows": pl.Int64}),
                  key="upload_reasons", file_name="quarantine_reasons", link_accounts=False)
    with st.expander("Full load report"):
        st.code(report["text"], language=None)


def positive_revenue_total(accounts: pl.DataFrame) -> float:
    """Σ revenue_ttm over the accounts with positive revenue (the denominator of 'their share of our revenue')."""
    if accounts.is_empty() or "revenue_ttm" not in accounts.columns:
        return 0.0
    return float(accounts.filter(pl.col("revenue_ttm") > 0)["revenue_ttm"].sum())
