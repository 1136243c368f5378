"""The metrics engine: every figure of docs/METRICS.md as a function returning a Polars DataFrame.

Every public function takes `con` (a DuckDB connection to a snapshot, possibly read-only), `as_of`
(None = default_as_of(con)), `filters` (None = all accounts) and `settings` (None = Settings()), and
returns columns named by the METRICS.md keys (definitions: kam_metrics.metrics.reference.metric_definitions()).
"""

from kam_metrics.metrics._engine import default_as_of
from kam_metrics.metrics.accounts import ACCOUNT_KEYS, account_metrics, metrics_at
from kam_metrics.metrics.alerts import ALERT_COLUMNS, ALERT_KINDS, alerts
from kam_metrics.metrics.economics import cost_to_serve_breakdown, portfolio_concentration, whale_curve
from kam_metrics.metrics.engagement import engagement_weekly
from kam_metrics.metrics.goals import goals_status
from kam_metrics.metrics.health import health_history, health_movement, last_sundays
from kam_metrics.metrics.opportunities import (
    PIPELINE_KEYS, open_pipeline, pipeline_by_account, pipeline_to_headroom, win_rate_365d,
)
from kam_metrics.metrics.programme import PORTFOLIO_KEYS, PROGRAMME_KEYS, programme_kpis, programme_report
from kam_metrics.metrics.score_check import (
    check_dates, score_check_backtest, score_check_bands, score_check_by_date, score_check_false_alarms,
    score_check_hits, score_check_inputs, score_check_misses, score_check_pairs, score_check_summary,
)
from kam_metrics.metrics.scoring import HEALTH_OUTPUT_COLUMNS
from kam_metrics.metrics.selection import selection_candidates
from kam_metrics.metrics.wallet import wallet_by_product_line, wallet_by_year

__all__ = [
    "ACCOUNT_KEYS", "ALERT_COLUMNS", "ALERT_KINDS", "HEALTH_OUTPUT_COLUMNS", "PIPELINE_KEYS", "PORTFOLIO_KEYS",
    "PROGRAMME_KEYS",
    "account_metrics", "alerts", "check_dates", "cost_to_serve_breakdown", "default_as_of", "engagement_weekly", "goals_status",
    "health_history", "health_movement", "last_sundays", "metrics_at", "open_pipeline", "pipeline_by_account",
    "pipeline_to_headroom", "portfolio_concentration", "programme_kpis", "programme_report", "score_check_backtest",
    "score_check_bands", "score_check_by_date", "score_check_false_alarms", "score_check_hits", "score_check_inputs", "score_check_misses", "score_check_pairs",
    "score_check_summary",
    "selection_candidates", "wallet_by_product_line", "wallet_by_year", "whale_curve", "win_rate_365d",
]
