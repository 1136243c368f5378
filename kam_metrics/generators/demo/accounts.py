"""The demo's accounts, contacts and activities, drawn in a fixed order from one random generator."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from kam_metrics.generators.demo.stories import (
    ACT_TYPES, CHAMPION_LEFT_ACCOUNT, COLLAPSING_ACCOUNT, DECLINES, DRIFT_GROWTH, HISTORY_DAYS, INDUSTRIES,
    OVERDUE_ACCOUNTS, PRODUCT_LINES, PROMOTION_CANDIDATE_ACCOUNT, QUIET_CHAMPION_ACCOUNT, REGIONS, SALES_OWNERS,
    SEGMENTS, SENIORITY, SINGLE_THREADED_ACCOUNT, SOLUTION_ENGINEERS, VALUE_DESTROYER_ACCOUNT, _AFFINITY, _Account,
    _Drift, _ECONOMIC_TITLES, _FIRST_NAMES, _INDUSTRY_NOUNS, _KEY_ACCOUNTS, _LAST_NAMES, _PREFIXES, _ROLE_ATTITUDE,
    _ROLE_SENIORITY, _ROLE_WEIGHT, _SPECIAL_NON_KEY, _SUBJECTS, _SUFFIXES, _TITLES, _choice, _cooling_keep, _d, _idx,
)
from kam_metrics.load.contract import TABLES

# ------------------------------------------------------------------------------------------------------
# accounts


def _make_accounts(rng: np.random.Generator, end: date) -> list[_Account]:
    start = end - timedelta(days=HISTORY_DAYS - 1)
    accounts: dict[str, _Account] = {}
    for (aid, name, region, industry, segment, kam, sponsor, since, stage, created, revenue, growth, mix,
         story) in _KEY_ACCOUNTS:
        acc = _Account(aid, name, True, region, industry, segment, kam, sponsor, since, stage, created, float(revenue),
                       growth, mix, story=story)
        acc.activity_scale = float(rng.uniform(0.85, 1.25))
        acc.n_contacts = int(rng.integers(8, 15))
        acc.cost_ratio = float(rng.uniform(0.025, 0.045))
        acc.case_rate = float(rng.uniform(15, 35))
        acc.nps_mean = float(rng.uniform(8.4, 9.2))
        acc.sow = float(rng.uniform(0.35, 0.6))
        accounts[aid] = acc
    # story shaping
    k = accounts
    k[CHAMPION_LEFT_ACCOUNT].n_contacts = 9
    k[COLLAPSING_ACCOUNT].n_contacts = 7
    k[COLLAPSING_ACCOUNT].nps_mean = 6.6
    vd = k[VALUE_DESTROYER_ACCOUNT]
    vd.n_contacts, vd.cost_ratio, vd.case_rate, vd.margin_shift, vd.nps_mean = 13, 0.25, 170.0, -0.05, 6.9
    vd.activity_scale = 1.6
    vd.rates = {"email": 420, "call": 220, "meeting": 80, "exec_meeting": 12, "site_visit": 30, "workshop": 22,
                "other": 12}
    vd.sow = 0.62
    for aid in OVERDUE_ACCOUNTS:
        k[aid].n_contacts = 8
    st = k[SINGLE_THREADED_ACCOUNT]
    st.n_contacts, st.nps_mean = 4, 7.6
    k[QUIET_CHAMPION_ACCOUNT].n_contacts = 8
    # wallet coverage: most key accounts have whole-wallet rows, some also per product line, some only lines
    for aid in ("ACC-1090", "ACC-1102", "ACC-1163", "ACC-1007", "ACC-1117"):
        k[aid].has_wallet = "whole+lines"
    for aid in ("ACC-1125", "ACC-1179", "ACC-1203"):
        k[aid].has_wallet = "lines"
    for acc in k.values():
        acc.rates = acc.rates or _key_rates(acc)

    for aid, name, region, industry, segment, owner, parent, created, revenue, growth, mix in _SPECIAL_NON_KEY:
        acc = _Account(aid, name, False, region, industry, segment, owner, None, None, "basic", created,
                       float(revenue), growth, mix, parent=parent)
        acc.activity_scale = float(rng.uniform(0.5, 0.9))
        acc.n_contacts = int(rng.integers(1, 4))
        acc.cost_ratio = float(rng.uniform(0.02, 0.04))
        acc.case_rate = float(rng.uniform(2, 6))
        acc.nps_mean = float(rng.uniform(7.0, 8.5))
        acc.has_wallet = "none"
        accounts[aid] = acc
    cand = accounts[PROMOTION_CANDIDATE_ACCOUNT]
    cand.stage, cand.n_contacts, cand.activity_scale, cand.cost_ratio = "cooperative", 7, 1.0, 0.025
    cand.case_rate, cand.nps_mean, cand.has_wallet, cand.sow, cand.margin_shift = 8.0, 8.8, "whole", 0.42, 0.03
    cand.story = "promotion"

    used_names = {a.name for a in accounts.values()}
    start_ord, end_ord = start.toordinal(), end.toordinal()
    for n in range(1001, 1301):
        aid = f"ACC-{n}"
        if aid in accounts:
            continue
        region = REGIONS[int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
        industry = INDUSTRIES[int(rng.integers(len(INDUSTRIES)))]
        segment = SEGMENTS[int(rng.choice(4, p=[0.1, 0.45, 0.4, 0.05]))]
        while True:
            name = (f"{_PREFIXES[int(rng.integers(len(_PREFIXES)))]} "
                    f"{_choice(rng, _INDUSTRY_NOUNS[industry])} {_choice(rng, _SUFFIXES[region])}")
            if name not in used_names:
                used_names.add(name)
                break
        size = {"Enterprise": 2.2, "Mid-market": 1.0, "Small business": 0.35, "Public sector": 0.9}[segment]
        revenue = float(min(np.exp(rng.normal(math.log(70_000), 0.85)) * size, 650_000))
        growth = float(np.clip(rng.normal(0.03, 0.14), -0.4, 0.45))
        if rng.random() < 0.12:
            created = date.fromordinal(int(rng.integers(start_ord, end_ord - 120)))
        else:
            created = date.fromordinal(int(rng.integers(date(2008, 1, 1).toordinal(), start_ord)))
        owner = SALES_OWNERS[int(rng.integers(len(SALES_OWNERS)))] if rng.random() < 0.8 else None
        stage = (None, "exploratory", "basic", "cooperative")[int(rng.choice(4, p=[0.15, 0.2, 0.5, 0.15]))]
        n_lines = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
        lines = rng.choice(len(PRODUCT_LINES), size=n_lines, replace=False)
        shares = rng.dirichlet(np.full(n_lines, 2.0))
        mix = {PRODUCT_LINES[int(i)]: float(s) for i, s in zip(sorted(lines), shares)}
        acc = _Account(aid, name, False, region, industry, segment, owner, None, None, stage, created, revenue, growth,
                       mix)
        acc.activity_scale = float(np.exp(rng.normal(math.log(0.45), 0.5)))
        acc.n_contacts = 1 + int(rng.choice(6, p=[0.15, 0.25, 0.25, 0.15, 0.12, 0.08]))
        acc.cost_ratio = float(np.clip(np.exp(rng.normal(math.log(0.14), 0.7)), 0.03, 0.7))
        acc.case_rate = float(min(revenue / 40_000, 8.0) * rng.uniform(0.5, 1.2))
        acc.nps_mean = float(np.clip(rng.normal(7.6, 1.0), 4, 9.8))
        acc.has_wallet = "whole" if rng.random() < 0.6 else "none"
        acc.sow = float(rng.uniform(0.25, 0.7))
        acc.invoice_prob = float(np.clip(revenue / 20_000, 0.9, 1.0))  # regular customers invoice every month
        acc.rates = {"email": 40, "call": 20, "meeting": 6, "exec_meeting": 0.1, "site_visit": 0.4, "workshop": 0.3,
                     "other": 3}
        accounts[aid] = acc
    cand.rates = {"email": 140, "call": 70, "meeting": 24, "exec_meeting": 1.5, "site_visit": 2, "workshop": 3,
                  "other": 5}
    for aid, *_ in _SPECIAL_NON_KEY[1:]:
        accounts[aid].rates = {"email": 40, "call": 20, "meeting": 6, "exec_meeting": 0.1, "site_visit": 0.4,
                               "workshop": 0.3, "other": 3}
    for aid, decline in DECLINES.items():  # the score-check stories (DECLINES), told after the drawing
        accounts[aid].story = "warned_in_time" if decline.cooling is not None else "missed_contraction"
    _add_drifts(rng, accounts)
    return [accounts[a] for a in sorted(accounts)]


def _add_drifts(rng: np.random.Generator, accounts: dict[str, _Account]) -> None:
    """The ordinary non-key accounts with a drawn growth below DRIFT_GROWTH drift away once (_Drift), drawn from a
    child generator: the main stream, and so every other figure drawn from it, is not moved by these draws."""
    end_idx = HISTORY_DAYS - 1
    drift_rng = rng.spawn(1)[0]
    special = {aid for aid, *_ in _SPECIAL_NON_KEY} | set(DECLINES)
    for aid in sorted(accounts):
        acc = accounts[aid]
        u = drift_rng.random(5)  # drawn for every ordinary account, so one's drift does not move another's
        if acc.is_key or aid in special or acc.growth >= DRIFT_GROWTH:
            continue
        fall_start = end_idx - int(150 + u[0] * 670)
        fall_end = fall_start + int(90 + u[1] * 150)
        acc.drift = _Drift(cooling=fall_start - int(100 + u[2] * 110), fall_start=fall_start, fall_end=fall_end,
                           revenue_floor=float(0.25 + 0.35 * u[3]), engagement_floor=float(0.05 + 0.2 * u[4]))


def _key_rates(acc: _Account) -> dict[str, float]:
    rates = {"email": 260, "call": 110, "meeting": 45, "exec_meeting": 6, "site_visit": 5, "workshop": 6, "other": 10}
    if acc.sponsor is None:
        rates["exec_meeting"] = 1.5
    return rates


def _accounts_frame(accounts: list[_Account]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [a.account_id for a in accounts],
            "account_name": [a.name for a in accounts],
            "is_key_account": [a.is_key for a in accounts],
            "parent_account_id": [a.parent for a in accounts],
            "industry": [a.industry for a in accounts],
            "region": [a.region for a in accounts],
            "segment": [a.segment for a in accounts],
            "kam_owner": [a.owner for a in accounts],  # the KAM of a key account, else its sales owner if any
            "executive_sponsor": [a.sponsor for a in accounts],
            "key_account_since": [a.since for a in accounts],
            "relationship_stage": [a.stage for a in accounts],
            "created_date": [a.created for a in accounts],
        },
        schema={"account_id": pl.String, "account_name": pl.String, "is_key_account": pl.Boolean,
                "parent_account_id": pl.String, "industry": pl.String, "region": pl.String, "segment": pl.String,
                "kam_owner": pl.String, "executive_sponsor": pl.String, "key_account_since": pl.Date,
                "relationship_stage": pl.String, "created_date": pl.Date},
    )


# ------------------------------------------------------------------------------------------------------
# contacts


@dataclass
class _Contacts:
    ids: list[str]
    seniority: np.ndarray  # index into SENIORITY
    role: list[str]
    left_idx: np.ndarray  # day index of left_date (HISTORY_DAYS + 10**6 when active)


def _make_contacts(rng, accounts, start: date, end: date) -> tuple[pl.DataFrame, dict[str, _Contacts]]:
    end_idx = HISTORY_DAYS - 1
    never = HISTORY_DAYS + 10**6
    rows: dict[str, list] = {c: [] for c in TABLES["contacts"].column_names}
    by_account: dict[str, _Contacts] = {}
    n = 0
    for acc in accounts:
        if acc.is_key or acc.story == "promotion":
            roles = ["decision_maker", "economic_buyer", "champion"]
            extra = rng.choice(["influencer", "user", "gatekeeper", "blocker", "influencer", "user"],
                               size=max(acc.n_contacts - 3, 0))
            roles += [str(r) for r in extra]
        else:
            pool = ("influencer", "user", "decision_maker", "gatekeeper", "champion", "economic_buyer", "blocker")
            roles = [pool[int(i)] for i in rng.choice(7, size=acc.n_contacts, p=[0.25, 0.3, 0.15, 0.1, 0.1, 0.07, 0.03])]
            decline = DECLINES.get(acc.account_id)
            if decline is not None and decline.champion_left is not None and "champion" not in roles:
                roles[0] = "champion"  # the story's champion, who leaves (no draw: every other figure stays as drawn)
        ids, sen, left = [], [], []
        for j, role in enumerate(roles):
            n += 1
            cid = f"CON-{n:05d}"
            seniorities, p = _ROLE_SENIORITY[role]
            s = str(seniorities[int(rng.choice(len(seniorities), p=p))])
            if role == "economic_buyer":
                title = _ECONOMIC_TITLES[s]
            else:
                options = [t for t in _TITLES[s] if t not in ("Chief Financial Officer", "VP Finance")]
                title = options[int(rng.integers(len(options)))]
            atts, pa = _ROLE_ATTITUDE[role]
            attitude = int(atts[int(rng.choice(len(atts), p=pa))])
            if not acc.is_key and rng.random() < 0.25:
                attitude = None
            full_name = f"{_FIRST_NAMES[int(rng.integers(len(_FIRST_NAMES)))]} {_LAST_NAMES[int(rng.integers(len(_LAST_NAMES)))]}"
            left_idx = never
            # some people leave; only minor roles, and long enough ago not to read as a fresh loss
            if role in ("influencer", "user", "gatekeeper") and rng.random() < 0.12:
                left_idx = int(rng.integers(60, end_idx - 150))
            if acc.account_id == CHAMPION_LEFT_ACCOUNT and role == "champion":
                left_idx = end_idx - 30
            decline = DECLINES.get(acc.account_id)
            if (decline is not None and decline.champion_left is not None and role == "champion"
                    and roles.index("champion") == j):  # the first champion leaves (no draw: others unchanged)
                left_idx = end_idx - decline.champion_left
            rows["contact_id"].append(cid)
            rows["account_id"].append(acc.account_id)
            rows["full_name"].append(full_name)
            rows["title"].append(title if (acc.is_key or rng.random() < 0.85) else None)
            rows["seniority"].append(s)
            rows["buying_role"].append(role)
            rows["attitude"].append(attitude)
            rows["is_active"].append(left_idx == never)
            rows["left_date"].append(None if left_idx == never else start + timedelta(days=left_idx))
            ids.append(cid)
            sen.append(SENIORITY.index(s))
            left.append(left_idx)
        by_account[acc.account_id] = _Contacts(ids, np.array(sen, dtype=np.int64), list(roles),
                                               np.array(left, dtype=np.int64))
    frame = pl.DataFrame(rows, schema={"contact_id": pl.String, "account_id": pl.String, "full_name": pl.String,
                                       "title": pl.String, "seniority": pl.String, "buying_role": pl.String,
                                       "attitude": pl.Int64, "is_active": pl.Boolean, "left_date": pl.Date})
    return frame, by_account


# ------------------------------------------------------------------------------------------------------
# activities


def _day_weights(start: date) -> np.ndarray:
    """Relative activity level of each day: weekdays, summer and year-end holidays."""
    days = _d(start, np.arange(HISTORY_DAYS))
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday → Monday = 0
    w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.04, 0.02))
    month = days.astype("datetime64[M]").astype("int64") % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype("int64") + 1
    w = np.where(month == 8, w * 0.65, w)
    w = np.where(((month == 12) & (dom >= 22)) | ((month == 1) & (dom <= 2)), w * 0.2, w)
    return w


def _activity_profile(acc: _Account, start: date) -> np.ndarray:
    """Multiplier of the activity level over time for one account."""
    end_idx = HISTORY_DAYS - 1
    t = np.arange(HISTORY_DAYS)
    m = np.ones(HISTORY_DAYS)
    created_idx = _idx(start, acc.created)
    m[t < created_idx] = 0.0
    if acc.story == "collapsing":
        m[t > end_idx - 90] = 0.12
        m[(t > end_idx - 180) & (t <= end_idx - 90)] = 1.1
    if acc.story == "promotion":
        m = m * (0.45 + 1.1 * t / end_idx)
    if acc.is_key and acc.since is not None:
        since_idx = _idx(start, acc.since)
        m[t < since_idx] *= 0.6  # less attention before the account joined the programme
    return m


def _qbr_days(acc: _Account, start: date, end: date, rng) -> list[int]:
    """One quarterly business review per calendar quarter for key accounts."""
    if not acc.is_key:
        return []
    out = []
    y, q = start.year, (start.month - 1) // 3
    while True:
        qstart = date(y, 3 * q + 1, 1)
        if qstart > end:
            break
        d = qstart + timedelta(days=int(rng.integers(35, 60)))
        while d.weekday() >= 5:
            d += timedelta(days=1)
        if start <= d <= end and (acc.since is None or d >= acc.since):
            if not (acc.story == "collapsing" and (end - d).days < 90):
                out.append(_idx(start, d))
        q += 1
        if q == 4:
            y, q = y + 1, 0
    return out


def _make_activities(rng, accounts, contacts: dict[str, _Contacts], start: date, end: date) -> pl.DataFrame:
    end_idx = HISTORY_DAYS - 1
    day_w = _day_weights(start)
    years = HISTORY_DAYS / 365.25
    parts = []
    for acc in accounts:
        prof = _activity_profile(acc, start) * day_w
        norm = prof.sum() / years if prof.sum() > 0 else 1.0
        days_list, types_list = [], []
        for ti, t in enumerate(ACT_TYPES):
            if t == "qbr":
                qd = _qbr_days(acc, start, end, rng)
                days_list.append(np.array(qd, dtype=np.int64))
                types_list.append(np.full(len(qd), ti))
                continue
            rate = acc.rates.get(t, 0.0) * acc.activity_scale
            lam = rate * prof / norm
            counts = rng.poisson(lam)
            d = np.repeat(np.arange(HISTORY_DAYS), counts)
            days_list.append(d)
            types_list.append(np.full(len(d), ti))
        day = np.concatenate(days_list)
        typ = np.concatenate(types_list)
        n = len(day)
        if n == 0:
            continue
        con = contacts[acc.account_id]
        contact_idx = np.full(n, -1)
        if len(con.ids):
            aff = np.array([_AFFINITY[ACT_TYPES[i]] for i in range(len(ACT_TYPES))])  # types × seniority
            w = aff[typ][:, con.seniority] * np.array([_ROLE_WEIGHT[r] for r in con.role])[None, :]
            w = w * (day[:, None] < con.left_idx[None, :])
            roles = np.array(con.role)
            if acc.story == "single_threaded":  # only the champion and one user in the last 90 days
                allowed = np.zeros(len(con.ids), dtype=bool)
                allowed[np.flatnonzero(roles == "champion")[:1]] = True
                allowed[np.flatnonzero(roles == "economic_buyer")[:1]] = True
                w = np.where((day[:, None] > end_idx - 90) & ~allowed[None, :], 0.0, w)
            if acc.story == "quiet_champion":  # the champion has gone silent for 75 days
                w = np.where((day[:, None] > end_idx - 75) & (roles == "champion")[None, :], 0.0, w)
            decline = DECLINES.get(acc.account_id)
            if decline is not None and decline.cooling is not None:  # the champion goes quiet as it cools
                w = np.where((day[:, None] > end_idx - decline.cooling) & (roles == "champion")[None, :], 0.0, w)
            if acc.story == "collapsing":  # the few recent touches reach only two people
                allowed = np.zeros(len(con.ids), dtype=bool)
                for role in ("economic_buyer", "user", "gatekeeper"):
                    allowed[np.flatnonzero(roles == role)[:1]] = True
                w = np.where((day[:, None] > end_idx - 90) & ~allowed[None, :], 0.0, w)
            total = w.sum(axis=1)
            u = rng.random(n) * total
            pick = (np.cumsum(w, axis=1) < u[:, None]).sum(axis=1)
            null_p = 0.08 if (acc.is_key or acc.story == "promotion") else 0.25
            has = (total > 0) & (rng.random(n) >= null_p)
            contact_idx = np.where(has, np.minimum(pick, len(con.ids) - 1), -1)
            # a key account's active champion (unless the story says otherwise) is touched in the last 45 days
            if acc.is_key and acc.story not in ("quiet_champion",):
                for ci in np.flatnonzero(roles == "champion"):
                    if con.left_idx[ci] <= end_idx:
                        continue
                    recent = day > end_idx - 45
                    if not (recent & (contact_idx == ci)).any():
                        cand = np.flatnonzero(recent & np.isin(typ, [0, 1, 2]))
                        if len(cand):
                            contact_idx[cand[-1]] = ci
        part = {
            "account_idx": np.full(n, accounts.index(acc)),
            "day": day,
            "typ": typ,
            "contact_idx": contact_idx,
            "rand": rng.random(n),
            "rand2": rng.random(n),
        }
        # engagement cools (DECLINES): rows dropped after the draws and the ids, so no other account's move
        part["keep"] = _cooling_keep(acc.account_id, day, end_idx)
        if acc.drift is not None:  # a drifting account cools the same way (no draw either); its people other than
            u = (np.arange(n) * 0.6180339887498949) % 1.0  # the first contact (and no contact) go quiet altogether
            floor = np.where(contact_idx > 0, 0.0, acc.drift.engagement_floor)
            part["keep"] &= u < 1.0 - (1.0 - floor) * acc.drift.cooled(day)
        parts.append((acc, part))

    # assemble with per-row details
    rows: dict[str, list] = {c: [] for c in TABLES["activities"].column_names}
    seq_n, keep_n = [], []
    for acc, p in parts:
        con = contacts[acc.account_id]
        keep_n.extend(p["keep"].tolist())
        for day, typ, ci, r, r2 in zip(p["day"], p["typ"], p["contact_idx"], p["rand"], p["rand2"]):
            t = ACT_TYPES[int(typ)]
            d = start + timedelta(days=int(day))
            rows["account_id"].append(acc.account_id)
            rows["activity_date"].append(d)
            rows["activity_type"].append(t)
            rows["contact_id"].append(con.ids[int(ci)] if ci >= 0 else None)
            if acc.is_key:
                if t == "exec_meeting" and acc.sponsor and r < 0.7:
                    owner = acc.sponsor
                elif t in ("workshop", "site_visit") and r < 0.4:
                    owner = SOLUTION_ENGINEERS[int(r2 * len(SOLUTION_ENGINEERS))]
                else:
                    owner = acc.owner
            else:
                owner = acc.owner
            rows["owner"].append(owner)
            rows["duration_minutes"].append(_duration(t, r2))
            if t == "qbr":
                subject = f"QBR Q{(d.month - 1) // 3 + 1} {d.year}"
            else:
                options = _SUBJECTS[t]
                subject = options[int(r * len(options)) % len(options)]
            rows["subject"].append(subject)
            seq_n.append(len(seq_n))
    frame = pl.DataFrame(
        {k: v for k, v in rows.items() if k != "activity_id"},
        schema={"account_id": pl.String, "activity_date": pl.Date, "activity_type": pl.String,
                "contact_id": pl.String, "owner": pl.String, "duration_minutes": pl.Int64, "subject": pl.String},
    ).with_columns(_seq=pl.Series(seq_n, dtype=pl.Int64), _keep=pl.Series(keep_n, dtype=pl.Boolean))
    frame = frame.sort(["activity_date", "account_id", "_seq"])
    # the latest activity is on the end date: the demo's as_of default
    frame = frame.with_columns(activity_id=pl.format("ACT-{}", (pl.int_range(1, pl.len() + 1)).cast(pl.String).str.zfill(6)))
    frame = frame.filter("_keep")
    return frame.select(TABLES["activities"].column_names)


def _duration(t: str, r: float) -> int | None:
    lo, hi, step = {
        "email": (0, 0, 0), "call": (10, 60, 5), "meeting": (30, 120, 15), "exec_meeting": (60, 150, 30),
        "qbr": (120, 240, 30), "site_visit": (180, 480, 60), "workshop": (120, 360, 60), "other": (15, 90, 15),
    }[t]
    if step == 0:
        return None
    k = int(r * ((hi - lo) // step + 1))
    return lo + k * step


