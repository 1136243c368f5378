"""KAM Health: the weekly leadership review (home page). Other pages live in pages/."""

from dataclasses import replace

import streamlit as st

from kam_metrics.app import charts, ui

view = ui.page(
    "Weekly review", ":material/dashboard:",
    caption="The key account programme this week: programme KPIs against 7 days earlier, health of the key "
            "accounts, the biggest movers and what needs attention.",
)
ui.data_status_line(view)

ui.kpi_tiles(ui.programme_tiles(view), columns=4)

accounts = view.metric("account_metrics")
key_accounts = ui.key_accounts(accounts)

st.subheader("Needs attention")
alerts = ui.alerts_table(view)
if alerts.is_empty():
    ui.empty("No alerts for these accounts at this date.")
else:
    ui.table(alerts, key="home_alerts", currency=view.currency, file_name="alerts", hide=["account_id"])

date_from = view.as_of - ui.WEEK
# Only key accounts can be movers: their movement alone is computed (health is per account, so it is the same).
movement = view.movement(date_from, view.as_of, filters=replace(view.filters, key_only=True))
movers = ui.health_movers(movement, key_accounts, limit=5)

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Health of the key accounts")
    st.caption(ui.band_summary(view) + ". Select a bar to open the account.")
    if key_accounts.is_empty():
        ui.empty("No key account matches these filters." if not view.filters.is_empty else
                 "No key account yet: mark the programme's accounts with is_key_account in accounts.csv.")
    else:
        ui.chart(charts.health_bands_figure(key_accounts, view.settings.band_green_min, view.settings.band_amber_min),
                 key="home_health_bands", select_account=True)
with right:
    st.subheader("Biggest movers of the week")
    st.caption(f"Key accounts whose health changed most between {date_from.isoformat()} and "
               f"{view.as_of.isoformat()}. Open one below to see why it moved.")
    if movers.is_empty():
        ui.empty("No key account's health moved this week.")
    else:
        ui.chart(charts.health_movers_figure(movers), key="home_movers", select_account=True)
        for mover in movers.iter_rows(named=True):
            title = (f"{mover['account_name']}: {ui.fmt('health', mover['health_from'])} → "
                     f"{ui.fmt('health', mover['health_to'])} ({mover['health_change']:+.1f})")
            with st.expander(ui.md(title)):
                ui.chart(charts.health_movement_waterfall(ui.components_only(movement, mover["account_id"])),
                         key=f"home_why_{mover['account_id']}")
                if st.button("Open account", key=f"home_open_{mover['account_id']}", icon=":material/open_in_new:"):
                    ui.open_account(mover["account_id"])
