"""Shared machinery of the metrics: argument defaults, SQL helpers and running totals at many as_of dates.

A window sum is a difference of running totals: the sum over `b1 + 1 … b2` is `cum(b2) − cum(b1)`, where
`cum(b)` is the sum over all dates ≤ b. `account_cumulative` gets `cum` for every account at every bound
needed (each as_of minus each offset) from two small reads: the weekly running totals of
mart_account_weekly_cum at the Sunday before each bound, plus the daily rows of mart_account_daily after
that Sunday. So 26 as_of dates (health history) cost little more than one, and neither depends on how many
years of history the snapshot holds.
"""

from __future__ import annotations

import os
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Sequence

import duckdb
import numpy as np
import polars as pl

from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.load.marts import mart_source, marts_current
from kam_metrics.settings import Settings

ACCOUNT_COLUMNS = (
    "account_id", "account_name", "is_key_account", "region", "segment", "kam_owner", "executive_sponsor",
)


def query(con, sql: str, params: Sequence = ()) -> pl.DataFrame:
    """Run one SQL statement with parameters and return its result as a Polars frame."""
    return con.sql(sql, params=list(params)).pl()


def _new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="kam-metrics")


#: Worker threads for reads that can overlap (DuckDB runs a query without holding the GIL); a forked child
#: gets a pool of its own (the parent's threads do not exist there).
_POOL = _new_pool()
_IN_WORKER = threading.local()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: globals().__setitem__("_POOL", _new_pool()))


def in_background(con, work) -> Future:
    """Start work(cursor) on its own cursor of `con` in a worker thread (the cursor is closed afterwards), so
    that independent reads overlap; `.result()` gives its value (or raises its error). Runs it at once on `con`
    itself when `con` cannot open a cursor, or when called from a worker (a worker never waits for another, so
    the pool cannot deadlock however many sessions use it)."""
    cursor = None
    if not getattr(_IN_WORKER, "active", False):
        try:
            cursor = con.cursor()
        except (AttributeError, duckdb.Error):
            cursor = None
    if cursor is None:
        done: Future = Future()
        try:
            done.set_result(work(con))
        except BaseException as error:  # handed to the caller through .result(), as from a thread
            done.set_exception(error)
        return done

    def run():
        _IN_WORKER.active = True
        try:
            return work(cursor)
        finally:
            _IN_WORKER.active = False
            cursor.close()

    return _POOL.submit(run)


def resolve(con, as_of: date | None, filters: Filters | None, settings: Settings | None):
    """(as_of, filters, settings) with the documented defaults filled in."""
    settings = settings or Settings()
    filters = filters or NO_FILTERS
    if as_of is None:
        as_of = default_as_of(con)
    return _as_date(as_of), filters, settings


def _as_date(value) -> date:
    if hasattr(value, "date") and callable(value.date):  # datetime
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value


def default_as_of(con: duckdb.DuckDBPyConnection, today: date | None = None) -> date:
    """as_of: the latest activity_date or revenue_date not after today; today when there is none."""
    today = today or date.today()
    use = marts_current(con)
    if not use:  # no marts: ask the checked tables directly
        rows = con.execute(
            "SELECT greatest((SELECT max(activity_date) FROM activities WHERE activity_date <= ?::DATE),"
            " (SELECT max(revenue_date) FROM revenue WHERE revenue_date <= ?::DATE))",
            [today, today],
        ).fetchall()
        return rows[0][0] if rows and rows[0][0] is not None else today
    cap, _ = _mart_edges(con, use)
    # The weekly running maxima at the last Sunday ≤ today (within the marts), then the days after it.
    sunday = min(_sunday_on_or_before(today), cap) if cap is not None else date(1, 1, 1)
    rows = con.execute(
        f"""SELECT greatest(
                (SELECT max(greatest(t.act_d, t.rev_d)) FROM {mart(con, "mart_account_weekly_cum", use)} t
                 WHERE t.d = ?::DATE),
                (SELECT max(greatest(t.act_d, t.rev_d)) FROM {mart(con, "mart_account_daily", use)} t
                 WHERE t.d > ?::DATE AND t.d <= ?::DATE))""",
        [sunday, sunday, today],
    ).fetchall()
    latest = rows[0][0] if rows else None
    return latest if latest is not None else today


