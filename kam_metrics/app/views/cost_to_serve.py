"""The Cost to serve & value page (pages/4_Cost_to_serve.py): economics tiles, concentration, value tables."""

from __future__ import annotations

import polars as pl

from kam_metrics import metrics
from kam_metrics.app import absence, formatting
from kam_metrics.app.frame import View
from kam_metrics.app.subsets import first_row, ids, pick, rows_for, sort_by, with_names
from kam_metrics.app.widgets import Kpi, kpi, metric_help
from kam_metrics.metrics import portfolio

VALUE_COLUMNS = ["account_name", "is_key_account", "kam_owner", "revenue_ttm", "gross_margin_ttm", "cost_to_serve_ttm",
                 "cost_to_serve_pct", "net_contribution_ttm", "net_margin_pct", "lifetime_value", "value_to_date",
                 "health", "band", "account_id"]


def concentration_tiles(view: View) -> list[Kpi]:
    """Portfolio concentration: top-20 % revenue share, HHI, whale peak and profit erosion (METRICS.md portfolio economics)."""
    row = first_row(view.metric(metrics.portfolio_concentration)) or {}
    cur = view.currency
    return [
        kpi("top20_revenue_share_pct", "Revenue share of the top 20 % accounts", row.get("top20_revenue_share_pct"), cur),
        Kpi("revenue_hhi", "Revenue concentration (HHI)", formatting.format_number(row.get("revenue_hhi"), decimals=0),
            help=metric_help("revenue_hhi", "Below 1,500: unconcentrated; 1,500–2,500: moderate; above: high."),
            delta_color="off"),
        kpi("whale_peak_pct", "Whale curve peak", row.get("whale_peak_pct"), cur),
        kpi("profit_erosion_pct", "Profit erosion", row.get("profit_erosion_pct"), cur),
    ]


def cost_sources_note(view: View) -> str | None:
    """Which sources cost to serve counts, when the export lacks some (METRICS.md: it counts the sources present)."""
    present, missing = absence.cost_sources(view.presence)
    if not missing:
        return None
    if not present:
        return ("No cost source in this export: add service_costs.csv, activities.csv or cases.csv to see cost to "
                "serve; until then it shows —.")
    return (f"Cost to serve counts {' and '.join(present)} only: add {' and '.join(missing)} to your export to "
            "include them.")


def economics_tiles(view: View, accounts: pl.DataFrame) -> list[Kpi]:
    """Portfolio economics of the accounts: revenue, cost to serve, net contribution, lifetime value, value destroyers."""
    cur = view.currency

    def total(column: str) -> float | None:
        return portfolio.portfolio_total(accounts, column)

    destroyers = portfolio.value_destroyers(accounts)
    return [
        kpi("revenue_ttm", "Revenue TTM", total("revenue_ttm"), cur, extra_help="Σ over the accounts in the filter."),
        kpi("cost_to_serve_ttm", "Cost to serve TTM", total("cost_to_serve_ttm"), cur,
            extra_help="Σ over the accounts in the filter.",
            description=f"{formatting.format_pct(portfolio.portfolio_cost_to_serve_pct(accounts))} of revenue",
            absent=absence.cost_to_serve_missing(view.presence)),
        kpi("net_contribution_ttm", "Net contribution TTM", total("net_contribution_ttm"), cur,
            extra_help="Σ over the accounts in the filter."),
        kpi("lifetime_value", "Lifetime value", total("lifetime_value"), cur, extra_help="Σ over the accounts in the filter."),
        Kpi("net_contribution_ttm", "Value-destroying accounts", formatting.format_count(destroyers.height),
            help="Accounts whose net_contribution_ttm is negative: the cost to serve exceeds the gross margin.",
            delta_color="off",
            delta_description=formatting.format_money(portfolio.portfolio_total(destroyers, "net_contribution_ttm"),
                                                      cur) + " net"
            if not destroyers.is_empty() else None),
    ]


def value_table(accounts: pl.DataFrame) -> pl.DataFrame:
    """The accounts' economics, lowest net contribution first."""
    return pick(sort_by(accounts, "net_contribution_ttm"), VALUE_COLUMNS)


def breakdown_table(breakdown: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Cost-to-serve components of these accounts (account, group, component, cost), largest first."""
    data = rows_for(breakdown, ids(accounts))
    if data.is_empty():
        return data
    data = data.filter(pl.col("cost_ttm") != 0).sort("cost_ttm", descending=True)
    return pick(with_names(data, accounts), ["account_name", "component_group", "component", "quantity", "cost_ttm",
                                             "account_id"])


def whale_with_names(whale: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """The whale curve's accounts with their names, in rank order."""
    return with_names(whale, accounts).sort("rank") if not whale.is_empty() else whale
