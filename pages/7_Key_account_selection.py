"""Key account selection: who belongs in the programme by selection score, promotion and review candidates."""

import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import charts, widgets
from kam_metrics.app.frame import page
from kam_metrics.app.subsets import key_accounts
from kam_metrics.app.views import key_account_selection as selection

view = page(
    "Key account selection", ":material/star:",
    caption="Which accounts deserve key account treatment: a selection score from revenue, wallet, margin, growth "
            "and engaged contacts; non-key accounts that outscore key ones, and key accounts to review.",
)
accounts = view.metric(metrics.account_metrics)
if accounts.is_empty():
    widgets.empty("No account matches these filters.")
    st.stop()
scored = selection.with_candidates(accounts, view.metric(metrics.selection_candidates))

widgets.kpi_tiles(selection.selection_tiles(view, scored), columns=4)

left, right = st.columns([2, 1], gap="large")
with left:
    st.subheader("Selection score")
    st.caption("Key accounts (dark), candidates (green outline: promote, red outline: review) and the best-scored "
               "other accounts. Select a bar to open the account.")
    widgets.chart(charts.selection_score_figure(selection.selection_chart_accounts(scored)), key="sel_scores",
                  select_account=True)
with right:
    st.subheader("Programme size")
    whole = view.scoped(None).is_whole_programme
    st.caption(f"Guidance: {view.settings.key_account_min}–{view.settings.key_account_max} key accounts, "
               "few enough to serve well" + ("." if whole else ", for the whole programme: this is a part of it."))
    widgets.chart(charts.programme_size_figure(key_accounts(accounts).height, view.settings.key_account_min,
                                               view.settings.key_account_max, judged=whole), key="sel_size")

st.subheader("Promotion candidates")
promote = selection.selection_table(scored, "promote")
if promote.is_empty():
    widgets.empty("No non-key account scores above the lowest key account.")
else:
    widgets.table(promote, key="sel_promote", currency=view.currency, file_name="promotion_candidates",
                  hide=["account_id"])

st.subheader("Review candidates")
review = selection.selection_table(scored, "review")
if review.is_empty():
    widgets.empty("No key account to review: none is red or in the lowest quartile of key account scores.")
else:
    widgets.table(review, key="sel_review", currency=view.currency, file_name="review_candidates",
                  hide=["account_id"])

st.subheader("Cumulative revenue")
st.caption("Revenue TTM per account, largest first (up to 60 shown), with the cumulative share of all revenue. "
           "Dark bars: key accounts.")
widgets.chart(charts.pareto_figure(accounts, view.currency, limit=60), key="sel_pareto")

with st.expander("All accounts by selection score"):
    widgets.table(selection.selection_table(scored), key="sel_all", currency=view.currency,
                  file_name="selection_scores", hide=["account_id"])
