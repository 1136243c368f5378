"""What the weekly pack holds: the Weekly review's figures and one page per key account, gathered from the
metric functions the app's pages call (kam_metrics.metrics, portfolio, the programme store's open actions), so
the pack shows the app's figures at the same as_of. No Streamlit here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from kam_metrics import metrics
from kam_metrics.app import absence, charts
from kam_metrics.app.views import actions as action_views
from kam_metrics.app.views.plain import account_flags, verdict_text
from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.metrics import portfolio, queries
from kam_metrics.metrics.presence import Presence
from kam_metrics.metrics.presence import presence as read_presence
from kam_metrics.settings import DEFAULT_REPORTING_CURRENCY, Settings

WEEK = timedelta(days=7)
MOVERS = 5
#: Caps that keep the cover at three pages and each account on one page ("+N more" says what is left out).
COVER_ALERTS = 12
COVER_ACTIONS = 8
ACCOUNT_GOALS = 4
ACCOUNT_ACTIONS = 4
ACCOUNT_FLAGS = 4
BANDS_CHART_ACCOUNTS = 30
WHY_COMPONENTS = 4

#: (key, label) of the cover's programme KPI tiles, as on the Weekly review (key_revenue_ttm: Σ revenue_ttm of
#: the key accounts, portfolio.key_revenue_ttm).
KPI_TILES = (
    ("key_account_count", "Key accounts"),
    ("key_revenue_ttm", "Key revenue TTM"),
    ("key_revenue_growth_pct", "Key revenue growth"),
    ("programme_nps", "Programme NPS"),
    ("health_mean", "Mean health (key accounts)"),
    ("sponsor_coverage_pct", "Sponsor coverage"),
    ("cadence_compliance_pct", "Cadence compliance"),
    ("multithreaded_pct", "Multi-threaded"),
    ("key_open_pipeline", "Key open pipeline"),
)
#: The account page's figures (account_metrics keys, with the pipeline of pipeline_by_account).
HEALTH_KEYS = ("health", "health_coverage_pct")
ECONOMICS_KEYS = ("revenue_ttm", "revenue_growth_pct", "share_of_wallet", "wallet_headroom", "open_pipeline",
                  "cost_to_serve_ttm", "net_contribution_ttm", "lifetime_value")
ENGAGEMENT_KEYS = ("days_since_last_touch", "engaged_contacts_90d", "nps_365d")
PIPELINE_COLUMNS = ("open_pipeline", "open_deal_count", "win_rate_365d", "pipeline_to_headroom")
SCORE_CHECK_KEYS = ("warning_precision", "warning_recall", "warning_lift", "warning_lead_days_median", "pairs")


@dataclass(frozen=True)
class Tile:
    """One programme KPI: its value, its change against 7 days earlier, and what would turn it on when absent."""

    key: str
    label: str
    value: Any
    change: Any = None
    absent: str | None = None


@dataclass
class AccountPage:
    """One key account's page."""

    account_id: str
    account_name: str
    row: dict  # its account_metrics row (with the pipeline columns when the export has opportunities)
    history: pl.DataFrame  # health_history rows (as_of, health, band)
    movement: pl.DataFrame  # health_movement rows of its components (from 7 days earlier to as_of)
    health_from: float | None
    health_to: float | None
    flags: list[str]
    goals: pl.DataFrame
    goals_total: int
    actions: pl.DataFrame
    actions_total: int


@dataclass
class Pack:
    """Everything the pack shows, at one as_of for one set of filters."""

    as_of: date
    filters: Filters
    settings: Settings
    currency: str
    status: queries.SnapshotStatus
    presence: Presence
    made_at: datetime
    tiles: list[Tile]
    band_counts: dict[str, float | None]
    alerts: pl.DataFrame  # severity, account_name, alert, detail, account_id, goal_id, action_owner
    open_actions: pl.DataFrame  # the programme store's open actions of the shown accounts (empty without a store)
    has_store: bool
    movers: pl.DataFrame  # account_id, account_name, health_from, health_to, health_change
    movement: pl.DataFrame  # health_movement of the key accounts (from as_of − 7 days to as_of)
    score_check: dict | None  # score_check_backtest as {key: value}; None when nothing could be checked
    accounts: list[AccountPage]
    key_count: int  # key accounts matching the filters
    figures: dict[str, Any] = field(default_factory=dict)  # chart key -> plotly figure

    @property
    def date_from(self) -> date:
        return self.as_of - WEEK

    @property
    def score_check_verdict(self) -> str | None:
        return verdict_text(self.score_check) if self.score_check else None


