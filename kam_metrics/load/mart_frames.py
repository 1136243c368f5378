"""The marts of `kam_metrics.load.marts`, computed in Polars from the checked frames while a load stores them.

`marts.MART_SQL` is the definition of every mart (and what the metrics fall back on without stored marts).
Running those SELECTs over the stored tables took as long as the rest of a load at 10,000 accounts, mostly
in grouping on text keys and in 39 running-sum windows. This module computes the same rows while the
checked frames are still in memory: the pipeline hands each checked table to `MartBuilder.add` (on the main
thread, while a writer thread stores the table), and `MartBuilder.frames()` returns the finished marts to
store. Keys are packed into one integer (account code, contact code, day), so the big groupings are integer
groupings; the text keys come back at the end. `tests/test_mart_frames.py` checks that every mart equals its
SQL definition, row for row.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import polars as pl

from kam_metrics.load.contract import ACTIVITY_TYPES, CASE_PRIORITIES, COST_CATEGORIES
from kam_metrics.load.marts import ACCOUNT_DATES, ACCOUNT_MEASURES, ENGAGEMENT_WINDOW_DAYS

#: Which measure marks the day in each date column of the account marts.
_DATE_MARKS = {"act_d": "touches", "rev_d": "rev_rows", "review_d": "reviews", "plan_d": "plans"}
_DECISION_ROLES = ("decision_maker", "economic_buyer")


class _Codes:
    """A growing dictionary of text ids (accounts or contacts) → dense integer codes."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.enum = pl.Enum([])

    def extend(self, ids: pl.Series) -> None:
        known = set(self.values)
        new = sorted(v for v in ids.drop_nulls().unique().to_list() if v not in known)
        if new:
            self.values = self.values + new
            self.enum = pl.Enum(self.values)

    def encode(self, column: pl.Series) -> pl.Series:
        """Integer codes of the column's ids (null stays null); unseen ids are added first."""
        coded = column.cast(self.enum, strict=False)
        if coded.null_count() != column.null_count():
            self.extend(column.filter(coded.is_null()))
            coded = column.cast(self.enum)
        return coded.to_physical().cast(pl.Int64)

    def ranks(self) -> pl.Series:
        """Each code's position in text order of the ids."""
        return pl.Series(np.argsort(np.argsort(np.array(self.values, dtype=object), kind="stable")), dtype=pl.Int64)

    def decode(self, codes: pl.Series) -> pl.Series:
        return pl.Series(self.values, dtype=pl.String).gather(codes)

    def __len__(self) -> int:
        return len(self.values)


def _days(column: pl.Series) -> pl.Series:
    return column.cast(pl.Int32).cast(pl.Int64)


def _enum_codes(column: pl.Series, values: tuple[str, ...], fallback: str) -> pl.Series:
    """Codes into `values`, anything else (null included) to the fallback's code, as marts._enum_case."""
    return column.cast(pl.Enum(values), strict=False).to_physical().cast(pl.Int64).fill_null(values.index(fallback))


class MartsTooLarge(Exception):
    """The packed integer keys would overflow (billions of accounts × contacts × days): build the marts with SQL."""


