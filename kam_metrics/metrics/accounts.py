"""Account-level metrics of METRICS.md (engagement, loyalty, share of wallet, cost to serve, lifetime value,
relationships, plan cadence), computed for many as_of dates at once.

`metrics_at(con, points, filters, settings)` returns one row per account and as_of with every account key
plus the health score (health.py); `account_metrics` is the single-as_of public view with selection_score.
"""

from __future__ import annotations

from datetime import date
from typing import Sequence

import numpy as np
import polars as pl

from kam_metrics.load.contract import ACTIVITY_TYPES
from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.load.marts import marts_current
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics import rules
from kam_metrics.metrics.presence import Presence, cost_to_serve_sources, key_absence, presence
from kam_metrics.metrics.scoring import CONTACTS_PRESENT, HEALTH_OUTPUT_COLUMNS, add_health, add_selection_score
from kam_metrics.settings import Settings

# Windows fixed by the definitions (METRICS.md "Time"); thresholds that are settings come from Settings.
DAYS_90, DAYS_PRIOR_90_END, DAYS_TTM, DAYS_PRIOR_TTM_END = 90, 180, 365, 730

ACCOUNT_KEYS = (
    "touches_90d", "weighted_touches_90d", "weighted_touches_prior_90d", "engagement_trend_pct",
    "engaged_contacts_90d", "c_level_engaged_90d", "days_since_last_touch", "nps_365d", "csat_365d",
    "revenue_ttm", "revenue_prior_ttm", "revenue_growth_pct", "wallet_current", "share_of_wallet",
    "wallet_headroom", "gross_margin_ttm", "cost_to_serve_ttm", "net_contribution_ttm", "cost_to_serve_pct",
    "net_margin_pct", "value_to_date", "lifetime_value", "single_threaded", "decision_maker_engaged_90d",
    "has_sponsor", "champion_left", "champion_quiet", "plan_current", "review_current", "cadence_status",
)


def _linear(prefix: str, values: Sequence[str], table) -> tuple[str, tuple]:
    """SQL Σ t.<prefix><value> × ? over the values, and the settings numbers for the ?."""
    return " + ".join(f"t.{prefix}{v} * ?" for v in values), tuple(float(table.get(v, 0.0)) for v in values)


def _cost_of_group(parts: Sequence[rules.CostPart], group: str) -> tuple[str, tuple]:
    """SQL Σ t.<column> × ? over the counted parts of one cost group (rules.cost_parts), and their unit costs."""
    counted = [p for p in parts if p.group == group]
    return " + ".join(f"t.{p.column} * ?" for p in counted), tuple(p.unit_cost for p in counted)


def account_measures(s: Settings) -> list[E.Measure]:
    """The figures accumulated over the account marts; weights, costs and margins come from the settings here,
    at query time (the marts hold plain counts and sums). Offsets: 0 = as_of, 90 / 180 = the 90-day windows,
    365 / 730 = TTM and prior TTM."""
    weighted, w_params = _linear("n_", ACTIVITY_TYPES, s.activity_weights)
    # cost to serve: the same parts as cost_to_serve_breakdown; service costs are their categories' total
    parts = rules.cost_parts(s)
    act_cost, a_params = _cost_of_group(parts, "activities")
    case_cost, c_params = _cost_of_group(parts, "cases")
    now, ttm = (0,), (0, DAYS_TTM)
    return [
        E.Measure("touches", "t.touches", offsets=(0, DAYS_90, DAYS_PRIOR_90_END)),
        E.Measure("weighted", weighted, w_params, offsets=(0, DAYS_90, DAYS_PRIOR_90_END)),
        E.Measure("activity_cost", act_cost, a_params, offsets=ttm),
        E.Measure("case_cost", case_cost, c_params, offsets=ttm),
        E.Measure("service_cost", "t.sc_amount", offsets=ttm),
        E.Measure("revenue", "t.rev_amount", offsets=(0, DAYS_TTM, DAYS_PRIOR_TTM_END)),
        E.Measure("margin", "t.rev_margin_known + ? * t.rev_amount_nocogs", (float(s.default_gross_margin),),
                  offsets=ttm),
        E.Measure("nps_net", "t.promoters - t.detractors", offsets=ttm),
        E.Measure("nps_responses", "t.nps_responses", offsets=ttm),
        E.Measure("csat_sum", "t.csat_sum", offsets=ttm),
        E.Measure("csat_responses", "t.csat_responses", offsets=ttm),
        # engaged periods start (+1) and end (−1): the running total at as_of counts the engaged contacts
        E.Measure("engaged", "t.engaged_delta", offsets=now),
        E.Measure("c_level_engaged", "t.c_level_delta", offsets=now),
        E.Measure("dm_engaged", "t.dm_delta", offsets=now),
        E.Measure("last_d", "t.act_d", kind="max", offsets=now),
        E.Measure("last_review", "t.review_d", kind="max", offsets=now),
        E.Measure("last_plan", "t.plan_d", kind="max", offsets=now),
    ]