@dataclass(frozen=True)
class AccountFilters(Filters):
    """The filters further restricted to the given accounts (one account's history or movement needs no other)."""

    account_ids: tuple[str, ...] = ()

    def sql(self, alias: str = "a") -> tuple[str, list]:
        cond, params = super().sql(alias)
        if not self.account_ids:
            return cond, params
        ids = f"{alias}.account_id IN ({', '.join('?' for _ in self.account_ids)})"
        return (ids if cond == "TRUE" else f"{cond} AND {ids}"), [*params, *self.account_ids]

    @property
    def is_empty(self) -> bool:
        return super().is_empty and not self.account_ids


def only_accounts(filters: Filters, account_id: str | None) -> Filters:
    """`filters` restricted to `account_id` (unchanged when it is None)."""
    if account_id is None:
        return filters
    return AccountFilters(regions=filters.regions, segments=filters.segments, kam_owners=filters.kam_owners,
                          key_only=filters.key_only, account_ids=(str(account_id),))


def account_filter_sql(filters: Filters, column: str = "t.account_id") -> tuple[str, list]:
    """`AND <column> IN (accounts passing the filters)`, or '' when unfiltered."""
    if filters.is_empty:
        return "", []
    cond, params = filters.sql("fa")
    return f" AND {column} IN (SELECT fa.account_id FROM accounts fa WHERE {cond})", params


def accounts_frame(con, filters: Filters) -> pl.DataFrame:
    """The accounts passing the filters, with their descriptive columns, sorted by account_id."""
    cond, params = filters.sql("a")
    cols = ", ".join(f"a.{c}" for c in ACCOUNT_COLUMNS)
    return query(con, f"SELECT {cols} FROM accounts a WHERE {cond} ORDER BY a.account_id", params)


def days(n: int) -> timedelta:
    return timedelta(days=int(n))


#: Up to this many bounds, daily rows are bucketed with a CASE chain; beyond it, through a day → bucket map join.
_CASE_BOUNDS = 12


def day_buckets(first_day: date, bounds: Sequence[date]) -> tuple[list[date], list[int]]:
    """Every day from first_day to the last of the sorted `bounds`, with the index of the first bound on or after
    it (the day → bucket map of a join)."""
    day_list: list[date] = []
    index_list: list[int] = []
    j, day = 0, first_day
    while day <= bounds[-1]:
        while bounds[j] < day:
            j += 1
        day_list.append(day)
        index_list.append(j)
        day += days(1)
    return day_list, index_list
_EPOCH = date(1970, 1, 1)
_NO_DAY = np.iinfo(np.int64).min  # "no date" while accumulating maxima of dates (as days since the epoch)


@dataclass(frozen=True)
class Measure:
    """A figure to accumulate over the account marts: `expr` is a SQL expression over a mart row aliased t,
    linear in the mart's additive columns (so the running totals of mart_account_weekly_cum give its running
    total), with `params` for its `?`; kind 'max' takes the latest of a date column instead."""

    name: str
    expr: str
    params: tuple = ()
    kind: str = "sum"
    offsets: tuple | None = None  # the offsets to output (None: all that are asked for)


def _sunday_on_or_before(d: date) -> date:
    return d - timedelta(days=d.isoweekday() % 7)


