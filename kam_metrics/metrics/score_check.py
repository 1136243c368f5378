"""The score check (METRICS.md "Score check"): does health warn before revenue shrinks?

For every month end t with as_of − 730 ≤ t ≤ as_of − 180 and every account with revenue_ttm(t) > 0, the health and
band the account had at t, against whether its revenue of the 180 days after t fell below 80 % of the 180 days
before. The slow part (the account inputs at every check date and the revenue windows) is `score_check_inputs`,
read once; scoring those inputs with any health weights (`score_check_pairs`) and the figures over the pairs
(`score_check_summary`, `score_check_bands`, `score_check_misses`, `score_check_false_alarms`) are pure, so a
"what if" with other weights re-scores without reading the snapshot again.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Mapping

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import HEALTH_OFFSETS, WINDOW_DECIMALS, metrics_at
from kam_metrics.metrics.rules import decision_value
from kam_metrics.metrics.scoring import (
    CONTRIBUTION_COLUMNS, HEALTH_INPUT_COLUMNS, INSUFFICIENT_DATA, SCORE_COLUMNS, add_health,
)
from kam_metrics.settings import HEALTH_COMPONENTS, Settings, SettingsError

#: METRICS.md "Score check": the check dates are the month ends from as_of − 730 to as_of − 180 …
LOOKBACK_DAYS = 730
#: … and revenue is compared over the 180 days before and after each check date …
HORIZON_DAYS = 180
#: … contracted = the 180 days after below this fraction of the 180 days before.
CONTRACTION_FACTOR = 0.8
#: Check dates read per metrics_at call (bounds the memory of the wide frames; see score_check_inputs).
DATES_PER_READ = 6
#: The bands that count as a warning.
WARNING_BANDS = ("red", "amber")
CHECK_BANDS = ("green", "amber", "red")

SUMMARY_KEYS = (
    "check_dates", "pairs", "contracted", "warned", "warning_precision", "warning_recall", "warning_lift",
    *(f"{part}_{band}" for band in CHECK_BANDS for part in ("pairs", "contracted", "contraction_rate")),
    "pairs_insufficient_data", "warning_lead_days_median",
)
PAIR_COLUMNS = (
    "account_id", "account_name", "is_key_account", "region", "segment", "kam_owner", "check_date", "health",
    "band", "health_coverage_pct", "is_warned", "revenue_ttm", "rev_before", "rev_after", "revenue_change_pct",
    "is_contracted", *SCORE_COLUMNS, *CONTRIBUTION_COLUMNS,
)


def check_dates(as_of: date) -> list[date]:
    """The score check's dates: every month end t with as_of − 730 ≤ t ≤ as_of − 180, oldest first."""
    first, last = as_of - timedelta(days=LOOKBACK_DAYS), as_of - timedelta(days=HORIZON_DAYS)
    out: list[date] = []
    year, month = first.year, first.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > last:
            return out
        if end >= first:
            out.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def score_check_inputs(con, as_of: date | None = None, filters: Filters | None = None,
                       settings: Settings | None = None, dates: list[date] | None = None) -> pl.DataFrame:
    """The score check's account inputs (METRICS.md "Score check"): one row per account with revenue_ttm > 0 at each
    check date, with every input of the health score at that date, rev_before, rev_after and is_contracted.

    Health is not scored here (score_check_pairs does it, with any weights). `dates`: other check dates than
    check_dates(as_of) (benchmarks); none may be later than as_of − 180, so no revenue after as_of is read."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    dates = check_dates(as_of) if dates is None else sorted(set(dates))
    horizon = timedelta(days=HORIZON_DAYS)
    if dates and dates[-1] + horizon > as_of:
        raise ValueError(f"check date {dates[-1]} has less than {HORIZON_DAYS} days of revenue before as_of {as_of}")
    if not dates:
        return _empty_inputs(con, filters, settings, as_of)
    # the revenue windows: running totals at t + 180, t and t − 180, read from t + 180 with offsets 0, 180, 360
    windows_job = E.in_background(con, lambda cur: E.account_cumulative(
        cur, [E.Measure("revenue", "t.rev_amount")], [t + horizon for t in dates],
        (0, HORIZON_DAYS, 2 * HORIZON_DAYS), filters))
    # a few check dates at a time, each kept to the columns scoring reads: the wide frames of all dates at once
    # would take several times the memory (18 dates × 10,000 accounts × every account key)
    frame = pl.concat([
        metrics_at(con, dates[i:i + DATES_PER_READ], filters, settings, with_health=False, offsets=HEALTH_OFFSETS)
        .select(*[c for c in INPUT_COLUMNS if c not in ("rev_before", "rev_after")])
        for i in range(0, len(dates), DATES_PER_READ)
    ])
    windows = windows_job.result().select(
        "account_id",
        (pl.col("as_of") - pl.duration(days=HORIZON_DAYS)).alias("as_of"),
        rev_after=(pl.col("revenue__0") - pl.col(f"revenue__{HORIZON_DAYS}")).round(WINDOW_DECIMALS),
        rev_before=(pl.col(f"revenue__{HORIZON_DAYS}") - pl.col(f"revenue__{2 * HORIZON_DAYS}")).round(WINDOW_DECIMALS),
    )
    frame = frame.filter(decision_value("revenue_ttm") > 0).join(windows, on=["account_id", "as_of"], how="left")
    return _with_contraction(frame.with_columns(pl.col("rev_before", "rev_after").cast(pl.Float64).fill_null(0.0)))


#: The inputs' columns: the account, the check date, revenue TTM and what the health score reads.
INPUT_COLUMNS = tuple(dict.fromkeys((*E.ACCOUNT_COLUMNS, "as_of", "revenue_ttm", *HEALTH_INPUT_COLUMNS,
                                     "rev_before", "rev_after")))


def _with_contraction(frame: pl.DataFrame) -> pl.DataFrame:
    """The inputs' columns (only what scoring needs: the page caches them) with revenue_change_pct, is_contracted."""
    before, after = pl.col("rev_before"), pl.col("rev_after")
    return frame.select(INPUT_COLUMNS).with_columns(
        revenue_change_pct=pl.when(decision_value(before) > 0).then(100.0 * (after - before) / before),
        is_contracted=(decision_value(before) > 0)
        & (decision_value(after) < decision_value(CONTRACTION_FACTOR * before)),
    ).rename({"as_of": "check_date"}).sort("check_date", "account_id")


