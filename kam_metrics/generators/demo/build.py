"""The demo export built and written: the 13 tables in contract order, the promotion story kept unmistakable with
the engine's selection score, and the CSV writer."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from kam_metrics.generators.demo.accounts import _accounts_frame, _make_accounts, _make_activities, _make_contacts
from kam_metrics.generators.demo.stories import (
    DEMO_END_DATE, HISTORY_DAYS, PROMOTION_CANDIDATE_ACCOUNT, _d, _usd_rate_by_day,
)
from kam_metrics.generators.demo.tables import (
    _fx_frame, _make_cases, _make_goals, _make_opportunities, _make_revenue, _make_reviews, _make_service_costs,
    _make_surveys, _make_wallet,
)
from kam_metrics.load.contract import TABLES, TABLE_ORDER
from kam_metrics.metrics import rules
from kam_metrics.metrics.scoring import add_selection_score
from kam_metrics.settings import Settings

# ------------------------------------------------------------------------------------------------------
# checking a story with the METRICS.md formulas


def _in_reporting_currency(frame: pl.DataFrame, date_col: str, cols: list[str], start: date) -> pl.DataFrame:
    rates = pl.DataFrame({date_col: pl.Series(_d(start, np.arange(HISTORY_DAYS))),
                          "_usd": _usd_rate_by_day(start, HISTORY_DAYS)})
    rate = pl.when(pl.col("currency") == "USD").then(pl.col("_usd")).otherwise(1.0)
    return frame.join(rates, on=date_col, how="left").with_columns([(pl.col(c) * rate).alias(c) for c in cols])


def _floats(table) -> dict[str, float]:
    """A settings mapping (ints or floats) as floats."""
    return {k: float(v) for k, v in table.items()}


def selection_inputs(tables: dict[str, pl.DataFrame], as_of: date, settings: Settings | None = None) -> pl.DataFrame:
    """Per account, the METRICS.md inputs of the key account selection score (computed from the demo frames
    with the settings' costs and default margin, and the engine's wallet_current rule) and the score itself
    (the engine's add_selection_score with the settings' weights)."""
    settings = settings or Settings()
    start = as_of - timedelta(days=HISTORY_DAYS - 1)
    accounts = tables["accounts"].select("account_id", "is_key_account")

    def window(col: str, lo: int, hi: int) -> pl.Expr:
        return pl.col(col).is_between(as_of - timedelta(days=hi), as_of - timedelta(days=lo))

    rev = _in_reporting_currency(tables["revenue"], "revenue_date", ["amount", "cost_of_goods"], start)
    costs = _in_reporting_currency(tables["service_costs"], "cost_date", ["amount"], start)
    act = tables["activities"]
    cogs_share = 1.0 - settings.default_gross_margin  # cost of goods when a revenue row has none
    parts = [
        rev.filter(window("revenue_date", 0, 364)).group_by("account_id").agg(
            revenue_ttm=pl.col("amount").sum(),
            gross_margin_ttm=(pl.col("amount") - pl.col("cost_of_goods").fill_null(pl.col("amount") * cogs_share))
            .sum()),
        rev.filter(window("revenue_date", 365, 729)).group_by("account_id").agg(revenue_prior_ttm=pl.col("amount").sum()),
        costs.filter(window("cost_date", 0, 364)).group_by("account_id").agg(service_ttm=pl.col("amount").sum()),
        act.filter(window("activity_date", 0, 364)).group_by("account_id").agg(
            activity_cost_ttm=pl.col("activity_type").replace_strict(
                _floats(settings.activity_costs), return_dtype=pl.Float64).sum()),
        act.filter(window("activity_date", 0, 89)).group_by("account_id").agg(
            engaged_contacts_90d=pl.col("contact_id").drop_nulls().n_unique()),
        tables["cases"].filter(window("opened_date", 0, 364)).group_by("account_id").agg(
            case_cost_ttm=pl.col("priority").replace_strict(_floats(settings.case_costs), return_dtype=pl.Float64)
            .sum()),
    ]
    m = accounts
    for p in parts:
        m = m.join(p, on="account_id", how="left")
    fill = ["revenue_ttm", "gross_margin_ttm", "revenue_prior_ttm", "service_ttm", "activity_cost_ttm",
            "engaged_contacts_90d", "case_cost_ttm"]
    m = m.with_columns([pl.col(c).fill_null(0) for c in fill])
    net = pl.col("gross_margin_ttm") - pl.col("service_ttm") - pl.col("activity_cost_ttm") - pl.col("case_cost_ttm")
    m = m.with_columns(
        net_contribution_ttm=net,
        net_margin_pct=pl.when(pl.col("revenue_ttm") > 0).then(100 * net / pl.col("revenue_ttm")),
        revenue_growth_pct=pl.when(pl.col("revenue_prior_ttm") > 0)
        .then(100 * (pl.col("revenue_ttm") - pl.col("revenue_prior_ttm")) / pl.col("revenue_prior_ttm")),
    )
    by_year = rules.wallet_by_account_year(tables["wallet"].filter(pl.col("year") <= as_of.year))
    m = m.join(rules.wallet_current_at(by_year, [as_of]).select("account_id", "wallet_current"), on="account_id",
               how="left")
    return add_selection_score(m, settings).sort("account_id")


def _keep_promotion_story(tables: dict[str, pl.DataFrame], end: date, settings: Settings) -> pl.DataFrame:
    """Wallet rows, without the estimates of ordinary non-key accounts that would also pass the lowest key account.

    Only the promotion candidate should stand out; wallet estimates are what KAMs keep for accounts they
    watch, so dropping a few of them is the least visible way to keep the story unmistakable.
    """
    wallet = tables["wallet"]
    for _ in range(20):
        scores = selection_inputs({**tables, "wallet": wallet}, end, settings)
        lowest = scores.filter("is_key_account")["selection_score"].min()
        rivals = scores.filter(
            ~pl.col("is_key_account") & (pl.col("account_id") != PROMOTION_CANDIDATE_ACCOUNT)
            & (pl.col("selection_score") >= lowest - 3) & pl.col("wallet_current").is_not_null()
        )["account_id"]
        if rivals.is_empty():
            break
        wallet = wallet.filter(~pl.col("account_id").is_in(rivals.implode()))
    return wallet


# ------------------------------------------------------------------------------------------------------
# public API


def build_demo_tables(*, end_date: date = DEMO_END_DATE, seed: int = 7,
                      settings: Settings | None = None) -> dict[str, pl.DataFrame]:
    """The 13 demo tables as Polars frames, in the contract's column order (the promotion story is kept with
    the selection score of `settings`, default Settings())."""
    rng = np.random.default_rng(seed)
    start = end_date - timedelta(days=HISTORY_DAYS - 1)
    accounts = _make_accounts(rng, end_date)
    contacts_frame, contacts = _make_contacts(rng, accounts, start, end_date)
    activities = _make_activities(rng, accounts, contacts, start, end_date)
    revenue, eur_by_account = _make_revenue(rng, accounts, start, end_date)
    surveys = _make_surveys(rng, accounts, contacts, start, end_date)
    goals, actions = _make_goals(rng, accounts, eur_by_account, surveys, start, end_date)
    tables = {
        "fx_rates": _fx_frame(),
        "accounts": _accounts_frame(accounts),
        "contacts": contacts_frame,
        "goals": goals,
        "activities": activities,
        "revenue": revenue,
        "opportunities": _make_opportunities(rng, accounts, start, end_date),
        "service_costs": _make_service_costs(rng, accounts, eur_by_account, start, end_date),
        "cases": _make_cases(rng, accounts, start, end_date),
        "surveys": surveys,
        "wallet": _make_wallet(rng, accounts, eur_by_account, end_date),
        "actions": actions,
        "reviews": _make_reviews(rng, accounts, start, end_date),
    }
    tables["wallet"] = _keep_promotion_story(tables, end_date, settings or Settings())
    out = {}
    for name in TABLE_ORDER:
        frame = tables[name].select(TABLES[name].column_names)
        floats = [c for c, t in frame.schema.items() if t == pl.Float64 and not (name == "fx_rates")]
        out[name] = frame.with_columns([pl.col(c).round(2) for c in floats])
    return out


def write_tables(tables: dict[str, pl.DataFrame], out_dir: Path) -> dict[str, int]:
    """Write each frame as `<table>.csv` (UTF-8, ISO dates) and return the rows written per table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in tables.items():
        frame.write_csv(out_dir / f"{name}.csv", date_format="%Y-%m-%d")
        counts[name] = frame.height
    return counts


def write_demo(out_dir: Path, *, end_date: date = DEMO_END_DATE, seed: int = 7,
               settings: Settings | None = None) -> dict[str, int]:
    """Write the demo export (13 CSV files) into out_dir; returns the rows written per table."""
    return write_tables(build_demo_tables(end_date=end_date, seed=seed, settings=settings), Path(out_dir))


