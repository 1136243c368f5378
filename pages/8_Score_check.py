"""Score check: does the health score warn before revenue shrinks? Its record over the last two years, and what
other health weights would have done."""

import streamlit as st

from kam_metrics.app import charts, widgets
from kam_metrics.app.frame import page
from kam_metrics.app.views import score_check as check
from kam_metrics.metrics import score_check_bands, score_check_by_date, score_check_summary
from kam_metrics.metrics.score_check import weights_toml
from kam_metrics.settings import HEALTH_COMPONENTS

view = page(
    "Score check", ":material/fact_check:",
    caption="Does health warn before revenue shrinks? At every month end of the last two years that has six months "
            "after it, each account's band then is set against whether its revenue of the next 180 days fell by "
            "more than 20 % against the 180 days before. Red or amber counts as a warning.",
)
dates_text = check.check_window_text(view.as_of)
base_pairs = view.score_check_pairs()
base = score_check_summary(base_pairs, len(check.check_dates(view.as_of)))
st.caption(f"Checked at {dates_text} (time travel: the check ends at as_of).")
message = check.no_pairs_message(base, view.as_of)
if message:
    widgets.empty(message)
    st.stop()

st.subheader("With the settings' weights")
widgets.kpi_tiles(check.score_check_tiles(base), columns=5)
verdict = check.verdict_text(base)
if verdict:
    st.markdown(verdict)

st.subheader("What if: other health weights")
st.caption("Move a weight to re-run the check with it (for this check only; the settings stay). Weights are "
           "relative: health is the weighted mean of the components an account has.")
defaults = check.settings_weights(view.settings)
spec = check.slider_spec(view.settings)
if st.button("Reset to the settings' weights", key="sc_reset", icon=":material/restart_alt:"):
    for c in HEALTH_COMPONENTS:
        st.session_state[f"sc_w_{c}"] = spec.value(defaults[c])
weights = {}
columns = st.columns(4)
for i, component in enumerate(HEALTH_COMPONENTS):
    with columns[i % 4]:
        weights[component] = float(st.slider(
            charts.COMPONENT_LABELS.get(component, component), min_value=spec.value(0), max_value=spec.top,
            value=spec.value(defaults[component]), step=spec.step, format=spec.format, key=f"sc_w_{component}",
            help=widgets.metric_help(f"score_{component}")))
if not any(weights.values()):
    st.warning("At least one weight must be above 0; the what-if uses the settings' weights until then.",
               icon=":material/warning:")
    weights = defaults
what_if = check.is_what_if(weights, view.settings)
pairs, summary = base_pairs, base
if what_if:
    pairs = view.score_check_pairs(weights)
    summary = score_check_summary(pairs, base["check_dates"])
    st.markdown("**What if** (change against the settings' weights)")
    widgets.kpi_tiles(check.score_check_tiles(summary, baseline=base), columns=5)
    verdict = check.verdict_text(summary)
    if verdict:
        st.markdown(f"What if: {verdict[0].lower()}{verdict[1:]}")
else:
    st.caption("The weights are the settings'. Move a slider to compare.")
with st.popover("kam.toml lines for these weights", icon=":material/content_copy:"):
    st.caption("Paste into kam.toml in the data directory (or the file named by --config / $KAM_CONFIG) to make "
               "these weights the settings.")
    st.code(weights_toml(weights), language="toml")
    st.download_button("Download as a file", data=weights_toml(weights), file_name="health_weights.toml",
                       mime="application/toml", key="sc_toml_download", icon=":material/download:",
                       on_click="ignore")

st.subheader("How often each band came true")
st.caption("The share of account-months whose revenue of the next 180 days fell by more than 20 %, by the band "
           "the account had at the month end. A score that warns has red above amber above green."
           + (" Light bars: the what-if weights." if what_if else ""))
widgets.chart(charts.score_check_figure(score_check_bands(base_pairs),
                                        score_check_bands(pairs) if what_if else None), key="sc_bands")

st.subheader("Month by month")
st.caption("The same rates at each check date: the accounts that were red or amber against those that were green"
           + (" (the what-if weights)." if what_if else "."))
widgets.chart(charts.score_check_trend_figure(score_check_by_date(pairs)), key="sc_trend")

which = "the what-if weights" if what_if else "the settings' weights"


def account_table(frame, empty_text: str, key: str, file_name: str, height: int) -> None:
    """A per-account table of the check (one click to the account), or a note when it has no row."""
    if frame.is_empty():
        widgets.empty(empty_text)
    else:
        widgets.table(frame, key=key, currency=view.currency, file_name=file_name, labels=check.TABLE_LABELS,
                      hide=["account_id"], height=height)


left, right = st.columns(2, gap="large")
with left:
    st.subheader("Missed: shrank while green")
    st.caption(f"Accounts whose revenue fell by more than 20 % in the 180 days after a month end at which they were "
               f"green ({which}). Select one to open it.")
    account_table(check.misses_table(pairs), "No account shrank while green.", "sc_misses", "score_check_misses", 360)
with right:
    st.subheader("False alarms: red or amber, did not shrink")
    st.caption(f"Accounts that were red or amber at a month end ({which}) while their revenue of the next 180 days "
               "held. Select one to open it.")
    account_table(check.false_alarms_table(pairs), "No warning that did not come true.", "sc_alarms",
                  "score_check_false_alarms", 360)

st.subheader("Warned in time: red or amber, then shrank")
st.caption(f"Accounts that were red or amber at a month end ({which}) and whose revenue fell by more than 20 % in the "
           "180 days after. Select one to open it.")
account_table(check.hits_table(pairs), "No account shrank after a red or amber month end.", "sc_hits",
              "score_check_warned_in_time", 300)

with st.expander("Every account and month end checked"):
    widgets.table(check.pairs_table(pairs), key="sc_pairs", currency=view.currency, file_name="score_check_pairs",
                  labels=check.TABLE_LABELS, hide=["account_id"], max_rows=5000)
