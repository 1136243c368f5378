"""Pure scoring over frames of account rows (no connection): the health score of METRICS.md "Health score"
(0–100 components, their weighted mean, the champion-left cap, coverage, band and contributions; below
min_health_coverage_pct the health is null and the band insufficient_data) and the key account
selection score of "Key account selection" (percentile ranks and weights). The queries that feed them
live in accounts.py (metrics_at), health.py (history, movement) and selection.py (candidates)."""

from __future__ import annotations

import polars as pl

from kam_metrics.metrics.rules import decision_value
from kam_metrics.settings import HEALTH_COMPONENTS, RELATIONSHIP_PENALTIES, SELECTION_INPUTS, Settings

SCORE_COLUMNS = tuple(f"score_{c}" for c in HEALTH_COMPONENTS)
#: The parts health is the sum of: each component's contribution and the champion-left cap's (≤ 0).
CONTRIBUTION_PARTS = (*HEALTH_COMPONENTS, "cap")
CONTRIBUTION_COLUMNS = tuple(f"contribution_{c}" for c in CONTRIBUTION_PARTS)
#: Whether the export carried contacts (a frame column set by the engine): the relationship component is null
#: without them (METRICS.md "Data that is not there").
CONTACTS_PRESENT = "has_contacts_data"
#: The account flag each relationship penalty looks at, and the value of it that takes the points off.
PENALTY_FLAGS: dict[str, tuple[str, bool]] = {
    "champion_left": ("champion_left", True),
    "champion_quiet": ("champion_quiet", True),
    "no_decision_maker_engaged": ("decision_maker_engaged_90d", False),
    "no_c_level_engaged": ("c_level_engaged_90d", False),
    "key_account_without_sponsor": ("has_sponsor", False),
}
#: The account columns add_health reads (component_scores, the relationship penalties, the cap, coverage).
HEALTH_INPUT_COLUMNS = (
    "touches_90d", "touches_prior_90d", "days_since_last_touch", "engagement_trend_pct", "engaged_contacts_90d",
    "nps_365d", "share_of_wallet", "net_margin_pct", "is_key_account", "cadence_status",
    *dict.fromkeys(flag for flag, _ in PENALTY_FLAGS.values()), CONTACTS_PRESENT,
)
HEALTH_OUTPUT_COLUMNS = (*SCORE_COLUMNS, *CONTRIBUTION_COLUMNS, "health", "health_coverage_pct", "band")
#: The band of an account whose health coverage is below min_health_coverage_pct (health is then null).
INSUFFICIENT_DATA = "insufficient_data"
BANDS = ("green", "amber", "red", INSUFFICIENT_DATA)


def component_applies(component: str) -> pl.Expr:
    """Whether a component applies to an account row (its weight counts in health_coverage_pct's denominator):
    cadence to key accounts only, every other component to every account."""
    if component == "cadence":
        return pl.col("is_key_account").fill_null(False)
    return pl.lit(True)


def _clamp(e: pl.Expr, lo: float, hi: float) -> pl.Expr:
    return pl.when(e < lo).then(lo).when(e > hi).then(hi).otherwise(e)


def component_scores(s: Settings) -> dict[str, pl.Expr]:
    """Each component's 0–100 score expression over the account columns (null when its input is null)."""
    days = pl.col("days_since_last_touch")
    full, zero = s.recency_full_days, s.recency_zero_days
    recency = (
        pl.when(pl.col("touches_90d").is_null()).then(None)  # activities absent (no activity at all scores 0)
        .when(days.is_null() | (days >= zero)).then(0.0)
        .when(days <= full).then(100.0)
        .otherwise(100.0 * (zero - days) / (zero - full))
    )
    trend_pct = pl.col("engagement_trend_pct")
    trend = (
        pl.when(trend_pct.is_not_null()).then(50.0 + 0.5 * _clamp(trend_pct, -100.0, 100.0))
        .when((pl.col("touches_prior_90d") == 0) & (pl.col("touches_90d") > 0)).then(100.0)
        .otherwise(None)
    )
    engaged = pl.col("engaged_contacts_90d")
    # (min_horizontal skips nulls: an absent engaged_contacts_90d must stay null, not score 100)
    breadth = pl.when(engaged.is_null()).then(None).otherwise(
        100.0 * pl.min_horizontal(engaged / s.breadth_full_contacts, pl.lit(1.0)))
    loyalty = (pl.col("nps_365d") + 100.0) / 2.0
    sow = pl.col("share_of_wallet")
    # "each 0–100": a negative share (credit notes exceeding sales) scores 0, not below.
    wallet = pl.when(sow.is_null()).then(None).otherwise(_clamp(100.0 * sow / s.wallet_full_share, 0.0, 100.0))
    margin = pl.col("net_margin_pct")
    hi, lo = s.profitability_full_pct, s.profitability_zero_pct
    profitability = (
        pl.when(margin.is_null()).then(None)
        .when(margin >= hi).then(100.0)
        .when(margin <= lo).then(0.0)
        .otherwise(100.0 * (margin - lo) / (hi - lo))
    )
    status = pl.col("cadence_status")
    cadence = (
        pl.when(~pl.col("is_key_account").fill_null(False)).then(None)
        .when(status == "on_cadence").then(100.0)
        .when(status == "partial").then(50.0)
        .when(status == "overdue").then(0.0)
        .otherwise(None)
    )
    return {
        "recency": recency, "trend": trend, "breadth": breadth, "loyalty": loyalty,
        "wallet": wallet, "profitability": profitability, "cadence": cadence,
        "relationship": relationship_score(s),
    }


