"""The demo export: a deterministic, realistic canonical export of an invented KAM programme.

`write_demo(out_dir)` writes one `<table>.csv` per table of DATA_CONTRACT.md (all 13), three years of
history ending at `end_date`, about 300 accounts of which 17 are key accounts. The data hides a
few stories the dashboard and its score check must reveal (`STORIES`, `GOAL_STORIES`,
`describe_stories()`); the tests check each one with the formulas of METRICS.md on the written files.

Everything is drawn from `np.random.default_rng(seed)` in a fixed order and written with Polars,
so two runs with the same arguments produce byte-identical files. No wall-clock time is used.

Modules: stories (the story accounts, name pools, helpers, describe_stories), accounts (accounts, contacts,
activities), tables (revenue, wallet, opportunities, costs, cases, surveys, reviews, goals, fx), build
(build_demo_tables with the engine's selection score, write_tables, write_demo).
"""

from kam_metrics.generators.demo.build import build_demo_tables, selection_inputs, write_demo, write_tables
from kam_metrics.generators.demo.stories import (
    CHAMPION_LEFT_ACCOUNT, COLLAPSING_ACCOUNT, DEMO_END_DATE, GOAL_STORIES, HISTORY_DAYS, KAM_OWNERS,
    MISSED_CONTRACTION_ACCOUNTS, OFF_TRACK_GOAL_ID, OVERDUE_ACCOUNTS, PRODUCT_LINES, PROMOTION_CANDIDATE_ACCOUNT,
    QUIET_CHAMPION_ACCOUNT, REPORTING_CURRENCY, SALES_OWNERS, SINGLE_THREADED_ACCOUNT, SPONSORS, STORIES, USD_RATES,
    VALUE_DESTROYER_ACCOUNT, WARNED_IN_TIME_ACCOUNTS, account_names, describe_stories,
)

__all__ = [
    "CHAMPION_LEFT_ACCOUNT", "COLLAPSING_ACCOUNT", "DEMO_END_DATE", "GOAL_STORIES", "HISTORY_DAYS", "KAM_OWNERS",
    "MISSED_CONTRACTION_ACCOUNTS", "OFF_TRACK_GOAL_ID", "OVERDUE_ACCOUNTS", "PRODUCT_LINES",
    "PROMOTION_CANDIDATE_ACCOUNT", "QUIET_CHAMPION_ACCOUNT", "REPORTING_CURRENCY", "SALES_OWNERS",
    "SINGLE_THREADED_ACCOUNT", "SPONSORS", "STORIES", "USD_RATES", "VALUE_DESTROYER_ACCOUNT", "WARNED_IN_TIME_ACCOUNTS",
    "account_names", "build_demo_tables", "describe_stories", "selection_inputs", "write_demo", "write_tables",
]