_EDGES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _mart_edges(con, use: bool) -> tuple[date | None, date | None]:
    """(last Sunday of mart_account_weekly_cum, earliest day of mart_account_daily); remembered per connection
    when the snapshot has its marts (a snapshot never changes once written)."""
    if use:
        try:
            if con in _EDGES:
                return _EDGES[con]
        except TypeError:
            pass
    weekly = mart(con, "mart_account_weekly_cum", use)
    daily = mart(con, "mart_account_daily", use)
    rows = con.execute(f"SELECT (SELECT max(d) FROM {weekly}), (SELECT min(d) FROM {daily})").fetchall()
    edges = (rows[0][0], rows[0][1])
    if use:
        try:
            _EDGES[con] = edges
        except TypeError:
            pass
    return edges


def account_cumulative(
    con,
    measures: Sequence[Measure],
    points: Sequence[date],
    offsets: Iterable[int],
    filters: Filters = NO_FILTERS,
    use: bool | None = None,
) -> pl.DataFrame:
    """Running totals of `measures` per account at as_of − offset, for each as_of in `points` and each offset.

    Returns one row per account (that has any mart row) and as_of, with columns `<name>__<offset>`: the total
    over the mart rows dated ≤ as_of − offset (0 when none), or for 'max' measures the latest date (null).
    A total at a bound b is the running total of mart_account_weekly_cum at the latest Sunday on or before b
    (capped at the mart's last week) plus the daily rows after that Sunday up to b, so a query reads one
    weekly row per account and bound and at most six days of daily rows per bound, however long the history.
    """
    if use is None:
        use = marts_current(con)
    offsets = sorted(set(int(o) for o in offsets))
    points = sorted(set(points))
    edges = _mart_edges(con, use)
    if len({p - days(o) for p in points for o in offsets}) > _CASE_BOUNDS:
        # Many as_of dates: the scans dominate (not the planning of a few more statements), so each set of
        # measures is summed only at the bounds its own offsets need (the 90-day windows not at as_of − 365).
        by_offsets: dict[tuple, list[Measure]] = {}
        for m in measures:
            wanted = tuple(o for o in offsets if m.offsets is None or o in m.offsets)
            if wanted:
                by_offsets.setdefault(wanted, []).append(m)
        if len(by_offsets) > 1:
            result = None
            for wanted, group in by_offsets.items():
                part = _account_cumulative(con, group, points, list(wanted), filters, use, edges)
                result = part if result is None else result.join(part, on=["account_id", "as_of"], how="full",
                                                                  coalesce=True)
            sum_cols = [f"{m.name}__{o}" for m in measures if m.kind == "sum" for o in offsets
                        if f"{m.name}__{o}" in result.columns]
            return result.with_columns(pl.col(sum_cols).fill_null(0.0))
    return _account_cumulative(con, measures, points, offsets, filters, use, edges)