def breakdown_measures(s: Settings) -> list[E.Measure]:
    """Per-part cost figures of cost_to_serve_breakdown (counts and amounts of rules.cost_parts; the unit costs
    are applied by the caller with rules.part_cost)."""
    return [E.Measure(p.column, f"t.{p.column}") for p in rules.cost_parts(s)]


def _cumulative_inputs(con, use, points, filters, settings: Settings, offsets) -> pl.DataFrame:
    """Running totals of the account measures at as_of − each offset (see _engine), plus the latest activity,
    review and 90-day plan dates ≤ as_of."""
    return E.account_cumulative(con, account_measures(settings), points, offsets, filters, use)


#: An active champion: the contacts champion_quiet looks at.
_ACTIVE_CHAMPION = "c.buying_role = 'champion' AND coalesce(c.is_active, true)"


def _champion_contacts(con, filters: Filters, with_names: bool = True) -> pl.DataFrame:
    """The champion and decision-maker contacts of the accounts passing the filters; with_names adds full_name
    and sorts by account and contact (champion_status lists them), without it the order is the engine's."""
    filter_sql, filter_params = E.account_filter_sql(filters, "c.account_id")
    name = "c.full_name, " if with_names else ""
    order = "ORDER BY c.account_id, c.contact_id" if with_names else ""
    return E.query(
        con,
        f"""SELECT c.account_id, c.contact_id, {name}c.buying_role, coalesce(c.is_active, true) AS is_active,
                   c.left_date
            FROM contacts c WHERE c.buying_role IN ('champion', 'decision_maker') {filter_sql} {order}""",
        filter_params,
    )


def _champion_matrices(con, use, contacts: pl.DataFrame, points: list[date], settings: Settings, filters: Filters):
    """(is_left, is_quiet): contacts × points boolean matrices (rows in the order of `contacts`, which holds the
    champion and decision-maker contacts of the accounts passing `filters`), by rules.champion_left and
    rules.champion_quiet."""
    champion = (contacts["is_active"] & (contacts["buying_role"] == "champion")).to_numpy()
    last = (_last_touch_days(con, use, contacts, points, settings.champion_quiet_days, filters) if champion.any()
            else np.full((contacts.height, len(points)), rules.NO_DAY, dtype=np.int64))
    return (rules.champion_left(contacts, points, settings),
            rules.champion_quiet(contacts, points, last, settings))


def champion_status(con, points: Sequence[date], filters: Filters, settings: Settings, use: bool | None = None):
    """Per champion / decision-maker contact and as_of: is_left (inactive, left in the last champion_left_days)
    and is_quiet (an active champion with no activity in the last champion_quiet_days); columns account_id,
    contact_id, full_name, buying_role, as_of, is_left, is_quiet."""
    if use is None:
        use = marts_current(con)
    points = sorted(set(points))
    contacts = _champion_contacts(con, filters)
    is_left, is_quiet = _champion_matrices(con, use, contacts, points, settings, filters)
    n = len(points)
    return contacts.select("account_id", "contact_id", "full_name", "buying_role").select(
        pl.all().repeat_by(n).explode()
    ).with_columns(
        as_of=pl.Series(np.tile(np.array([(p - E._EPOCH).days for p in points], dtype=np.int32),
                                contacts.height)).cast(pl.Date),
        is_left=pl.Series(is_left.ravel(), dtype=pl.Boolean),
        is_quiet=pl.Series(is_quiet.ravel(), dtype=pl.Boolean),
    )


