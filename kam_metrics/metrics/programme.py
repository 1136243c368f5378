"""Programme KPIs (METRICS.md "Programme"): key accounts unless stated, over the filtered accounts; a KPI whose
input the export does not carry is null, never 0 (METRICS.md "Data that is not there")."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from kam_metrics.filters import Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import metrics_at
from kam_metrics.metrics.economics import concentration_from
from kam_metrics.metrics.opportunities import key_open_pipeline, pipeline_at
from kam_metrics.metrics.presence import KEY_INPUTS, Presence, presence
from kam_metrics.settings import Settings

PROGRAMME_KEYS = (
    "key_account_count", "key_account_count_in_guidance", "key_revenue_share_pct", "key_revenue_growth_pct",
    "non_key_revenue_growth_pct", "programme_nps", "sponsor_coverage_pct", "cadence_compliance_pct",
    "multithreaded_pct", "health_mean", "green_count", "amber_count", "red_count", "insufficient_data_count",
    "key_open_pipeline",
)
#: The Portfolio economics keys `kam report programme` carries after the Programme keys (over all filtered accounts).
PORTFOLIO_KEYS = ("whale_peak_pct", "profit_erosion_pct", "top20_revenue_share_pct", "revenue_hhi")
REPORT_PROGRAMME_KEYS = (*PROGRAMME_KEYS, *PORTFOLIO_KEYS)
COMPARE_DAYS = 7  # value_7d_ago


def _inputs(*keys: str) -> tuple[tuple[str, str | None], ...]:
    """The inputs of account keys (presence.KEY_INPUTS), each once, in order."""
    return tuple(dict.fromkeys(need for key in keys for need in KEY_INPUTS[key]))


#: What each programme KPI that can be absent is built on (the account keys it counts); null when any is absent.
PROGRAMME_INPUTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "programme_nps": _inputs("nps_365d"),
    "sponsor_coverage_pct": _inputs("has_sponsor"),
    "cadence_compliance_pct": _inputs("cadence_status"),
    "multithreaded_pct": _inputs("engaged_contacts_90d", "decision_maker_engaged_90d"),
    "key_open_pipeline": (("opportunities", None),),
}


def has_inputs(key: str, present: Presence) -> bool:
    """Whether the export carries every input of programme KPI `key` (PROGRAMME_INPUTS)."""
    return all(present.has(table, column) for table, column in PROGRAMME_INPUTS.get(key, ()))


def _growth(ttm: float, prior: float) -> float | None:
    return 100.0 * (ttm - prior) / prior if prior > 0 else None


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def programme_values(f: pl.DataFrame, s: Settings, present: Presence | None = None) -> dict[str, float | None]:
    """Every Programme key from the account rows (with health, and open_pipeline when the caller joined
    pipeline_at) of one as_of; `present`: what the export carried (None = everything)."""
    present = present if present is not None else Presence.everything()
    key = pl.col("is_key_account")
    scored = key & pl.col("health").is_not_null()

    def count(condition: pl.Expr) -> pl.Expr:
        return condition.fill_null(False).sum()

    # One pass over the rows: every sum and count of the keys below (filters as in "the key accounts that …").
    v = f.select(
        n_key=count(key),
        total_rev=pl.col("revenue_ttm").sum(),
        key_rev=pl.col("revenue_ttm").filter(key).sum(),
        key_prior=pl.col("revenue_prior_ttm").filter(key).sum(),
        non_key_rev=pl.col("revenue_ttm").filter(~key).sum(),
        non_key_prior=pl.col("revenue_prior_ttm").filter(~key).sum(),
        responses=pl.col("nps_responses_365d").filter(key).sum(),
        nps_net=pl.col("nps_net_365d").filter(key).sum(),
        sponsored=count(key & pl.col("has_sponsor")),
        on_cadence=count(key & (pl.col("cadence_status") == "on_cadence")),
        multithreaded=count(key & (pl.col("engaged_contacts_90d") >= s.multithread_min_contacts)
                            & pl.col("decision_maker_engaged_90d")),
        n_scored=count(scored),
        health_mean=pl.col("health").filter(scored).mean(),
        green=count(scored & (pl.col("band") == "green")),
        amber=count(scored & (pl.col("band") == "amber")),
        red=count(scored & (pl.col("band") == "red")),
        insufficient=count(key & (pl.col("band") == "insufficient_data")),
    ).row(0, named=True)
    n_key = int(v["n_key"])
    total_rev, key_rev, responses = float(v["total_rev"]), float(v["key_rev"]), float(v["responses"])
    return {
        "key_account_count": float(n_key),
        "key_account_count_in_guidance": 1.0 if s.key_account_min <= n_key <= s.key_account_max else 0.0,
        "key_revenue_share_pct": 100.0 * key_rev / total_rev if total_rev != 0 else None,
        "key_revenue_growth_pct": _growth(key_rev, float(v["key_prior"])),
        "non_key_revenue_growth_pct": _growth(float(v["non_key_rev"]), float(v["non_key_prior"])),
        "programme_nps": (100.0 * float(v["nps_net"]) / responses
                          if responses and has_inputs("programme_nps", present) else None),
        "sponsor_coverage_pct": (_pct(int(v["sponsored"]), n_key)
                                 if has_inputs("sponsor_coverage_pct", present) else None),
        "cadence_compliance_pct": (_pct(int(v["on_cadence"]), n_key)
                                   if has_inputs("cadence_compliance_pct", present) else None),
        "multithreaded_pct": (_pct(int(v["multithreaded"]), n_key)
                              if has_inputs("multithreaded_pct", present) else None),
        "health_mean": float(v["health_mean"]) if v["n_scored"] else None,
        "green_count": float(v["green"]),
        "amber_count": float(v["amber"]),
        "red_count": float(v["red"]),
        "insufficient_data_count": float(v["insufficient"]),
        "key_open_pipeline": key_open_pipeline(f, has_inputs("key_open_pipeline", present)),
    }


def _programme_rows(con, as_of, filters, settings, keys: tuple[str, ...]) -> pl.DataFrame:
    """Rows key, value, value_7d_ago, change for `keys` (Programme and Portfolio economics keys)."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    before = as_of - timedelta(days=COMPARE_DAYS)
    present = presence(con)
    pipeline_job = E.in_background(con, lambda cur: pipeline_at(cur, [before, as_of], filters, present))
    f = metrics_at(con, [before, as_of], filters, settings)
    f = f.join(pipeline_job.result(), on=["account_id", "as_of"], how="left")
    values = {}
    for at in (as_of, before):
        rows = f.filter(pl.col("as_of") == at)
        values[at] = programme_values(rows, settings, present)
        if any(k in PORTFOLIO_KEYS for k in keys):
            values[at].update(concentration_from(rows))
    now, then = values[as_of], values[before]
    rows = []
    for k in keys:
        v, b = now[k], then[k]
        change = (v - b) if v is not None and b is not None else None
        rows.append({"key": k, "value": v, "value_7d_ago": b, "change": change})
    return pl.DataFrame(rows, schema={"key": pl.String, "value": pl.Float64, "value_7d_ago": pl.Float64,
                                      "change": pl.Float64})


def programme_kpis(con, as_of: date | None = None, filters: Filters | None = None,
                   settings: Settings | None = None) -> pl.DataFrame:
    """Rows key, value, value_7d_ago, change (= value − value_7d_ago) for every Programme key."""
    return _programme_rows(con, as_of, filters, settings, PROGRAMME_KEYS)


def programme_report(con, as_of: date | None = None, filters: Filters | None = None,
                     settings: Settings | None = None) -> pl.DataFrame:
    """`kam report programme`: rows key, value, value_7d_ago, change for every Programme key and every
    Portfolio economics key (whale_peak_pct, profit_erosion_pct, top20_revenue_share_pct, revenue_hhi)."""
    return _programme_rows(con, as_of, filters, settings, REPORT_PROGRAMME_KEYS)
