"""Engagement trends: weighted touches by week and type, engaged contacts and C-level reach, trend by account."""

import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import charts, widgets
from kam_metrics.app.frame import page
from kam_metrics.app.subsets import focus_accounts, ids, rows_for
from kam_metrics.app.views import engagement

view = page(
    "Engagement", ":material/forum:",
    caption="How intensely and how broadly we engage each account: weighted touches (an exec meeting counts more "
            "than an email), engaged contacts and C-level reach, and where engagement is collapsing.",
)
accounts = view.metric(metrics.account_metrics)
if accounts.is_empty():
    widgets.empty("No account matches these filters.")
    st.stop()
weekly = view.metric(metrics.engagement_weekly)
focus, focus_note = focus_accounts(accounts)

widgets.kpi_tiles(engagement.engagement_tiles(view, accounts), columns=5)

st.subheader("Weighted touches per week")
portfolio_tab, account_tab = st.tabs(["All accounts in the filter", "One account"])
with portfolio_tab:
    widgets.chart(charts.weekly_touches_figure(weekly), key="eng_weekly_all")
with account_tab:
    chosen = widgets.account_picker("Account", accounts, key="eng_account",
                                    default=ids(focus)[0] if ids(focus) else None)
    if chosen:
        widgets.chart(charts.weekly_touches_figure(rows_for(weekly, chosen)), key="eng_weekly_one")

st.subheader("Engaged contacts and C-level reach")
st.caption(f"Last 90 days, {focus_note}. Dark bars: a C-level contact was engaged. Select a bar to open the account.")
if widgets.needs(view, "contacts", "engaged contacts by seniority and C-level reach"):
    widgets.chart(charts.engaged_contacts_figure(focus, view.settings.multithread_min_contacts), key="eng_contacts",
                  select_account=True)

st.subheader("Engagement trend by account")
st.caption("Weighted touches of the last 90 days against the prior 90 days, steepest fall first.")
widgets.table(engagement.engagement_table(accounts), key="eng_table", currency=view.currency,
              file_name="engagement_trend", hide=["account_id"])

st.subheader("Accounts × weeks")
st.caption(f"Weighted touches per week over the last 26 weeks, {focus_note}. Blank: no activity that week.")
widgets.chart(charts.engagement_heatmap(engagement.recent_weeks(rows_for(weekly, ids(focus)), 26), focus),
              key="eng_heatmap")