def champion_flags_from_status(status: pl.DataFrame) -> pl.DataFrame:
    """champion_left, champion_quiet per account and as_of (METRICS.md) from champion_status: any of its
    champion / decision-maker contacts left / quiet (the same rows as champion_flags)."""
    return status.group_by("account_id", "as_of").agg(
        champion_left=pl.col("is_left").any(), champion_quiet=pl.col("is_quiet").any())


def champion_flags(con, points: Sequence[date], filters: Filters, settings: Settings, use: bool | None = None):
    """Per account (with a champion or decision maker) and as_of: champion_left, champion_quiet."""
    if use is None:
        use = marts_current(con)
    points = sorted(set(points))
    contacts = _champion_contacts(con, filters, with_names=False)
    is_left, is_quiet = _champion_matrices(con, use, contacts, points, settings, filters)
    accounts, index = np.unique(contacts["account_id"].to_numpy().astype(str), return_inverse=True)
    n_acc, n = len(accounts), len(points)
    left = np.zeros((n_acc, n), dtype=bool)
    quiet = np.zeros((n_acc, n), dtype=bool)
    for j in range(n):
        left[:, j] = np.bincount(index, weights=is_left[:, j], minlength=n_acc) > 0
        quiet[:, j] = np.bincount(index, weights=is_quiet[:, j], minlength=n_acc) > 0
    return pl.DataFrame({
        "account_id": pl.Series(np.repeat(accounts, n), dtype=pl.String),
        "as_of": pl.Series(np.tile(np.array([(p - E._EPOCH).days for p in points], dtype=np.int32), n_acc)).cast(
            pl.Date),
        "champion_left": left.ravel(),
        "champion_quiet": quiet.ravel(),
    })


def _last_touch_days(con, use, contacts: pl.DataFrame, points: list[date], window_days: int,
                     filters: Filters) -> np.ndarray:
    """contacts × points: the latest activity day (days since the epoch) of the contact on or before as_of, from
    as_of − (window_days − 1) of the earliest as_of on (computed for the active champions of the accounts
    passing `filters`; rules.NO_DAY for every other row of `contacts` and when there is none). Enough to tell
    whether the contact was touched in each as_of's window of window_days days.

    Reads only the contact-days from the earliest window start to the latest as_of: each day goes to the first
    as_of on or after it, the latest day per contact is carried forward over the as_of dates, and a contact is
    touched at an as_of when that latest day is inside its window. The champions are selected in the query
    (a semi-join on the contacts table), not passed in as a list of ids."""
    start = points[0] - E.days(window_days - 1)
    filter_sql, filter_params = E.account_filter_sql(filters, "c.account_id")
    champions = f"SELECT c.contact_id FROM contacts c WHERE {_ACTIVE_CHAMPION} {filter_sql}"
    source = E.mart(con, "mart_champion_activity", use)
    if len(points) <= E._CASE_BOUNDS:
        # few as_of dates: the bucket (index of the first as_of on or after the day) is a short CASE chain
        daymap, daymap_join = "", ""
        bucket = "CASE " + " ".join("WHEN t.d <= ?::DATE THEN ?::INTEGER" for _ in points) + " END"
        bucket_params = [x for i, p in enumerate(points) for x in (p, i)]
    else:
        daymap = "WITH daymap AS (SELECT unnest(?::DATE[]) AS day, unnest(?::INTEGER[]) AS k) "
        daymap_join, bucket = "JOIN daymap m ON m.day = t.d", "m.k"
        bucket_params = list(E.day_buckets(start, points))
    latest = E.query(
        con,
        f"""{daymap}SELECT t.contact_id, {bucket} AS k, max(t.d) AS last_d FROM {source} t {daymap_join}
            WHERE t.d BETWEEN ?::DATE AND ?::DATE AND t.contact_id IN ({champions})
            GROUP BY ALL""",
        [*bucket_params, start, points[-1], *filter_params],
    )
    last = np.full((contacts.height, len(points)), rules.NO_DAY, dtype=np.int64)
    if latest.height:
        rows = contacts.select("contact_id", _r=pl.int_range(pl.len(), dtype=pl.Int64))
        hit = latest.join(rows, on="contact_id", how="inner")
        last[hit["_r"].to_numpy(), hit["k"].cast(pl.Int64).to_numpy()] = (
            hit["last_d"].cast(pl.Date).cast(pl.Int64).to_numpy())
    return np.maximum.accumulate(last, axis=1)


