"""Cost to serve against lifetime value: who is worth what it costs, the whale curve, value-destroying accounts."""

import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import charts, widgets
from kam_metrics.app.frame import page
from kam_metrics.app.subsets import first_row, ids, rows_for
from kam_metrics.app.views import cost_to_serve
from kam_metrics.metrics import portfolio

view = page(
    "Cost to serve & lifetime value", ":material/balance:",
    caption="What each account costs to serve (service costs, activities and cases) against what it is worth "
            "(lifetime value), how profit is concentrated (whale curve) and which accounts destroy value.",
)
accounts = view.metric(metrics.account_metrics)
if accounts.is_empty():
    widgets.empty("No account matches these filters.")
    st.stop()
cost_note = cost_to_serve.cost_sources_note(view)
if cost_note:
    widgets.empty(cost_note)

widgets.kpi_tiles(cost_to_serve.economics_tiles(view, accounts), columns=5)

st.subheader("Cost to serve vs lifetime value")
st.caption("Each bubble is an account: size = revenue TTM, colour = health band, dotted lines at the medians. "
           "Below the red line the account destroys value. Select a bubble to open the account.")
widgets.chart(charts.cost_value_scatter(accounts, view.currency), key="cts_scatter", select_account=True)

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Whale curve")
    st.caption("Cumulative net contribution with accounts sorted from most to least profitable. The peak above "
               "100 % is the profit the unprofitable tail gives away.")
    widgets.chart(charts.whale_curve_figure(cost_to_serve.whale_with_names(view.metric(metrics.whale_curve), accounts),
                                            first_row(view.metric(metrics.portfolio_concentration))), key="cts_whale")
with right:
    st.subheader("Profit concentration")
    widgets.kpi_tiles(cost_to_serve.concentration_tiles(view)[2:], columns=1)

st.subheader("Value-destroying accounts")
destroyers = portfolio.value_destroyers(accounts)
if destroyers.is_empty():
    widgets.empty("No account has a negative net contribution TTM.")
else:
    st.caption("Accounts whose cost to serve exceeds their gross margin, and what the cost is made of.")
    breakdown = view.metric(metrics.cost_to_serve_breakdown)
    widgets.chart(charts.cost_breakdown_figure(rows_for(breakdown, ids(destroyers)), destroyers, view.currency),
                  key="cts_breakdown")
    widgets.table(cost_to_serve.value_table(destroyers), key="cts_destroyers", currency=view.currency,
                  file_name="value_destroyers", hide=["account_id"])
    with st.expander("Cost-to-serve components of these accounts"):
        widgets.table(cost_to_serve.breakdown_table(breakdown, destroyers), key="cts_components",
                      currency=view.currency, file_name="cost_to_serve_components", hide=["account_id"])

st.subheader("Economics by account")
widgets.table(cost_to_serve.value_table(accounts), key="cts_all", currency=view.currency, file_name="account_economics",
              hide=["account_id"])