def _account_cumulative(con, measures, points, offsets, filters, use, edges) -> pl.DataFrame:
    bounds = sorted({p - days(o) for p in points for o in offsets})
    cap, first_day = edges
    if cap is None:  # no weekly totals (no data up to the build date): everything comes from the daily rows
        floor = (first_day or bounds[0]) - days(1)
        base_of = {b: min(floor, b) for b in bounds}
    else:
        base_of = {b: min(_sunday_on_or_before(b), cap) for b in bounds}
    bases = sorted(set(base_of.values()))
    sums = [m for m in measures if m.kind == "sum"]
    maxes = [m for m in measures if m.kind == "max"]
    filter_sql, filter_params = account_filter_sql(filters)

    # 1. Running totals at each base Sunday (read on a second cursor while the daily rows are read here).
    exprs = [f"({m.expr}) AS {m.name}" for m in measures]
    expr_params = [x for m in measures for x in m.params]
    weekly_sql = (f"SELECT t.account_id, t.d AS base, {', '.join(exprs)} "
                  f"FROM {mart(con, 'mart_account_weekly_cum', use)} t "
                  f"WHERE t.d IN (SELECT unnest(?::DATE[])) {filter_sql}")
    weekly_job = in_background(con, lambda cur: query(cur, weekly_sql, [*expr_params, bases, *filter_params])) \
        if cap is not None else None

    # 2. Daily rows after each base up to its bounds, summed per bucket (the first bound on or after the day).
    groups: dict[date, list[date]] = {}
    for b in bounds:
        groups.setdefault(base_of[b], []).append(b)
    aggs = [f"sum({m.expr}) AS {m.name}" for m in sums] + [f"max({m.expr}) AS {m.name}" for m in maxes]
    agg_params = [x for m in sums for x in m.params] + [x for m in maxes for x in m.params]
    daily_source = mart(con, "mart_account_daily", use)
    ranges = [(base, max(bs)) for base, bs in groups.items() if max(bs) > base]
    if not ranges:
        daily = None
    elif len(bounds) <= _CASE_BOUNDS:
        whens, when_params = [], []
        for base, bs in groups.items():
            for b in sorted(bs):
                if b > base:
                    whens.append("WHEN t.d > ?::DATE AND t.d <= ?::DATE THEN ?::DATE")
                    when_params += [base, b, b]
        in_ranges = " OR ".join("(t.d > ?::DATE AND t.d <= ?::DATE)" for _ in ranges)
        daily = query(
            con,
            f"SELECT t.account_id, CASE {' '.join(whens)} END AS bucket, {', '.join(aggs)} FROM {daily_source} t "
            f"WHERE ({in_ranges}) {filter_sql} GROUP BY ALL",
            [*when_params, *agg_params, *[x for r in ranges for x in r], *filter_params],
        )
    else:
        day_list: list[date] = []
        bucket_list: list[date] = []
        for base, bs in groups.items():
            bs = sorted(bs)
            group_days, group_index = day_buckets(base + days(1), bs)
            day_list += group_days
            bucket_list += [bs[j] for j in group_index]
        daily = query(
            con,
            f"WITH daymap AS (SELECT unnest(?::DATE[]) AS day, unnest(?::DATE[]) AS bucket) "
            f"SELECT t.account_id, m.bucket, {', '.join(aggs)} FROM {daily_source} t JOIN daymap m ON m.day = t.d "
            f"WHERE t.d BETWEEN ?::DATE AND ?::DATE {filter_sql} GROUP BY ALL",
            [day_list, bucket_list, *agg_params, min(day_list), max(day_list), *filter_params],
        )
    weekly = weekly_job.result() if weekly_job is not None else None
    return _combine(weekly, daily, bounds, base_of, groups, points, offsets, sums, maxes)


