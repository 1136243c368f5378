"""A large canonical export for benchmarks: `write_scale_export(out_dir, scale=1.0)`.

At scale 1 it holds 10,000 accounts (3 % key accounts), 10 million activities, 2 million revenue
lines, 200,000 contacts, 500,000 service costs, 300,000 cases, 100,000 survey responses and
100,000 opportunities, plus wallet (per account per year), goals, actions, reviews and fx_rates.
Volumes are skewed: a few accounts own far more rows than the median one. Every column is drawn
with numpy and built with Polars column operations (no per-row Python), so scale 1 writes in well
under a minute. The data obeys the contract's rules, so a load quarantines nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from kam_metrics.load.contract import (
    ACTIVITY_TYPES, BUYING_ROLES, CASE_PRIORITIES, COST_CATEGORIES, RELATIONSHIP_STAGES, SENIORITIES, TABLES,
    TABLE_ORDER,
)
from kam_metrics.generators.demo import DEMO_END_DATE, HISTORY_DAYS, KAM_OWNERS, PRODUCT_LINES, SALES_OWNERS, SPONSORS, USD_RATES

# Row counts at scale 1 of the tables whose size is set directly.
REFERENCE_ROWS = {
    "accounts": 10_000,
    "activities": 10_000_000,
    "revenue": 2_000_000,
    "contacts": 200_000,
    "service_costs": 500_000,
    "cases": 300_000,
    "surveys": 100_000,
    "opportunities": 100_000,
}
KEY_SHARE = 0.03
WALLET_YEARS = 3
PROGRAMME_GOALS = (
    ("Raise the key-account share of revenue", "key_revenue_share_pct", 40.0, 55.0),
    ("An executive sponsor for every key account", "sponsor_coverage_pct", 60.0, 100.0),
    ("Programme NPS of +40", "programme_nps", 20.0, 40.0),
    ("Every key account on a 90-day plan cadence", "cadence_compliance_pct", 40.0, 100.0),
)
GOALS_PER_KEY_ACCOUNT = 2
ACTIONS_PER_GOAL = 3
REVIEWS_30_PER_KEY = 36  # one review_30_day a month over three years
PLANS_90_PER_KEY = 12  # one plan_90_day a quarter


def _n(ref: int, scale: float) -> int:
    return max(1, int(round(ref * scale)))


def scale_row_counts(scale: float = 1.0) -> dict[str, int]:
    """Rows per table that `write_scale_export` writes at this scale."""
    counts = {name: _n(ref, scale) for name, ref in REFERENCE_ROWS.items()}
    n_key = max(1, int(round(counts["accounts"] * KEY_SHARE)))
    n_goals = len(PROGRAMME_GOALS) + GOALS_PER_KEY_ACCOUNT * n_key
    counts.update(
        wallet=counts["accounts"] * WALLET_YEARS,
        goals=n_goals,
        actions=n_goals * ACTIONS_PER_GOAL,
        reviews=n_key * (REVIEWS_30_PER_KEY + PLANS_90_PER_KEY),
        fx_rates=1 + len(USD_RATES),
    )
    return {name: counts[name] for name in TABLE_ORDER}


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    return pl.select(pl.format(prefix + "{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(width))).to_series()


NO_DAY = -(10**6)  # a day index that stands for an empty date


def _dates(start: date, day: np.ndarray) -> pl.Series:
    """Day indexes (0 = start, negative = before the start) as a Polars Date series; NO_DAY gives null."""
    epoch = (start - date(1970, 1, 1)).days
    missing = day == NO_DAY
    s = pl.Series(np.where(missing, 0, day).astype(np.int32) + np.int32(epoch))
    return s.set(pl.Series(missing), None).cast(pl.Date) if missing.any() else s.cast(pl.Date)


def _pick(options, idx: np.ndarray) -> pl.Series:
    """options[idx] as a string series; idx −1 gives null."""
    s = pl.Series(list(options), dtype=pl.String)
    return s.gather(pl.Series(np.where(idx < 0, 0, idx))).set(pl.Series(idx < 0), None) if (idx < 0).any() \
        else s.gather(pl.Series(idx))


def _gather(series: pl.Series, idx: np.ndarray) -> pl.Series:
    out = series.gather(pl.Series(np.where(idx < 0, 0, idx)))
    return out.set(pl.Series(idx < 0), None) if (idx < 0).any() else out


def _spread(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """Account index of each of n rows, drawn with the given weights, grouped by account."""
    counts = rng.multinomial(n, weights / weights.sum())
    return np.repeat(np.arange(len(weights)), counts)


def _cents(x: np.ndarray) -> np.ndarray:
    return np.round(x, 2)


def build_scale_tables(*, scale: float = 1.0, seed: int = 11, end_date: date = DEMO_END_DATE) -> dict[str, pl.DataFrame]:
    """The 13 tables of the scale export as Polars frames."""
    rng = np.random.default_rng(seed)
    counts = scale_row_counts(scale)
    start = end_date - timedelta(days=HISTORY_DAYS - 1)
    end_idx = HISTORY_DAYS - 1
    n_acc = counts["accounts"]
    n_key = max(1, int(round(n_acc * KEY_SHARE)))

    # accounts: the n_key biggest are the key accounts; sizes are heavy-tailed
    size = np.sort(rng.lognormal(0.0, 1.3, n_acc))[::-1]
    size[:n_key] *= 3.0
    perm = rng.permutation(n_acc)  # key accounts scattered through the id range
    size = size[np.argsort(perm)]
    is_key = np.zeros(n_acc, dtype=bool)
    is_key[perm[:n_key]] = True
    account_ids = _ids("ACC-", n_acc, 6)
    region = rng.choice(3, size=n_acc, p=[0.5, 0.3, 0.2])
    is_usd = region == 1
    parent = np.where((rng.random(n_acc) < 0.03) & (np.arange(n_acc) > 0),
                      (rng.random(n_acc) * np.arange(n_acc)).astype(np.int64), -1)
    created = rng.integers(-3650, end_idx - 90, n_acc)
    since = np.where(is_key, rng.integers(-2000, end_idx - 365, n_acc), NO_DAY)
    owner_idx = np.where(is_key, rng.integers(0, len(KAM_OWNERS), n_acc), -1)
    sponsor_idx = np.where(is_key & (rng.random(n_acc) < 0.8), rng.integers(0, len(SPONSORS), n_acc), -1)
    prefixes = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware", "Woodgrove",
                "Lucerne", "Wingtip", "Alpine", "Coho", "Margie", "Trey", "Humongous", "Relecloud")
    suffixes = ("GmbH", "Inc.", "Ltd", "S.A.", "B.V.", "Pty Ltd", "AB", "LLC")
    accounts = pl.DataFrame({
        "account_id": account_ids,
        "account_name": pl.select(pl.format("{} {} {}", _pick(prefixes, rng.integers(0, len(prefixes), n_acc)),
                                            pl.int_range(1, n_acc + 1), _pick(suffixes, rng.integers(0, len(suffixes), n_acc))))
        .to_series(),
        "is_key_account": is_key,
        "parent_account_id": _gather(account_ids, parent),
        "industry": _pick(("Manufacturing", "Logistics", "Retail", "Pharma & Life Sciences", "Financial Services",
                           "Energy & Utilities", "Technology", "Food & Beverage"), rng.integers(0, 8, n_acc)),
        "region": _pick(("EMEA", "Americas", "APAC"), region),
        "segment": _pick(("Enterprise", "Mid-market", "Small business"),
                         np.where(is_key, 0, rng.choice(3, size=n_acc, p=[0.1, 0.5, 0.4]))),
        "kam_owner": _pick(KAM_OWNERS, owner_idx),
        "executive_sponsor": _pick(SPONSORS, sponsor_idx),
        "key_account_since": _dates(start, since),
        "relationship_stage": _pick(RELATIONSHIP_STAGES, np.where(is_key, rng.integers(2, 5, n_acc),
                                                                  rng.integers(-1, 3, n_acc))),
        "created_date": _dates(start, created),
    })

    # contacts, grouped by account; offsets let activities pick a contact of their own account
    n_con = counts["contacts"]
    con_acc = _spread(rng, n_con, size ** 0.5 * np.where(is_key, 4.0, 1.0))
    con_count = np.bincount(con_acc, minlength=n_acc)
    con_offset = np.concatenate([[0], np.cumsum(con_count)[:-1]])
    contact_ids = _ids("CON-", n_con, 7)
    active = rng.random(n_con) >= 0.08
    first = np.array(["Anna", "Lukas", "Sophie", "Jan", "Elena", "Marco", "Olivia", "James", "Wei", "Aiko", "Arjun",
                      "Fatima", "Diego", "Nora", "Felix", "Grace"])
    last = np.array(["Smith", "Müller", "Rossi", "García", "Chen", "Tanaka", "Nowak", "Silva", "Jansen", "Patel",
                     "Dubois", "Nielsen", "Kim", "Walsh", "Haddad", "Okoye"])
    seniority = rng.choice(5, size=n_con, p=[0.07, 0.13, 0.25, 0.3, 0.25])
    contacts = pl.DataFrame({
        "contact_id": contact_ids,
        "account_id": _gather(account_ids, con_acc),
        "full_name": pl.select(pl.format("{} {}", _pick(first, rng.integers(0, 16, n_con)),
                                         _pick(last, rng.integers(0, 16, n_con)))).to_series(),
        "title": _pick(("Chief Operating Officer", "VP Procurement", "Head of Operations", "Category Manager", "Buyer"),
                       seniority),
        "seniority": _pick(SENIORITIES[:5], seniority),
        "buying_role": _pick(BUYING_ROLES[:7], rng.choice(7, size=n_con, p=[0.1, 0.07, 0.1, 0.25, 0.3, 0.12, 0.06])),
        "attitude": pl.Series(rng.integers(-2, 3, n_con)).set(pl.Series(rng.random(n_con) < 0.2), None),
        "is_active": active,
        "left_date": _dates(start, np.where(active, NO_DAY, rng.integers(0, end_idx + 1, n_con))),
    })

    def contact_of(acc_idx: np.ndarray, null_share: float) -> pl.Series:
        cnt = con_count[acc_idx]
        pick = con_offset[acc_idx] + (rng.random(len(acc_idx)) * cnt).astype(np.int64)
        pick = np.where((cnt > 0) & (rng.random(len(acc_idx)) >= null_share), pick, -1)
        return _gather(contact_ids, pick)

    # activities
    n_act = counts["activities"]
    act_acc = _spread(rng, n_act, size * np.where(is_key, 4.0, 1.0))
    act_day = rng.integers(0, end_idx + 1, n_act)
    act_day[-1] = end_idx  # the latest activity is on the end date
    act_type = rng.choice(len(ACTIVITY_TYPES), size=n_act, p=[0.5, 0.25, 0.13, 0.01, 0.01, 0.02, 0.03, 0.05])
    dur_base = np.array([-1, 20, 60, 90, 180, 300, 240, 30])[act_type]
    duration = np.where(dur_base < 0, -1, dur_base + rng.integers(-2, 3, n_act) * 5)
    subjects = ("Re: order status", "Check-in call", "Project status meeting", "Executive meeting",
                "Quarterly business review", "Site visit", "Planning workshop", "Trade fair conversation")
    sales = rng.integers(0, len(SALES_OWNERS) + 1, n_acc)  # the last value: no owner
    owner_of_acc = np.where(is_key, owner_idx, np.where(sales < len(SALES_OWNERS), len(KAM_OWNERS) + sales, -1))
    activities = pl.DataFrame({
        "activity_id": _ids("ACT-", n_act, 8),
        "account_id": _gather(account_ids, act_acc),
        "activity_date": _dates(start, act_day),
        "activity_type": _pick(ACTIVITY_TYPES, act_type),
        "contact_id": contact_of(act_acc, 0.2),
        "owner": _pick(KAM_OWNERS + SALES_OWNERS, owner_of_acc[act_acc]),
        "duration_minutes": pl.Series(duration).set(pl.Series(duration < 0), None),
        "subject": _pick(subjects, act_type),
    })

    # revenue: invoice lines, 1 % credit notes, a tenth without cost of goods
    n_rev = counts["revenue"]
    rev_acc = _spread(rng, n_rev, size * np.where(is_key, 4.0, 1.0))
    rev_day = rng.integers(0, end_idx + 1, n_rev)
    line_idx = rng.integers(0, len(PRODUCT_LINES), n_rev)
    margin = np.array([0.70, 0.66, 0.24, 0.36, 0.30])[line_idx]
    amount = rng.lognormal(np.log(4000), 1.0, n_rev)
    credit = rng.random(n_rev) < 0.01
    amount = np.where(credit, -amount * 0.2, amount)
    cogs = amount * (1 - margin + rng.normal(0, 0.03, n_rev))
    no_cogs = credit | (rng.random(n_rev) < 0.1)
    revenue = pl.DataFrame({
        "revenue_id": _ids("INV-", n_rev, 8),
        "account_id": _gather(account_ids, rev_acc),
        "revenue_date": _dates(start, rev_day),
        "amount": _cents(amount),
        "cost_of_goods": pl.Series(_cents(np.abs(cogs))).set(pl.Series(no_cogs), None),
        "product_line": _pick(PRODUCT_LINES, line_idx),
        "currency": _pick(("EUR", "USD"), is_usd[rev_acc].astype(np.int64)),
    })

    # service costs
    n_sc = counts["service_costs"]
    sc_acc = _spread(rng, n_sc, size * np.where(is_key, 3.0, 1.0))
    service_costs = pl.DataFrame({
        "cost_id": _ids("SC-", n_sc, 7),
        "account_id": _gather(account_ids, sc_acc),
        "cost_date": _dates(start, rng.integers(0, end_idx + 1, n_sc)),
        "category": _pick(COST_CATEGORIES, rng.choice(7, size=n_sc, p=[0.35, 0.2, 0.15, 0.12, 0.08, 0.05, 0.05])),
        "amount": _cents(rng.lognormal(np.log(600), 0.9, n_sc)),
        "currency": _pick(("EUR", "USD"), is_usd[sc_acc].astype(np.int64)),
    })

    # cases: closed within 0–60 days, still open when that is after the end date
    n_case = counts["cases"]
    case_acc = _spread(rng, n_case, size)
    opened = rng.integers(0, end_idx + 1, n_case)
    closed = opened + rng.integers(0, 61, n_case)
    is_open = closed > end_idx
    cases = pl.DataFrame({
        "case_id": _ids("CASE-", n_case, 7),
        "account_id": _gather(account_ids, case_acc),
        "opened_date": _dates(start, opened),
        "closed_date": _dates(start, np.where(is_open, NO_DAY, closed)),
        "priority": _pick(CASE_PRIORITIES, rng.choice(4, size=n_case, p=[0.3, 0.45, 0.2, 0.05])),
        "status": _pick(("Closed", "Open"), is_open.astype(np.int64)),
    })

    # surveys: at least one of nps and csat
    n_sv = counts["surveys"]
    sv_acc = _spread(rng, n_sv, size ** 0.5 * np.where(is_key, 5.0, 1.0))
    which = rng.choice(3, size=n_sv, p=[0.8, 0.1, 0.1])  # both, nps only, csat only
    surveys = pl.DataFrame({
        "response_id": _ids("SR-", n_sv, 7),
        "account_id": _gather(account_ids, sv_acc),
        "response_date": _dates(start, rng.integers(0, end_idx + 1, n_sv)),
        "contact_id": contact_of(sv_acc, 0.1),
        "nps": pl.Series(rng.choice(11, size=n_sv, p=[.02, .02, .02, .03, .03, .06, .07, .15, .2, .2, .2]))
        .set(pl.Series(which == 2), None),
        "csat": pl.Series(rng.choice(5, size=n_sv, p=[0.05, 0.1, 0.2, 0.35, 0.3]) + 1).set(pl.Series(which == 1), None),
    })

    # opportunities: closed when the close date has passed
    n_opp = counts["opportunities"]
    opp_acc = _spread(rng, n_opp, size)
    opp_created = rng.integers(0, end_idx + 1, n_opp)
    opp_close = opp_created + rng.integers(20, 200, n_opp)
    opp_closed = opp_close <= end_idx
    opp_won = opp_closed & (rng.random(n_opp) < 0.45)
    stage_idx = np.where(opp_won, 4, np.where(opp_closed, 5, rng.integers(0, 4, n_opp)))
    opp_line = rng.integers(0, len(PRODUCT_LINES), n_opp)
    opportunities = pl.DataFrame({
        "opportunity_id": _ids("OPP-", n_opp, 7),
        "account_id": _gather(account_ids, opp_acc),
        "name": pl.select(pl.format("Deal {}", pl.int_range(1, n_opp + 1))).to_series(),
        "stage": _pick(("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"),
                       stage_idx),
        "amount": _cents(np.round(rng.lognormal(np.log(30_000), 1.0, n_opp), -2)),
        "close_date": _dates(start, opp_close),
        "is_closed": opp_closed,
        "is_won": opp_won,
        "product_line": _pick(PRODUCT_LINES, opp_line),
        "currency": _pick(("EUR", "USD"), is_usd[opp_acc].astype(np.int64)),
        "created_date": _dates(start, opp_created),
    })

    # wallet: one whole-wallet row per account and year
    w_acc = np.repeat(np.arange(n_acc), WALLET_YEARS)
    w_year = np.tile(np.arange(end_date.year - WALLET_YEARS + 1, end_date.year + 1), n_acc)
    wallet = pl.DataFrame({
        "account_id": _gather(account_ids, w_acc),
        "year": w_year.astype(np.int64),
        "wallet_amount": np.round(size[w_acc] * 400_000 * rng.uniform(0.8, 1.2, len(w_acc)), -3),
        "product_line": pl.Series([None] * len(w_acc), dtype=pl.String),
        "source": _pick(("kam_estimate", "analyst", "survey"), rng.integers(0, 3, len(w_acc))),
        "confidence": _pick(("low", "medium", "high"), rng.integers(0, 3, len(w_acc))),
    })

    # goals: programme goals, then two per key account (one metric, one with a current value)
    key_idx = np.flatnonzero(is_key)
    n_prog = len(PROGRAMME_GOALS)
    g_acc = np.concatenate([np.full(n_prog, -1), np.repeat(key_idx, GOALS_PER_KEY_ACCOUNT)])
    n_goals = len(g_acc)
    is_metric_goal = np.concatenate([np.ones(n_prog, bool), np.tile([True, False], len(key_idx))])
    g_start = end_idx - rng.integers(30, 300, n_goals)
    g_due = end_idx + rng.integers(20, 400, n_goals)
    baseline = np.concatenate([[g[2] for g in PROGRAMME_GOALS], np.tile([0.0, 0.0], len(key_idx))])
    target = np.concatenate([[g[3] for g in PROGRAMME_GOALS], np.tile([1_000_000.0, 1.0], len(key_idx))])
    goal_ids = _ids("G-", n_goals, 6)
    goals = pl.DataFrame({
        "goal_id": goal_ids,
        "title": pl.concat([pl.Series([g[0] for g in PROGRAMME_GOALS], dtype=pl.String),
                            _pick(("Grow revenue", "Sign the framework agreement"),
                                  np.tile([0, 1], len(key_idx)))]),
        "account_id": _gather(account_ids, g_acc),
        "metric": pl.concat([pl.Series([g[1] for g in PROGRAMME_GOALS], dtype=pl.String),
                             _pick(("revenue_ttm",), np.tile([0, -1], len(key_idx)))]),
        "baseline": baseline,
        "target": target,
        "current": pl.Series(np.round(rng.random(n_goals), 2)).set(pl.Series(is_metric_goal), None),
        "start_date": _dates(start, g_start),
        "due_date": _dates(start, g_due),
        "owner": _pick(KAM_OWNERS, rng.integers(0, len(KAM_OWNERS), n_goals)),
        "horizon": _pick(("short", "mid", "long"), np.clip((g_due - g_start) // 200, 0, 2)),
    })
    a_goal = np.repeat(np.arange(n_goals), ACTIONS_PER_GOAL)
    n_actions = len(a_goal)
    a_due = g_start[a_goal] + ((g_due - g_start)[a_goal] * (np.tile(np.arange(1, ACTIONS_PER_GOAL + 1), n_goals))
                                // (ACTIONS_PER_GOAL + 1))
    a_done = (a_due <= end_idx) & (rng.random(n_actions) < 0.7)
    actions = pl.DataFrame({
        "action_id": _ids("A-", n_actions, 7),
        "goal_id": _gather(goal_ids, a_goal),
        "title": _pick(("Map the buying centre", "Propose the upgrade", "Report progress"),
                       np.tile(np.arange(ACTIONS_PER_GOAL) % 3, n_goals)),
        "owner": _pick(KAM_OWNERS, rng.integers(0, len(KAM_OWNERS), n_actions)),
        "due_date": _dates(start, a_due),
        "completed_date": _dates(start, np.where(a_done, np.minimum(a_due + rng.integers(-10, 10, n_actions), end_idx),
                                                 NO_DAY)),
    })

    # reviews: a monthly review and a quarterly plan for every key account
    per_key = REVIEWS_30_PER_KEY + PLANS_90_PER_KEY
    r_acc = np.repeat(key_idx, per_key)
    step = np.tile(np.concatenate([np.arange(REVIEWS_30_PER_KEY) * 30, np.arange(PLANS_90_PER_KEY) * 91]),
                   len(key_idx))
    r_day = end_idx - step - rng.integers(0, 25, len(r_acc))
    r_type = np.tile(np.concatenate([np.ones(REVIEWS_30_PER_KEY, np.int64), np.zeros(PLANS_90_PER_KEY, np.int64)]),
                     len(key_idx))
    reviews = pl.DataFrame({
        "review_id": _ids("REV-", len(r_acc), 7),
        "account_id": _gather(account_ids, r_acc),
        "review_date": _dates(start, np.maximum(r_day, 0)),
        "review_type": _pick(("plan_90_day", "review_30_day"), r_type),
        "rating": pl.Series(rng.integers(1, 6, len(r_acc))),
    })

    fx_rates = pl.DataFrame(
        [("EUR", 1.0, USD_RATES[0][0])] + [("USD", r, v) for v, r in USD_RATES],
        schema={"currency": pl.String, "rate": pl.Float64, "valid_from": pl.Date}, orient="row",
    )
    tables = {"fx_rates": fx_rates, "accounts": accounts, "contacts": contacts, "goals": goals,
              "activities": activities, "revenue": revenue, "opportunities": opportunities,
              "service_costs": service_costs, "cases": cases, "surveys": surveys, "wallet": wallet,
              "actions": actions, "reviews": reviews}
    return {name: tables[name].select(TABLES[name].column_names) for name in TABLE_ORDER}


def write_scale_export(out_dir: Path, *, scale: float = 1.0, seed: int = 11, end_date: date = DEMO_END_DATE) -> dict[str, int]:
    """Write the benchmark export (13 CSV files) at `scale` × the reference size; returns the rows per table."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in build_scale_tables(scale=scale, seed=seed, end_date=end_date).items():
        frame.write_csv(out_dir / f"{name}.csv", date_format="%Y-%m-%d")
        written[name] = frame.height
    return written
