"""The Account page (pages/6_Account.py): the account picker and its URL state, heading, flags, tiles, tables."""

from __future__ import annotations


import polars as pl
import streamlit as st

from kam_metrics import metrics
from kam_metrics.metrics import queries
from kam_metrics.app import absence, formatting
from kam_metrics.app.frame import QP_ACCOUNT, View
from kam_metrics.app.subsets import pick, rows_for
from kam_metrics.app.widgets import Kpi, account_choices, kpi, md, metric_help
from kam_metrics.filters import NO_FILTERS
from kam_metrics.metrics.scoring import account_relationship_penalties
from kam_metrics.app.views.plain import account_flags  # noqa: F401 - pure, shared with the weekly pack

_PICK = "kam_account_pick"
_PICK_SEEN = "kam_account_seen"


def is_outside_scope(view: View, account_id: str) -> bool:
    """Whether the account exists but is not theirs to see (another KAM's portfolio)."""
    return not view.access.sees_all and view.query(queries.account_profile, account_id) is not None


def not_yours_text(account_id: str) -> str:
    """The deep link's answer for an account outside the user's scope."""
    return f"{md(account_id)} is not yours: it belongs to another KAM's portfolio."


def choose_account(accounts: pl.DataFrame, default: str | None = None, view: View | None = None) -> str | None:
    """The Account page's picker: `?account_id=…` in the URL opens that account; the choice is written back to the URL.

    `accounts` are those the user may see. A link to an account that is not among them (another KAM's, with `view`,
    or none in this snapshot) says so and leaves the picker empty, so no other account is shown in its place; None
    until the user picks one (or when there is nothing to pick)."""
    options, names = account_choices(accounts)
    wanted = st.query_params.get(QP_ACCOUNT)
    if wanted and wanted != st.session_state.get(_PICK_SEEN):
        st.session_state[_PICK_SEEN] = wanted
        st.session_state[_PICK] = wanted if wanted in names else None
    refused = bool(wanted) and wanted not in names and st.session_state.get(_PICK) is None
    if refused:
        if view is not None and is_outside_scope(view, wanted):
            st.warning(not_yours_text(wanted), icon=":material/lock:")
        else:
            st.warning(f"No account with id {md(wanted)} in this snapshot; pick one below.", icon=":material/search_off:")
    if not options:
        return None
    if not refused and st.session_state.get(_PICK) not in names:
        st.session_state[_PICK] = default if default in names else options[0]
    chosen = st.selectbox("Account", options, format_func=lambda i: names.get(i, i), key=_PICK,
                          placeholder="Pick an account", help="Type to search by name or id. ★ = key account.")
    if chosen is None:
        return None
    st.session_state[_PICK_SEEN] = chosen
    if st.query_params.get(QP_ACCOUNT) != chosen:
        st.query_params[QP_ACCOUNT] = chosen
    return chosen


def account_heading(profile: dict) -> tuple[str, str]:
    """The account's name (escaped for Markdown) and a one-line description of it."""
    parts = ["key account" + (f" since {profile['key_account_since']}" if profile.get("key_account_since") else "")
             if profile.get("is_key_account") else "not a key account"]
    for label, column in (("region", "region"), ("segment", "segment"), ("industry", "industry"),
                          ("KAM", "kam_owner"), ("sponsor", "executive_sponsor"), ("stage", "relationship_stage")):
        if profile.get(column):
            parts.append(f"{label}: {profile[column]}")
    return md(profile.get("account_name") or profile["account_id"]), md(f"{profile['account_id']} · " + " · ".join(parts))


INSUFFICIENT = "insufficient_data"


def health_missing_text(view: View) -> str | None:
    """What the export lacks for a full health score ('needs activities.csv, contacts.csv'), None when nothing."""
    return absence.needs_text(absence.health_missing(view.presence))