def penalty_applies(penalty: str) -> pl.Expr:
    """Whether a relationship penalty applies to an account row: its flag has the penalised value (the sponsor
    penalty for key accounts only); null when the flag is null (a null flag takes nothing off)."""
    flag, penalised = PENALTY_FLAGS[penalty]
    value = pl.col(flag).cast(pl.Boolean)
    applies = value if penalised else ~value
    if penalty == "key_account_without_sponsor":
        # a non-key account is never penalised, whatever its sponsor; a key account's unknown sponsor stays null
        return pl.when(~pl.col("is_key_account").fill_null(False)).then(False).otherwise(applies)
    return applies


def relationship_score(s: Settings) -> pl.Expr:
    """score_relationship: 100 less the penalty of each flag that applies, floored at 0; null without contacts."""
    taken = pl.sum_horizontal(
        [pl.when(penalty_applies(p).fill_null(False)).then(float(s.relationship_penalties.get(p, 0.0)))
         .otherwise(0.0) for p in RELATIONSHIP_PENALTIES])
    return pl.when(~pl.col(CONTACTS_PRESENT).fill_null(False)).then(None).otherwise(
        pl.max_horizontal(pl.lit(0.0), 100.0 - taken))


def account_relationship_penalties(account: dict, s: Settings, has_contacts_data: bool) -> pl.DataFrame:
    """One account's relationship penalties (relationship_penalties of its row): penalty, flag, points, is_applied."""
    columns = {"account_id": pl.String, "is_key_account": pl.Boolean,
               **{flag: pl.Boolean for flag, _ in PENALTY_FLAGS.values()}}
    row = {c: [account.get(c)] for c in columns}
    frame = pl.DataFrame(row, schema=columns).with_columns(**{CONTACTS_PRESENT: pl.lit(has_contacts_data)})
    return relationship_penalties(frame, s)


def relationship_penalties(f: pl.DataFrame, s: Settings) -> pl.DataFrame:
    """Per account row and penalty (METRICS.md relationship component): penalty, flag, points and is_applied
    (true: taken off; false: not; null: the flag is unknown, nothing taken off). Columns account_id, penalty,
    flag, points, is_applied, in the order of RELATIONSHIP_PENALTIES per account."""
    parts = [
        f.select(
            "account_id",
            penalty=pl.lit(p), flag=pl.lit(PENALTY_FLAGS[p][0]),
            points=pl.lit(float(s.relationship_penalties.get(p, 0.0))),
            is_applied=pl.when(pl.col(CONTACTS_PRESENT).fill_null(False)).then(penalty_applies(p)),
            _order=pl.lit(i),
        )
        for i, p in enumerate(RELATIONSHIP_PENALTIES)
    ]
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts).sort("account_id", "_order", maintain_order=True).drop("_order")