def _frame_dict(frame: pl.DataFrame, key: str = "key", value: str = "value") -> dict[str, Any]:
    return dict(zip(frame[key].to_list(), frame[value].to_list())) if not frame.is_empty() else {}


def programme_tiles(kpis: pl.DataFrame, accounts: pl.DataFrame, accounts_before: pl.DataFrame,
                    presence: Presence) -> list[Tile]:
    """The cover's KPI tiles, as the Weekly review's (programme_kpis with key revenue TTM from portfolio)."""
    rows = {r["key"]: r for r in kpis.iter_rows(named=True)} if not kpis.is_empty() else {}
    tiles = []
    for key, label in KPI_TILES:
        if key == "key_revenue_ttm":
            tiles.append(Tile(key, label, portfolio.key_revenue_ttm(accounts),
                              portfolio.key_revenue_ttm_change(accounts, accounts_before)))
            continue
        if key == "key_open_pipeline" and key not in rows:
            continue
        row = rows.get(key, {})
        absent = absence.kpi_missing(presence, key)
        if key == "health_mean" and row.get("value") is None:
            absent = absence.needs_text(absence.health_missing(presence))
        tiles.append(Tile(key, label, row.get("value"), row.get("change"), absent))
    return tiles


def _with_names(frame: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    if frame.is_empty():
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias("account_name"))
    names = accounts.select("account_id", "account_name")
    return frame.join(names, on="account_id", how="left")


def _open_actions(store, today: date) -> pl.DataFrame | None:
    """The store's open actions, each on its account: its own account_id, else its goal's (actions.csv gives an
    action toward a goal no account_id); null only for a programme-wide goal's. None without a store."""
    if store is None:
        return None
    actions = action_views.open_actions(store.current("actions"), today)
    if actions.is_empty():
        return actions
    return actions.with_columns(action_views.action_account_ids(actions, store.current("goals")))


def _score_check(con, as_of: date, filters: Filters, settings: Settings) -> dict | None:
    rows = _frame_dict(metrics.score_check_backtest(con, as_of, filters, settings))
    return rows if rows.get("pairs") else None


def component_changes(movement: pl.DataFrame, account_id: str) -> pl.DataFrame:
    """One account's component rows of a health_movement frame (not the health total), largest change first."""
    if movement.is_empty():
        return movement
    rows = movement.filter((pl.col("account_id") == account_id) & (pl.col("component") != "health"))
    return rows.with_columns(pl.col("change").abs().alias("_size")).sort("_size", descending=True).drop("_size")


def _health_ends(movement: pl.DataFrame, account_id: str) -> tuple[float | None, float | None]:
    if movement.is_empty():
        return None, None
    rows = movement.filter((pl.col("account_id") == account_id) & (pl.col("component") == "health"))
    if rows.is_empty():
        return None, None
    return rows["contribution_from"][0], rows["contribution_to"][0]