def band_badge(view: View, row: dict) -> str | None:
    """The heading's band badge in Markdown: coloured by band, grey with the coverage and what is missing when
    the account has insufficient data for a score (None when there is no band)."""
    band = row.get("band")
    if band is None:
        return None
    if band == INSUFFICIENT:
        minimum = view.settings.min_health_coverage_pct
        missing = health_missing_text(view)
        return (f":gray-badge[insufficient data] health coverage "
                f"{md(formatting.format_pct(row.get('health_coverage_pct'), decimals=0))} (a score needs "
                f"{md(formatting.format_pct(minimum, decimals=0))})" + (f" · {md(missing)}" if missing else ""))
    color = {"green": "green", "amber": "orange", "red": "red"}.get(band, "gray")
    return f":{color}-badge[{md(band)} band] health {md(formatting.format_number(row.get('health'), decimals=0))}"


def _absent(view: View, key: str) -> str | None:
    return absence.account_key_missing(view.presence, key)


def account_tiles(view: View, row: dict) -> list[Kpi]:
    """The account's headline figures; a figure whose inputs the export lacks shows "—" and what would turn it on."""
    cur = view.currency
    band = row.get("band")
    if band == INSUFFICIENT:
        health_note = "insufficient data" + (f": {health_missing_text(view)}" if health_missing_text(view) else "")
    else:
        health_note = f"{band} band" if band else "no score"
    tiles = [
        kpi("health", "Health", row.get("health"), cur, description=health_note, delta_color="off"),
        kpi("revenue_ttm", "Revenue TTM", row.get("revenue_ttm"), cur,
            description=f"{formatting.format_pct(row.get('revenue_growth_pct'), signed=True)} vs prior TTM"),
        kpi("share_of_wallet", "Share of wallet", row.get("share_of_wallet"), cur,
            description=f"headroom {formatting.format_money(row.get('wallet_headroom'), cur)}",
            absent=_absent(view, "share_of_wallet")),
        kpi("net_contribution_ttm", "Net contribution TTM", row.get("net_contribution_ttm"), cur,
            description=f"net margin {formatting.format_pct(row.get('net_margin_pct'))}"),
        kpi("lifetime_value", "Lifetime value", row.get("lifetime_value"), cur),
        kpi("engaged_contacts_90d", "Engaged contacts (90 d)", row.get("engaged_contacts_90d"), cur,
            description="C-level reached" if row.get("c_level_engaged_90d") else "no C-level contact",
            absent=_absent(view, "engaged_contacts_90d")),
        kpi("days_since_last_touch", "Days since last touch", row.get("days_since_last_touch"), cur,
            absent=_absent(view, "days_since_last_touch")),
        Kpi("cadence_status", "Plan cadence",
            (row.get("cadence_status") or "—").replace("_", " ") if view.has("reviews") else "—",
            help=metric_help("cadence_status"),
            delta_description=None if view.has("reviews") else "needs reviews.csv") if row.get("is_key_account") else
        kpi("nps_365d", "NPS (365 d)", row.get("nps_365d"), cur, absent=_absent(view, "nps_365d")),
    ]
    # The account's open pipeline (METRICS.md open_pipeline, pipeline_to_headroom), once account_metrics carries it.
    if "open_pipeline" in row:
        ratio = row.get("pipeline_to_headroom")
        tiles.append(kpi("open_pipeline", "Open pipeline", row.get("open_pipeline"), cur,
                         description=(f"{formatting.format_ratio(ratio)} of wallet headroom" if ratio is not None
                                      else None),
                         absent=_absent(view, "open_pipeline")))
    return tiles


def open_deals(view: View, account_id: str) -> pl.DataFrame | None:
    """The account's open deals at as_of (the rows of METRICS.md open_pipeline); None when the export carries no
    opportunities."""
    if not view.presence.has("opportunities"):
        return None
    return view.query(queries.open_deals, account_id, view.as_of)