def add_health(f: pl.DataFrame, s: Settings) -> pl.DataFrame:
    """score_*, contribution_*, health, health_coverage_pct and band for each row of account keys.

    health = the weighted mean of the non-null component scores, at most champion_left_health_cap while
    champion_left is true (contribution_cap = the cap's effect, ≤ 0: the contributions and it add up to health).
    health_coverage_pct = 100 × Σ weight of the non-null components / Σ weight of the components that apply;
    below min_health_coverage_pct health is null and band insufficient_data (scores, contributions and coverage
    are still given). Any component of HEALTH_COMPONENTS takes part (component_scores gives its score)."""
    scores = component_scores(s)
    f = f.with_columns([scores[c].cast(pl.Float64).alias(f"score_{c}") for c in HEALTH_COMPONENTS])
    weights = {c: float(s.health_weights.get(c, 0.0)) for c in HEALTH_COMPONENTS}
    present_weight = pl.sum_horizontal(
        [pl.when(pl.col(f"score_{c}").is_not_null()).then(weights[c]).otherwise(0.0) for c in HEALTH_COMPONENTS]
    )
    applicable_weight = pl.sum_horizontal(
        [pl.when(component_applies(c)).then(weights[c]).otherwise(0.0) for c in HEALTH_COMPONENTS]
    )
    f = f.with_columns(_present_weight=present_weight, _applicable_weight=applicable_weight)
    f = f.with_columns(
        [
            pl.when((pl.col("_present_weight") > 0) & pl.col(f"score_{c}").is_not_null())
            .then(weights[c] * pl.col(f"score_{c}") / pl.col("_present_weight"))
            .otherwise(None)
            .alias(f"contribution_{c}")
            for c in HEALTH_COMPONENTS
        ]
    )
    f = f.with_columns(
        health_coverage_pct=pl.when(pl.col("_applicable_weight") > 0)
        .then(100.0 * pl.col("_present_weight") / pl.col("_applicable_weight"))
        .otherwise(None),
    )
    covered = (pl.col("_present_weight") > 0) & (
        decision_value("health_coverage_pct") >= decision_value(float(s.min_health_coverage_pct))).fill_null(False)
    # the weighted mean, then the champion-left cap: contribution_cap = min(mean, cap) − mean (≤ 0)
    mean = pl.sum_horizontal([pl.col(f"contribution_{c}") for c in HEALTH_COMPONENTS])
    cap = float(s.champion_left_health_cap)
    capped = pl.col("champion_left").fill_null(False) & (decision_value(mean) > decision_value(cap))
    f = f.with_columns(
        contribution_cap=pl.when(pl.col("_present_weight") <= 0).then(None)
        .when(capped).then(cap - mean).otherwise(0.0)
    )
    f = f.with_columns(
        health=pl.when(covered)
        .then(mean + pl.col("contribution_cap"))
        .otherwise(None)
    )
    rounded = decision_value("health")
    f = f.with_columns(
        band=pl.when(pl.col("health").is_null()).then(pl.lit(INSUFFICIENT_DATA))
        .when(rounded >= decision_value(float(s.band_green_min))).then(pl.lit("green"))
        .when(rounded >= decision_value(float(s.band_amber_min))).then(pl.lit("amber"))
        .otherwise(pl.lit("red"))
    )
    return f.drop("_present_weight", "_applicable_weight")


def percentile_rank(col: str, n: int) -> pl.Expr:
    """100 × (rank − 1) / (N − 1), ascending, nulls first, ties sharing the lowest rank; 0 when N = 1. Values are
    ranked as compared (rules.decision_value), so float noise never breaks a tie."""
    c = decision_value(col)
    nulls = c.is_null().sum()
    # rank among non-null values ("min" = ties share the lowest rank), shifted past the nulls; nulls rank 1.
    rank = pl.when(c.is_null()).then(1).otherwise(c.rank(method="min") + nulls)
    if n <= 1:
        return pl.lit(0.0)
    return 100.0 * (rank.cast(pl.Float64) - 1.0) / (n - 1)


def add_selection_score(frame: pl.DataFrame, s: Settings) -> pl.DataFrame:
    """selection_score = Σ weight × p / 100 over the selection inputs, ranks over all rows of `frame`."""
    n = frame.height
    ps = [percentile_rank(c, n).alias(f"_p_{c}") for c in SELECTION_INPUTS]
    out = frame.with_columns(ps)
    score = pl.sum_horizontal(
        [float(s.selection_weights.get(c, 0.0)) * pl.col(f"_p_{c}") / 100.0 for c in SELECTION_INPUTS]
    )
    return out.with_columns(selection_score=score.cast(pl.Float64)).drop([f"_p_{c}" for c in SELECTION_INPUTS])
