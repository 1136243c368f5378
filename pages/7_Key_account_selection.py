"""Key account selection: who belongs in the programme by selection score, promotion and review candidates."""

import streamlit as st

from kam_metrics.app import charts, ui

view = ui.page(
    "Key account selection", ":material/star:",
    caption="Which accounts deserve key account treatment: a selection score from revenue, wallet, margin, growth "
            "and engaged contacts; non-key accounts that outscore key ones, and key accounts to review.",
)
accounts = view.metric("account_metrics")
if accounts.is_empty():
    ui.empty("No account matches these filters.")
    st.stop()
scored = ui.with_candidates(accounts, view.metric("selection_candidates"))

ui.kpi_tiles(ui.selection_tiles(view, scored), columns=4)

left, right = st.columns([2, 1], gap="large")
with left:
    st.subheader("Selection score")
    st.caption("Key accounts (dark), candidates (green outline: promote, red outline: review) and the best-scored "
               "other accounts. Select a bar to open the account.")
    ui.chart(charts.selection_score_figure(ui.selection_chart_accounts(scored)), key="sel_scores", select_account=True)
with right:
    st.subheader("Programme size")
    st.caption(f"Guidance: {view.settings.key_account_min}–{view.settings.key_account_max} key accounts, "
               "few enough to serve well.")
    ui.chart(charts.programme_size_figure(ui.key_accounts(accounts).height, view.settings.key_account_min,
                                          view.settings.key_account_max), key="sel_size")

st.subheader("Promotion candidates")
promote = ui.selection_table(scored, "promote")
if promote.is_empty():
    ui.empty("No non-key account scores above the lowest key account.")
else:
    ui.table(promote, key="sel_promote", currency=view.currency, file_name="promotion_candidates", hide=["account_id"])

st.subheader("Review candidates")
review = ui.selection_table(scored, "review")
if review.is_empty():
    ui.empty("No key account to review: none is red or in the lowest quartile of key account scores.")
else:
    ui.table(review, key="sel_review", currency=view.currency, file_name="review_candidates", hide=["account_id"])

st.subheader("Cumulative revenue")
st.caption("Revenue TTM per account, largest first (up to 60 shown), with the cumulative share of all revenue. "
           "Dark bars: key accounts.")
ui.chart(charts.pareto_figure(accounts, view.currency, limit=60), key="sel_pareto")

with st.expander("All accounts by selection score"):
    ui.table(ui.selection_table(scored), key="sel_all", currency=view.currency, file_name="selection_scores",
             hide=["account_id"])