def economics_account_tiles(view: View, row: dict) -> list[Kpi]:
    """The account's economics: revenue, gross margin, cost to serve (and % of revenue), net contribution, value to date."""
    cur = view.currency
    return [
        kpi("revenue_ttm", "Revenue TTM", row.get("revenue_ttm"), cur),
        kpi("gross_margin_ttm", "Gross margin TTM", row.get("gross_margin_ttm"), cur),
        kpi("cost_to_serve_ttm", "Cost to serve TTM", row.get("cost_to_serve_ttm"), cur,
            description=f"{formatting.format_pct(row.get('cost_to_serve_pct'))} of revenue",
            absent=absence.cost_to_serve_missing(view.presence)),
        kpi("net_contribution_ttm", "Net contribution TTM", row.get("net_contribution_ttm"), cur),
        kpi("value_to_date", "Value to date", row.get("value_to_date"), cur),
    ]


CONTACT_COLUMNS = ["full_name", "title", "seniority", "buying_role", "attitude", "is_active", "left_date",
                   "last_touch_date", "days_since_last_touch", "touches_90d", "is_champion_left", "is_champion_quiet"]


def contacts_table(contacts: pl.DataFrame) -> pl.DataFrame:
    """The contact columns the relationship table shows."""
    return pick(contacts, CONTACT_COLUMNS)


#: Each relationship penalty in words: (when it applies, when it does not).
PENALTY_WORDS = {
    "champion_left": ("A champion or decision maker left in the last {champion_left_days} days.",
                      "No champion or decision maker left in the last {champion_left_days} days."),
    "champion_quiet": ("An active champion has had no activity for {champion_quiet_days} days.",
                       "Every active champion was in touch in the last {champion_quiet_days} days."),
    "no_decision_maker_engaged": ("No decision maker or economic buyer engaged in the last 90 days.",
                                  "A decision maker or economic buyer engaged in the last 90 days."),
    "no_c_level_engaged": ("No C-level contact engaged in the last 90 days.",
                           "A C-level contact engaged in the last 90 days."),
    "key_account_without_sponsor": ("A key account without an executive sponsor.",
                                    "Has an executive sponsor, or is not a key account."),
}
PENALTY_LABELS = {
    "champion_left": "Champion left", "champion_quiet": "Champion quiet",
    "no_decision_maker_engaged": "No decision maker engaged", "no_c_level_engaged": "No C-level contact engaged",
    "key_account_without_sponsor": "Key account without sponsor",
}


def relationship_penalty_table(view: View, row: dict) -> pl.DataFrame:
    """The relationship score's penalties for one account (METRICS.md relationship component): which applies and
    why, and what an unknown flag would need ('needs contacts.is_active')."""
    penalties = account_relationship_penalties(row, view.settings, view.presence.has("contacts"))
    words = {k: (yes.format(**vars(view.settings)), no.format(**vars(view.settings)))
             for k, (yes, no) in PENALTY_WORDS.items()}
    rows = []
    for p in penalties.iter_rows(named=True):
        applied = p["is_applied"]
        if applied is None:
            missing = _absent(view, p["flag"])
            status, why = "unknown", "Not known" + (f" ({missing})" if missing else "") + ": nothing taken off."
        else:
            status, why = ("applies", words[p["penalty"]][0]) if applied else ("—", words[p["penalty"]][1])
        rows.append({"penalty": PENALTY_LABELS.get(p["penalty"], p["penalty"].replace("_", " ")), "points_off": -p["points"] if applied else 0.0,
                     "status": status, "why": why})
    return pl.DataFrame(rows, schema={"penalty": pl.String, "points_off": pl.Float64, "status": pl.String,
                                      "why": pl.String})


def relationship_score_text(row: dict) -> str:
    """One line on the relationship score: 'Relationship score 40 of 100 (weight … in health).'"""
    score = row.get("score_relationship")
    if score is None:
        return "No relationship score: it needs contacts.csv."
    return (f"Relationship score {formatting.format_number(score, decimals=0)} of 100: 100 less each penalty "
            "that applies (floored at 0)." + (" While a champion has left, health is capped." if
                                              row.get("champion_left") else ""))


def wallet_lines_for(view: View, account_id: str) -> pl.DataFrame:
    """The account's product lines: revenue TTM, wallet and share (from wallet_by_product_line)."""
    return rows_for(view.metric(metrics.wallet_by_product_line, filters=NO_FILTERS), account_id)

