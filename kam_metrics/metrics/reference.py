"""The metrics reference: the single source of every output key's definition (METRICS.md as code).

`metric_definitions()` returns {key: MetricDefinition(key, section, label, definition, unit)} for every
column any metrics function returns (and every Programme key and alert kind); the app uses it for tooltips
and `write_reference(path)` renders docs/METRICS_REFERENCE.md from it (`python -m kam_metrics.metrics.reference`).
Where METRICS.md leaves a choice open, the definition states the choice made.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from kam_metrics.settings import HEALTH_COMPONENTS, Settings

REFERENCE_PATH = Path(__file__).resolve().parents[2] / "docs" / "METRICS_REFERENCE.md"


@dataclass(frozen=True)
class MetricDefinition:
    key: str
    section: str
    label: str
    definition: str
    unit: str  # count, money, pct, ratio, days, bool, score, text, date, year, id


def _defs() -> list[tuple[str, str, str, str, str]]:
    s = Settings()
    w = ", ".join(f"{k} {v:g}" for k, v in s.activity_weights.items())
    ac = ", ".join(f"{k} {v:g}" for k, v in s.activity_costs.items())
    cc = ", ".join(f"{k} {v:g}" for k, v in s.case_costs.items())
    hw = s.health_weights
    rp = s.relationship_penalties
    return [
        # section, key, label, unit, definition
        ("Accounts", "account_id", "Account", "id", "The account's identifier (accounts.account_id)."),
        ("Accounts", "account_name", "Account name", "text", "accounts.account_name."),
        ("Accounts", "is_key_account", "Key account", "bool", "accounts.is_key_account: the account is in the KAM programme."),
        ("Accounts", "region", "Region", "text", "accounts.region."),
        ("Accounts", "segment", "Segment", "text", "accounts.segment."),
        ("Accounts", "kam_owner", "KAM owner", "text", "accounts.kam_owner: the key account manager."),
        ("Accounts", "executive_sponsor", "Executive sponsor", "text", "accounts.executive_sponsor: our executive who sponsors the account."),
        ("Time", "as_of", "As of", "date",
         "The date the figures describe. Default: the latest activity_date or revenue_date that is not after today "
         "(today when there is none). Rows dated after as_of are ignored. Last N days = as_of − (N − 1) … as_of; "
         "TTM = last 365 days; prior TTM = as_of − 729 … as_of − 365; prior 90 days = as_of − 179 … as_of − 90."),
        # Engagement
        ("Engagement", "touches_90d", "Touches (90 days)", "count", "Count of activities in the last 90 days."),
        ("Engagement", "weighted_touches_90d", "Weighted touches (90 days)", "count",
         f"Σ weight(activity_type) over the activities of the last 90 days; weights {w} (settings activity_weights)."),
        ("Engagement", "weighted_touches_prior_90d", "Weighted touches (prior 90 days)", "count",
         "The same as weighted_touches_90d over the prior 90 days (as_of − 179 … as_of − 90)."),
        ("Engagement", "engagement_trend_pct", "Engagement trend", "pct",
         "100 × (weighted_touches_90d − weighted_touches_prior_90d) / weighted_touches_prior_90d; null when the prior is 0."),
        ("Engagement", "engaged_contacts_90d", "Engaged contacts (90 days)", "count",
         "Distinct non-null contact_id among the account's activities of the last 90 days."),
        ("Engagement", "c_level_engaged_90d", "C-level engaged", "bool",
         "An engaged contact of the last 90 days has seniority c_level."),
        ("Engagement", "days_since_last_touch", "Days since last touch", "days",
         "as_of − the latest activity_date ≤ as_of; null when the account has no activity."),
        ("Engagement", "week_start", "Week", "date",
         "The Monday of an ISO week (weekly series are dated by their Monday). engagement_weekly covers the week "
         "holding as_of and the 51 before it; the current week counts activities up to as_of. Only weeks with touches "
         "are listed (a missing week has 0)."),
        ("Engagement", "activity_type", "Activity type", "text",
         "activities.activity_type: email, call, meeting, exec_meeting, qbr, site_visit, workshop, other."),
        ("Engagement", "touches", "Touches", "count", "Count of activities of the row's account, week and activity type."),
        ("Engagement", "weighted_touches", "Weighted touches", "count",
         "touches × weight(activity_type) (settings activity_weights)."),
        # Loyalty
        ("Loyalty", "nps_365d", "NPS (365 days)", "score",
         "100 × (responses with nps 9–10 − responses with nps 0–6) / responses with an nps, over the last 365 days; "
         "null when there is none. Ranges −100 … 100."),
        ("Loyalty", "csat_365d", "CSAT (365 days)", "score", "Mean csat (1–5) over the last 365 days; null when there is none."),
        # Share of wallet
        ("Share of wallet", "revenue_ttm", "Revenue (TTM)", "money",
         "Σ revenue.amount over the TTM (credit notes count negative). In the whitespace grid: of that product line "
         "(revenue with no product line counts as 'unassigned')."),
        ("Share of wallet", "revenue_prior_ttm", "Revenue (prior TTM)", "money", "Σ revenue.amount over the prior TTM."),
        ("Share of wallet", "revenue_growth_pct", "Revenue growth", "pct",
         "100 × (revenue_ttm − revenue_prior_ttm) / revenue_prior_ttm; null when revenue_prior_ttm ≤ 0."),
        ("Share of wallet", "wallet_current", "Wallet", "money",
         "Σ wallet_amount of the account's rows for year(as_of) with an empty product_line; if there are none, Σ over "
         "its product_line rows of that year; if that year has no rows at all, the same for the latest earlier year; "
         "null when none."),
        ("Share of wallet", "share_of_wallet", "Share of wallet", "ratio",
         "revenue_ttm / wallet_current; null when wallet_current is null or 0. Values above 1 are shown and flagged as "
         "a data issue. Per product line (whitespace grid): that line's revenue_ttm / wallet_amount; per year: "
         "revenue / wallet_amount."),
        ("Share of wallet", "wallet_headroom", "Wallet headroom", "money",
         "max(wallet_current − revenue_ttm, 0); null when wallet_current is null."),
        ("Share of wallet", "is_share_of_wallet_above_1", "Share of wallet above 1", "bool",
         "share_of_wallet > 1: revenue exceeds the wallet estimate, a data issue to check."),
        ("Share of wallet", "product_line", "Product line", "text",
         "revenue.product_line / wallet.product_line; revenue with none counts as 'unassigned'."),
        ("Share of wallet", "wallet_amount", "Wallet amount", "money",
         "Whitespace grid: the wallet row of the product line for year(as_of), else for the latest earlier year with a "
         "row for that line (null when none: whitespace unknown). Per year: the year's empty-product_line rows, else "
         "the sum of its product_line rows."),
        ("Share of wallet", "wallet_year", "Wallet year", "year", "The wallet year the row's wallet_amount comes from."),
        ("Share of wallet", "year", "Year", "year", "A calendar year ≤ year(as_of)."),
        ("Share of wallet", "revenue", "Revenue", "money",
         "Σ revenue.amount dated in the row's calendar year and ≤ as_of (the current year is year to date)."),
        # Cost to serve and lifetime value
        ("Cost to serve and lifetime value", "gross_margin_ttm", "Gross margin (TTM)", "money",
         "Σ (amount − cost_of_goods) over TTM revenue rows; a row with no cost_of_goods counts amount × "
         f"default_gross_margin (default {s.default_gross_margin:g})."),
        ("Cost to serve and lifetime value", "cost_to_serve_ttm", "Cost to serve (TTM)", "money",
         "Σ service_costs.amount over the TTM + Σ activity_cost(activity_type) over TTM activities + Σ "
         f"case_cost(priority) over cases opened in the TTM; activity costs {ac}; case costs {cc} (settings)."),
        ("Cost to serve and lifetime value", "cost_to_serve_sources", "Cost to serve counts", "text",
         "The sources cost_to_serve_ttm counts, those the export carried, in this order: service_costs, activities, "
         "cases (e.g. 'activities, cases' when there is no service_costs.csv); null when it carried none, and then "
         "cost_to_serve_ttm and every key built on it are null. The same for every account of a snapshot."),
        ("Cost to serve and lifetime value", "net_contribution_ttm", "Net contribution (TTM)", "money",
         "gross_margin_ttm − cost_to_serve_ttm."),
        ("Cost to serve and lifetime value", "cost_to_serve_pct", "Cost to serve %", "pct",
         "100 × cost_to_serve_ttm / revenue_ttm; null when revenue_ttm ≤ 0."),
        ("Cost to serve and lifetime value", "net_margin_pct", "Net margin %", "pct",
         "100 × net_contribution_ttm / revenue_ttm; null when revenue_ttm ≤ 0."),
        ("Cost to serve and lifetime value", "value_to_date", "Value to date", "money",
         "Gross margin − cost to serve as above, summed over all dates ≤ as_of."),
        ("Cost to serve and lifetime value", "lifetime_value", "Lifetime value", "money",
         f"Σ for t = 1..H of net_contribution_ttm × r^t / (1 + d)^t; retention r = {s.retention_rate:g}, discount rate "
         f"d = {s.discount_rate:g}, horizon H = {s.ltv_horizon_years} years (settings). Negative when the account "
         "destroys value."),
        ("Cost to serve and lifetime value", "component_group", "Cost group", "text",
         "Part of cost_to_serve_ttm: service_costs (by category), activities (by activity_type) or cases (by priority)."),
        ("Cost to serve and lifetime value", "component", "Component", "text",
         "Cost breakdown: the service cost category, activity type or case priority. Health movement: the health "
         "component (recency … relationship), 'cap' (the champion-left cap) or 'health' for the score itself."),
        ("Cost to serve and lifetime value", "cost_ttm", "Cost (TTM)", "money",
         "The component's part of cost_to_serve_ttm (only non-zero parts are listed; per account they add up to it)."),
        ("Cost to serve and lifetime value", "quantity", "Quantity", "count",
         "Activities or cases behind cost_ttm (null for service costs, which are amounts)."),
        # Portfolio economics
        ("Portfolio economics", "rank", "Rank", "count",
         "Whale curve position: accounts sorted by net_contribution_ttm, highest first, ties by account_id."),
        ("Portfolio economics", "cum_accounts_pct", "Cumulative % of accounts", "pct", "100 × rank / number of accounts (whale curve x)."),
        ("Portfolio economics", "cum_net_contribution_pct", "Cumulative % of net contribution", "pct",
         "100 × Σ net_contribution_ttm of the accounts up to this rank / total over all accounts (whale curve y); "
         "null when the total is ≤ 0."),
        ("Portfolio economics", "whale_peak_pct", "Whale curve peak", "pct",
         "The highest cum_net_contribution_pct of the whale curve; null when the total net contribution is ≤ 0."),
        ("Portfolio economics", "profit_erosion_pct", "Profit erosion", "pct",
         "100 × Σ |negative net_contribution_ttm| / Σ positive net_contribution_ttm; null when no account is positive."),
        ("Portfolio economics", "top20_revenue_share_pct", "Top-20 % revenue share", "pct",
         "100 × revenue_ttm of the ceil(0.2 × N) accounts with the highest revenue_ttm / total revenue_ttm, with N "
         "and the total over the accounts with revenue_ttm > 0; null when there are none."),
        ("Portfolio economics", "revenue_hhi", "Revenue concentration (HHI)", "score",
         "Σ (account revenue_ttm / total revenue_ttm)² × 10,000 over the accounts with revenue_ttm > 0 (total over "
         "the same accounts); null when there are none."),
        # Relationships
        ("Relationships", "single_threaded", "Single-threaded", "bool",
         f"engaged_contacts_90d < {s.multithread_min_contacts} (setting multithread_min_contacts)."),
        ("Relationships", "decision_maker_engaged_90d", "Decision maker engaged", "bool",
         "An engaged contact of the last 90 days has buying_role decision_maker or economic_buyer."),
        ("Relationships", "has_sponsor", "Has sponsor", "bool", "accounts.executive_sponsor is not empty."),
        ("Relationships", "champion_left", "Champion left", "bool",
         "A contact with buying_role champion or decision_maker has is_active false and left_date in the last "
         f"{s.champion_left_days} days."),
        ("Relationships", "champion_quiet", "Champion quiet", "bool",
         "An active contact (is_active true, as recorded) with buying_role champion has no activity with contact_id = "
         f"that contact in the last {s.champion_quiet_days} days."),
        # Plan cadence
        ("Plan cadence", "plan_current", "Plan current", "bool",
         f"A review of type plan_90_day dated in the last {s.plan_window_days} days."),
        ("Plan cadence", "review_current", "Review current", "bool", f"Any review dated in the last {s.review_window_days} days."),
        ("Plan cadence", "cadence_status", "Cadence", "text",
         "on_cadence (plan_current and review_current), partial (one of them), overdue (neither)."),
        # Health
        ("Health score", "score_recency", "Recency score", "score",
         f"100 if days_since_last_touch ≤ {s.recency_full_days}; 0 if ≥ {s.recency_zero_days} or no activity; else "
         f"100 × ({s.recency_zero_days} − days) / {s.recency_zero_days - s.recency_full_days}; null when the export has no "
         f"activities (activities.csv absent or without data rows). Weight {hw['recency']:g}."),
        ("Health score", "score_trend", "Trend score", "score",
         "50 + 0.5 × clamp(engagement_trend_pct, −100, 100); 100 when the prior 90 days had no touches and the last 90 "
         f"had some; null when neither had. Weight {hw['trend']:g}."),
        ("Health score", "score_breadth", "Breadth score", "score",
         f"100 × min(engaged_contacts_90d / {s.breadth_full_contacts}, 1); null when engaged_contacts_90d is null. "
         f"Weight {hw['breadth']:g}."),
        ("Health score", "score_loyalty", "Loyalty score", "score", f"(nps_365d + 100) / 2; null when nps_365d is null. Weight {hw['loyalty']:g}."),
        ("Health score", "score_wallet", "Wallet score", "score",
         f"100 × min(share_of_wallet / {s.wallet_full_share:g}, 1), at least 0 (a negative share scores 0); null when "
         f"share_of_wallet is null. Weight {hw['wallet']:g}."),
        ("Health score", "score_profitability", "Profitability score", "score",
         f"100 if net_margin_pct ≥ {s.profitability_full_pct:g}; 0 if ≤ {s.profitability_zero_pct:g}; else 100 × "
         f"(net_margin_pct − ({s.profitability_zero_pct:g})) / {s.profitability_full_pct - s.profitability_zero_pct:g}; "
         f"null when net_margin_pct is null. Weight {hw['profitability']:g}."),
        ("Health score", "score_cadence", "Cadence score", "score",
         f"Key accounts only: on_cadence 100, partial 50, overdue 0; null for other accounts and when cadence_status is "
         f"null. Weight {hw['cadence']:g}."),
        ("Health score", "score_relationship", "Relationship score", "score",
         f"100 − {rp['champion_left']:g} if champion_left − {rp['champion_quiet']:g} if champion_quiet − "
         f"{rp['no_decision_maker_engaged']:g} if not decision_maker_engaged_90d − {rp['no_c_level_engaged']:g} if "
         f"not c_level_engaged_90d − {rp['key_account_without_sponsor']:g} if a key account without has_sponsor; a "
         "flag that is null takes nothing off; floored at 0; null when the export has no contacts. "
         f"Weight {hw['relationship']:g}."),
        *[
            ("Health score", f"contribution_{c}", f"{c.capitalize()} contribution", "score",
             f"weight × score_{c} / Σ weight of the non-null components; null when score_{c} is null. The "
             "contributions and contribution_cap add up to health.")
            for c in HEALTH_COMPONENTS
        ],
        ("Health score", "contribution_cap", "Champion-left cap", "score",
         f"The champion-left cap's effect on health: min(mean, {s.champion_left_health_cap:g}) − mean while "
         "champion_left is true (≤ 0), else 0; mean = the weighted mean of the components. With the components' "
         "contributions it adds up to health."),
        ("Health score", "health", "Health", "score",
         "Σ weight × score / Σ weight over the components that are not null, then at most champion_left_health_cap "
         f"({s.champion_left_health_cap:g}) while champion_left is true, so an account whose champion or decision "
         "maker just left is never green; null when no component scores, and when health_coverage_pct < "
         f"min_health_coverage_pct (setting, default {s.min_health_coverage_pct:g}). 0–100."),
        ("Health score", "health_coverage_pct", "Health coverage", "pct",
         "100 × Σ weight of the non-null components / Σ weight of the components that apply (cadence applies to key "
         f"accounts only). Below min_health_coverage_pct ({s.min_health_coverage_pct:g}) health is null and band "
         "insufficient_data; scores, contributions and coverage are still given."),
        ("Health score", "band", "Band", "text",
         f"green when health ≥ {s.band_green_min:g}, amber when ≥ {s.band_amber_min:g}, red below; insufficient_data "
         f"when health is null (health_coverage_pct below min_health_coverage_pct, {s.min_health_coverage_pct:g}). "
         "Health is compared rounded to 6 decimals (METRICS.md Precision)."),
        ("Health score", "contribution_from", "Contribution (from)", "score",
         "Health movement: the component's contribution (for component 'health', the health) at date_from."),
        ("Health score", "contribution_to", "Contribution (to)", "score",
         "Health movement: the component's contribution (for component 'health', the health) at date_to."),
        ("Health score", "date_from", "From", "date", "Health movement: the earlier as_of."),
        ("Health score", "date_to", "To", "date", "Health movement: the later as_of."),
        ("Health score", "change", "Change", "score",
         "Health movement: contribution_to − contribution_from, a component missing on one date counting 0, so the "
         "component changes add up to the health change (null for 'health' when either health is null). Programme: "
         "value − value_7d_ago."),
        # Programme
        ("Programme", "key", "Programme key", "text", "The Programme figure of the row (programme_kpis)."),
        ("Programme", "value", "Value", "score", "The Programme figure at as_of, over the filtered accounts."),
        ("Programme", "value_7d_ago", "Value 7 days ago", "score", "The same figure at as_of − 7."),
        ("Programme", "key_account_count", "Key accounts", "count",
         f"Accounts with is_key_account; guidance {s.key_account_min}–{s.key_account_max}, flagged outside it."),
        ("Programme", "key_account_count_in_guidance", "Key account count in guidance", "bool",
         f"1 when {s.key_account_min} ≤ key_account_count ≤ {s.key_account_max}, else 0."),
        ("Programme", "key_revenue_share_pct", "Key account revenue share", "pct",
         "100 × revenue_ttm of key accounts / revenue_ttm of all accounts; null when the total is 0."),
        ("Programme", "key_revenue_growth_pct", "Key account revenue growth", "pct",
         "revenue_growth_pct of the key accounts' summed revenue_ttm and revenue_prior_ttm."),
        ("Programme", "non_key_revenue_growth_pct", "Other accounts' revenue growth", "pct",
         "revenue_growth_pct of the non-key accounts' summed revenue_ttm and revenue_prior_ttm."),
        ("Programme", "programme_nps", "Programme NPS", "score",
         "nps_365d over all responses of key accounts; null when there are none or the export has no surveys."),
        ("Programme", "sponsor_coverage_pct", "Sponsor coverage", "pct",
         "100 × key accounts with has_sponsor / key accounts; null when the export has no accounts.executive_sponsor."),
        ("Programme", "cadence_compliance_pct", "Cadence compliance", "pct",
         "100 × key accounts on_cadence / key accounts; null when the export has no reviews."),
        ("Programme", "multithreaded_pct", "Multithreaded", "pct",
         f"100 × key accounts with engaged_contacts_90d ≥ {s.multithread_min_contacts} and decision_maker_engaged_90d / "
         "key accounts; null when the export has no activities or no activities.contact_id."),
        ("Programme", "health_mean", "Mean health", "score", "Mean health over the key accounts with a health."),
        ("Programme", "green_count", "Green", "count", "Key accounts with band green."),
        ("Programme", "amber_count", "Amber", "count", "Key accounts with band amber."),
        ("Programme", "red_count", "Red", "count", "Key accounts with band red."),
        # --- issue 12: Programme keys of the pipeline and of absent data ---
        ("Programme", "insufficient_data_count", "Insufficient data", "count",
         "Key accounts whose band is insufficient_data (health_coverage_pct below min_health_coverage_pct)."),
        ("Programme", "key_open_pipeline", "Key account open pipeline", "money",
         "Σ open_pipeline of key accounts; null when the export has no opportunities."),
        # --- issue 12: Pipeline (opportunities) ---
        ("Pipeline", "open_pipeline", "Open pipeline", "money",
         "Σ amount of the account's opportunities open at as_of: created_date ≤ as_of (or empty) and (is_closed false "
         "or close_date > as_of); 0 when none; null when the export has no opportunities."),
        ("Pipeline", "open_deal_count", "Open deals", "count",
         "Number of the account's opportunities open at as_of (as open_pipeline); null when the export has no "
         "opportunities."),
        ("Pipeline", "win_rate_365d", "Win rate (365 days)", "ratio",
         "won / closed among the account's opportunities with is_closed and close_date in the last 365 days; null "
         "when none (or no opportunities in the export)."),
        ("Pipeline", "pipeline_to_headroom", "Pipeline to headroom", "ratio",
         "open_pipeline / wallet_headroom; null when wallet_headroom is null or 0, or open_pipeline is null."),
        ("Pipeline", "opportunity_id", "Opportunity", "id", "opportunities.opportunity_id."),
        ("Pipeline", "name", "Deal", "text", "opportunities.name."),
        ("Pipeline", "stage", "Stage", "text", "opportunities.stage."),
        ("Pipeline", "amount", "Amount", "money", "opportunities.amount in the reporting currency."),
        ("Pipeline", "close_date", "Close date", "date", "opportunities.close_date (expected or actual)."),
        # --- end issue 12 ---
        # Goals
        ("Goals", "goal_id", "Goal", "id", "goals.goal_id."),
        ("Goals", "title", "Title", "text", "goals.title."),
        ("Goals", "metric", "Metric", "text", "goals.metric: a key of this reference that supplies the current value."),
        ("Goals", "baseline", "Baseline", "score", "goals.baseline (default 0)."),
        ("Goals", "target", "Target", "score", "goals.target."),
        ("Goals", "current", "Current", "score",
         "The goal's current column, or, when metric names a key, that metric at as_of: for the goal's account, or "
         "for the programme (over the filtered accounts) when account_id is empty. Programme goals may name a "
         "Programme key or an additive money/count key (revenue_ttm, gross_margin_ttm, cost_to_serve_ttm, "
         "net_contribution_ttm, value_to_date, lifetime_value, touches_90d, …: the sum over key accounts). A known "
         "key that does not apply (e.g. a Programme key on an account goal) gives null."),
        ("Goals", "current_source", "Current from", "text", "'metric' when current comes from the metric, else 'column'."),
        ("Goals", "progress", "Progress", "ratio",
         "(current − baseline) / (target − baseline); may pass 1 or be negative; null when target = baseline or current "
         "is null."),
        ("Goals", "expected", "Expected progress", "ratio",
         "clamp((as_of − start_date) / (due_date − start_date), 0, 1) in days; when due_date = start_date: 1 if "
         "as_of ≥ due_date, else 0."),
        ("Goals", "status", "Status", "text",
         f"Null when progress is null; achieved when progress ≥ 1; else overdue when as_of > due_date; else on_track when "
         f"progress ≥ expected − {s.goal_on_track_tolerance:g}; at_risk when ≥ expected − {s.goal_at_risk_tolerance:g}; "
         "else off_track. progress is compared rounded to 6 decimals (METRICS.md Precision)."),
        ("Goals", "action_completion", "Action completion", "ratio",
         "Actions of the goal with a completed_date ≤ as_of / actions of the goal; null when the goal has no actions."),
        ("Goals", "start_date", "Start", "date", "goals.start_date."),
        ("Goals", "due_date", "Due", "date", "goals.due_date."),
        ("Goals", "owner", "Owner", "text", "goals.owner."),
        ("Goals", "horizon", "Horizon", "text", "goals.horizon: short, mid or long."),
        # Selection
        ("Key account selection", "selection_score", "Selection score", "score",
         "Σ weight × p / 100 over revenue_ttm (25), wallet_current (25), net_margin_pct (20), revenue_growth_pct (15), "
         "engaged_contacts_90d (15) (settings selection_weights), where p = 100 × (rank − 1) / (N − 1), ranks "
         "ascending over all N accounts (whatever the filters), nulls first, ties sharing the lowest rank; p = 0 when "
         "N = 1. Values are ranked rounded to 6 decimals, so 35.0 and 35.00000000000001 tie (METRICS.md Precision)."),
        ("Key account selection", "candidate", "Candidate", "text",
         "promote: a non-key account whose selection_score ≥ the lowest selection_score among key accounts. review: a "
         "key account with band red, or with selection_score ≤ the first quartile of key-account scores (lowest "
         "quartile; linear interpolation as a spreadsheet's QUARTILE.INC). Scores are compared rounded to 6 decimals."),
        ("Key account selection", "reason", "Reason", "text", "Why the account is a candidate, in words."),
        # Score check
        ("Score check", "check_date", "Check date", "date",
         "A month end t with as_of − 730 ≤ t ≤ as_of − 180: every such date is a check date, so each has 180 days of "
         "revenue after it before as_of."),
        ("Score check", "check_dates", "Check dates", "count", "The number of check dates (month ends) of the check."),
        ("Score check", "pairs", "Pairs", "count",
         "(account, check date) pairs with revenue_ttm(t) > 0 and a band other than insufficient_data at t."),
        ("Score check", "rev_before", "Revenue, 180 days before", "money", "Σ revenue amount dated in (t − 180, t]."),
        ("Score check", "rev_after", "Revenue, 180 days after", "money", "Σ revenue amount dated in (t, t + 180]."),
        ("Score check", "revenue_change_pct", "Revenue change", "pct",
         "100 × (rev_after − rev_before) / rev_before; null when rev_before ≤ 0."),
        ("Score check", "is_contracted", "Shrank", "bool",
         "rev_before > 0 and rev_after < 0.8 × rev_before (compared rounded to 6 decimals)."),
        ("Score check", "contracted", "Shrank", "count", "Pairs whose revenue shrank (is_contracted)."),
        ("Score check", "is_warned", "Warned", "bool", "The band at the check date was red or amber."),
        ("Score check", "warned", "Warned", "count", "Pairs whose band at the check date was red or amber."),
        ("Score check", "warning_precision", "Precision", "ratio",
         "Pairs that shrank and were warned / pairs warned: how often a red or amber band came true. Null when none "
         "was warned."),
        ("Score check", "warning_recall", "Recall", "ratio",
         "Pairs that shrank and were warned / pairs that shrank: how many of the shrinking accounts the score warned "
         "of. Null when none shrank."),
        ("Score check", "warning_lift", "Lift", "ratio",
         "Contraction rate of the warned pairs / contraction rate of all pairs: above 1 the warning carries "
         "information, 1 is no better than chance."),
        ("Score check", "contraction_rate", "Contraction rate", "ratio",
         "Pairs that shrank / pairs, per band (green, amber, red), of the warned (red or amber) and of all."),
        ("Score check", "warning_lead_days_median", "Warning lead (median days)", "days",
         "Over the pairs that shrank and were warned: the median of the days since the account's unbroken run of "
         "red or amber check dates began (0 = first warned at that check date); the shrinking itself falls in the "
         "180 days after. Not in METRICS.md: how early the warning came."),
        ("Score check", "missed_check_dates", "Missed check dates", "count",
         "Per account: the check dates at which its revenue then shrank while its band was green."),
        ("Score check", "warned_check_dates", "Warned month ends", "count",
         "Per account: the check dates at which it was red or amber and its revenue then shrank (warned in time)."),
        ("Score check", "false_alarm_check_dates", "False alarms", "count",
         "Per account: the check dates at which it was red or amber while its revenue then did not shrink."),
        # Alerts
        ("Alerts", "alert", "Alert", "text",
         "The alert kind (METRICS.md \"Alerts\"): new_red, champion_left, value_destroyer, engagement_drop, "
         "champion_quiet, single_threaded, no_touch_30d, cadence_overdue, no_sponsor (key accounts), goal_off_track "
         "(goals), promotion_candidate and share_of_wallet_above_1 (any account). Each fires only when its inputs are "
         "present in the export; a null flag never fires."),
        ("Alerts", "detail", "Detail", "text", "The alert in plain words (names, dates, amounts)."),
        ("Alerts", "severity", "Severity", "text",
         "high (new_red, champion_left, value_destroyer), medium (engagement_drop, champion_quiet, single_threaded, "
         "no_touch_30d, cadence_overdue, goal_off_track), low (no_sponsor, promotion_candidate, "
         "share_of_wallet_above_1). Alerts are sorted by severity, then account name."),
        ("Alerts", "new_red", "New red", "bool", "A key account with band red at as_of and not red at as_of − 7."),
        ("Alerts", "value_destroyer", "Value destroyer", "bool", "A key account with net_contribution_ttm < 0."),
        ("Alerts", "engagement_drop", "Engagement drop", "bool",
         "A key account with engagement_trend_pct ≤ −50 (not without activities)."),
        ("Alerts", "no_touch_30d", "No touch in 30 days", "bool",
         f"A key account with days_since_last_touch > {s.no_touch_alert_days} or no activity at all (not without "
         "activities)."),
        ("Alerts", "cadence_overdue", "Cadence overdue", "bool",
         "A key account with cadence_status overdue (not without reviews)."),
        ("Alerts", "goal_off_track", "Goal off track", "bool",
         "A goal with status off_track or overdue; a programme goal has no account (goal_id names the goal)."),
        ("Alerts", "no_sponsor", "No sponsor", "bool",
         "A key account with has_sponsor false (not without accounts.executive_sponsor)."),
        ("Alerts", "promotion_candidate", "Promotion candidate", "bool",
         "Any account that is a promotion candidate (Key account selection)."),
        ("Alerts", "share_of_wallet_above_1", "Share of wallet above 1", "bool",
         "An account with share_of_wallet > 1 (data issue: check the wallet estimate)."),
    ]


def _absence_note(key: str) -> str:
    """" Null when the export lacks …" for an account key with inputs that may be absent (presence.KEY_INPUTS),
    else ''."""
    from kam_metrics.metrics.presence import COST_TO_SERVE_KEYS, COST_TO_SERVE_SOURCES, KEY_INPUTS

    def named(table: str, column: str | None) -> str:
        if column is None:
            return f"{table}.csv"
        if (table, column) == ("activities", "contact_id"):
            return "activities.contact_id (or no activity carries one)"
        return f"{table}.{column}"

    needs = [named(t, c) for t, c in KEY_INPUTS.get(key, ())]
    parts = [f"Null when the export lacks {' or '.join(needs)}"] if needs else []
    if key in COST_TO_SERVE_KEYS:
        files = ", ".join(f"{t}.csv" for t in COST_TO_SERVE_SOURCES)
        parts.append(f"{', or ' if parts else 'Null when the export '}has none of {files}")
    return (" " + "".join(parts) + " (METRICS.md \"Data that is not there\").") if parts else ""


def metric_definitions() -> dict[str, MetricDefinition]:
    """Every key's definition, in reference order: {key: MetricDefinition}; an account key whose input may be
    absent says what it needs."""
    out: dict[str, MetricDefinition] = {}
    for section, key, label, unit, text in _defs():
        if key in out:
            raise ValueError(f"metric key {key!r} defined twice")
        out[key] = MetricDefinition(key=key, section=section, label=label, definition=text + _absence_note(key),
                                    unit=unit)
    return out


def definition_of(key: str) -> str:
    """The definition text of `key` (for a tooltip); '' when the key is unknown."""
    d = metric_definitions().get(key)
    return d.definition if d else ""


def render_reference() -> str:
    """docs/METRICS_REFERENCE.md as text."""
    lines = [
        "# Metrics reference",
        "",
        "Generated from `kam_metrics/metrics/reference.py` (`uv run python -m kam_metrics.metrics.reference`); do not edit by hand.",
        "The definitions of record are in METRICS.md; this page lists every key the metrics functions and",
        "`kam report` output, with the choices made where METRICS.md leaves one open. Defaults shown are",
        "those of the settings file (kam.toml).",
    ]
    section = None
    for d in metric_definitions().values():
        if d.section != section:
            section = d.section
            lines += ["", f"## {section}", "", "| key | label | unit | definition |", "|---|---|---|---|"]
        text = d.definition.replace("|", "\\|")
        lines.append(f"| `{d.key}` | {d.label} | {d.unit} | {text} |")
    return "\n".join(lines) + "\n"


def write_reference(path: str | Path = REFERENCE_PATH) -> Path:
    """Write the rendered reference to `path` (docs/METRICS_REFERENCE.md by default)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_reference(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_reference(sys.argv[1] if len(sys.argv) > 1 else REFERENCE_PATH))
