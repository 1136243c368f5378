"""One account: health and why, engagement, relationship map, share of wallet, economics, goals, actions, reviews;
forms that record plans, reviews, notes, profile, contact roles, wallet and actions, and the account's history.

Open /Account?account_id=… to go straight to an account.
"""

import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import charts, programme_ui, widgets
from kam_metrics.app.frame import page
from kam_metrics.app.subsets import first_row, ids, key_accounts, rows_for
from kam_metrics.app.views import account
from kam_metrics.app.views.programme_goals import goal_table
from kam_metrics.app.views.share_of_wallet import with_pipeline
from kam_metrics.filters import NO_FILTERS
from kam_metrics.metrics import queries

#: Activities listed on screen (newest first); the CSV download holds every activity of the 12 months.
ACTIVITIES_SHOWN = 500

view = page("Account", ":material/domain:")
all_accounts = with_pipeline(view, view.metric(metrics.account_metrics, filters=NO_FILTERS), filters=NO_FILTERS)
filtered = view.metric(metrics.account_metrics)
default = ids(key_accounts(filtered))[0] if ids(key_accounts(filtered)) else None
account_id = account.choose_account(all_accounts, default=default, view=view)
if account_id is None:  # nothing to pick, or a link to an account not shown here (choose_account said so)
    if not ids(all_accounts):
        widgets.empty("No accounts in this snapshot." if view.access.sees_all else "No account of yours in this snapshot.")
    st.stop()

profile = view.query(queries.account_profile, account_id)
row = first_row(rows_for(all_accounts, account_id)) or {}
name, description = account.account_heading(profile)
st.header(name, anchor=False)
st.caption(description)
badge = account.band_badge(view, row)
if badge:
    st.markdown(badge)
for flag in account.account_flags(row, view.settings, view.status.present_tables):
    st.warning(flag, icon=":material/warning:")
widgets.kpi_tiles(account.account_tiles(view, row), columns=4)

st.subheader("Health")
left, right = st.columns(2, gap="large")
with left:
    st.caption("What the health score is made of: each component's weighted contribution.")
    widgets.chart(charts.health_contributions_waterfall(row), key="acc_health_parts")
with right:
    st.caption("Health at each Sunday of the last weeks, over the red / amber / green bands.")
    history = view.metric(metrics.health_history, filters=NO_FILTERS, account_id=account_id)
    widgets.chart(charts.health_history_figure(history, view.settings.band_green_min, view.settings.band_amber_min),
                  key="acc_health_history")

st.subheader("Engagement")
activities = view.query(queries.account_activities, account_id, view.as_of)
left, right = st.columns(2, gap="large")
with left:
    st.caption("Every activity of the last 12 months by type; bigger dots weigh more.")
    widgets.chart(charts.engagement_timeline_figure(activities, view.settings.activity_weights), key="acc_timeline")
with right:
    st.caption("Weighted touches per week by activity type.")
    weekly = rows_for(view.metric(metrics.engagement_weekly, filters=NO_FILTERS), account_id)
    widgets.chart(charts.weekly_touches_figure(weekly), key="acc_weekly")
with st.expander(f"Activities of the last 12 months ({activities.height:,})"):
    if activities.height > ACTIVITIES_SHOWN:
        st.caption(f"The latest {ACTIVITIES_SHOWN:,} of {activities.height:,} activities; "
                   "the CSV download has all of them.")
    widgets.table(activities, key="acc_activities", currency=view.currency, file_name=f"activities_{account_id}",
                  link_accounts=False, hide=["contact_id"], max_rows=ACTIVITIES_SHOWN)

st.subheader("Relationship map")
if widgets.needs(view, "contacts", "the relationship map (contacts by seniority and buying role)"):
    contacts = view.query(queries.account_contacts, account_id, view.as_of, with_settings=True)
    if contacts.is_empty():
        widgets.empty("No contacts recorded for this account.")
    else:
        st.caption("Contacts by seniority and buying role; colour = attitude (red opponent … green mentor), "
                   "× = has left, orange ring = champion left or quiet.")
        widgets.chart(charts.relationship_map_figure(contacts), key="acc_relationships")
        widgets.table(account.contacts_table(contacts), key="acc_contacts", currency=view.currency,
                      file_name=f"contacts_{account_id}", link_accounts=False)
    st.markdown(f"**{account.relationship_score_text(row)}**")
    widgets.table(account.relationship_penalty_table(view, row), key="acc_relationship_penalties",
                  currency=view.currency, file_name=f"relationship_penalties_{account_id}", link_accounts=False)

st.subheader("Share of wallet and whitespace")
if widgets.needs(view, "wallet"):
    left, right = st.columns(2, gap="large")
    with left:
        st.caption("Revenue TTM against each product line's wallet.")
        widgets.chart(charts.product_line_wallet_figure(account.wallet_lines_for(view, account_id), view.currency),
                      key="acc_wallet_lines")
    with right:
        st.caption("Share of wallet by year (the current year counts revenue up to as_of).")
        wallet_by_year = rows_for(view.metric(metrics.wallet_by_year, filters=NO_FILTERS), account_id)
        widgets.chart(charts.wallet_trend_figure(wallet_by_year, rows_for(all_accounts, account_id)),
                      key="acc_wallet_trend")

deals = account.open_deals(view, account_id)
if deals is not None:
    st.subheader("Open deals")
    if widgets.needs(view, "opportunities", "the account's open deals"):
        if deals.is_empty():
            widgets.empty("No deal of this account is open at this date.")
        else:
            widgets.table(deals, key="acc_open_deals", currency=view.currency, file_name=f"open_deals_{account_id}",
                          link_accounts=False, hide=["account_id"])

st.subheader("Economics")
widgets.kpi_tiles(account.economics_account_tiles(view, row), columns=5)
left, right = st.columns(2, gap="large")
with left:
    st.caption("Cost to serve TTM by component.")
    breakdown = rows_for(view.metric(metrics.cost_to_serve_breakdown, filters=NO_FILTERS), account_id)
    widgets.chart(charts.cost_components_figure(breakdown, view.currency), key="acc_costs")
with right:
    st.caption("Revenue per month by product line, last 24 months.")
    widgets.chart(charts.revenue_monthly_figure(view.query(queries.account_revenue_monthly, account_id, view.as_of),
                                                view.currency), key="acc_revenue")

st.subheader("Goals, actions and reviews")
if widgets.needs(view, "goals", "this account's goals"):
    goals = rows_for(view.metric(metrics.goals_status, filters=NO_FILTERS), account_id)
    if goals.is_empty():
        widgets.empty("No goals for this account.")
    else:
        widgets.chart(charts.goal_progress_figure(goals), key="acc_goals")
        widgets.table(goal_table(goals), key="acc_goals_table", currency=view.currency,
                      file_name=f"goals_{account_id}", link_accounts=False, hide=["account_name", "account_id"])
        if widgets.needs(view, "actions", "the actions toward each goal"):
            widgets.table(view.query(queries.account_actions, account_id, view.as_of), key="acc_actions",
                          currency=view.currency, file_name=f"actions_{account_id}", link_accounts=False)
if widgets.needs(view, "reviews", "the account's 90-day plans and 30-day reviews"):
    reviews = view.query(queries.account_reviews, account_id, view.as_of)
    if reviews.is_empty():
        widgets.empty("No plans or reviews recorded for this account.")
    else:
        widgets.table(reviews, key="acc_reviews", currency=view.currency, file_name=f"reviews_{account_id}",
                      link_accounts=False)

programme_ui.account_programme(view, account_id, profile)