def last_activity_dates(con, contact_ids: Sequence[str], as_of: date, lookback_days: int = 365,
                        use: bool | None = None, silent_days: int = 0) -> dict[str, date]:
    """The latest activity date of each champion contact (buying_role champion; mart_champion_activity holds no
    other contact) in as_of − (lookback_days − 1) … as_of (absent when none).

    `silent_days`: the contacts are known to have no activity in the last silent_days days (quiet champions),
    so those days are not read (reading the contact ids of a year of contact-days is what this costs)."""
    if not contact_ids:
        return {}
    if use is None:
        use = marts_current(con)
    first, newest = as_of - E.days(lookback_days - 1), as_of - E.days(max(int(silent_days), 0))
    if newest < first:
        return {}
    rows = E.query(
        con,
        f"""SELECT t.contact_id, max(t.d) AS last_d FROM {E.mart(con, "mart_champion_activity", use)} t
            WHERE t.d BETWEEN ?::DATE AND ?::DATE AND t.contact_id IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY t.contact_id""",
        [first, newest, list(contact_ids)],
    )
    return dict(zip(rows["contact_id"].to_list(), rows["last_d"].to_list()))


def wallet_rows(con, max_year: int, filters: Filters) -> pl.DataFrame:
    """The wallet rows (account_id, year, product_line, wallet_amount) of the accounts passing the filters for
    the years up to max_year."""
    filter_sql, params = E.account_filter_sql(filters, "w.account_id")
    return E.query(
        con,
        f"""SELECT w.account_id, w.year, w.product_line, w.wallet_amount FROM wallet w
            WHERE w.year <= ? {filter_sql}""",
        [max_year, *params],
    )


def _wallet_inputs(con, points, filters) -> pl.DataFrame:
    """wallet_current per account and as_of (rules.wallet_current_at). Only accounts with a wallet row in or
    before the year are listed (the callers left-join it: the others have no wallet_current)."""
    rows = wallet_rows(con, max((p.year for p in points), default=0), filters)
    return rules.wallet_current_at(rules.wallet_by_account_year(rows), points)


def wallet_share_at(con, as_of: date, filters: Filters | None = None, use: bool | None = None) -> pl.DataFrame:
    """revenue_ttm, wallet_current, share_of_wallet and is_share_of_wallet_above_1 per account passing the
    filters at as_of, computed exactly as metrics_at does but from the revenue running totals alone."""
    filters = filters or NO_FILTERS
    if use is None:
        use = marts_current(con)
    keys = ["account_id", "as_of"]
    frame = E.points_frame(E.accounts_frame(con, filters), [as_of])
    revenue = E.account_cumulative(con, [E.Measure("revenue", "t.rev_amount", offsets=(0, DAYS_TTM))], [as_of],
                                   (0, DAYS_TTM), filters, use)
    frame = frame.join(revenue, on=keys, how="left").with_columns(
        pl.col("revenue__0", f"revenue__{DAYS_TTM}").fill_null(0))
    frame = frame.join(_wallet_inputs(con, [as_of], filters), on=keys, how="left")
    revenue_ttm = _window("revenue", 0, DAYS_TTM) if presence(con).has("revenue") else pl.lit(None, pl.Float64)
    frame = frame.with_columns(revenue_ttm=revenue_ttm).with_columns(
        share_of_wallet=rules.share_of_wallet("revenue_ttm", "wallet_current"))
    return frame.with_columns(
        is_share_of_wallet_above_1=pl.col("share_of_wallet").is_not_null() & (rules.decision_value("share_of_wallet") > 1),
        revenue_ttm=pl.col("revenue_ttm").cast(pl.Float64), share_of_wallet=pl.col("share_of_wallet").cast(pl.Float64),
        wallet_current=pl.col("wallet_current").cast(pl.Float64),
    ).select(*E.ACCOUNT_COLUMNS, "as_of", "revenue_ttm", "wallet_current", "share_of_wallet",
             "is_share_of_wallet_above_1").sort(keys)