def build_pack(con, settings: Settings, *, as_of: date | None = None, filters: Filters | None = None,
               store=None, today: date | None = None) -> Pack:
    """The pack at as_of (default: the snapshot's default as_of) for the filters, from a snapshot connection (with
    the programme store laid over it) and the store itself for the open actions (None: no actions listed)."""
    filters = filters or NO_FILTERS
    as_of = as_of or metrics.default_as_of(con)
    today = today or date.today()
    status = queries.snapshot_status(con)
    presence = read_presence(con)
    currency = status.reporting_currency or settings.reporting_currency or DEFAULT_REPORTING_CURRENCY
    key_filters = replace(filters, key_only=True)

    accounts = metrics.account_metrics(con, as_of, filters, settings)
    if presence.has("opportunities"):
        pipeline = metrics.pipeline_by_account(con, as_of, filters, settings).select("account_id", *PIPELINE_COLUMNS)
        accounts = accounts.join(pipeline, on="account_id", how="left")
    accounts_before = queries.revenue_at(con, as_of - WEEK, filters)
    kpis = metrics.programme_kpis(con, as_of, filters, settings)
    tiles = programme_tiles(kpis, accounts, accounts_before, presence)
    kpi = _frame_dict(kpis)
    band_counts = {b: kpi.get(f"{b}_count") for b in ("green", "amber", "red", "insufficient_data")}

    open_frame = _open_actions(store, today)
    alerts = metrics.alerts(con, as_of, filters, settings)
    alerts = action_views.with_action_owner(alerts, open_frame if open_frame is not None else
                                            action_views.open_actions(pl.DataFrame(), today))
    shown_ids = accounts["account_id"].to_list()
    if open_frame is not None and not open_frame.is_empty():
        programme_actions = open_frame.filter(pl.col("account_id").is_null() | pl.col("account_id").is_in(shown_ids))
        programme_actions = _with_names(programme_actions, accounts)
    else:
        programme_actions = pl.DataFrame()

    key_rows = accounts.filter(pl.col("is_key_account")).sort(["account_name", "account_id"], nulls_last=True)
    movement = metrics.health_movement(con, as_of - WEEK, as_of, key_filters, settings)
    movers = _with_names(portfolio.health_movers(movement, key_rows, limit=MOVERS), key_rows)
    history = metrics.health_history(con, as_of, key_filters, settings) if not key_rows.is_empty() else pl.DataFrame()
    histories = ({k[0]: v for k, v in history.partition_by("account_id", as_dict=True).items()}
                 if not history.is_empty() else {})
    goals = metrics.goals_status(con, as_of, filters, settings) if presence.has("goals") else pl.DataFrame()

    pages = []
    for row in key_rows.iter_rows(named=True):
        account_id = row["account_id"]
        health_from, health_to = _health_ends(movement, account_id)
        flags = account_flags(row, settings, status.present_tables)
        account_goals = (goals.filter(pl.col("account_id") == account_id) if not goals.is_empty()
                         else pl.DataFrame())
        account_actions = (open_frame.filter(pl.col("account_id") == account_id)
                           if open_frame is not None and not open_frame.is_empty() else pl.DataFrame())
        pages.append(AccountPage(
            account_id=account_id, account_name=row["account_name"] or account_id, row=row,
            history=histories.get(account_id, pl.DataFrame()), movement=component_changes(movement, account_id),
            health_from=health_from, health_to=health_to, flags=flags,
            goals=account_goals.head(ACCOUNT_GOALS), goals_total=account_goals.height,
            actions=account_actions.head(ACCOUNT_ACTIONS), actions_total=account_actions.height,
        ))

    pack = Pack(
        as_of=as_of, filters=filters, settings=settings, currency=currency, status=status, presence=presence,
        made_at=datetime.now(timezone.utc), tiles=tiles, band_counts=band_counts, alerts=alerts,
        open_actions=programme_actions, has_store=open_frame is not None, movers=movers, movement=movement,
        score_check=_score_check(con, as_of, filters, settings), accounts=pages, key_count=key_rows.height,
    )
    pack.figures = pack_figures(pack, key_rows)
    return pack


def pack_figures(pack: Pack, key_rows: pl.DataFrame) -> dict[str, Any]:
    """The pack's charts, drawn by the app's own chart functions: the key accounts' health bands (the lowest
    BANDS_CHART_ACCOUNTS), the week's movers, each key account's health history."""
    s = pack.settings
    figures: dict[str, Any] = {}
    if not key_rows.is_empty():
        lowest = key_rows.sort("health", nulls_last=False).head(BANDS_CHART_ACCOUNTS)
        missing = absence.health_missing(pack.presence)
        figures["bands"] = charts.health_bands_figure(lowest, s.band_green_min, s.band_amber_min,
                                                      missing=", ".join(missing) or None,
                                                      min_coverage_pct=float(s.min_health_coverage_pct))
    if not pack.movers.is_empty():
        figures["movers"] = charts.health_movers_figure(pack.movers)
    for page in pack.accounts:
        figures[f"history:{page.account_id}"] = charts.health_history_figure(page.history, s.band_green_min,
                                                                             s.band_amber_min)
    return figures


def build_pack_for(data_dir: str | Path, settings: Settings, *, as_of: date | None = None,
                   filters: Filters | None = None) -> Pack:
    """The pack of a data directory's current snapshot with its programme store (opened and closed here)."""
    from kam_metrics.programme import overlay
    from kam_metrics.settings import programme_store_location

    data_dir = Path(data_dir)
    store = overlay.open_existing_store(programme_store_location(settings, data_dir))
    try:
        con = overlay.connect_current(data_dir, settings)
        try:
            return build_pack(con, settings, as_of=as_of, filters=filters, store=store)
        finally:
            con.close()
    finally:
        if store is not None:
            store.close()
