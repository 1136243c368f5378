"""The demo export and the scale export: determinism, the contract, and the stories (checked by METRICS.md)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.generators import demo
from kam_metrics.load import warehouse
from kam_metrics.load.contract import TABLES, TABLE_ORDER
from kam_metrics.load.pipeline import load_export
from kam_metrics.metrics import default_as_of, metrics_at
from kam_metrics.generators.scale import REFERENCE_ROWS, scale_row_counts, write_scale_export

END = demo.DEMO_END_DATE
WEIGHT = {"email": 1, "call": 2, "meeting": 3, "workshop": 3, "site_visit": 4, "qbr": 5, "exec_meeting": 5, "other": 1}
ACTIVITY_COST = {"email": 5, "call": 25, "meeting": 150, "workshop": 600, "site_visit": 800, "qbr": 1200,
                 "exec_meeting": 1000, "other": 20}
CASE_COST = {"low": 50, "medium": 150, "high": 400, "critical": 1000}
SELECTION_WEIGHTS = {"revenue_ttm": 25, "wallet_current": 25, "net_margin_pct": 20, "revenue_growth_pct": 15,
                     "engaged_contacts_90d": 15}


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo")
    return out, demo.write_demo(out)


@pytest.fixture(scope="module")
def export_dir(written) -> Path:
    return written[0]


POLARS_TYPES = {"string": pl.String, "enum": pl.String, "date": pl.Date, "bool": pl.Boolean, "float": pl.Float64,
                "int": pl.Int64}


def read_table(folder: Path, name: str) -> pl.DataFrame:
    """One written file read back with the contract's column types (a cell that does not parse is an error)."""
    schema = {c.name: POLARS_TYPES[c.type] for c in TABLES[name].columns}
    return pl.read_csv(folder / f"{name}.csv", schema=schema)


@pytest.fixture(scope="module")
def t(export_dir) -> dict[str, pl.DataFrame]:
    return {name: read_table(export_dir, name) for name in TABLE_ORDER}


def in_last(col: str, days: int, as_of: date = END) -> pl.Expr:
    return pl.col(col).is_between(as_of - timedelta(days=days - 1), as_of)


def in_prior_90(col: str, as_of: date = END) -> pl.Expr:
    return pl.col(col).is_between(as_of - timedelta(days=179), as_of - timedelta(days=90))


def to_eur(frame: pl.DataFrame, date_col: str, money: list[str], fx: pl.DataFrame) -> pl.DataFrame:
    """Money columns converted with the rate in force on the row's date (latest valid_from ≤ date, else earliest)."""
    fx = fx.sort("valid_from")
    earliest = fx.group_by("currency").agg(pl.col("rate").first().alias("_first"))
    out = (frame.with_row_index("_i").sort(date_col)
           .join_asof(fx.rename({"valid_from": date_col}), on=date_col, by="currency", strategy="backward",
                      check_sortedness=False)  # both sides are sorted by date above
           .join(earliest, on="currency", how="left")
           .with_columns(pl.coalesce("rate", "_first").alias("rate"))
           .sort("_i"))
    assert out["rate"].null_count() == 0, "a row's currency has no rate"
    return out.with_columns([(pl.col(c) * pl.col("rate")).alias(c) for c in money]).drop("_i", "rate", "_first")


def per_account(accounts: pl.DataFrame, frame: pl.DataFrame, name: str, expr: pl.Expr, fill=0) -> pl.DataFrame:
    agg = frame.group_by("account_id").agg(expr.alias(name))
    out = accounts.select("account_id").join(agg, on="account_id", how="left")
    return out.with_columns(pl.col(name).fill_null(fill)) if fill is not None else out


def weighted(col: str = "activity_type") -> pl.Expr:
    return pl.col(col).replace_strict(WEIGHT, return_dtype=pl.Float64)