#: Decimals window sums are rounded to: a difference of two running totals carries float noise (1e-11 on
#: totals of 1e5), which must not turn a window that sums to exactly 0 into a tiny positive or negative amount
#: (revenue_ttm ≤ 0 decides whether the margin percentages are null).
WINDOW_DECIMALS = rules.DECISION_DECIMALS


def _window(col: str, start: int, end: int) -> pl.Expr:
    """Sum over as_of − (end − 1) … as_of − start: cum(as_of − start) − cum(as_of − end), rounded."""
    return (pl.col(f"{col}__{start}") - pl.col(f"{col}__{end}")).round(WINDOW_DECIMALS)


def _safe_div(num: pl.Expr, den: pl.Expr, when_null: pl.Expr) -> pl.Expr:
    return pl.when(when_null).then(None).otherwise(num / den)


#: Offsets (days before as_of) of the running totals: as_of, the 90-day windows, TTM and prior TTM.
ALL_OFFSETS = (0, DAYS_90, DAYS_PRIOR_90_END, DAYS_TTM, DAYS_PRIOR_TTM_END)
#: The health score needs no prior TTM (revenue_prior_ttm, revenue_growth_pct are null in health-only frames).
HEALTH_OFFSETS = (0, DAYS_90, DAYS_PRIOR_90_END, DAYS_TTM)


def metrics_at(
    con, points: Sequence[date], filters: Filters | None = None, settings: Settings | None = None,
    with_health: bool = True, offsets: Sequence[int] = ALL_OFFSETS, champions: pl.DataFrame | None = None,
    present: Presence | None = None,
) -> pl.DataFrame:
    """Every account key of METRICS.md for each account passing `filters` at each as_of in `points`.

    With offsets=HEALTH_OFFSETS (health history) the prior-TTM figures are left null. `champions`: the
    champion_flags of these points and filters when the caller already has them (champion_flags_from_status).
    `present`: what the export carried (read from the snapshot when None); a key whose input is absent is null
    (METRICS.md "Data that is not there")."""
    settings = settings or Settings()
    if present is None:
        present = presence(con)
    filters = filters or NO_FILTERS
    points = sorted(set(E._as_date(p) for p in points))
    use = marts_current(con)
    keys = ["account_id", "as_of"]

    # The running totals (the biggest read) on this thread, the other reads meanwhile on other cursors.
    champ_job = E.in_background(con, lambda cur: champion_flags(cur, points, filters, settings, use)) \
        if champions is None else None
    side = E.in_background(con, lambda cur: (E.accounts_frame(cur, filters), _wallet_inputs(cur, points, filters)))
    cumulative = _cumulative_inputs(con, use, points, filters, settings, offsets)
    accounts, wallet = side.result()
    champ = champ_job.result() if champ_job is not None else champions.select(
        "account_id", "as_of", "champion_left", "champion_quiet")
    frame = E.points_frame(accounts, points)
    frame = frame.join(cumulative, on=keys, how="left")
    # Sums of nothing are 0; "last" dates stay null.
    fill = [c for c in frame.columns if "__" in c and not c.startswith(("last_d", "last_review", "last_plan"))]
    frame = frame.with_columns(pl.col(fill).fill_null(0))
    frame = frame.join(champ, on=keys, how="left").with_columns(
        pl.col("champion_left").fill_null(False), pl.col("champion_quiet").fill_null(False)
    )
    frame = frame.join(wallet, on=keys, how="left")
    frame = without_absent(derive(frame, settings), present)
    if with_health:
        frame = add_health(frame, settings)
    return frame.sort(keys)