class MartBuilder:
    """Collects per-table partial aggregates from checked frames; `frames()` assembles the marts."""

    def __init__(self, today: date | None = None) -> None:
        self.today = today or date.today()
        self.accounts = _Codes()
        self.contacts = _Codes()
        self.contact_flags: pl.DataFrame | None = None  # contact_id, is_c_level, is_decision_maker, is_champion
        self.parts: list[pl.DataFrame] = []  # account code `a`, day `d`, measures (Float64)
        self.activity_types: pl.DataFrame | None = None  # a, d of each (account, day) with activities
        self.activity_counts = np.zeros((0, len(ACTIVITY_TYPES)), dtype=np.int32)  # touches by type, a row per activity_types row
        self.contact_days: pl.DataFrame | None = None  # a, c, d, touches
        self.revenue_lines: pl.DataFrame | None = None  # a, d, product_line, amount, rows

    # -- per table ------------------------------------------------------------------------------------
    def add(self, table: str, frame: pl.DataFrame) -> None:
        """Take what the marts need from one checked table (the frame is only read)."""
        handler = getattr(self, f"_add_{table}", None)
        if handler is not None:
            handler(frame)

    def _add_accounts(self, frame: pl.DataFrame) -> None:
        self.accounts.extend(frame["account_id"])

    def _add_contacts(self, frame: pl.DataFrame) -> None:
        self.contacts.extend(frame["contact_id"])
        self.contact_flags = frame.select(
            "contact_id",
            (pl.col("seniority") == "c_level").fill_null(False).alias("is_c_level"),
            pl.col("buying_role").is_in(_DECISION_ROLES).fill_null(False).alias("is_decision_maker"),
            (pl.col("buying_role") == "champion").fill_null(False).alias("is_champion"),
        )

    def _grouped(self, frame: pl.DataFrame, date_column: str, aggs: list[pl.Expr]) -> pl.DataFrame:
        """Group a dated table by (account, day) on integer codes."""
        keyed = frame.with_columns(
            self.accounts.encode(frame["account_id"]).alias("a"), _days(frame[date_column]).alias("d")
        )
        return keyed.group_by("a", "d").agg(aggs)

    def _add_activities(self, frame: pl.DataFrame) -> None:
        a = self.accounts.encode(frame["account_id"]).to_numpy()
        d = _days(frame["activity_date"]).to_numpy()
        t = _enum_codes(frame["activity_type"], ACTIVITY_TYPES, "other").to_numpy()
        low = int(d.min()) if len(d) else 0
        span = int(d.max()) - low + 1 if len(d) else 1
        n_types = len(ACTIVITY_TYPES)
        _check_packable(len(self.accounts) + 1, span, n_types)
        # touches per (account, day, type): sort the packed keys and count the runs (in place: these arrays are
        # ten million long, and every fresh one costs page faults)
        keys = np.multiply(a, span)
        keys += d
        keys -= low
        keys *= n_types
        keys += t
        key, touches = _runs(keys)
        del keys
        day_key = key // n_types
        first = np.r_[True, day_key[1:] != day_key[:-1]] if len(key) else np.zeros(0, dtype=bool)
        group = np.cumsum(first) - 1
        by_type = np.zeros((int(first.sum()), n_types), dtype=np.int32)  # held to the end of the load: compact
        by_type[group, key % n_types] = touches
        cell = day_key[first]
        self.activity_types = pl.DataFrame({"a": cell // span, "d": cell % span + low})
        self.activity_counts = by_type
        # touches per (account, contact, day), sorted that way
        contact = frame["contact_id"]
        if contact.null_count():
            has_contact = contact.is_not_null().to_numpy()
            contact, a, d = contact.filter(pl.Series(has_contact)), a[has_contact], d[has_contact]
        c = self.contacts.encode(contact).to_numpy()
        n_contacts = max(len(self.contacts), 1)
        _check_packable(len(self.accounts) + 1, n_contacts, span)
        keys = np.multiply(a, n_contacts)
        keys += c
        keys *= span
        keys += d
        keys -= low
        key, touches = _runs(keys)
        del keys
        # held to the end of the load: 32-bit columns (a day number fits: ±5.8 million years)
        self.contact_days = pl.DataFrame({
            "a": (key // (span * n_contacts)).astype(np.int32), "c": ((key // span) % n_contacts).astype(np.int32),
            "d": (key % span + low).astype(np.int32), "touches": touches.astype(np.int32),
        })

    def _add_revenue(self, frame: pl.DataFrame) -> None:
        amount, cogs = pl.col("amount"), pl.col("cost_of_goods")
        self.parts.append(self._grouped(frame, "revenue_date", [
            amount.sum().alias("rev_amount"),
            (amount - cogs).filter(cogs.is_not_null()).sum().alias("rev_margin_known"),
            amount.filter(cogs.is_null()).sum().alias("rev_amount_nocogs"),
            pl.len().alias("rev_rows"),
        ]))
        line = pl.col("product_line").str.strip_chars(" ")  # as SQL trim(): spaces only
        keyed = frame.select(
            self.accounts.encode(frame["account_id"]).alias("a"), _days(frame["revenue_date"]).alias("d"),
            pl.when(line.is_null() | (line == "")).then(pl.lit("unassigned")).otherwise(line).alias("product_line"),
            "amount",
        )
        self.revenue_lines = keyed.group_by("a", "d", "product_line").agg(
            pl.col("amount").sum().alias("amount"), pl.len().cast(pl.Int64).alias("rows")
        )

    def _add_service_costs(self, frame: pl.DataFrame) -> None:
        category = pl.Series(COST_CATEGORIES).gather(_enum_codes(frame["category"], COST_CATEGORIES, "other"))
        frame = frame.select("account_id", "cost_date", "amount", category.alias("category"))
        self.parts.append(self._grouped(frame, "cost_date", [
            *[pl.col("amount").filter(pl.col("category") == v).sum().alias(f"sc_c_{v}") for v in COST_CATEGORIES],
            pl.col("amount").sum().alias("sc_amount"),
        ]))

    def _add_cases(self, frame: pl.DataFrame) -> None:
        priority = pl.Series(CASE_PRIORITIES).gather(_enum_codes(frame["priority"], CASE_PRIORITIES, "medium"))
        frame = frame.select("account_id", "opened_date", priority.alias("priority"))
        self.parts.append(self._grouped(frame, "opened_date", [
            (pl.col("priority") == v).sum().alias(f"case_n_{v}") for v in CASE_PRIORITIES
        ]))

    def _add_surveys(self, frame: pl.DataFrame) -> None:
        nps, csat = pl.col("nps"), pl.col("csat")
        self.parts.append(self._grouped(frame, "response_date", [
            (nps >= 9).sum().alias("promoters"), (nps <= 6).sum().alias("detractors"),
            nps.count().alias("nps_responses"), csat.sum().alias("csat_sum"), csat.count().alias("csat_responses"),
        ]))

    def _add_reviews(self, frame: pl.DataFrame) -> None:
        self.parts.append(self._grouped(frame, "review_date", [
            pl.len().alias("reviews"), (pl.col("review_type") == "plan_90_day").sum().alias("plans"),
        ]))

    # -- assembly ---------------------------------------------------------------------------------------
    def frames(self):
        """Every mart as stored, one at a time ((name, frame), freeing what it used): the same rows, columns and
        types as its `MART_SQL` SELECT, in the same order (mart_account_daily: by week, account, day)."""
        yield "mart_revenue_pl_daily", self._revenue_pl_daily()
        self.revenue_lines = None
        yield "mart_champion_activity", self._champion_activity()
        grid = _DayGrid(self._ranks(), self._account_parts())
        self.parts, self.activity_types, self.contact_days = [], None, None
        yield "mart_account_daily", grid.daily(self.accounts)
        yield "mart_activity_weekly", grid.activity_weekly(self.accounts)
        yield "mart_account_weekly_cum", grid.weekly_cum(self.accounts, self.today)

    def _ranks(self) -> np.ndarray:
        return self.accounts.ranks().to_numpy()

    def _account_parts(self) -> list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
        """(account codes, days, {measure: values}) per part; a part may repeat an (account, day): values add."""
        parts = []
        if self.activity_types is not None:
            counts = self.activity_counts
            measures = {f"n_{v}": counts[:, i] for i, v in enumerate(ACTIVITY_TYPES)}
            measures["touches"] = counts.sum(axis=1)
            parts.append((self.activity_types["a"].to_numpy(), self.activity_types["d"].to_numpy(), measures))
            parts.append(self._engaged_part())
        for part in self.parts:
            parts.append((part["a"].to_numpy(), part["d"].to_numpy(), {
                m: part[m].cast(pl.Float64).fill_null(0.0).to_numpy() for m in part.columns if m not in ("a", "d")
            }))
        return parts

    def _engaged_part(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Starts (+1) and ends (−1, the day after the 90-day window) of each contact's engaged periods."""
        days = self.contact_days  # sorted by (a, c, d)
        a, c, d = days["a"].to_numpy(), days["c"].to_numpy(), days["d"].to_numpy()
        window = ENGAGEMENT_WINDOW_DAYS
        same = (a[1:] == a[:-1]) & (c[1:] == c[:-1]) & (d[1:] - d[:-1] <= window)  # row i+1 continues row i
        starts = np.concatenate([[True], ~same]) if len(d) else np.zeros(0, dtype=bool)
        ends = np.concatenate([~same, [True]]) if len(d) else np.zeros(0, dtype=bool)
        ev_a = np.concatenate([a[starts], a[ends]])
        ev_c = np.concatenate([c[starts], c[ends]])
        ev_d = np.concatenate([d[starts], d[ends] + window])
        delta = np.concatenate([np.ones(int(starts.sum())), -np.ones(int(ends.sum()))])
        flags = self._contact_flag_codes()
        is_c_level = flags["is_c_level"].to_numpy()[ev_c] if len(ev_c) else np.zeros(0, dtype=bool)
        is_dm = flags["is_decision_maker"].to_numpy()[ev_c] if len(ev_c) else np.zeros(0, dtype=bool)
        return ev_a, ev_d, {"engaged_delta": delta, "c_level_delta": np.where(is_c_level, delta, 0.0),
                            "dm_delta": np.where(is_dm, delta, 0.0)}

    def _contact_flag_codes(self) -> pl.DataFrame:
        """is_c_level / is_decision_maker / is_champion by contact code (False for a contact not in contacts)."""
        codes = pl.DataFrame({"contact_id": pl.Series(self.contacts.values, dtype=pl.String)})
        if self.contact_flags is None:
            return codes.with_columns(is_c_level=pl.lit(False), is_decision_maker=pl.lit(False),
                                      is_champion=pl.lit(False))
        return codes.join(self.contact_flags, on="contact_id", how="left", maintain_order="left").fill_null(False)

    def _champion_activity(self) -> pl.DataFrame:
        schema = {"contact_id": pl.String, "d": pl.Date, "touches": pl.Int64}
        if self.contact_days is None:
            return pl.DataFrame(schema=schema)
        is_champion = self._contact_flag_codes()["is_champion"].to_numpy()
        days = self.contact_days.filter(pl.Series(is_champion[self.contact_days["c"].to_numpy()]))
        d = days["d"].to_numpy()
        offset = d - d.min() if len(d) else d
        small = np.int16 if len(d) and offset.max() < np.iinfo(np.int16).max else np.int64
        days = days[np.argsort(offset.astype(small), kind="stable")]  # by day (a radix sort for 16-bit keys)
        return pl.DataFrame({
            "contact_id": self.contacts.decode(days["c"]),
            "d": days["d"].cast(pl.Int32).cast(pl.Date),
            "touches": days["touches"].cast(pl.Int64),
        }, schema=schema)

    def _revenue_pl_daily(self) -> pl.DataFrame:
        schema = {"account_id": pl.String, "d": pl.Date, "product_line": pl.String, "amount": pl.Float64,
                  "rows": pl.Int64}
        if self.revenue_lines is None:
            return pl.DataFrame(schema=schema)
        lines = self.revenue_lines
        lines = lines.sort("d", self.accounts.ranks().gather(lines["a"]))  # ORDER BY d, account_id
        return lines.select(
            self.accounts.decode(lines["a"]).alias("account_id"), pl.col("d").cast(pl.Int32).cast(pl.Date),
            "product_line", "amount", "rows",
        ).cast(schema)



def _sunday(days: np.ndarray) -> np.ndarray:
    """The Sunday ending each day's ISO week (1970-01-01, day 0, was a Thursday)."""
    return days - (days + 3) % 7 + 6


class _DayGrid:
    """Every (account, day) with data over dense integer cells, ordered by (week, account_id, day).

    A cell is (week index × accounts + account rank) × 7 + weekday, the week index counting only weeks that
    have data, so the parts land in their rows by array indexing (no sort, no join) and the rows of one week
    and account are adjacent for the weekly running totals. The per-measure loops run on two threads (numpy
    releases the GIL).
    """

    def __init__(self, ranks: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]) -> None:
        self.ranks = ranks
        na = self.n_accounts = max(len(ranks), 1)
        days = [d for _, d, _ in parts if len(d)]
        self.first_sunday = int(min(_sunday(x).min() for x in days)) if days else 6
        n_weeks_span = (int(max(_sunday(x).max() for x in days)) - self.first_sunday) // 7 + 1 if days else 1
        has_week = np.zeros(n_weeks_span, dtype=bool)
        for d in days:
            has_week[(_sunday(d) - self.first_sunday) // 7] = True
        self.week_of_index = np.flatnonzero(has_week)
        index_of_week = np.cumsum(has_week) - 1

        def cell_of(a: np.ndarray, d: np.ndarray) -> np.ndarray:
            week = index_of_week[(_sunday(d) - self.first_sunday) // 7]
            return (week * na + ranks[a]) * 7 + (d + 3) % 7

        cells = [cell_of(a, d) for a, d, _ in parts]
        occupied = np.zeros(len(self.week_of_index) * na * 7, dtype=bool)
        for cell in cells:
            occupied[cell] = True
        self.cells = np.flatnonzero(occupied)
        row_of_cell = np.cumsum(occupied, dtype=np.int64 if len(occupied) >= 2**31 else np.int32)
        row_of_cell -= 1
        del occupied
        n = len(self.cells)
        self.values = {m: np.zeros(n) for m in ACCOUNT_MEASURES}
        jobs = []
        for (_, _, measures), cell in zip(parts, cells):
            rows = row_of_cell[cell]
            if not _has_repeats(rows):  # one value per row (each measure comes from one part)
                jobs += [(self.values[m], rows, v, False) for m, v in measures.items()]
            else:
                jobs += [(self.values[m], rows, v, True) for m, v in measures.items()]
        del row_of_cell

        def place(job) -> None:
            target, rows, v, adds = job
            if adds:
                target += np.bincount(rows, weights=v, minlength=len(target))
            else:
                target[rows] = v

        _on_two_threads(place, jobs)
        week_account = self.cells // 7
        self.rank = week_account % na
        self.week = self.week_of_index[week_account // na]  # weeks since first_sunday
        self.day = self.first_sunday + 7 * self.week - 6 + (self.cells % 7)
        self._group_sums: dict[str, np.ndarray] = {}
        # rows of one (week, account) are adjacent: where each group starts
        self.group_starts = np.r_[0, np.flatnonzero(week_account[1:] != week_account[:-1]) + 1] if n else \
            np.zeros(0, dtype=np.int64)

    def group_sums(self, m: str) -> np.ndarray:
        """The measure summed per (week, account) group, in group order."""
        if m not in self._group_sums:
            self._group_sums[m] = np.add.reduceat(self.values[m], self.group_starts) if len(self.group_starts) \
                else np.zeros(0)
        return self._group_sums[m]

    def activity_weekly(self, accounts: _Codes) -> pl.DataFrame:
        """mart_activity_weekly: touches per ISO week (its Monday), account and activity type, where not zero."""
        counts = np.column_stack([self.group_sums(f"n_{v}") for v in ACTIVITY_TYPES]) if len(self.group_starts) \
            else np.zeros((0, len(ACTIVITY_TYPES)))
        group, t = np.nonzero(counts)
        starts = self.group_starts[group]
        code = self._code_of_rank()
        return pl.DataFrame({
            "week_start": pl.Series(self.first_sunday + 7 * self.week[starts] - 6, dtype=pl.Int64)
            .cast(pl.Int32).cast(pl.Date),
            "account_id": accounts.decode(pl.Series(code[self.rank[starts]])),
            "activity_type": pl.Series(ACTIVITY_TYPES, dtype=pl.String).gather(t),
            "touches": counts[group, t].astype(np.int64),
        }, schema={"week_start": pl.Date, "account_id": pl.String, "activity_type": pl.String, "touches": pl.Int64})

    def _code_of_rank(self) -> np.ndarray:
        code = np.empty(len(self.ranks), dtype=np.int64)
        code[self.ranks] = np.arange(len(self.ranks))
        return code

    def _dates(self) -> dict[str, np.ndarray]:
        """act_d, rev_d, … of each row: its day when the row has that kind of event, else None (as INT_MIN)."""
        low = np.iinfo(np.int64).min
        return {name: np.where(self.values[src] > 0, self.day, low) for name, src in _DATE_MARKS.items()}

    def daily(self, accounts: _Codes) -> pl.DataFrame:
        """mart_account_daily (stored by week, account, day: a date-bounded scan still skips row groups)."""
        code = self._code_of_rank()
        return pl.DataFrame({
            "account_id": accounts.decode(pl.Series(code[self.rank])),
            "d": pl.Series(self.day, dtype=pl.Int64).cast(pl.Int32).cast(pl.Date),
            **{m: self.values[m] for m in ACCOUNT_MEASURES},
            **{c: _date_or_null(v) for c, v in self._dates().items()},
        })

    def weekly_cum(self, accounts: _Codes, today: date) -> pl.DataFrame:
        """mart_account_weekly_cum: running totals per account at every Sunday from its first week to the last
        week with data up to today (+6 days)."""
        schema = {"account_id": pl.String, "d": pl.Date, **{m: pl.Float64 for m in ACCOUNT_MEASURES},
                  **{c: pl.Date for c in ACCOUNT_DATES}}
        if not len(self.cells):
            return pl.DataFrame(schema=schema)
        na = self.n_accounts
        sundays = self.first_sunday + 7 * self.week_of_index
        today_days = (today - date(1970, 1, 1)).days
        up_to_today = sundays[sundays <= today_days + 6]
        last_week = (int((up_to_today if len(up_to_today) else sundays).max()) - self.first_sunday) // 7
        n_weeks = last_week + 1
        first_week = np.full(na, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_week, self.rank, self.week)
        _on_two_threads(self.group_sums, list(ACCOUNT_MEASURES))
        starts = self.group_starts
        in_grid = self.week[starts] <= last_week
        weeks_per_account = np.clip(last_week - first_week + 1, 0, None)
        if _use_rectangle(n_weeks * na, int(weeks_per_account.sum())):
            rank, week, columns = self._running_rectangle(n_weeks, first_week, in_grid)
        else:
            rank, week, columns = self._running_segments(weeks_per_account, first_week, in_grid)
        code = self._code_of_rank()
        return pl.DataFrame({
            "account_id": accounts.decode(pl.Series(code[rank])),
            "d": pl.Series(self.first_sunday + 7 * week, dtype=pl.Int64).cast(pl.Int32).cast(pl.Date),
            **{m: columns[m] for m in ACCOUNT_MEASURES},
            **{c: _date_or_null(columns[c]) for c in ACCOUNT_DATES},
        }, schema=schema)

    def _running_rectangle(self, n_weeks: int, first_week: np.ndarray, in_grid: np.ndarray):
        """Running totals over a dense weeks × accounts array (when most of it is inside some account's span)."""
        na = self.n_accounts
        grid_week = np.repeat(np.arange(n_weeks), na)
        keep = grid_week >= np.tile(first_week, n_weeks)
        starts = self.group_starts
        group_cells = (self.week[starts] * na + self.rank[starts])[in_grid]
        columns: dict[str, np.ndarray] = {}
        buffers = threading.local()

        def running_sum(m: str) -> None:
            dense = getattr(buffers, "dense", None)
            if dense is None:
                dense = buffers.dense = np.empty(n_weeks * na)
            dense[:] = 0.0
            dense[group_cells] = self.group_sums(m)[in_grid]
            grid = dense.reshape(n_weeks, na)
            np.cumsum(grid, axis=0, out=grid)
            columns[m] = dense[keep]

        def running_max(item) -> None:
            c, values = item
            latest = np.full(n_weeks * na, np.iinfo(np.int64).min, dtype=np.int64)
            latest[group_cells] = np.maximum.reduceat(values, starts)[in_grid]
            columns[c] = np.maximum.accumulate(latest.reshape(n_weeks, na), axis=0).reshape(-1)[keep]

        _on_two_threads(running_sum, list(ACCOUNT_MEASURES))
        _on_two_threads(running_max, list(self._dates().items()))
        return np.tile(np.arange(na), n_weeks)[keep], grid_week[keep], columns

    def _running_segments(self, weeks_per_account: np.ndarray, first_week: np.ndarray, in_grid: np.ndarray):
        """Running totals per account over its own weeks only (when the accounts' first weeks lie far apart,
        e.g. one row dated a century back): a segment per account, accumulated by Polars per account."""
        na = self.n_accounts
        segment_start = np.cumsum(weeks_per_account) - weeks_per_account
        rank = np.repeat(np.arange(na), weeks_per_account)
        week = np.repeat(np.where(weeks_per_account > 0, first_week, 0), weeks_per_account) + (
            np.arange(len(rank)) - np.repeat(segment_start, weeks_per_account))
        starts = self.group_starts
        at = (segment_start[self.rank[starts]] + self.week[starts] - first_week[self.rank[starts]])[in_grid]
        low = np.iinfo(np.int64).min
        frame = {"r": rank, "w": week}
        for m in ACCOUNT_MEASURES:
            values = np.zeros(len(rank))
            values[at] = self.group_sums(m)[in_grid]
            frame[m] = values
        for c, values in self._dates().items():
            latest = np.full(len(rank), low, dtype=np.int64)
            latest[at] = np.maximum.reduceat(values, starts)[in_grid]
            frame[c] = latest
        running = pl.DataFrame(frame).with_columns(
            *[pl.col(m).cum_sum().over("r") for m in ACCOUNT_MEASURES],
            *[pl.col(c).cum_max().over("r") for c in ACCOUNT_DATES],
        ).sort("w", "r")
        return running["r"].to_numpy(), running["w"].to_numpy(), {
            c: running[c].to_numpy() for c in (*ACCOUNT_MEASURES, *ACCOUNT_DATES)}


def _check_packable(*sizes: int) -> None:
    """MartsTooLarge unless a key packed from values below these sizes fits in 62 bits."""
    product = 1
    for size in sizes:
        product *= max(int(size), 1)
    if product >= 2**62:
        raise MartsTooLarge(" × ".join(str(x) for x in sizes))


def _use_rectangle(cells: int, rows: int) -> bool:
    """Whether the dense weeks × accounts array is small enough next to the rows it yields."""
    return cells <= 2 * rows + 1_000_000


def _on_two_threads(work, items: list) -> None:
    """work(item) for every item, on two threads (for numpy work, which releases the GIL)."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="kam-marts") as pool:
        for _ in pool.map(work, items):
            pass


def _has_repeats(rows: np.ndarray) -> bool:
    return bool(len(rows)) and bool((np.bincount(rows) > 1).any())


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order, how often each occurs); sorts `keys` in place."""
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64)
    keys.sort()  # in place: the caller's array
    last = np.r_[np.flatnonzero(keys[1:] != keys[:-1]), len(keys) - 1]
    return keys[last], np.diff(np.r_[-1, last])


def _date_or_null(days: np.ndarray) -> pl.Series:
    """Day numbers as dates, the INT_MIN marker as null."""
    series = pl.Series(days, dtype=pl.Int64)
    return pl.select(pl.when(series != np.iinfo(np.int64).min).then(series)).to_series().cast(pl.Int32).cast(pl.Date)