def _empty_inputs(con, filters: Filters, settings: Settings, as_of: date) -> pl.DataFrame:
    """The inputs frame with no rows (no check date: less than 180 days of history before as_of)."""
    frame = metrics_at(con, [as_of], filters, settings, with_health=False, offsets=HEALTH_OFFSETS).head(0)
    return _with_contraction(frame.with_columns(rev_before=pl.lit(None, pl.Float64), rev_after=pl.lit(None, pl.Float64)))


def score_check_pairs(inputs: pl.DataFrame, settings: Settings | None = None) -> pl.DataFrame:
    """Each (account, check date) of the score check scored with the settings' health weights: health, band,
    is_warned (red or amber), the revenue windows and is_contracted (METRICS.md "Score check"), by date and account."""
    settings = settings or Settings()
    scored = add_health(inputs, settings).with_columns(is_warned=pl.col("band").is_in(WARNING_BANDS))
    return scored.select(PAIR_COLUMNS)


def _checked(pairs: pl.DataFrame) -> pl.DataFrame:
    """The pairs the rates count: those with a band other than insufficient_data."""
    return pairs.filter(pl.col("band") != INSUFFICIENT_DATA)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def score_check_summary(pairs: pl.DataFrame, n_check_dates: int | None = None) -> dict[str, float | int | None]:
    """The score check's figures (METRICS.md "Score check"): pairs, contracted, warning_precision, warning_recall,
    warning_lift, pairs/contracted/contraction_rate per band, and warning_lead_days_median (how long the contracted
    accounts that were warned had been red or amber, in days, at the check date: 0 = first warned then).

    Rates are fractions (0–1), null when their denominator is 0. `n_check_dates`: the number of check dates (the
    pairs' distinct dates when not given)."""
    checked = _checked(pairs)
    warned = checked["is_warned"]
    contracted = checked["is_contracted"]
    n_pairs, n_contracted, n_warned = checked.height, int(contracted.sum()), int(warned.sum())
    hits = int((warned & contracted).sum())
    rate_all = _rate(n_contracted, n_pairs)
    rate_warned = _rate(hits, n_warned)
    out: dict[str, float | int | None] = {
        "check_dates": n_check_dates if n_check_dates is not None else pairs["check_date"].n_unique(),
        "pairs": n_pairs, "contracted": n_contracted, "warned": n_warned,
        "warning_precision": rate_warned,
        "warning_recall": _rate(hits, n_contracted),
        "warning_lift": rate_warned / rate_all if rate_warned is not None and rate_all else None,
    }
    for band in CHECK_BANDS:
        of_band = checked.filter(pl.col("band") == band)
        n, c = of_band.height, int(of_band["is_contracted"].sum())
        out.update({f"pairs_{band}": n, f"contracted_{band}": c, f"contraction_rate_{band}": _rate(c, n)})
    out["pairs_insufficient_data"] = pairs.height - n_pairs
    leads = warning_lead_days(pairs)
    out["warning_lead_days_median"] = leads["warning_lead_days"].median() if leads.height else None
    return {k: out[k] for k in SUMMARY_KEYS}