def derive(f: pl.DataFrame, s: Settings) -> pl.DataFrame:
    """The account keys from the cumulative inputs (columns `<measure>__<offset>`)."""
    f = f.with_columns(
        touches_90d=_window("touches", 0, DAYS_90),
        touches_prior_90d=_window("touches", DAYS_90, DAYS_PRIOR_90_END),
        weighted_touches_90d=_window("weighted", 0, DAYS_90),
        weighted_touches_prior_90d=_window("weighted", DAYS_90, DAYS_PRIOR_90_END),
        days_since_last_touch=(pl.col("as_of") - pl.col("last_d__0")).dt.total_days(),
        nps_responses_365d=_window("nps_responses", 0, DAYS_TTM),
        nps_net_365d=_window("nps_net", 0, DAYS_TTM),
        csat_responses_365d=_window("csat_responses", 0, DAYS_TTM),
        csat_sum_365d=_window("csat_sum", 0, DAYS_TTM),
        revenue_ttm=_window("revenue", 0, DAYS_TTM),
        revenue_prior_ttm=_window("revenue", DAYS_TTM, DAYS_PRIOR_TTM_END)
        if f"revenue__{DAYS_PRIOR_TTM_END}" in f.columns else pl.lit(None, dtype=pl.Float64),
        engaged_contacts_90d=pl.col("engaged__0").round(0),
        c_level_engaged_90d=pl.col("c_level_engaged__0").round(0) > 0,
        decision_maker_engaged_90d=pl.col("dm_engaged__0").round(0) > 0,
        gross_margin_ttm=_window("margin", 0, DAYS_TTM),
        gross_margin_to_date=pl.col("margin__0"),
        cost_to_serve_ttm=_window("service_cost", 0, DAYS_TTM) + _window("activity_cost", 0, DAYS_TTM)
        + _window("case_cost", 0, DAYS_TTM),
        cost_to_serve_to_date=pl.col("service_cost__0") + pl.col("activity_cost__0") + pl.col("case_cost__0"),
        plan_current=pl.col("last_plan__0").is_not_null()
        & (pl.col("last_plan__0") >= pl.col("as_of") - pl.duration(days=s.plan_window_days - 1)),
        review_current=pl.col("last_review__0").is_not_null()
        & (pl.col("last_review__0") >= pl.col("as_of") - pl.duration(days=s.review_window_days - 1)),
        has_sponsor=pl.col("executive_sponsor").is_not_null()
        & (pl.col("executive_sponsor").str.strip_chars() != ""),
    )
    f = f.with_columns(
        engagement_trend_pct=_safe_div(
            100.0 * (pl.col("weighted_touches_90d") - pl.col("weighted_touches_prior_90d")),
            pl.col("weighted_touches_prior_90d"),
            pl.col("weighted_touches_prior_90d") == 0,
        ),
        nps_365d=_safe_div(100.0 * pl.col("nps_net_365d"), pl.col("nps_responses_365d"),
                           pl.col("nps_responses_365d") == 0),
        csat_365d=_safe_div(pl.col("csat_sum_365d"), pl.col("csat_responses_365d"), pl.col("csat_responses_365d") == 0),
        revenue_growth_pct=_safe_div(
            100.0 * (pl.col("revenue_ttm") - pl.col("revenue_prior_ttm")),
            pl.col("revenue_prior_ttm"),
            pl.col("revenue_prior_ttm") <= 0,
        ),
        share_of_wallet=rules.share_of_wallet("revenue_ttm", "wallet_current"),
        wallet_headroom=rules.wallet_headroom("revenue_ttm", "wallet_current"),
        net_contribution_ttm=pl.col("gross_margin_ttm") - pl.col("cost_to_serve_ttm"),
        value_to_date=pl.col("gross_margin_to_date") - pl.col("cost_to_serve_to_date"),
        single_threaded=pl.col("engaged_contacts_90d") < s.multithread_min_contacts,
        cadence_status=pl.when(pl.col("plan_current") & pl.col("review_current"))
        .then(pl.lit("on_cadence"))
        .when(pl.col("plan_current") | pl.col("review_current"))
        .then(pl.lit("partial"))
        .otherwise(pl.lit("overdue")),
    )
    ltv_factor = sum(
        (s.retention_rate**t) / ((1.0 + s.discount_rate) ** t) for t in range(1, int(s.ltv_horizon_years) + 1)
    )
    f = f.with_columns(
        cost_to_serve_pct=_safe_div(
            100.0 * pl.col("cost_to_serve_ttm"), pl.col("revenue_ttm"), pl.col("revenue_ttm") <= 0
        ),
        net_margin_pct=_safe_div(
            100.0 * pl.col("net_contribution_ttm"), pl.col("revenue_ttm"), pl.col("revenue_ttm") <= 0
        ),
        lifetime_value=pl.col("net_contribution_ttm") * ltv_factor,
        is_share_of_wallet_above_1=pl.col("share_of_wallet").is_not_null() & (rules.decision_value("share_of_wallet") > 1),
    )
    int_cols = ["touches_90d", "engaged_contacts_90d", "days_since_last_touch"]
    float_cols = [
        "weighted_touches_90d", "weighted_touches_prior_90d", "revenue_ttm", "revenue_prior_ttm", "gross_margin_ttm",
        "cost_to_serve_ttm", "net_contribution_ttm", "value_to_date", "lifetime_value", "wallet_current",
        "wallet_headroom", "share_of_wallet", "engagement_trend_pct", "nps_365d", "csat_365d", "revenue_growth_pct",
        "cost_to_serve_pct", "net_margin_pct",
    ]
    return f.with_columns(pl.col(int_cols).cast(pl.Int64), pl.col(float_cols).cast(pl.Float64))