def account_metrics(t: dict[str, pl.DataFrame], as_of: date = END) -> pl.DataFrame:
    """The METRICS.md figures the stories rely on, one row per account."""
    acc = t["accounts"]
    act = t["activities"].filter(pl.col("activity_date") <= as_of)
    rev = to_eur(t["revenue"], "revenue_date", ["amount", "cost_of_goods"], t["fx_rates"])
    costs = to_eur(t["service_costs"], "cost_date", ["amount"], t["fx_rates"])
    cases = t["cases"]
    m = acc.select("account_id", "is_key_account", "executive_sponsor")
    parts = [
        per_account(acc, act.filter(in_last("activity_date", 90)), "weighted_90d", weighted().sum()),
        per_account(acc, act.filter(in_prior_90("activity_date")), "weighted_prior_90d", weighted().sum()),
        per_account(acc, act.filter(in_last("activity_date", 90)), "engaged_contacts_90d",
                    pl.col("contact_id").drop_nulls().n_unique()),
        per_account(acc, rev.filter(in_last("revenue_date", 365)), "revenue_ttm", pl.col("amount").sum()),
        per_account(acc, rev.filter(pl.col("revenue_date").is_between(as_of - timedelta(days=729),
                                                                      as_of - timedelta(days=365))),
                    "revenue_prior_ttm", pl.col("amount").sum()),
        per_account(acc, rev.filter(in_last("revenue_date", 365)), "gross_margin_ttm",
                    (pl.col("amount") - pl.col("cost_of_goods").fill_null(pl.col("amount") * 0.65)).sum()),
        per_account(acc, costs.filter(in_last("cost_date", 365)), "service_costs_ttm", pl.col("amount").sum()),
        per_account(acc, act.filter(in_last("activity_date", 365)), "activity_cost_ttm",
                    pl.col("activity_type").replace_strict(ACTIVITY_COST, return_dtype=pl.Float64).sum()),
        per_account(acc, cases.filter(in_last("opened_date", 365)), "case_cost_ttm",
                    pl.col("priority").replace_strict(CASE_COST, return_dtype=pl.Float64).sum()),
    ]
    for p in parts:
        m = m.join(p, on="account_id", how="left")
    m = m.with_columns(
        cost_to_serve_ttm=pl.col("service_costs_ttm") + pl.col("activity_cost_ttm") + pl.col("case_cost_ttm"),
    ).with_columns(
        net_contribution_ttm=pl.col("gross_margin_ttm") - pl.col("cost_to_serve_ttm"),
    ).with_columns(
        net_margin_pct=pl.when(pl.col("revenue_ttm") > 0)
        .then(100 * pl.col("net_contribution_ttm") / pl.col("revenue_ttm")),
        revenue_growth_pct=pl.when(pl.col("revenue_prior_ttm") > 0)
        .then(100 * (pl.col("revenue_ttm") - pl.col("revenue_prior_ttm")) / pl.col("revenue_prior_ttm")),
    )
    return m.join(wallet_current(t["wallet"], acc, as_of.year), on="account_id", how="left")


def wallet_current(wallet: pl.DataFrame, accounts: pl.DataFrame, year: int) -> pl.DataFrame:
    """METRICS.md wallet_current: whole-wallet rows of the year, else its product-line rows, else an earlier year."""
    w = wallet.filter(pl.col("year") <= year)
    by_year = w.group_by("account_id", "year").agg(
        whole=pl.col("wallet_amount").filter(pl.col("product_line").is_null()).sum(),
        has_whole=pl.col("product_line").is_null().any(),
        lines=pl.col("wallet_amount").filter(pl.col("product_line").is_not_null()).sum(),
    ).with_columns(value=pl.when(pl.col("has_whole")).then("whole").otherwise("lines"))
    latest = by_year.sort("year").group_by("account_id").agg(pl.col("value").last().alias("wallet_current"))
    return accounts.select("account_id").join(latest, on="account_id", how="left")


def percentile(col: str) -> pl.Expr:
    """100 × (rank − 1) / (N − 1), ascending, nulls first, ties sharing the lowest rank."""
    n_null = pl.col(col).null_count()
    rank = pl.when(pl.col(col).is_null()).then(1).otherwise(pl.col(col).rank("min") + n_null)
    return 100 * (rank - 1) / (pl.len() - 1)


def selection_scores(m: pl.DataFrame) -> pl.DataFrame:
    score = sum(w * percentile(k) / 100 for k, w in SELECTION_WEIGHTS.items())
    return m.with_columns(selection_score=score)


