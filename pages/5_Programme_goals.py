"""Programme goals: progress against plan, account goals and their actions, plan cadence, sponsors, multi-threading."""

import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import charts, programme_ui, widgets
from kam_metrics.app.frame import page
from kam_metrics.app.views import programme_goals
from kam_metrics.filters import NO_FILTERS

view = page(
    "Programme goals", ":material/flag:",
    caption="Are we where we planned to be? Goal progress against the time elapsed, the 90-day plan and "
            "30-day review cadence of every key account, executive sponsors and multi-threading.",
)
accounts = view.metric(metrics.account_metrics)

if widgets.needs(view, "goals", "programme and account goals"):
    goals = view.metric(metrics.goals_status)
    widgets.kpi_tiles(programme_goals.goal_tiles(view, goals), columns=5)

    st.subheader("Programme goals")
    programme = programme_goals.programme_goals(goals)
    if programme.is_empty():
        widgets.empty("No programme goal: add goals.csv rows without account_id.")
    else:
        part = programme_goals.programme_goals_scope_note(view)
        if part:
            st.info(part, icon=":material/filter_alt:")
        st.caption("Bars: progress from baseline to target; black tick: where the goal should be by now "
                   "(time elapsed). Colour: status.")
        widgets.chart(charts.goal_progress_figure(programme), key="goals_programme")
        widgets.table(programme_goals.goal_table(programme), key="goals_programme_table", currency=view.currency,
                      file_name="programme_goals", hide=["account_name", "account_id", "goal_id"], link_accounts=False)

    st.subheader("Account goals")
    per_account = programme_goals.account_goals(goals, accounts)
    if per_account.is_empty():
        widgets.empty("No goal for the accounts in this filter.")
    else:
        left, right = st.columns([1, 2], gap="large")
        with left:
            labels, counts, colors = programme_goals.goal_status_counts(per_account)
            widgets.chart(charts.counts_bar_figure(labels, counts, colors, title="Account goals by status"),
                          key="goals_status_counts")
        with right:
            st.caption("Progress and action completion (completed actions / actions of the goal), worst status "
                       "first. Select a row to open the account.")
            if not view.has("actions"):
                widgets.needs(view, "actions")
            widgets.table(programme_goals.goal_table(per_account), key="goals_account_table", currency=view.currency,
                          file_name="account_goals", hide=["account_id", "goal_id"])

st.subheader("Plan cadence of the key accounts")
widgets.kpi_tiles(programme_goals.relationship_tiles(view), columns=3)
if widgets.needs(view, "reviews", "the plan cadence (90-day plans and 30-day reviews)"):
    st.caption(f"A 90-day plan in the last {view.settings.plan_window_days} days and a review in the last "
               f"{view.settings.review_window_days} days is on cadence; one of them is partial; neither is overdue.")
    widgets.table(programme_goals.cadence_table(view, accounts), key="goals_cadence", currency=view.currency,
                  file_name="cadence", hide=["account_id"])

st.subheader("Sponsors and multi-threading")
st.caption(f"Multi-threaded: at least {view.settings.multithread_min_contacts} engaged contacts in the last 90 days "
           "and a decision maker or economic buyer among them.")
widgets.table(programme_goals.relationship_table(accounts), key="goals_relationships", currency=view.currency,
              file_name="sponsors_multithreading", hide=["account_id"])

programme_ui.goals_section(view, view.metric(metrics.goals_status, filters=NO_FILTERS) if view.has("goals") else None)
