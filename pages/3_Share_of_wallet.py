"""Share of wallet: how much of each customer's spend we win, the headroom, whitespace and mutual dependence."""

import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import charts, widgets
from kam_metrics.app.frame import page
from kam_metrics.app.subsets import focus_accounts, ids, rows_for
from kam_metrics.app.views import share_of_wallet
from kam_metrics.app.views.cost_to_serve import concentration_tiles
from kam_metrics.metrics import portfolio

view = page(
    "Share of wallet", ":material/pie_chart:",
    caption="How much of each customer's yearly spend on what we sell we win (share of wallet), what is left "
            "(headroom), where product lines are untouched (whitespace), and how concentrated our revenue is.",
)
accounts = share_of_wallet.with_pipeline(view, view.metric(metrics.account_metrics))
if accounts.is_empty():
    widgets.empty("No account matches these filters.")
    st.stop()
focus, focus_note = focus_accounts(portfolio.accounts_with_wallet(accounts))

if widgets.needs(view, "wallet"):
    widgets.kpi_tiles(share_of_wallet.wallet_tiles(view, accounts), columns=4)
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Share of wallet and headroom")
        st.caption(f"Revenue TTM (ours) and the rest of the customer's wallet, {focus_note}.")
        widgets.chart(charts.share_of_wallet_figure(focus, view.currency), key="sow_bars", select_account=True)
    with right:
        st.subheader("Share of wallet by year")
        st.caption(f"Revenue of each calendar year against that year's wallet estimate, {focus_note}. The current year "
                   "counts revenue up to as_of only.")
        widgets.chart(charts.wallet_trend_figure(rows_for(view.metric(metrics.wallet_by_year), ids(focus)), focus),
                      key="sow_trend")

    st.subheader("Whitespace: share of wallet by product line")
    st.caption(f"Our share of each product line's wallet, {focus_note}. Pale and 0 % cells are whitespace: wallet "
               "we do not win yet. Blank: no product-line estimate.")
    wallet_lines = view.metric(metrics.wallet_by_product_line)
    widgets.chart(charts.whitespace_heatmap(rows_for(wallet_lines, ids(focus)), focus), key="sow_whitespace")

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Mutual dependence")
        st.caption(f"Our share of their wallet against their share of our revenue, {focus_note}. Dotted lines: "
                   "the wallet share of a full score and an even share of revenue. Select a point to open the account.")
        widgets.chart(charts.mutual_dependence_figure(focus, view.settings.wallet_full_share,
                                                      total_revenue=portfolio.positive_revenue_total(accounts),
                                                      account_count=accounts.height),
                      key="sow_mutual", select_account=True)
    with right:
        st.subheader("Largest whitespace")
        widgets.table(share_of_wallet.whitespace_table(wallet_lines, accounts), key="sow_whitespace_table",
                      currency=view.currency, file_name="whitespace", hide=["account_id", "wallet_year"], height=420)

    st.subheader("Share of wallet by account")
    widgets.table(share_of_wallet.wallet_table(accounts), key="sow_table", currency=view.currency,
                  file_name="share_of_wallet", hide=["account_id"])

if share_of_wallet.has_pipeline(accounts):
    pipeline_focus, pipeline_note = focus_accounts(accounts)
    st.subheader("Pipeline against headroom")
    st.caption(f"Open pipeline (deals open at as_of) against the wallet headroom, {pipeline_note}. The label is the "
               "pipeline as a share of the headroom: above 100 % the pipeline alone would fill the wallet. Accounts "
               "without a wallet estimate show their pipeline only.")
    widgets.chart(charts.pipeline_headroom_figure(pipeline_focus, view.currency), key="sow_pipeline",
                  select_account=True)

st.subheader("Revenue concentration")
widgets.kpi_tiles(concentration_tiles(view), columns=4)
st.caption("Revenue TTM per account, largest first (up to 60 shown), with the cumulative share of all revenue "
           "(Pareto). Dark bars: key accounts.")
widgets.chart(charts.pareto_figure(accounts, view.currency, limit=60),
              key="sow_pareto")