def cadence(t: dict[str, pl.DataFrame], as_of: date = END) -> pl.DataFrame:
    rv = t["reviews"].filter(pl.col("review_date") <= as_of)
    keys = t["accounts"].filter("is_key_account").select("account_id")
    plan = rv.filter((pl.col("review_type") == "plan_90_day") & in_last("review_date", 90, as_of))
    recent = rv.filter(in_last("review_date", 30, as_of))
    return keys.with_columns(
        plan_current=pl.col("account_id").is_in(plan["account_id"].implode()),
        review_current=pl.col("account_id").is_in(recent["account_id"].implode()),
    )


@pytest.fixture(scope="module")
def metrics(t) -> pl.DataFrame:
    return selection_scores(account_metrics(t))


def row(m: pl.DataFrame, account_id: str) -> dict:
    return m.filter(pl.col("account_id") == account_id).row(0, named=True)


# ---------------------------------------------------------------------------------------------------- the files


def test_two_writes_are_byte_identical(tmp_path, export_dir):
    other = tmp_path / "again"
    demo.write_demo(other)
    for name in TABLE_ORDER:
        a = hashlib.sha256((export_dir / f"{name}.csv").read_bytes()).hexdigest()
        b = hashlib.sha256((other / f"{name}.csv").read_bytes()).hexdigest()
        assert a == b, name


def test_another_seed_gives_other_data(tmp_path, export_dir):
    counts = demo.write_demo(tmp_path, seed=8)
    assert (tmp_path / "activities.csv").read_bytes() != (export_dir / "activities.csv").read_bytes()
    assert counts["accounts"] == 300


