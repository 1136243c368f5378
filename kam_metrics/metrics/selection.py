"""Key account selection (METRICS.md "Key account selection"): the promote / review lists (selection_score
itself is pure scoring: scoring.add_selection_score)."""

from __future__ import annotations

from datetime import date

import polars as pl

from kam_metrics.filters import NO_FILTERS, Filters
from kam_metrics.metrics import _engine as E
from kam_metrics.metrics.accounts import account_metrics
from kam_metrics.metrics.rules import decision_value
from kam_metrics.settings import Settings

#: Quantile of key-account selection scores at or below which a key account is a review candidate
#: ("lowest quartile"; linear interpolation, as a spreadsheet's PERCENTILE.INC / QUARTILE.INC).
REVIEW_QUANTILE = 0.25


def selection_candidates(con, as_of: date | None = None, filters: Filters | None = None,
                         settings: Settings | None = None) -> pl.DataFrame:
    """Promotion candidates (non-key accounts scoring at least the lowest key account) and review candidates
    (key accounts in band red or in the lowest quartile of key-account selection scores)."""
    as_of, filters, settings = E.resolve(con, as_of, filters, settings)
    # Thresholds come from all key accounts (ranks are over all accounts); the filters pick the rows shown.
    everyone = account_metrics(con, as_of, NO_FILTERS, settings)
    key = everyone.filter(pl.col("is_key_account"))
    schema = {"account_id": pl.String, "account_name": pl.String, "is_key_account": pl.Boolean,
              "selection_score": pl.Float64, "band": pl.String, "candidate": pl.String, "reason": pl.String}
    if key.is_empty():
        return pl.DataFrame(schema=schema)
    # Compared as decided (rules.decision_value): float noise in a score never makes or unmakes a candidate.
    quartile = key["selection_score"].quantile(REVIEW_QUANTILE, interpolation="linear")
    score = decision_value("selection_score")
    promote = promotion_candidates(everyone)
    red = pl.col("band") == "red"
    low = score <= decision_value(quartile)
    review = key.filter(red.fill_null(False) | low).with_columns(
        candidate=pl.lit("review"),
        reason=pl.concat_str(
            [
                pl.when(red.fill_null(False)).then(pl.lit("band red")),
                pl.when(low).then(pl.format("selection score {} in lowest quartile of key accounts (≤ {})",
                                            pl.col("selection_score").round(1), pl.lit(round(quartile, 1)))),
            ],
            separator="; ",
            ignore_nulls=True,
        ),
    )
    out = pl.concat([promote.select(list(schema)), review.select(list(schema))], how="vertical")
    if not filters.is_empty:
        keep = E.accounts_frame(con, filters)["account_id"]
        out = out.filter(pl.col("account_id").is_in(keep.implode()))
    return out.sort("candidate", pl.col("selection_score"), "account_id", descending=[False, True, False])


def promotion_candidates(everyone: pl.DataFrame) -> pl.DataFrame:
    """The promotion candidates of a frame of all accounts with selection_score: non-key accounts scoring at least
    the lowest key account, with candidate 'promote' and the reason (none when there is no key account)."""
    key_scores = everyone.filter(pl.col("is_key_account"))["selection_score"]
    if key_scores.is_empty():
        return everyone.clear().with_columns(candidate=pl.lit(None, dtype=pl.String), reason=pl.lit(None, dtype=pl.String))
    lowest_key = key_scores.min()
    is_candidate = ~pl.col("is_key_account") & (decision_value("selection_score") >= decision_value(lowest_key))
    return everyone.filter(is_candidate).with_columns(
        candidate=pl.lit("promote"),
        reason=pl.format("selection score {} ≥ lowest key account score {}",
                         pl.col("selection_score").round(1), pl.lit(round(lowest_key, 1))),
    )