def backtest_rows(summary: Mapping[str, float | int | None]) -> pl.DataFrame:
    """`kam report backtest`: the summary as rows key, value (rates as fractions, counts as numbers)."""
    return pl.DataFrame({"key": list(summary), "value": [None if v is None else float(v) for v in summary.values()]},
                        schema={"key": pl.String, "value": pl.Float64})


def score_check_bands(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per band (green, amber, red, then warned = red or amber, and all): pairs, contracted and contraction_rate
    (METRICS.md "Score check": contraction rate per band), the rows of the Score check page's chart."""
    checked = _checked(pairs)
    groups = [(band, checked.filter(pl.col("band") == band)) for band in CHECK_BANDS]
    groups += [("warned", checked.filter(pl.col("is_warned"))), ("all", checked)]
    rows = [{"band": name, "pairs": g.height, "contracted": int(g["is_contracted"].sum()),
             "contraction_rate": _rate(int(g["is_contracted"].sum()), g.height)} for name, g in groups]
    return pl.DataFrame(rows, schema={"band": pl.String, "pairs": pl.Int64, "contracted": pl.Int64,
                                      "contraction_rate": pl.Float64})


def score_check_by_date(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per check date: pairs, contracted, warned, and the contraction rate of the warned (red or amber) and of the
    green pairs (METRICS.md "Score check", date by date: does the warning hold up month after month?)."""
    checked = _checked(pairs)
    shrank = pl.col("is_contracted")
    return checked.group_by("check_date").agg(
        pairs=pl.len(),
        contracted=shrank.sum().cast(pl.Int64),
        warned=pl.col("is_warned").sum().cast(pl.Int64),
        contraction_rate_warned=shrank.filter(pl.col("is_warned")).mean(),
        contraction_rate_green=shrank.filter(pl.col("band") == "green").mean(),
        contraction_rate=shrank.mean(),
    ).sort("check_date")


def warning_lead_days(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per contracted pair that was warned: warning_lead_days, the days since the start of the account's unbroken run
    of warned check dates that ends at this check date (0 when the warning first came at this date)."""
    ordered = pairs.sort("account_id", "check_date")
    # a new run starts at a warned date whose previous check date (of the same account) was not warned
    prev_warned = pl.col("is_warned").shift(1).over("account_id").fill_null(False)
    run_id = (pl.col("is_warned") & ~prev_warned).cast(pl.Int64).cum_sum().over("account_id")
    with_runs = ordered.with_columns(_run=run_id)
    starts = with_runs.filter(pl.col("is_warned")).group_by("account_id", "_run").agg(
        _run_start=pl.col("check_date").min())
    return (with_runs.filter(pl.col("is_warned") & pl.col("is_contracted"))
            .join(starts, on=["account_id", "_run"], how="left")
            .select("account_id", "check_date",
                    warning_lead_days=(pl.col("check_date") - pl.col("_run_start")).dt.total_days()))


def _per_account(pairs: pl.DataFrame, count_name: str) -> pl.DataFrame:
    """Pairs grouped per account: how many, the first and last check date, the lowest and highest health, the
    largest revenue fall and the largest rise, the latest band; sorted by count (most first), then account."""
    return pairs.group_by("account_id", "account_name", "is_key_account", "kam_owner").agg(
        pl.len().alias(count_name),
        first_check_date=pl.col("check_date").min(),
        last_check_date=pl.col("check_date").max(),
        lowest_health=pl.col("health").min(),
        highest_health=pl.col("health").max(),
        worst_revenue_change_pct=pl.col("revenue_change_pct").min(),
        best_revenue_change_pct=pl.col("revenue_change_pct").max(),
    ).sort([count_name, "account_id"], descending=[True, False])


def score_check_misses(pairs: pl.DataFrame) -> pl.DataFrame:
    """The accounts whose revenue shrank while their band was green (contracted, not warned), per account: how
    many check dates, first and last, health then and the revenue change (METRICS.md "Score check")."""
    missed = _checked(pairs).filter(pl.col("is_contracted") & ~pl.col("is_warned"))
    return _per_account(missed, "missed_check_dates")


def score_check_hits(pairs: pl.DataFrame) -> pl.DataFrame:
    """The accounts warned in time: red or amber at a check date and their revenue then shrank (warned and
    contracted), per account: how many check dates, first and last, health then and the revenue change."""
    hits = _checked(pairs).filter(pl.col("is_contracted") & pl.col("is_warned"))
    return _per_account(hits, "warned_check_dates")


def score_check_false_alarms(pairs: pl.DataFrame) -> pl.DataFrame:
    """The accounts that were red or amber while their revenue did not shrink (warned, not contracted), per
    account: how many check dates, first and last, health then and the revenue change (METRICS.md "Score check")."""
    alarms = _checked(pairs).filter(pl.col("is_warned") & ~pl.col("is_contracted"))
    return _per_account(alarms, "false_alarm_check_dates")


def parse_weights(text: str | None, settings: Settings | None = None) -> dict[str, float]:
    """Health weights from "recency=15,trend=15,…" (`kam report backtest --weights`): the settings' weights with the
    named ones replaced. SettingsError naming the part for an unknown component, a bad or negative number, or
    weights that are all 0."""
    settings = settings or Settings()
    weights = {c: float(settings.health_weights.get(c, 0.0)) for c in HEALTH_COMPONENTS}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise SettingsError(f"--weights: '{part}' is not component=number")
        if name not in HEALTH_COMPONENTS:
            raise SettingsError(f"--weights: unknown component '{name}' (expected one of {', '.join(HEALTH_COMPONENTS)})")
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(f"--weights: '{part}': '{value.strip()}' is not a number") from None
        if not number >= 0 or number == float("inf"):
            raise SettingsError(f"--weights: '{part}': a weight must be a number ≥ 0")
        weights[name] = number
    return checked_weights(weights)


def checked_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The weights of every health component (missing ones 0); SettingsError when none is above 0."""
    unknown = set(weights) - set(HEALTH_COMPONENTS)
    if unknown:
        raise SettingsError(f"unknown health components {', '.join(sorted(unknown))}")
    out = {c: float(weights.get(c, 0.0)) for c in HEALTH_COMPONENTS}
    if not any(v > 0 for v in out.values()):
        raise SettingsError("at least one health weight must be above 0")
    return out


def with_weights(settings: Settings, weights: Mapping[str, float] | None) -> Settings:
    """The settings with these health weights ("what if": for this check only), unchanged when weights is None."""
    if weights is None:
        return settings
    return settings.replace(health_weights=checked_weights(weights))


def weights_toml(weights: Mapping[str, float]) -> str:
    """The `[health_weights]` table of kam.toml for these weights (to paste into the settings file)."""
    lines = ["[health_weights]"]
    for c in HEALTH_COMPONENTS:
        v = float(weights.get(c, 0.0))
        lines.append(f"{c} = {int(v) if v.is_integer() else v}")
    return "\n".join(lines) + "\n"


def score_check_backtest(con, as_of: date | None = None, filters: Filters | None = None, settings: Settings | None = None,
                weights: Mapping[str, float] | None = None) -> pl.DataFrame:
    """`kam report backtest`: the score check's summary (METRICS.md "Score check") as rows key, value, with the
    settings' health weights or `weights` instead ("what if")."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    inputs = score_check_inputs(con, as_of, filters, settings)
    pairs = score_check_pairs(inputs, with_weights(settings, weights))
    return backtest_rows(score_check_summary(pairs, len(check_dates(as_of))))
