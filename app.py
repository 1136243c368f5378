"""KAM Health: the weekly leadership review (home page). Other pages live in pages/."""

import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import charts, pack_ui, programme_ui, widgets
from kam_metrics.app.frame import data_status_line, open_account, page
from kam_metrics.app.subsets import key_accounts
from kam_metrics.app.views import weekly_review

view = page(
    "Weekly review", ":material/dashboard:",
    caption="The key account programme this week: programme KPIs against 7 days earlier, health of the key "
            "accounts, the biggest movers and what needs attention.",
)
data_status_line(view)
programme_ui.actor_input()

widgets.kpi_tiles(weekly_review.programme_tiles(view), columns=4)
pack_ui.weekly_pack_download(view)

accounts = view.metric(metrics.account_metrics)
key_account_rows = key_accounts(accounts)

st.subheader("Needs attention")
alerts = weekly_review.alerts_table(view)
if alerts.is_empty():
    widgets.empty("No alerts for these accounts at this date.")
else:
    widgets.table(programme_ui.alerts_with_owners(view, alerts), key="home_alerts", currency=view.currency,
                  file_name="alerts", hide=["account_id"])
    programme_ui.create_action_from_alert(view)
programme_ui.open_actions_section(view)

date_from = view.as_of - widgets.WEEK
movement = weekly_review.health_movement(view, date_from)
movers = weekly_review.health_movers(movement, key_account_rows, limit=5)

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Health of the key accounts")
    st.caption(weekly_review.band_summary(view) + ". Select a bar to open the account.")
    if key_account_rows.is_empty():
        widgets.empty("No key account matches these filters." if not view.filters.is_empty else
                      "No key account yet: mark the programme's accounts with is_key_account in accounts.csv.")
    else:
        widgets.chart(charts.health_bands_figure(key_account_rows, view.settings.band_green_min,
                                                 view.settings.band_amber_min,
                                                 **weekly_review.insufficient_data_note(view)),
                      key="home_health_bands", select_account=True)
with right:
    st.subheader("Biggest movers of the week")
    st.caption(f"Key accounts whose health changed most between {date_from.isoformat()} and "
               f"{view.as_of.isoformat()}. Open one below to see why it moved.")
    if movers.is_empty():
        widgets.empty("No key account's health moved this week.")
    else:
        widgets.chart(charts.health_movers_figure(movers), key="home_movers", select_account=True)
        for mover in movers.iter_rows(named=True):
            with st.expander(widgets.md(weekly_review.mover_title(mover))):
                components = weekly_review.components_only(movement, mover["account_id"])
                widgets.chart(charts.health_movement_waterfall(components), key=f"home_why_{mover['account_id']}")
                if st.button("Open account", key=f"home_open_{mover['account_id']}", icon=":material/open_in_new:"):
                    open_account(mover["account_id"])