def _combine(weekly, daily, bounds, base_of, groups, points, offsets, sums, maxes) -> pl.DataFrame:
    """Weekly base totals + daily bucket totals → totals at each as_of − offset, one row per account × as_of."""
    ids = [f["account_id"] for f in (weekly, daily) if f is not None and f.height]
    key_frame = (pl.concat(ids).unique().sort().to_frame("account_id") if ids
                 else pl.DataFrame(schema={"account_id": pl.String}))
    # account_id → its row in key_frame: the physical code of an Enum whose categories are the sorted ids
    key_enum = pl.Enum(key_frame["account_id"])
    n_keys, n_bounds = key_frame.height, len(bounds)
    bound_index = {b: i for i, b in enumerate(bounds)}
    bases = sorted(set(base_of.values()))
    base_index = {b: i for i, b in enumerate(bases)}
    base_of_bound = np.array([base_index[base_of[b]] for b in bounds], dtype=np.int64)
    # index of the first bound of each bound's group (daily totals restart at each group)
    group_start = np.empty(n_bounds, dtype=np.int64)
    for base, bs in groups.items():
        first = bound_index[min(bs)]
        for b in bs:
            group_start[bound_index[b]] = first
    restart = np.flatnonzero(group_start > 0)
    lookup = np.array([[bound_index[p - days(o)] for o in offsets] for p in points], dtype=np.int64)

    def positions(frame, col, mapping):
        """(account index, column index) of each result row; (account, column) pairs are unique per query."""
        if frame is None or not frame.height:
            return None
        idx = frame.select(
            pl.col("account_id").cast(key_enum).to_physical().cast(pl.Int64),
            pl.col(col).cast(pl.Date).replace_strict(mapping, return_dtype=pl.Int64),
        )
        return idx.to_series(0).to_numpy(), idx.to_series(1).to_numpy()

    at_week = positions(weekly, "base", base_index)
    at_day = positions(daily, "bucket", bound_index)

    def matrix(frame) -> dict[str, np.ndarray]:
        """Each measure's values of the result rows (sums as floats, 0 for null; 'max' dates as days since the
        epoch, _NO_DAY for null), converted in one step per kind."""
        out: dict[str, np.ndarray] = {}
        if frame is None or not frame.height:
            return out
        for group, exprs in (
            (sums, [pl.col(m.name).cast(pl.Float64).fill_null(0.0) for m in sums]),
            (maxes, [pl.col(m.name).cast(pl.Date).cast(pl.Int64).fill_null(_NO_DAY) for m in maxes]),
        ):
            if group:
                values = frame.select(exprs).to_numpy()
                out.update({m.name: values[:, i] for i, m in enumerate(group)})
        return out

    week_values, day_values = matrix(weekly), matrix(daily)
    columns: dict[str, np.ndarray] = {}
    date_cols: list[str] = []
    for measure in [*sums, *maxes]:
        is_max = measure.kind == "max"
        fill = _NO_DAY if is_max else 0.0
        dtype = np.int64 if is_max else np.float64

        # bounds × accounts (each bound's row contiguous, so running totals add whole rows)
        day_grid = np.full((n_bounds, n_keys), fill, dtype=dtype)
        if at_day is not None:
            day_grid[at_day[1], at_day[0]] = day_values[measure.name]
        if is_max:
            for bs in groups.values():
                idx = sorted(bound_index[b] for b in bs)
                day_grid[idx, :] = np.maximum.accumulate(day_grid[idx, :], axis=0)
        else:
            running = np.cumsum(day_grid, axis=0)
            if restart.size:
                running[restart, :] -= running[group_start[restart] - 1, :]
            day_grid = running
        base_grid = np.full((len(bases), n_keys), fill, dtype=dtype)
        if at_week is not None:
            base_grid[at_week[1], at_week[0]] = week_values[measure.name]
        for j, o in enumerate(offsets):
            if measure.offsets is not None and o not in measure.offsets:
                continue
            cols = lookup[:, j]  # the bound of each point
            base = base_grid[base_of_bound[cols], :]
            day = day_grid[cols, :]
            name = f"{measure.name}__{o}"
            # points × accounts → one row per account and point, account by account
            columns[name] = (np.maximum(base, day) if is_max else base + day).T.ravel()
            if is_max:
                date_cols.append(name)
    n_points = len(points)
    point_days = np.array([(p - _EPOCH).days for p in points], dtype=np.int32)
    frame = key_frame.select(pl.col("account_id").repeat_by(n_points).explode()).with_columns(
        pl.Series("as_of", np.tile(point_days, n_keys)).cast(pl.Date)
    )
    measures = pl.DataFrame(columns) if columns else pl.DataFrame()
    if date_cols:
        measures = measures.with_columns(
            pl.when(pl.col(c) == _NO_DAY).then(None).otherwise(pl.col(c)).cast(pl.Int32).cast(pl.Date).alias(c)
            for c in date_cols
        )
    return pl.concat([frame, measures], how="horizontal") if measures.width else frame


def points_frame(accounts: pl.DataFrame, points: Sequence[date]) -> pl.DataFrame:
    """Every account × every as_of point."""
    return accounts.join(pl.DataFrame({"as_of": pl.Series(sorted(set(points)), dtype=pl.Date)}), how="cross")


def mart(con, name: str, use: bool) -> str:
    return mart_source(con, name, use)
