"""The demo's money and programme tables: revenue, wallet, opportunities, service costs, cases, surveys, plans and
reviews, goals and actions, fx rates."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl

from kam_metrics.generators.demo.accounts import _Contacts, _day_weights
from kam_metrics.generators.demo.stories import (
    DRIFT_NPS, HISTORY_DAYS, OFF_TRACK_GOAL_ID, PRODUCT_LINES, PRODUCT_MARGIN, PROGRAMME_LEAD, USD_RATES,
    _CASE_STATUSES_OPEN, _idx, _revenue_factor, _usd_rate_by_day,
)
from kam_metrics.load.contract import TABLES

# ------------------------------------------------------------------------------------------------------
# revenue, wallet, opportunities


def _make_revenue(rng, accounts, start: date, end: date) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Monthly invoice lines per product line; returns the frame and each account's EUR amounts by day index."""
    end_idx = HISTORY_DAYS - 1
    usd = _usd_rate_by_day(start, HISTORY_DAYS)
    month_starts = []
    y, m = start.year, start.month
    while date(y, m, 1) <= end:
        month_starts.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    seasonal = {1: 0.9, 2: 0.95, 3: 1.08, 4: 1.0, 5: 1.0, 6: 1.06, 7: 0.95, 8: 0.82, 9: 1.05, 10: 1.06, 11: 1.04,
                12: 1.09}
    cols: dict[str, list] = {"account_id": [], "day": [], "amount": [], "cost_of_goods": [], "product_line": [],
                             "currency": [], "_seq": []}
    eur_by_account: dict[str, list[tuple[int, float]]] = {}
    seq = 0
    for acc in accounts:
        inv_day = int(rng.integers(1, 29))
        currency = "USD" if acc.region == "Americas" else "EUR"
        created_idx = _idx(start, acc.created)
        eur_rows = []
        for y, m in month_starts:
            d = date(y, m, inv_day)
            di = _idx(start, d)
            if di < 0 or di > end_idx or di < created_idx:
                continue
            if rng.random() > acc.invoice_prob:
                continue
            years_back = (end_idx - di) / 365.25
            level = acc.revenue / 12 * (1 + acc.growth) ** (-years_back) * seasonal[m]
            level = level * _revenue_factor(acc.account_id, di, end_idx)  # a score-check story's drop
            if acc.drift is not None:  # an account drifting away
                level = level * acc.drift.revenue_factor(di)
            if acc.invoice_prob < 1:
                level = level / acc.invoice_prob
            for line, share in acc.mix.items():
                amount_eur = level * share * float(np.exp(rng.normal(0, 0.12)))
                margin = PRODUCT_MARGIN[line] + acc.margin_shift + float(rng.normal(0, 0.03))
                cogs_eur = amount_eur * (1 - min(max(margin, 0.02), 0.95))
                has_cogs = rng.random() < 0.92
                _add_revenue(cols, acc, di, amount_eur, cogs_eur if has_cogs else None, line, currency, usd, seq)
                eur_rows.append((di, amount_eur))
                seq += 1
                if rng.random() < 0.012:  # a credit note a few days later
                    cdi = min(di + int(rng.integers(3, 20)), end_idx)
                    credit = -amount_eur * float(rng.uniform(0.05, 0.3))
                    _add_revenue(cols, acc, cdi, credit, None, line, currency, usd, seq)
                    eur_rows.append((cdi, credit))
                    seq += 1
        eur_by_account[acc.account_id] = np.array(eur_rows, dtype="float64").reshape(-1, 2)
    frame = pl.DataFrame(cols, schema={"account_id": pl.String, "day": pl.Int64, "amount": pl.Float64,
                                       "cost_of_goods": pl.Float64, "product_line": pl.String, "currency": pl.String,
                                       "_seq": pl.Int64})
    frame = frame.with_columns(
        revenue_date=pl.lit(start) + pl.duration(days=pl.col("day")),
    ).with_columns(pl.col("revenue_date").cast(pl.Date)).sort(["revenue_date", "account_id", "_seq"])
    frame = frame.with_columns(revenue_id=pl.format("INV-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)))
    return frame.select(TABLES["revenue"].column_names), eur_by_account


def _add_revenue(cols, acc, di, amount_eur, cogs_eur, line, currency, usd, seq):
    rate = usd[di] if currency == "USD" else 1.0
    cols["account_id"].append(acc.account_id)
    cols["day"].append(di)
    cols["amount"].append(round(amount_eur / rate, 2))
    cols["cost_of_goods"].append(None if cogs_eur is None else round(cogs_eur / rate, 2))
    cols["product_line"].append(line)
    cols["currency"].append(currency)
    cols["_seq"].append(seq)


def _make_wallet(rng, accounts, eur_by_account, end: date) -> pl.DataFrame:
    """Yearly wallet estimates; an estimate is never below 1.3 × what the account bought from us that year."""
    end_idx = HISTORY_DAYS - 1
    start = end - timedelta(days=end_idx)
    rows: dict[str, list] = {c: [] for c in TABLES["wallet"].column_names}

    def add(aid, year, amount, line, source, confidence):
        rows["account_id"].append(aid)
        rows["year"].append(year)
        rows["wallet_amount"].append(float(round(amount, -3 if amount >= 100_000 else -2)))
        rows["product_line"].append(line)
        rows["source"].append(source)
        rows["confidence"].append(confidence)

    for acc in accounts:
        if acc.has_wallet == "none":
            continue
        source = "kam_estimate" if acc.is_key else ("analyst" if rng.random() < 0.6 else "survey")
        for year in (end.year - 2, end.year - 1, end.year):
            revenue_year = acc.revenue * (1 + acc.growth) ** (year - end.year - 0.4)
            # the wallet grows slowly; the share of it we hold moves with our growth
            wallet = revenue_year / acc.sow * (1 + 0.03 * (year - end.year)) / (1 + acc.growth) ** (year - end.year)
            wallet = wallet * float(rng.uniform(0.95, 1.05))
            inv = eur_by_account[acc.account_id]
            if year == end.year:  # the current year: compare with the trailing twelve months
                bought = float(np.sort(inv[inv[:, 0] > end_idx - 365, 1]).sum()) if len(inv) else 0.0
            else:
                lo, hi = _idx(start, date(year, 1, 1)), _idx(start, date(year, 12, 31))
                bought = float(np.sort(inv[(inv[:, 0] >= lo) & (inv[:, 0] <= hi), 1]).sum()) if len(inv) else 0.0
                if lo < 0:  # the year starts before the history: annualise
                    bought = bought * 365 / max(hi + 1, 1)
            wallet = max(wallet, 1.3 * bought)
            confidence = ("high" if year == end.year else "medium") if acc.is_key else ("low", "medium")[int(rng.integers(2))]
            if acc.has_wallet in ("whole", "whole+lines"):
                add(acc.account_id, year, wallet, None, source, confidence)
            if acc.has_wallet in ("whole+lines", "lines"):
                lines = list(acc.mix) + [pl_ for pl_ in PRODUCT_LINES if pl_ not in acc.mix][:1]
                weights = np.array([acc.mix.get(line, 0.15) for line in lines])
                weights = weights / weights.sum()
                for line, w in zip(lines, weights):
                    add(acc.account_id, year, wallet * w * float(rng.uniform(0.9, 1.1)), line, source, confidence)
    return pl.DataFrame(rows, schema={"account_id": pl.String, "year": pl.Int64, "wallet_amount": pl.Float64,
                                      "product_line": pl.String, "source": pl.String, "confidence": pl.String})


def _make_opportunities(rng, accounts, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    usd = _usd_rate_by_day(start, HISTORY_DAYS)
    rows: dict[str, list] = {c: [] for c in TABLES["opportunities"].column_names}
    n = 0
    kinds = ("expansion", "renewal", "new project", "upgrade", "pilot")
    for acc in accounts:
        per_year = 9.0 if acc.is_key else (4.0 if acc.story == "promotion" else 1.2)
        created_idx = max(_idx(start, acc.created), 0)
        count = int(rng.poisson(per_year * (end_idx - created_idx) / 365.25 + 0.3))
        currency = "USD" if acc.region == "Americas" else "EUR"
        short = acc.name.split(" ")[0]
        for c_idx in np.sort(rng.integers(created_idx, end_idx + 1, size=count)):
            n += 1
            line = list(acc.mix)[int(rng.integers(len(acc.mix)))]
            close_idx = int(c_idx + rng.integers(20, 200))
            amount_eur = acc.revenue * float(rng.uniform(0.02, 0.25))
            if close_idx <= end_idx:
                won = rng.random() < (0.55 if acc.is_key else 0.4)
                stage, closed = ("Closed Won" if won else "Closed Lost"), True
            else:
                won, closed = False, False
                progress = (end_idx - c_idx) / (close_idx - c_idx)
                stage = ("Prospecting", "Qualification", "Proposal", "Negotiation")[min(int(progress * 4), 3)]
            rate = usd[min(c_idx, end_idx)] if currency == "USD" else 1.0
            rows["opportunity_id"].append(f"OPP-{n:05d}")
            rows["account_id"].append(acc.account_id)
            rows["name"].append(f"{short} - {line} {kinds[int(rng.integers(len(kinds)))]}")
            rows["stage"].append(stage)
            rows["amount"].append(round(float(round(amount_eur / rate, -2)), 2))
            rows["close_date"].append(start + timedelta(days=close_idx))
            rows["is_closed"].append(closed)
            rows["is_won"].append(won)
            rows["product_line"].append(line)
            rows["currency"].append(currency)
            rows["created_date"].append(start + timedelta(days=int(c_idx)))
    return pl.DataFrame(rows, schema={"opportunity_id": pl.String, "account_id": pl.String, "name": pl.String,
                                      "stage": pl.String, "amount": pl.Float64, "close_date": pl.Date,
                                      "is_closed": pl.Boolean, "is_won": pl.Boolean, "product_line": pl.String,
                                      "currency": pl.String, "created_date": pl.Date})


# ------------------------------------------------------------------------------------------------------
# cost to serve, cases, surveys


def _make_service_costs(rng, accounts, eur_by_account, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    usd = _usd_rate_by_day(start, HISTORY_DAYS)
    rows: dict[str, list] = {"account_id": [], "day": [], "category": [], "amount": [], "currency": [], "_seq": []}
    seq = 0
    for acc in accounts:
        currency = "USD" if acc.region == "Americas" else "EUR"
        inv = eur_by_account[acc.account_id]
        if len(inv) == 0:
            continue
        if acc.story == "value_destroyer":
            split = {"support": 0.24, "logistics": 0.36, "discount": 0.16, "customisation": 0.12,
                     "account_management": 0.06, "travel": 0.06}
        elif acc.is_key:
            split = {"account_management": 0.32, "support": 0.26, "logistics": 0.12, "discount": 0.18, "travel": 0.1,
                     "customisation": 0.02}
        else:
            split = {"support": 0.45, "logistics": 0.25, "discount": 0.2, "travel": 0.05, "other": 0.05}
        if not ({"Logistics Services", "Spare Parts"} & set(acc.mix)):  # nothing physical to ship
            split = {k: v for k, v in split.items() if k != "logistics"}
            total = sum(split.values())
            split = {k: v / total for k, v in split.items()}
        # one cost line per category and month with invoices, proportional to that month's revenue
        months = inv[:, 0] // 30.4375
        for mth in np.unique(months):
            sel = months == mth
            month_rev = max(float(inv[sel, 1].sum()), 0.0)
            di = int(inv[sel, 0].max())
            for cat, share in split.items():
                monthly = ("support", "account_management", "logistics") if acc.is_key else ("support",)
                p_row = 1.0 if cat in monthly else 0.35
                if rng.random() > p_row:
                    continue
                amount_eur = month_rev * acc.cost_ratio * share / p_row * float(np.exp(rng.normal(0, 0.25)))
                if amount_eur < 1:
                    continue
                cdi = min(di + int(rng.integers(0, 10)), end_idx)
                rate = usd[cdi] if currency == "USD" else 1.0
                rows["account_id"].append(acc.account_id)
                rows["day"].append(cdi)
                rows["category"].append(cat)
                rows["amount"].append(round(amount_eur / rate, 2))
                rows["currency"].append(currency)
                rows["_seq"].append(seq)
                seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "day": pl.Int64, "category": pl.String,
                                       "amount": pl.Float64, "currency": pl.String, "_seq": pl.Int64})
    frame = frame.with_columns(cost_date=(pl.lit(start) + pl.duration(days=pl.col("day"))).cast(pl.Date))
    frame = frame.sort(["cost_date", "account_id", "_seq"]).with_columns(
        cost_id=pl.format("SC-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)))
    return frame.select(TABLES["service_costs"].column_names)


def _make_cases(rng, accounts, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    day_w = _day_weights(start)
    rows: dict[str, list] = {"account_id": [], "opened": [], "closed": [], "priority": [], "status": [], "_seq": []}
    seq = 0
    for acc in accounts:
        created_idx = max(_idx(start, acc.created), 0)
        w = day_w.copy()
        w[:created_idx] = 0
        if w.sum() == 0:
            continue
        lam = acc.case_rate * (HISTORY_DAYS / 365.25) * w / w.sum()
        days = np.repeat(np.arange(HISTORY_DAYS), rng.poisson(lam))
        p = [0.1, 0.33, 0.38, 0.19] if acc.story == "value_destroyer" else [0.3, 0.47, 0.19, 0.04]
        prio = rng.choice(4, size=len(days), p=p)
        for di, pr in zip(days, prio):
            priority = ("low", "medium", "high", "critical")[int(pr)]
            lo, hi = {"low": (2, 45), "medium": (1, 30), "high": (0, 14), "critical": (0, 5)}[priority]
            closed = int(di) + int(rng.integers(lo, hi + 1))
            rows["account_id"].append(acc.account_id)
            rows["opened"].append(int(di))
            if closed > end_idx:
                rows["closed"].append(None)
                rows["status"].append(_CASE_STATUSES_OPEN[int(rng.integers(3))])
            else:
                rows["closed"].append(closed)
                rows["status"].append("Closed")
            rows["priority"].append(priority)
            rows["_seq"].append(seq)
            seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "opened": pl.Int64, "closed": pl.Int64,
                                       "priority": pl.String, "status": pl.String, "_seq": pl.Int64})
    frame = frame.with_columns(
        opened_date=(pl.lit(start) + pl.duration(days=pl.col("opened"))).cast(pl.Date),
        closed_date=(pl.lit(start) + pl.duration(days=pl.col("closed"))).cast(pl.Date),
    ).sort(["opened_date", "account_id", "_seq"])
    frame = frame.with_columns(case_id=pl.format("CASE-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)))
    return frame.select(TABLES["cases"].column_names)


def _make_surveys(rng, accounts, contacts: dict[str, _Contacts], start: date, end: date) -> pl.DataFrame:
    """Relationship surveys twice a year for key accounts (and the candidate), yearly for a third of the others."""
    end_idx = HISTORY_DAYS - 1
    rows: dict[str, list] = {"account_id": [], "day": [], "contact_id": [], "nps": [], "csat": [], "_seq": []}
    seq = 0
    waves = []
    for y in range(start.year, end.year + 1):
        for m, dd in ((6, 1), (12, 1)):
            wi = _idx(start, date(y, m, dd))
            if 0 <= wi <= end_idx:
                waves.append(wi)
    for acc in accounts:
        con = contacts[acc.account_id]
        created_idx = _idx(start, acc.created)
        if acc.is_key or acc.story == "promotion":
            account_waves = waves
            k_lo, k_hi = 2, 5
        else:
            if rng.random() > 0.35 or not len(con.ids):
                continue
            account_waves = waves[1::2]
            k_lo, k_hi = 1, 2
        for wi in account_waves:
            if wi < created_idx:
                continue
            active = np.flatnonzero(con.left_idx > wi + 21)
            if not len(active):
                continue
            k = min(int(rng.integers(k_lo, k_hi + 1)), len(active))
            for ci in rng.choice(active, size=k, replace=False):
                di = min(wi + int(rng.integers(0, 21)), end_idx)
                cooled = 0.0 if acc.drift is None else float(acc.drift.cooled(di))  # a drifting account's answers
                nps = int(np.clip(round(rng.normal(acc.nps_mean, 1.4) - DRIFT_NPS * cooled), 0, 10))
                csat = int(np.clip(round(rng.normal(1 + (acc.nps_mean - 2) / 2, 0.7) - DRIFT_NPS / 2 * cooled), 1, 5))
                r = rng.random()
                rows["account_id"].append(acc.account_id)
                rows["day"].append(di)
                rows["contact_id"].append(con.ids[int(ci)] if rng.random() < 0.9 else None)
                rows["nps"].append(None if r < 0.08 else nps)
                rows["csat"].append(None if 0.08 <= r < 0.18 else csat)
                rows["_seq"].append(seq)
                seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "day": pl.Int64, "contact_id": pl.String,
                                       "nps": pl.Int64, "csat": pl.Int64, "_seq": pl.Int64})
    frame = frame.with_columns(response_date=(pl.lit(start) + pl.duration(days=pl.col("day"))).cast(pl.Date))
    frame = frame.sort(["response_date", "account_id", "_seq"]).with_columns(
        response_id=pl.format("SR-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(5)))
    return frame.select(TABLES["surveys"].column_names)


# ------------------------------------------------------------------------------------------------------
# plans, goals, actions


def _make_reviews(rng, accounts, start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    rows: dict[str, list] = {"account_id": [], "day": [], "review_type": [], "rating": [], "_seq": []}
    seq = 0
    for acc in accounts:
        if not acc.is_key:
            continue
        first = max(_idx(start, acc.since), 0)
        if acc.story == "overdue":
            last_plan = end_idx - int(rng.integers(120, 170))
            last_review = end_idx - int(rng.integers(40, 75))
        elif acc.story == "collapsing":
            last_plan = end_idx - int(rng.integers(30, 70))
            last_review = end_idx - int(rng.integers(35, 55))
        else:
            last_plan = end_idx - int(rng.integers(5, 80))
            last_review = end_idx - int(rng.integers(1, 25))
        good = acc.story in ("healthy", "quiet_champion")
        entries = []
        di = last_plan
        while di >= first:
            entries.append((di, "plan_90_day"))
            di -= int(rng.integers(86, 97))
        di = last_review
        while di >= first:
            entries.append((di, "review_30_day"))
            di -= int(rng.integers(27, 34))
        for y in range(start.year, end.year + 1):  # a yearly strategy day early in the year
            si = _idx(start, date(y, 2, 1)) + int(rng.integers(0, 28))
            if first <= si <= last_review:
                entries.append((si, "strategy_day"))
        for di, rtype in entries:
            lo, hi = (3, 5) if good else (2, 4)
            rating = int(rng.integers(lo, hi + 1)) if rng.random() < 0.9 else None
            rows["account_id"].append(acc.account_id)
            rows["day"].append(di)
            rows["review_type"].append(rtype)
            rows["rating"].append(rating)
            rows["_seq"].append(seq)
            seq += 1
    frame = pl.DataFrame(rows, schema={"account_id": pl.String, "day": pl.Int64, "review_type": pl.String,
                                       "rating": pl.Int64, "_seq": pl.Int64})
    frame = frame.with_columns(review_date=(pl.lit(start) + pl.duration(days=pl.col("day"))).cast(pl.Date))
    frame = frame.sort(["review_date", "account_id", "_seq"]).with_columns(
        review_id=pl.format("REV-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(5)))
    return frame.select(TABLES["reviews"].column_names)


def _horizon(start_d: date, due_d: date) -> str:
    days = (due_d - start_d).days
    return "short" if days <= 180 else ("mid" if days <= 400 else "long")


def _make_goals(rng, accounts, eur_by_account, surveys: pl.DataFrame, start: date, end: date):
    """Programme goals (one of them off track by construction) and account goals, with their actions."""
    end_idx = HISTORY_DAYS - 1
    key = [a for a in accounts if a.is_key]
    key_ids = [a.account_id for a in key]

    def ttm(arr: np.ndarray, lo: int, hi: int) -> float:
        if not len(arr):
            return 0.0
        sel = (arr[:, 0] >= lo) & (arr[:, 0] <= hi)
        return float(np.sort(arr[sel, 1]).sum())

    rev_ttm = {a.account_id: ttm(eur_by_account[a.account_id], end_idx - 364, end_idx) for a in accounts}
    rev_prior = {a.account_id: ttm(eur_by_account[a.account_id], end_idx - 729, end_idx - 365) for a in accounts}
    total = sum(sorted(rev_ttm.values()))
    key_share = 100 * sum(sorted(rev_ttm[a] for a in key_ids)) / total
    recent = surveys.filter(
        pl.col("account_id").is_in(key_ids) & (pl.col("response_date") >= end - timedelta(days=364))
        & pl.col("nps").is_not_null()
    )["nps"].to_numpy()
    programme_nps = 100 * (np.sum(recent >= 9) - np.sum(recent <= 6)) / max(len(recent), 1)
    sponsor_pct = 100 * sum(a.sponsor is not None for a in key) / len(key)

    goals: dict[str, list] = {c: [] for c in TABLES["goals"].column_names}
    actions: dict[str, list] = {c: [] for c in TABLES["actions"].column_names}

    def add_goal(gid, title, account_id, metric, baseline, target, current, s, due, owner):
        goals["goal_id"].append(gid)
        goals["title"].append(title)
        goals["account_id"].append(account_id)
        goals["metric"].append(metric)
        goals["baseline"].append(None if baseline is None else round(float(baseline), 2))
        goals["target"].append(round(float(target), 2))
        goals["current"].append(None if current is None else round(float(current), 2))
        goals["start_date"].append(s)
        goals["due_date"].append(due)
        goals["owner"].append(owner)
        goals["horizon"].append(_horizon(s, due))

    share_base = math.floor((key_share - 0.8) * 10) / 10
    share_target = round(share_base + 12.0, 1)
    nps_base = round(programme_nps - 6)
    programme = [
        (OFF_TRACK_GOAL_ID, f"Raise the key-account share of revenue to {share_target:.0f} %", "key_revenue_share_pct",
         share_base, share_target, None, end - timedelta(days=320), end + timedelta(days=45)),
        ("G-P02", "An executive sponsor for every key account", "sponsor_coverage_pct", 60.0, 100.0, None,
         end - timedelta(days=200), end + timedelta(days=165)),
        ("G-P03", f"Programme NPS of +{nps_base + 14:.0f}", "programme_nps", nps_base, nps_base + 14, None,
         end - timedelta(days=180), end + timedelta(days=185)),
        ("G-P04", "Every key account on a 90-day plan cadence", "cadence_compliance_pct", 40.0, 100.0, None,
         end - timedelta(days=150), end + timedelta(days=215)),
        ("G-P05", "Run a strategy day with every key account this year", None, 0.0, float(len(key)),
         float(len(key) - 2), date(end.year, 1, 1), date(end.year, 12, 31)),
    ]
    assert sponsor_pct > 60
    for gid, title, metric, base, target, current, s, due in programme:
        add_goal(gid, title, None, metric, base, target, current, s, due, PROGRAMME_LEAD)

    action_titles = {
        "revenue_ttm": ("Map the whitespace with the buying centre", "Propose the analytics upgrade",
                        "Negotiate the framework extension", "Run a joint business plan session"),
        "engaged_contacts_90d": ("Introduce our CTO to their IT leadership", "Set up a user group",
                                 "Invite procurement to the roadmap review", "Map the org chart with the champion"),
        "nps_365d": ("Close the open escalations", "Agree service levels for critical cases",
                     "Quarterly satisfaction check-in"),
        "share_of_wallet": ("Size the wallet with the customer", "Bid for the spare-parts tender",
                            "Bundle services into the renewal"),
        None: ("Draft the agreement", "Legal review", "Executive sign-off", "Kick-off meeting"),
        "programme": ("Brief the KAM team", "Update the account plans", "Report progress to the board"),
    }
    g = 0
    goal_rows = []
    for acc in key:
        n_goals = int(rng.integers(1, 4))
        kinds = [str(k) for k in rng.choice(["revenue_ttm", "engaged_contacts_90d", "nps_365d", "share_of_wallet",
                                             "manual"], size=n_goals, replace=False)]
        for kind in kinds:
            g += 1
            gid = f"G-{g:03d}"
            s = end - timedelta(days=int(rng.integers(30, 300)))
            due = end + timedelta(days=int(rng.integers(20, 420)))
            if rng.random() < 0.08:
                due = end - timedelta(days=int(rng.integers(5, 25)))
            if kind == "revenue_ttm":
                base = round(rev_prior[acc.account_id], -3)
                target = round(base * float(rng.uniform(1.12, 1.3)), -3)
                add_goal(gid, f"Grow revenue to EUR {target / 1e6:.1f}M", acc.account_id, kind, base, target, None, s,
                         due, acc.owner)
            elif kind == "engaged_contacts_90d":
                add_goal(gid, "Engage at least six people in the buying centre", acc.account_id, kind, 3, 6, None, s,
                         due, acc.owner)
            elif kind == "nps_365d":
                add_goal(gid, "Account NPS above +50", acc.account_id, kind, 20, 50, None, s, due, acc.owner)
            elif kind == "share_of_wallet":
                base = round(float(rng.uniform(0.25, 0.4)), 2)
                add_goal(gid, "Lift our share of wallet", acc.account_id, kind, base, round(base + 0.12, 2), None, s,
                         due, acc.owner)
            else:
                add_goal(gid, "Sign the multi-year framework agreement", acc.account_id, None, 0, 1,
                         float(rng.choice([0.0, 0.25, 0.5, 0.75])), s, due, acc.owner)
            goal_rows.append((gid, None if kind == "manual" else kind, s, due, acc.owner))
    for gid, *_rest in programme:
        s, due = _rest[-2], _rest[-1]
        goal_rows.insert(0, (gid, "programme", s, due, PROGRAMME_LEAD))
    goal_rows.sort(key=lambda r: r[0])

    a = 0
    for gid, kind, s, due, owner in goal_rows:
        titles = action_titles[kind]
        n_actions = int(rng.integers(2, min(5, len(titles)) + 1))
        span = max((due - s).days, 1)
        for j in range(n_actions):
            a += 1
            adue = s + timedelta(days=int(span * (j + 1) / (n_actions + 1)))
            completed = None
            if adue <= end and rng.random() < 0.75:
                completed = min(adue + timedelta(days=int(rng.integers(-20, 25))), end)
                completed = max(completed, s)
            actions["action_id"].append(f"A-{a:04d}")
            actions["goal_id"].append(gid)
            actions["title"].append(titles[j % len(titles)])
            actions["owner"].append(owner)
            actions["due_date"].append(adue)
            actions["completed_date"].append(completed)
    goals_frame = pl.DataFrame(goals, schema={"goal_id": pl.String, "title": pl.String, "account_id": pl.String,
                                              "metric": pl.String, "baseline": pl.Float64, "target": pl.Float64,
                                              "current": pl.Float64, "start_date": pl.Date, "due_date": pl.Date,
                                              "owner": pl.String, "horizon": pl.String})
    actions_frame = pl.DataFrame(actions, schema={"action_id": pl.String, "goal_id": pl.String, "title": pl.String,
                                                  "owner": pl.String, "due_date": pl.Date,
                                                  "completed_date": pl.Date})
    return goals_frame, actions_frame


def _fx_frame() -> pl.DataFrame:
    rows = [("EUR", 1.0, USD_RATES[0][0])] + [("USD", r, v) for v, r in USD_RATES]
    return pl.DataFrame(rows, schema={"currency": pl.String, "rate": pl.Float64, "valid_from": pl.Date}, orient="row")