def without_absent(f: pl.DataFrame, present: Presence) -> pl.DataFrame:
    """The account keys whose input the export did not carry set to null (presence.key_absence),
    has_contacts_data (whether contacts were carried: the relationship component needs them), and
    cost_to_serve_sources: the sources cost_to_serve_ttm counts (only those present; the absent ones add
    nothing, as they have no rows)."""
    sources = cost_to_serve_sources(present)
    f = f.with_columns(cost_to_serve_sources=pl.lit(", ".join(sources) if sources else None, dtype=pl.String),
                       **{CONTACTS_PRESENT: pl.lit(present.has("contacts"))})
    absent = [k for k in key_absence(present) if k in f.columns]
    if not absent:
        return f
    return f.with_columns(pl.lit(None, dtype=f.schema[k]).alias(k) for k in absent)


def account_metrics(con, as_of: date | None = None, filters: Filters | None = None, settings: Settings | None = None):
    """One row per account: every account-level key of METRICS.md, the health score and selection_score."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    frame = full_frame(con, as_of, settings)
    if not filters.is_empty:
        keep = E.accounts_frame(con, filters)["account_id"]
        frame = frame.filter(pl.col("account_id").is_in(keep.implode()))
    return public_columns(frame)


def full_frame(con, as_of: date, settings: Settings) -> pl.DataFrame:
    """All accounts at as_of with every key, health and selection_score (ranks are over all accounts, so the
    filters are applied after), plus the intermediate columns programme and goal figures need."""
    return add_selection_score(metrics_at(con, [as_of], NO_FILTERS, settings), settings)


def public_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The documented output columns of account_metrics, in order."""
    cols = [*E.ACCOUNT_COLUMNS, "as_of", *ACCOUNT_KEYS, *HEALTH_OUTPUT_COLUMNS]
    if "selection_score" in frame.columns:
        cols.append("selection_score")
    cols += ["is_share_of_wallet_above_1", "cost_to_serve_sources"]
    return frame.select(cols)
