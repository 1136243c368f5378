"""The marts of `kam_metrics.marts`, computed in Polars from the checked frames while a load stores them.

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

from datetime import date

import numpy as np
import polars as pl

from kam_metrics.contract import ACTIVITY_TYPES, CASE_PRIORITIES, COST_CATEGORIES
from kam_metrics.marts import ACCOUNT_DATES, ACCOUNT_MEASURES, ENGAGEMENT_WINDOW_DAYS

#: Which measure marks the day in each date column of the account marts.
_DATE_MARKS = {"act_d": "touches", "rev_d": "rev_rows", "review_d": "reviews", "plan_d": "plans"}
_DECISION_ROLES = ("decision_maker", "economic_buyer")


def _physical(expr: pl.Expr) -> pl.Expr:
    return expr.to_physical().cast(pl.Int64)


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


class MartBuilder:
    """Collects per-table partial aggregates from checked frames; `frames()` assembles the marts."""

    def __init__(self, today: date | None = None) -> None:
        self.today = today or date.today()
        self.accounts = _Codes()
        self.contacts = _Codes()
        self.contact_flags: pl.DataFrame | None = None  # contact_id, is_c_level, is_decision_maker
        self.parts: list[pl.DataFrame] = []  # account code `a`, day `d`, measures (Float64)
        self.activity_types: pl.DataFrame | None = None  # a, d of each (account, day) with activities
        self.activity_counts = np.zeros((0, len(ACTIVITY_TYPES)))  # touches by type, a row per activity_types row
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
        # touches per (account, day, type): sort the packed keys and count the runs
        key, touches = _runs((a * span + (d - low)) * n_types + t)
        day_key = key // n_types
        first = np.r_[True, day_key[1:] != day_key[:-1]] if len(key) else np.zeros(0, dtype=bool)
        group = np.cumsum(first) - 1
        by_type = np.zeros((int(first.sum()), n_types))
        by_type[group, key % n_types] = touches
        cell = day_key[first]
        self.activity_types = pl.DataFrame({"a": cell // span, "d": cell % span + low})
        self.activity_counts = by_type
        # touches per (account, contact, day), sorted that way
        has_contact = frame["contact_id"].is_not_null().to_numpy()
        c = self.contacts.encode(frame["contact_id"].filter(pl.Series(has_contact))).to_numpy()
        n_contacts = max(len(self.contacts), 1)
        key, touches = _runs((a[has_contact] * n_contacts + c) * span + (d[has_contact] - low))
        self.contact_days = pl.DataFrame({
            "a": key // (span * n_contacts), "c": (key // span) % n_contacts, "d": key % span + low,
            "touches": touches,
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
        """Every mart as stored, one at a time ((name, frame), freeing what it used): the same columns,
        types and row order as its `MART_SQL` SELECT."""
        yield "mart_activity_weekly", self._activity_weekly()
        yield "mart_revenue_pl_daily", self._revenue_pl_daily()
        self.revenue_lines = None
        grid = _DayGrid(self._ranks(), self._account_parts())
        self.parts, self.activity_types = [], None
        yield "mart_contact_activity", self._contact_activity()
        self.contact_days = None
        yield "mart_account_daily", grid.daily(self.accounts)
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
        """is_c_level / is_decision_maker by contact code (False for a contact not in contacts)."""
        codes = pl.DataFrame({"contact_id": pl.Series(self.contacts.values, dtype=pl.String)})
        if self.contact_flags is None:
            return codes.with_columns(is_c_level=pl.lit(False), is_decision_maker=pl.lit(False))
        return codes.join(self.contact_flags, on="contact_id", how="left", maintain_order="left").fill_null(False)

    def _in_order(self, frame: pl.DataFrame, day: str = "d") -> pl.DataFrame:
        """Sorted by day, then account_id (as the marts' ORDER BY d, account_id)."""
        return frame.sort(pl.col(day), self.accounts.ranks().gather(frame["a"]))

    def _decode(self, frame: pl.DataFrame, day_columns: list[str]) -> pl.DataFrame:
        """Account codes back to account_id, day numbers back to dates."""
        return frame.with_columns(
            self.accounts.decode(frame["a"]).alias("account_id"),
            *[pl.col(c).cast(pl.Int32).cast(pl.Date) for c in day_columns],
        )

    def _contact_activity(self) -> pl.DataFrame:
        schema = {"contact_id": pl.String, "d": pl.Date, "touches": pl.Int64}
        if self.contact_days is None:
            return pl.DataFrame(schema=schema)
        d = self.contact_days["d"].to_numpy()
        offset = d - d.min() if len(d) else d
        small = np.int16 if len(d) and offset.max() < np.iinfo(np.int16).max else np.int64
        order = np.argsort(offset.astype(small), kind="stable")  # by day (a radix sort for 16-bit keys)
        days = self.contact_days[order]
        return pl.DataFrame({
            "contact_id": self.contacts.decode(days["c"]),
            "d": days["d"].cast(pl.Int32).cast(pl.Date),
            "touches": days["touches"],
        }, schema=schema)

    def _activity_weekly(self) -> pl.DataFrame:
        schema = {"week_start": pl.Date, "account_id": pl.String, "activity_type": pl.String, "touches": pl.Int64}
        if self.activity_types is None:
            return pl.DataFrame(schema=schema)
        group, t = np.nonzero(self.activity_counts)
        long = pl.DataFrame({
            "a": self.activity_types["a"].to_numpy()[group], "d": self.activity_types["d"].to_numpy()[group], "t": t,
            "touches": self.activity_counts[group, t].astype(np.int64),
        })
        weekly = (
            long.with_columns(pl.col("d").cast(pl.Int32).cast(pl.Date).dt.truncate("1w").alias("w"))
            .group_by("w", "a", "t").agg(pl.col("touches").sum())
            .pipe(self._in_order, day="w")
        )
        return weekly.select(
            pl.col("w").alias("week_start"), self.accounts.decode(weekly["a"]).alias("account_id"),
            pl.Series(ACTIVITY_TYPES).gather(weekly["t"]).alias("activity_type"), "touches",
        )

    def _revenue_pl_daily(self) -> pl.DataFrame:
        schema = {"account_id": pl.String, "d": pl.Date, "product_line": pl.String, "amount": pl.Float64,
                  "rows": pl.Int64}
        if self.revenue_lines is None:
            return pl.DataFrame(schema=schema)
        lines = self._in_order(self.revenue_lines)
        return self._decode(lines, ["d"]).select(*schema)



class _DayGrid:
    """Every (account, day) with data, in mart order (day, then account_id), over dense integer cells.

    A cell is day index × accounts + account rank, the day index counting only days that have data, so the
    parts land in their rows by array indexing: no sort, no join.
    """

    def __init__(self, ranks: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]) -> None:
        self.ranks = ranks
        self.n_accounts = max(len(ranks), 1)
        days = [d for _, d, _ in parts if len(d)]
        self.low = int(min(x.min() for x in days)) if days else 0
        span = int(max(x.max() for x in days)) - self.low + 1 if days else 1
        has_day = np.zeros(span, dtype=bool)
        for d in days:
            has_day[d - self.low] = True
        self.day_of_index = np.flatnonzero(has_day) + self.low
        index_of_day = np.cumsum(has_day) - 1
        cells = [index_of_day[d - self.low] * self.n_accounts + ranks[a] for a, d, _ in parts]
        occupied = np.zeros(len(self.day_of_index) * self.n_accounts, dtype=bool)
        for cell in cells:
            occupied[cell] = True
        self.cells = np.flatnonzero(occupied)
        row_of_cell = np.cumsum(occupied, dtype=np.int64) - 1
        del occupied
        n = len(self.cells)
        self.values = {m: np.zeros(n) for m in ACCOUNT_MEASURES}
        for (_, _, measures), cell in zip(parts, cells):
            rows = row_of_cell[cell]
            if len(rows) == len(np.unique(rows)) if len(rows) < 1000 else not _has_repeats(rows):
                for m, v in measures.items():  # one value per row (each measure comes from one part)
                    self.values[m][rows] = v
            else:
                for m, v in measures.items():
                    self.values[m] += np.bincount(rows, weights=v, minlength=n)
        del row_of_cell
        self.day = self.day_of_index[self.cells // self.n_accounts]
        self.rank = self.cells % self.n_accounts

    def _code_of_rank(self) -> np.ndarray:
        code = np.empty(len(self.ranks), dtype=np.int64)
        code[self.ranks] = np.arange(len(self.ranks))
        return code

    def _dates(self) -> dict[str, np.ndarray]:
        """act_d, rev_d, … of each row: its day when the row has that kind of event, else None (as INT_MIN)."""
        low = np.iinfo(np.int64).min
        return {name: np.where(self.values[src] > 0, self.day, low) for name, src in _DATE_MARKS.items()}

    def daily(self, accounts: _Codes) -> pl.DataFrame:
        """mart_account_daily."""
        code = self._code_of_rank()
        frame = pl.DataFrame({
            "account_id": accounts.decode(pl.Series(code[self.rank])),
            "d": pl.Series(self.day, dtype=pl.Int64).cast(pl.Int32).cast(pl.Date),
            **{m: self.values[m] for m in ACCOUNT_MEASURES},
            **{c: _date_or_null(v) for c, v in self._dates().items()},
        })
        return frame

    def weekly_cum(self, accounts: _Codes, today: date) -> pl.DataFrame:
        """mart_account_weekly_cum: running totals per account at every Sunday from its first week to the last
        week with data up to today (+6 days)."""
        schema = {"account_id": pl.String, "d": pl.Date, **{m: pl.Float64 for m in ACCOUNT_MEASURES},
                  **{c: pl.Date for c in ACCOUNT_DATES}}
        if not len(self.cells):
            return pl.DataFrame(schema=schema)
        sunday = self.day - (self.day + 3) % 7 + 6  # 1970-01-01 was a Thursday; ISO weeks start on Monday
        first_sunday = int(sunday.min())
        week = (sunday - first_sunday) // 7
        n_weeks_all = int(week.max()) + 1
        today_days = (today - date(1970, 1, 1)).days
        present = np.unique(sunday)
        up_to_today = present[present <= today_days + 6]
        last_week = (int((up_to_today if len(up_to_today) else present).max()) - first_sunday) // 7
        n_weeks = last_week + 1
        na = self.n_accounts
        wcell = week * na + self.rank
        first_week = np.full(na, n_weeks_all, dtype=np.int64)
        np.minimum.at(first_week, self.rank, week)
        grid_week = np.repeat(np.arange(n_weeks), na)
        keep = grid_week >= np.tile(first_week, n_weeks)
        columns: dict[str, np.ndarray] = {}
        for m in ACCOUNT_MEASURES:
            sums = np.bincount(wcell, weights=self.values[m], minlength=n_weeks_all * na)[: n_weeks * na]
            columns[m] = np.cumsum(sums.reshape(n_weeks, na), axis=0).reshape(-1)[keep]
        low = np.iinfo(np.int64).min
        for c, values in self._dates().items():
            latest = np.full(n_weeks_all * na, low, dtype=np.int64)
            np.maximum.at(latest, wcell, values)
            running = np.maximum.accumulate(latest[: n_weeks * na].reshape(n_weeks, na), axis=0)
            columns[c] = running.reshape(-1)[keep]
        rank = np.tile(np.arange(na), n_weeks)[keep]
        code = self._code_of_rank()
        return pl.DataFrame({
            "account_id": accounts.decode(pl.Series(code[rank])),
            "d": pl.Series(first_sunday + 7 * grid_week[keep], dtype=pl.Int64).cast(pl.Int32).cast(pl.Date),
            **{m: columns[m] for m in ACCOUNT_MEASURES},
            **{c: _date_or_null(columns[c]) for c in ACCOUNT_DATES},
        }, schema=schema)


def _has_repeats(rows: np.ndarray) -> bool:
    return bool((np.bincount(rows) > 1).any())


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order, how often each occurs)."""
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64)
    keys = np.sort(keys)
    last = np.r_[np.flatnonzero(keys[1:] != keys[:-1]), len(keys) - 1]
    return keys[last], np.diff(np.r_[-1, last])


def _date_or_null(days: np.ndarray) -> pl.Series:
    """Day numbers as dates, the INT_MIN marker as null."""
    series = pl.Series(days, dtype=pl.Int64)
    return pl.select(pl.when(series != np.iinfo(np.int64).min).then(series)).to_series().cast(pl.Int32).cast(pl.Date)
