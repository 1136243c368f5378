"""Programme KPIs (METRICS.md "Programme"): key accounts unless stated, over the filtered accounts."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import metrics_at
from kam_metrics.settings import Settings

PROGRAMME_KEYS = (
    "key_account_count", "key_account_count_in_guidance", "key_revenue_share_pct", "key_revenue_growth_pct",
    "non_key_revenue_growth_pct", "programme_nps", "sponsor_coverage_pct", "cadence_compliance_pct",
    "multithreaded_pct", "health_mean", "green_count", "amber_count", "red_count",
)
COMPARE_DAYS = 7  # value_7d_ago


def _growth(rows: pl.DataFrame) -> float | None:
    ttm, prior = float(rows["revenue_ttm"].sum()), float(rows["revenue_prior_ttm"].sum())
    return 100.0 * (ttm - prior) / prior if prior > 0 else None


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def programme_values(f: pl.DataFrame, s: Settings) -> dict[str, float | None]:
    """Every Programme key from the account rows (with health) of one as_of."""
    key = f.filter(pl.col("is_key_account"))
    non_key = f.filter(~pl.col("is_key_account"))
    n_key = key.height
    total_rev = float(f["revenue_ttm"].sum())
    key_rev = float(key["revenue_ttm"].sum())
    responses = float(key["nps_responses_365d"].sum())
    with_health = key.filter(pl.col("health").is_not_null())
    multithreaded = key.filter(
        (pl.col("engaged_contacts_90d") >= s.multithread_min_contacts) & pl.col("decision_maker_engaged_90d")
    ).height
    return {
        "key_account_count": float(n_key),
        "key_account_count_in_guidance": 1.0 if s.key_account_min <= n_key <= s.key_account_max else 0.0,
        "key_revenue_share_pct": 100.0 * key_rev / total_rev if total_rev != 0 else None,
        "key_revenue_growth_pct": _growth(key),
        "non_key_revenue_growth_pct": _growth(non_key),
        "programme_nps": 100.0 * float(key["nps_net_365d"].sum()) / responses if responses else None,
        "sponsor_coverage_pct": _pct(key.filter(pl.col("has_sponsor")).height, n_key),
        "cadence_compliance_pct": _pct(key.filter(pl.col("cadence_status") == "on_cadence").height, n_key),
        "multithreaded_pct": _pct(multithreaded, n_key),
        "health_mean": float(with_health["health"].mean()) if with_health.height else None,
        "green_count": float(with_health.filter(pl.col("band") == "green").height),
        "amber_count": float(with_health.filter(pl.col("band") == "amber").height),
        "red_count": float(with_health.filter(pl.col("band") == "red").height),
    }


def programme_kpis(con, as_of: date | None = None, filters: Filters | None = None,
                   settings: Settings | None = None) -> pl.DataFrame:
    """Rows key, value, value_7d_ago, change (= value − value_7d_ago) for every Programme key."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    before = as_of - timedelta(days=COMPARE_DAYS)
    f = metrics_at(con, [before, as_of], filters, settings)
    now = programme_values(f.filter(pl.col("as_of") == as_of), settings)
    then = programme_values(f.filter(pl.col("as_of") == before), settings)
    rows = []
    for k in PROGRAMME_KEYS:
        v, b = now[k], then[k]
        change = (v - b) if v is not None and b is not None else None
        rows.append({"key": k, "value": v, "value_7d_ago": b, "change": change})
    return pl.DataFrame(rows, schema={"key": pl.String, "value": pl.Float64, "value_7d_ago": pl.Float64,
                                      "change": pl.Float64})