def test_every_table_written_with_exactly_the_contract_columns(export_dir):
    assert sorted(p.stem for p in export_dir.glob("*.csv")) == sorted(TABLES)
    for name in TABLE_ORDER:
        header = (export_dir / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == TABLES[name].column_names, name


def test_returned_counts_match_the_files(written):
    folder, counts = written
    assert list(counts) == TABLE_ORDER
    for name in TABLE_ORDER:
        assert pl.read_csv(folder / f"{name}.csv", infer_schema=False).height == counts[name], name


def test_sizes_in_the_asked_ranges(t):
    acc = t["accounts"]
    assert 280 <= acc.height <= 320
    assert 15 <= acc["is_key_account"].sum() <= 20
    assert 40_000 <= t["activities"].height <= 80_000
    assert set(t["activities"]["activity_type"].unique()) == set(WEIGHT)
    keys = acc.filter("is_key_account")["account_id"]
    per_key = t["contacts"].group_by("account_id").len().filter(pl.col("account_id").is_in(keys.implode()))
    assert per_key.height == keys.len() and per_key["len"].min() >= 3 and per_key["len"].max() <= 15
    kam = acc.filter("is_key_account")
    assert 4 <= kam["kam_owner"].n_unique() <= 8 and kam["kam_owner"].null_count() == 0
    others = acc.filter(~pl.col("is_key_account"))["kam_owner"]
    assert 0 < others.null_count() < others.len() / 2  # a sales owner or none
    assert not set(others.drop_nulls()) & set(kam["kam_owner"])
    assert 0 < kam["executive_sponsor"].null_count() < kam.height / 3
    assert acc["parent_account_id"].drop_nulls().len() >= 3
    assert set(t["fx_rates"]["currency"]) == {"EUR", "USD"}
    assert t["fx_rates"].filter(pl.col("currency") == "USD")["rate"].n_unique() >= 8
    assert set(t["revenue"]["currency"]) == {"EUR", "USD"}
    assert (t["revenue"]["amount"] < 0).sum() > 0  # credit notes
    assert 0 < t["revenue"]["cost_of_goods"].null_count() < t["revenue"].height * 0.2
    programme = t["goals"].filter(pl.col("account_id").is_null())
    assert 3 <= programme.height <= 5 and programme["metric"].drop_nulls().len() >= 3
    assert t["actions"]["completed_date"].drop_nulls().len() > 0
    assert t["cases"]["closed_date"].null_count() > 0  # some still open


def test_three_years_of_history_ending_at_end_date(t):
    start = END - timedelta(days=3 * 365)
    for table, col in (("activities", "activity_date"), ("revenue", "revenue_date"), ("service_costs", "cost_date"),
                       ("cases", "opened_date"), ("surveys", "response_date"), ("reviews", "review_date")):
        dates = t[table][col]
        assert dates.min() >= start and dates.max() <= END, table
        assert dates.min() <= start + timedelta(days=60), table
    # the as_of default (latest activity or revenue date) is the end date itself
    assert max(t["activities"]["activity_date"].max(), t["revenue"]["revenue_date"].max()) == END
    assert sorted(t["wallet"]["year"].unique().to_list()) == [END.year - 2, END.year - 1, END.year]


def test_contract_rules_hold(t):
    """What the validator checks: unique keys, valid references, enums, ranges and date order."""
    for name in TABLE_ORDER:
        spec = TABLES[name]
        frame = t[name]
        assert frame.select(spec.key).is_duplicated().sum() == 0, name
        for col in spec.required_columns:
            assert frame[col].null_count() == 0, (name, col)
        for col, ref in spec.references:
            ref_key = TABLES[ref].key[0]
            values = frame[col].drop_nulls()
            assert values.is_in(t[ref][ref_key].implode()).all(), (name, col)
        for c in spec.columns:
            if c.enum:
                assert frame[c.name].drop_nulls().is_in(list(c.enum)).all(), (name, c.name)
            if c.min is not None:
                v = frame[c.name].drop_nulls()
                assert (v > c.min).all() if c.min_exclusive else (v >= c.min).all(), (name, c.name)
            if c.max is not None:
                assert (frame[c.name].drop_nulls() <= c.max).all(), (name, c.name)
    cases = t["cases"].drop_nulls("closed_date")
    assert (cases["closed_date"] >= cases["opened_date"]).all()
    goals = t["goals"]
    assert (goals["start_date"] <= goals["due_date"]).all()
    assert goals.filter(pl.col("metric").is_null() & pl.col("current").is_null()).height == 0
    surveys = t["surveys"]
    assert surveys.filter(pl.col("nps").is_null() & pl.col("csat").is_null()).height == 0
    contacts = t["contacts"]
    assert (contacts["is_active"] == contacts["left_date"].is_null()).all()
    # activity contacts belong to the activity's account and had not left yet
    act = t["activities"].drop_nulls("contact_id").join(
        contacts.select("contact_id", pl.col("account_id").alias("contact_account"), "left_date"), on="contact_id")
    assert (act["account_id"] == act["contact_account"]).all()
    assert act.filter(pl.col("left_date").is_not_null() & (pl.col("activity_date") >= pl.col("left_date"))).height == 0


def test_money_is_in_cents_and_usd_only_for_americas(export_dir, t):
    for name, col in (("revenue", "amount"), ("revenue", "cost_of_goods"), ("service_costs", "amount")):
        text = pl.read_csv(export_dir / f"{name}.csv", infer_schema=False)[col].drop_nulls()
        assert text.str.contains(r"^-?\d+(\.\d{1,2})?$").all(), (name, col)
    regions = t["revenue"].join(t["accounts"].select("account_id", "region"), on="account_id")
    assert ((regions["currency"] == "USD") == (regions["region"] == "Americas")).all()


def test_titles_match_seniority(t):
    c = t["contacts"]
    assert c.filter((pl.col("seniority") == "c_level") & ~pl.col("title").str.starts_with("Chief")).height == 0
    assert c.filter((pl.col("seniority") == "vp") & ~pl.col("title").str.starts_with("VP")).height == 0
    assert c.filter((pl.col("seniority") == "individual") & pl.col("title").str.contains("Chief|VP|Head|Director")).height == 0


# ---------------------------------------------------------------------------------------------------- the stories


def test_champion_left_last_month(t):
    c = t["contacts"].filter(pl.col("account_id") == demo.CHAMPION_LEFT_ACCOUNT)
    left = c.filter((pl.col("buying_role") == "champion") & ~pl.col("is_active"))
    assert left.height == 1
    days_ago = (END - left["left_date"][0]).days
    assert 20 <= days_ago <= 40
    # champion_left (METRICS.md) holds for this key account and for no other key account
    keys = t["accounts"].filter("is_key_account")["account_id"]
    lost = t["contacts"].filter(
        pl.col("buying_role").is_in(["champion", "decision_maker"]) & ~pl.col("is_active")
        & in_last("left_date", 90) & pl.col("account_id").is_in(keys.implode()))
    assert lost["account_id"].unique().to_list() == [demo.CHAMPION_LEFT_ACCOUNT]


def test_engagement_collapsing(metrics):
    r = row(metrics, demo.COLLAPSING_ACCOUNT)
    assert r["weighted_prior_90d"] > 100
    assert r["weighted_90d"] / r["weighted_prior_90d"] < 0.5
    # the story account is the one with the steepest fall among key accounts
    keys = metrics.filter("is_key_account").with_columns(ratio=pl.col("weighted_90d") / pl.col("weighted_prior_90d"))
    assert keys.sort("ratio")["account_id"][0] == demo.COLLAPSING_ACCOUNT


def test_value_destroyer(metrics, t):
    r = row(metrics, demo.VALUE_DESTROYER_ACCOUNT)
    keys = metrics.filter("is_key_account")
    assert r["revenue_ttm"] >= keys["revenue_ttm"].median()
    assert r["net_contribution_ttm"] < -100_000
    assert keys.sort("net_contribution_ttm")["account_id"][0] == demo.VALUE_DESTROYER_ACCOUNT
    # by hand for one piece: the activity cost equals Σ cost(type) over TTM activities
    act = t["activities"].filter((pl.col("account_id") == demo.VALUE_DESTROYER_ACCOUNT) & in_last("activity_date", 365))
    by_hand = sum(ACTIVITY_COST[x] for x in act["activity_type"].to_list())
    assert r["activity_cost_ttm"] == by_hand


def test_promotion_candidate(metrics):
    keys = metrics.filter("is_key_account")
    lowest_key = keys["selection_score"].min()
    candidates = metrics.filter(~pl.col("is_key_account") & (pl.col("selection_score") >= lowest_key))
    assert candidates["account_id"].to_list() == [demo.PROMOTION_CANDIDATE_ACCOUNT]
    r = row(metrics, demo.PROMOTION_CANDIDATE_ACCOUNT)
    assert r["revenue_growth_pct"] > 30 and r["net_margin_pct"] > 20 and r["engaged_contacts_90d"] >= 4
    assert r["wallet_current"] > r["revenue_ttm"]


def test_overdue_for_review(t):
    cad = cadence(t)
    overdue = cad.filter(~pl.col("plan_current") & ~pl.col("review_current"))["account_id"].sort().to_list()
    assert overdue == sorted(demo.OVERDUE_ACCOUNTS)
    on_cadence = cad.filter(pl.col("plan_current") & pl.col("review_current"))
    assert on_cadence.height >= 10


def test_programme_goal_off_track(t, metrics):
    goal = t["goals"].filter(pl.col("goal_id") == demo.OFF_TRACK_GOAL_ID).row(0, named=True)
    assert goal["account_id"] is None and goal["metric"] == "key_revenue_share_pct"
    current = 100 * metrics.filter("is_key_account")["revenue_ttm"].sum() / metrics["revenue_ttm"].sum()
    progress = (current - goal["baseline"]) / (goal["target"] - goal["baseline"])
    expected = min(max((END - goal["start_date"]).days / (goal["due_date"] - goal["start_date"]).days, 0), 1)
    assert END <= goal["due_date"]
    assert progress < expected - 0.25  # off_track
    assert expected > 0.6 and progress < 0.3


def test_other_programme_goals_are_not_off_track(t, metrics):
    keys = metrics.filter("is_key_account")
    sponsor = 100 * keys["executive_sponsor"].is_not_null().sum() / keys.height
    goal = t["goals"].filter(pl.col("metric") == "sponsor_coverage_pct").row(0, named=True)
    progress = (sponsor - goal["baseline"]) / (goal["target"] - goal["baseline"])
    expected = (END - goal["start_date"]).days / (goal["due_date"] - goal["start_date"]).days
    assert progress >= expected - 0.10


def test_single_threaded(metrics):
    assert row(metrics, demo.SINGLE_THREADED_ACCOUNT)["engaged_contacts_90d"] < 3
    assert row(metrics, demo.SINGLE_THREADED_ACCOUNT)["weighted_90d"] > 50  # touched, but only through two people


def test_quiet_champion(t):
    c = t["contacts"].filter((pl.col("account_id") == demo.QUIET_CHAMPION_ACCOUNT) & (pl.col("buying_role") == "champion")
                             & pl.col("is_active"))
    assert c.height >= 1
    recent = t["activities"].filter(in_last("activity_date", 60) & pl.col("contact_id").is_in(c["contact_id"].implode()))
    assert recent.height == 0
    earlier = t["activities"].filter(pl.col("contact_id").is_in(c["contact_id"].implode()))
    assert earlier.height > 20  # they used to be in touch


def test_healthy_majority(t, metrics):
    keys = metrics.filter("is_key_account").join(cadence(t), on="account_id")
    healthy = keys.filter(
        (pl.col("engaged_contacts_90d") >= 5) & (pl.col("weighted_90d") >= 0.7 * pl.col("weighted_prior_90d"))
        & (pl.col("net_margin_pct") >= 20) & pl.col("plan_current") & pl.col("review_current")
    )
    troubled = {demo.COLLAPSING_ACCOUNT, demo.VALUE_DESTROYER_ACCOUNT, demo.SINGLE_THREADED_ACCOUNT,
                *demo.OVERDUE_ACCOUNTS}
    assert not set(healthy["account_id"]) & troubled
    assert len(set(healthy["account_id"]) - set(demo.STORIES)) > keys.height / 2


def test_stories_name_accounts(t):
    text = demo.describe_stories()
    names = dict(t["accounts"].select("account_id", "account_name").iter_rows())
    for aid in demo.STORIES:
        assert names[aid] in text and aid in text
    assert demo.OFF_TRACK_GOAL_ID in text
    keys = set(t["accounts"].filter("is_key_account")["account_id"])
    non_key = {demo.PROMOTION_CANDIDATE_ACCOUNT, *demo.WARNED_IN_TIME_ACCOUNTS, *demo.MISSED_CONTRACTION_ACCOUNTS}
    assert set(demo.STORIES) - non_key <= keys
    assert not non_key & keys
    assert demo.account_names().items() >= {aid: names[aid] for aid in demo.STORIES}.items()


# ---------------------------------------------------------------------------------------------------- score check


def month_ends(lo: date, hi: date) -> list[date]:
    """Every month end t with lo ≤ t ≤ hi."""
    out, y, m = [], lo.year, lo.month
    while True:
        first_next = date(y + (m == 12), m % 12 + 1, 1)
        end = first_next - timedelta(days=1)
        if end > hi:
            return out
        if end >= lo:
            out.append(end)
        y, m = first_next.year, first_next.month


@pytest.fixture(scope="module")
def score_check(demo_data_dir) -> pl.DataFrame:
    """METRICS.md "Score check" on the loaded demo: per account and month end t in [as_of − 730, as_of − 180]
    with revenue_ttm(t) > 0, the band at t (metrics_at), rev_before = Σ revenue in (t − 180, t], rev_after =
    Σ revenue in (t, t + 180] (plain SQL over the revenue table), contracted and warned."""
    con = warehouse.connect_current(demo_data_dir)
    try:
        as_of = default_as_of(con)
        assert as_of == END
        points = month_ends(as_of - timedelta(days=730), as_of - timedelta(days=180))
        bands = metrics_at(con, points).select("account_id", "as_of", "band", "health", "revenue_ttm")
        sums = con.sql(
            """SELECT r.account_id, p.t AS as_of,
                      coalesce(sum(r.amount) FILTER (WHERE r.revenue_date > p.t - 180 AND r.revenue_date <= p.t), 0)
                          AS rev_before,
                      coalesce(sum(r.amount) FILTER (WHERE r.revenue_date > p.t AND r.revenue_date <= p.t + 180), 0)
                          AS rev_after
               FROM revenue r CROSS JOIN (SELECT unnest($points::DATE[]) AS t) p
               GROUP BY r.account_id, p.t""", params={"points": points}).pl()
    finally:
        con.close()
    return (bands.filter(pl.col("revenue_ttm") > 0)
            .join(sums, on=["account_id", "as_of"], how="left")
            .with_columns(pl.col("rev_before", "rev_after").fill_null(0.0))
            .with_columns(contracted=(pl.col("rev_before") > 0) & (pl.col("rev_after") < 0.8 * pl.col("rev_before")),
                          warned=pl.col("band").is_in(["amber", "red"]))
            .sort("account_id", "as_of"))


def test_score_check_window(score_check):
    dates = score_check["as_of"].unique().sort().to_list()
    assert dates[0] == date(2024, 11, 30) and dates[-1] == date(2026, 4, 30) and len(dates) == 18


def test_warned_in_time(score_check):
    """Engagement cooled and the champion left first: the band is amber or red at three or more consecutive
    month ends at which the next 180 days' revenue is more than 20 % below the last 180 days'."""
    for aid in demo.WARNED_IN_TIME_ACCOUNTS:
        rows = score_check.filter(pl.col("account_id") == aid)
        hits = (rows["warned"] & rows["contracted"]).to_list()
        assert any(hits), aid
        longest = run = 0
        for hit in hits:
            run = run + 1 if hit else 0
            longest = max(longest, run)
        assert longest >= 3, (aid, rows)
        # it was green before the story began
        assert rows["band"][0] == "green", aid


def test_missed_contractions(score_check):
    """A budget cut or a spin-off: revenue falls by more than 20 % while the band stays green."""
    for aid in demo.MISSED_CONTRACTION_ACCOUNTS:
        contracted = score_check.filter((pl.col("account_id") == aid) & pl.col("contracted"))
        assert contracted.height >= 3, aid
        assert (contracted["band"] == "green").all(), (aid, contracted)


# ---------------------------------------------------------------------------------------------------- the pipeline


def test_pipeline_loads_the_demo_without_quarantine(export_dir, tmp_path):
    report = load_export(export_dir, tmp_path / "data")
    assert report.quarantine.height == 0, report.quarantine.head(20)
    assert report.as_of_default == END
    loaded = {c.table: c.loaded for c in report.tables}
    for name in TABLE_ORDER:
        lines = (export_dir / f"{name}.csv").read_text(encoding="utf-8").count("\n") - 1
        assert loaded[name] == lines, name


def test_pipeline_loads_the_scale_export_without_quarantine(tmp_path):
    counts = write_scale_export(tmp_path / "export", scale=0.0005)
    report = load_export(tmp_path / "export", tmp_path / "data")
    assert report.quarantine.height == 0, report.quarantine.head(20)
    assert {c.table: c.loaded for c in report.tables} == counts


# ---------------------------------------------------------------------------------------------------- scale export


def test_scale_export_counts_and_references(tmp_path):
    scale = 0.001
    counts = write_scale_export(tmp_path, scale=scale)
    expected = scale_row_counts(scale)
    assert counts == expected
    assert counts["accounts"] == round(REFERENCE_ROWS["accounts"] * scale) == 10
    assert counts["activities"] == 10_000 and counts["revenue"] == 2_000 and counts["contacts"] == 200
    assert counts["service_costs"] == 500 and counts["cases"] == 300 and counts["surveys"] == 100
    tables = {n: read_table(tmp_path, n) for n in TABLE_ORDER}
    for name in TABLE_ORDER:
        assert tables[name].height == counts[name], name
        assert tables[name].columns == TABLES[name].column_names, name
        spec = TABLES[name]
        assert tables[name].select(spec.key).is_duplicated().sum() == 0, name
        for col in spec.required_columns:
            assert tables[name][col].null_count() == 0, (name, col)
        for col, ref in spec.references:
            values = tables[name][col].drop_nulls()
            assert values.is_in(tables[ref][TABLES[ref].key[0]].implode()).all(), (name, col)
        for c in spec.columns:
            if c.enum:
                assert tables[name][c.name].drop_nulls().is_in(list(c.enum)).all(), (name, c.name)
            if c.min is not None:
                assert (tables[name][c.name].drop_nulls() >= c.min).all(), (name, c.name)
            if c.max is not None:
                assert (tables[name][c.name].drop_nulls() <= c.max).all(), (name, c.name)
    cases = tables["cases"].drop_nulls("closed_date")
    assert (cases["closed_date"] >= cases["opened_date"]).all()
    assert (tables["goals"]["start_date"] <= tables["goals"]["due_date"]).all()
    assert set(tables["revenue"]["currency"]) == {"EUR", "USD"}
    assert tables["accounts"]["is_key_account"].sum() >= 1
    assert tables["activities"]["activity_date"].max() <= END


def test_scale_export_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_scale_export(a, scale=0.0005)
    write_scale_export(b, scale=0.0005)
    for name in TABLE_ORDER:
        assert (a / f"{name}.csv").read_bytes() == (b / f"{name}.csv").read_bytes(), name


def test_scale_volumes_are_skewed(tmp_path):
    write_scale_export(tmp_path, scale=0.002)
    act = pl.read_csv(tmp_path / "activities.csv", infer_schema=False)
    per = act.group_by("account_id").len()["len"]
    assert per.max() > 5 * per.median()
