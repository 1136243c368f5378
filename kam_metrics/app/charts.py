"""The dashboard's figures: one function per chart, each returning a plotly Figure (no Streamlit here).

Inputs are the Polars frames of kam_metrics.metrics and kam_metrics.metrics.queries (columns named by their
METRICS.md keys). CRM text (account and contact names) goes into figures escaped, because Plotly reads
a subset of HTML in labels and hover text, and never into a hovertemplate itself (a name holding "%{x}"
would be filled in): a trace's text reaches its template through `meta`. A missing column or an empty
frame gives an empty figure with a note, never an exception.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable, Mapping

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from kam_metrics.app.formatting import (
    format_money, format_money_many, format_number, format_pct, format_pct_many, format_ratio, money_ticks, safe_text,
)

INSUFFICIENT = "insufficient_data"
BAND_COLORS = {"green": "#16a34a", "amber": "#f59e0b", "red": "#dc2626", INSUFFICIENT: "#94a3b8", None: "#94a3b8"}
BAND_ORDER = ("green", "amber", "red")
BAND_LABELS = {"green": "green", "amber": "amber", "red": "red", INSUFFICIENT: "insufficient data", None: "no health"}
ACTIVITY_COLORS = {
    "exec_meeting": "#7c3aed", "qbr": "#1d4ed8", "site_visit": "#0891b2", "workshop": "#0d9488",
    "meeting": "#16a34a", "call": "#ca8a04", "email": "#94a3b8", "other": "#cbd5e1",
}
STATUS_COLORS = {
    "achieved": "#15803d", "on_track": "#16a34a", "at_risk": "#f59e0b", "off_track": "#dc2626",
    "overdue": "#7f1d1d", None: "#94a3b8",
}
COMPONENT_LABELS = {
    "recency": "Recency", "trend": "Trend", "breadth": "Breadth", "loyalty": "Loyalty",
    "wallet": "Wallet", "profitability": "Profitability", "cadence": "Cadence", "relationship": "Relationship",
    "cap": "Champion-left cap",
}
SENIORITY_ORDER = ("c_level", "vp", "director", "manager", "individual", "unknown")
ROLE_ORDER = ("economic_buyer", "decision_maker", "champion", "influencer", "user", "gatekeeper", "blocker", "unknown")
ACCENT = "#1d4ed8"
MUTED = "#64748b"


def plot_text(value: Any, max_length: int = 60) -> str:
    """CRM text made safe for a Plotly label or hover: control characters dropped, HTML escaped, length capped."""
    return html.escape(safe_text(value, max_length=max_length), quote=False)


def account_labels(frame: pl.DataFrame) -> list[str]:
    """Display names of the frame's accounts, escaped; a name shared by two accounts gets its id appended."""
    if frame.is_empty():
        return []
    ids = frame["account_id"].cast(pl.String).to_list()
    names = frame["account_name"].to_list() if "account_name" in frame.columns else ids
    names = [n if n not in (None, "") else i for n, i in zip(names, ids)]
    counts: dict[str, set] = {}
    for n, i in zip(names, ids):
        counts.setdefault(n, set()).add(i)
    return [plot_text(n if len(counts[n]) == 1 else f"{n} ({i})") for n, i in zip(names, ids)]


def _has(frame: pl.DataFrame | None, *columns: str) -> bool:
    return frame is not None and not frame.is_empty() and all(c in frame.columns for c in columns)


def _base(title: str | None = None, height: int | None = None) -> go.Figure:
    fig = go.Figure()
    return _style(fig, title, height)


def _style(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    fig.update_layout(
        title=dict(text=title) if title else None,
        margin=dict(l=10, r=10, t=50 if title else 20, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        hoverlabel=dict(namelength=-1),
    )
    if height:
        fig.update_layout(height=height)
    return fig


def empty_figure(message: str, title: str | None = None) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = _base(title, height=220)
    fig.add_annotation(text=plot_text(message, 200), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(color=MUTED, size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _bar_height(n: int, per_bar: int = 26, minimum: int = 260, maximum: int = 1400) -> int:
    return max(minimum, min(maximum, 90 + per_bar * n))


def _axis_extent(fig: go.Figure, axis: str) -> tuple[float, float]:
    """The smallest and largest value the figure's traces put on a numeric axis ("x", or the primary "y"), 0 included;
    stacked bars count their stack's sums."""
    stacked = fig.layout.barmode in ("stack", "relative")
    low = high = 0.0
    above: dict[Any, float] = {}
    below: dict[Any, float] = {}
    for trace in fig.data:
        if axis == "y" and getattr(trace, "yaxis", None) not in (None, "y"):
            continue
        if trace.type == "bar":
            horizontal = trace.orientation == "h"
            if (axis == "x") != horizontal:
                continue
            values = list((trace.x if horizontal else trace.y) or [])
            categories = list((trace.y if horizontal else trace.x) or range(len(values)))
            for category, value in zip(categories, values):
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                    continue
                if stacked:
                    bucket = above if value >= 0 else below
                    bucket[category] = bucket.get(category, 0.0) + value
                else:
                    low, high = min(low, value), max(high, value)
        elif trace.type == "scatter":
            for value in (trace.x if axis == "x" else trace.y) or []:
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    low, high = min(low, value), max(high, value)
    if above:
        high = max(high, max(above.values()))
    if below:
        low = min(low, min(below.values()))
    return low, high


def _money_axis(fig: go.Figure, currency: str, axis: str = "x", **kwargs) -> None:
    """A money axis in the reporting currency: round ticks labelled in k / M / bn ('€500 k', 'MXN 1.5 M'), never
    Plotly's SI prefixes (m is milli, G giga). The ticks cover the given range, else the traces' values."""
    low, high = kwargs["range"] if kwargs.get("range") else _axis_extent(fig, axis)
    values, labels = money_ticks(low, high, currency)
    update = dict(tickmode="array", tickvals=values, ticktext=labels, tickprefix="", ticksuffix="", **kwargs)
    if axis == "x":
        fig.update_xaxes(**update)
    elif fig._has_subplots():
        fig.update_yaxes(**update, secondary_y=False)
    else:
        fig.update_yaxes(**update)


# ---------------------------------------------------------------- Home / health


def health_bands_figure(accounts: pl.DataFrame, green_min: float = 70.0, amber_min: float = 40.0,
                        missing: str | None = None, min_coverage_pct: float = 50.0) -> go.Figure:
    """Health of each account as a bar coloured by its band (METRICS.md: health, band), lowest at the bottom; accounts
    with too little data for a score (band insufficient_data) form a grey group beneath, with their coverage.

    missing: what the export lacks that would give them a score ("activities.csv, contacts.csv"), for the hover.
    """
    if not _has(accounts, "account_id", "health"):
        return empty_figure("No account has a health score yet.")
    bands_all = accounts["band"] if "band" in accounts.columns else pl.Series([None] * accounts.height)
    scored = accounts.filter(pl.col("health").is_not_null() & (bands_all != INSUFFICIENT).fill_null(True)).sort("health")
    grey = accounts.filter(bands_all == INSUFFICIENT) if "band" in accounts.columns else accounts.clear()
    if scored.is_empty() and grey.is_empty():
        return empty_figure("No account has a health score yet.")
    fig = _base(height=_bar_height(scored.height + grey.height, 22))
    if not grey.is_empty():
        coverage = (grey["health_coverage_pct"].to_list() if "health_coverage_pct" in grey.columns
                    else [None] * grey.height)
        need = f"<br>needs {plot_text(missing, 200)}" if missing else ""
        fig.add_trace(go.Bar(
            x=[0.0] * grey.height, y=account_labels(grey), orientation="h", name=BAND_LABELS[INSUFFICIENT],
            marker_color=BAND_COLORS[INSUFFICIENT], customdata=grey["account_id"].to_list(),
            text=[f"insufficient data (coverage {format_pct(c, decimals=0)})" for c in coverage],
            textposition="outside", textfont=dict(color=MUTED),
            hovertext=[f"insufficient data: a health score needs {format_pct(min_coverage_pct, decimals=0)} coverage, has "
                       f"{format_pct(c, decimals=0)}{need}" for c in coverage],
            hovertemplate="%{y}<br>%{hovertext}<extra></extra>",
        ))
    if not scored.is_empty():
        bands = scored["band"].to_list() if "band" in scored.columns else [None] * scored.height
        fig.add_trace(go.Bar(
            x=scored["health"].to_list(), y=account_labels(scored), orientation="h", name="health",
            marker_color=[BAND_COLORS.get(b, BAND_COLORS[None]) for b in bands],
            width=0.7 if scored.height > 3 else 0.4, customdata=scored["account_id"].to_list(),
            text=[format_number(h, decimals=0) for h in scored["health"].to_list()], textposition="outside",
            hovertemplate="%{y}<br>health %{x:.1f}<extra></extra>",
        ))
    for threshold, color in ((amber_min, BAND_COLORS["amber"]), (green_min, BAND_COLORS["green"])):
        fig.add_vline(x=threshold, line_dash="dot", line_color=color)
    fig.update_xaxes(range=[0, 108], title="health (0–100)")
    fig.update_yaxes(type="category")
    fig.update_layout(showlegend=False)
    return fig


def health_movers_figure(movers: pl.DataFrame) -> go.Figure:
    """Change of health over the week per account (METRICS.md: health), biggest movers first."""
    if not _has(movers, "account_id", "health_change"):
        return empty_figure("No health movement to show.")
    data = movers.filter(pl.col("health_change").is_not_null()).sort("health_change")
    if data.is_empty():
        return empty_figure("No health movement to show.")
    changes = data["health_change"].to_list()
    fig = _base(height=_bar_height(data.height, 24, minimum=200))
    fig.add_trace(go.Bar(
        x=changes, y=account_labels(data), orientation="h",
        marker_color=[BAND_COLORS["green"] if c >= 0 else BAND_COLORS["red"] for c in changes],
        width=0.7 if data.height > 3 else 0.4, text=[format_number(c, signed=True) for c in changes], textposition="outside", customdata=data["account_id"].to_list(),
        hovertemplate="%{y}<br>health change %{text}<extra></extra>",
    ))
    fig.add_vline(x=0, line_color=MUTED)
    span = max(abs(c) for c in changes) or 1
    fig.update_xaxes(range=[-span * 1.35, span * 1.35], title="health change (points)")
    fig.update_yaxes(type="category")
    fig.update_layout(showlegend=False)
    return fig


def health_movement_waterfall(movement: pl.DataFrame, title: str | None = None) -> go.Figure:
    """Why health moved between two dates: the change of each component's contribution (METRICS.md: contribution)."""
    if not _has(movement, "component", "contribution_from", "contribution_to"):
        return empty_figure("No health movement to explain.", title)
    data = movement.filter(pl.col("component") != "health") if "health" in movement["component"].to_list() else movement
    start = sum(v for v in data["contribution_from"].to_list() if v is not None)
    end = sum(v for v in data["contribution_to"].to_list() if v is not None)
    changes = [
        (t or 0.0) - (f or 0.0)
        for f, t in zip(data["contribution_from"].to_list(), data["contribution_to"].to_list())
    ]
    names = [COMPONENT_LABELS.get(c, plot_text(c)) for c in data["component"].to_list()]
    fig = _base(title, height=320)
    fig.add_trace(go.Waterfall(
        x=["Health before", *names, "Health now"],
        y=[start, *changes, end],
        measure=["absolute", *["relative"] * len(changes), "total"],
        text=[format_number(start), *[format_number(c, signed=True) for c in changes], format_number(end)], textposition="outside",
        increasing=dict(marker_color=BAND_COLORS["green"]), decreasing=dict(marker_color=BAND_COLORS["red"]),
        totals=dict(marker_color=ACCENT), connector=dict(line=dict(color="#cbd5e1")),
        hovertemplate="%{x}: %{text}<extra></extra>",
    ))
    fig.update_yaxes(title="health points", range=[0, max(start, end, 10) * 1.2])
    fig.update_layout(showlegend=False)
    return fig


def health_contributions_waterfall(account: Mapping[str, Any]) -> go.Figure:
    """One account's health built up from its components' contributions (METRICS.md: contribution, health)."""
    parts = [(c, account.get(f"contribution_{c}")) for c in COMPONENT_LABELS]
    # (the cap is a bar only when it takes points off)
    parts = [(c, v) for c, v in parts if v is not None and not (isinstance(v, float) and math.isnan(v))
             and not (c == "cap" and v == 0)]
    if not parts:
        return empty_figure("No health score: none of its inputs is available.")
    health = account.get("health")
    total = health if health is not None else sum(v for _, v in parts)
    scores = [account.get(f"score_{c}") for c, _ in parts]
    fig = _base(height=330)
    fig.add_trace(go.Waterfall(
        x=[COMPONENT_LABELS[c] for c, _ in parts] + ["Health"],
        y=[v for _, v in parts] + [total],
        measure=["relative"] * len(parts) + ["total"],
        text=[f"{v:.1f}" for _, v in parts] + [f"{total:.1f}"], textposition="outside",
        customdata=[("—" if s is None else f"score {s:.0f}") if c != "cap" else "champion left: health at most the cap"
                    for (c, _), s in zip(parts, scores)] + [""],
        increasing=dict(marker_color="#60a5fa"), decreasing=dict(marker_color=BAND_COLORS["red"]), totals=dict(marker_color=BAND_COLORS.get(account.get("band"), ACCENT)),
        connector=dict(line=dict(color="#cbd5e1")),
        hovertemplate="%{x}: contributes %{text} (%{customdata})<extra></extra>",
    ))
    fig.update_yaxes(range=[0, 110], title="health points")
    fig.update_layout(showlegend=False)
    return fig


def health_history_figure(history: pl.DataFrame, green_min: float = 70.0, amber_min: float = 40.0) -> go.Figure:
    """Weekly health (METRICS.md: health history) over the band zones."""
    if not _has(history, "as_of", "health") or history["health"].is_null().all():
        return empty_figure("No health history for this account.")
    data = history.sort("as_of")
    fig = _base(height=300)
    for y0, y1, band in ((0, amber_min, "red"), (amber_min, green_min, "amber"), (green_min, 100, "green")):
        fig.add_hrect(y0=y0, y1=y1, fillcolor=BAND_COLORS[band], opacity=0.08, line_width=0)
    fig.add_trace(go.Scatter(
        x=data["as_of"].to_list(), y=data["health"].to_list(), mode="lines+markers",
        line=dict(color=ACCENT, width=2), marker=dict(size=6),
        hovertemplate="%{x|%Y-%m-%d}: health %{y:.1f}<extra></extra>",
    ))
    fig.update_yaxes(range=[0, 100], title="health")
    fig.update_layout(showlegend=False)
    return fig


# ---------------------------------------------------------------- Engagement


def weekly_touches_figure(weekly: pl.DataFrame, title: str | None = None) -> go.Figure:
    """Weighted touches per ISO week stacked by activity type (METRICS.md: weighted touches, weekly series)."""
    if not _has(weekly, "week_start", "activity_type", "weighted_touches"):
        return empty_figure("No activities in this period.", title)
    data = weekly.group_by("week_start", "activity_type").agg(pl.col("weighted_touches").sum()).sort("week_start")
    fig = _base(title, height=340)
    present = set(data["activity_type"].to_list())
    for activity_type in [t for t in ACTIVITY_COLORS if t in present] + sorted(present - set(ACTIVITY_COLORS)):
        part = data.filter(pl.col("activity_type") == activity_type)
        fig.add_trace(go.Bar(
            x=part["week_start"].to_list(), y=part["weighted_touches"].to_list(), name=plot_text(activity_type),
            marker_color=ACTIVITY_COLORS.get(activity_type, MUTED), meta=[plot_text(activity_type)],
            hovertemplate="week of %{x|%Y-%m-%d}<br>%{meta[0]}: %{y:.0f}<extra></extra>",
        ))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="weighted touches")
    return fig


def engagement_heatmap(weekly: pl.DataFrame, accounts: pl.DataFrame) -> go.Figure:
    """Weighted touches per account and week (accounts × weeks); blank weeks are weeks without activity."""
    if not _has(weekly, "account_id", "week_start", "weighted_touches") or not _has(accounts, "account_id"):
        return empty_figure("No activities in this period.")
    totals = weekly.group_by("account_id", "week_start").agg(pl.col("weighted_touches").sum())
    weeks = sorted(totals["week_start"].unique().to_list())
    order = accounts.select("account_id", *(["account_name"] if "account_name" in accounts.columns else []))
    order = order.unique("account_id", keep="first", maintain_order=True)
    grid = {(a, w): v for a, w, v in totals.iter_rows()}
    ids = order["account_id"].to_list()
    z = [[grid.get((a, w)) for w in weeks] for a in ids]
    fig = _base(height=_bar_height(len(ids), 20, minimum=260))
    fig.add_trace(go.Heatmap(
        z=z, x=weeks, y=account_labels(order), colorscale="Blues", hoverongaps=False,
        colorbar=dict(title=dict(text="weighted<br>touches")),
        hovertemplate="%{y}<br>week of %{x|%Y-%m-%d}: %{z:.0f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def engaged_contacts_figure(accounts: pl.DataFrame, min_contacts: int = 3) -> go.Figure:
    """Engaged contacts per account in the last 90 days, coloured by C-level reach (METRICS.md: engaged_contacts_90d, c_level_engaged_90d)."""
    if not _has(accounts, "account_id", "engaged_contacts_90d"):
        return empty_figure("No engaged contacts: add contacts.csv and contact_id on activities.")
    data = accounts.sort("engaged_contacts_90d", descending=False, nulls_last=False)
    c_level = data["c_level_engaged_90d"].to_list() if "c_level_engaged_90d" in data.columns else [None] * data.height
    fig = _base(height=_bar_height(data.height, 22))
    fig.add_trace(go.Bar(
        x=data["engaged_contacts_90d"].fill_null(0).to_list(), y=account_labels(data), orientation="h",
        marker_color=[ACCENT if c else "#cbd5e1" for c in c_level],
        customdata=["C-level reached" if c else "no C-level contact" for c in c_level],
        hovertemplate="%{y}<br>%{x} engaged contacts, %{customdata}<extra></extra>",
    ))
    fig.add_vline(x=min_contacts, line_dash="dot", line_color=BAND_COLORS["red"],
                  annotation_text=f"multi-threaded ≥ {min_contacts}", annotation_position="top")
    fig.update_xaxes(title="engaged contacts (last 90 days); dark = a C-level contact engaged")
    fig.update_yaxes(type="category")
    fig.update_layout(showlegend=False)
    return fig


#: Contact names a timeline dot lists in its hover (the others are counted).
TIMELINE_NAMES_SHOWN = 3


def _timeline_hover(count: int, names: list[str | None]) -> str:
    """Who a timeline dot stands for: the contact (one activity), else the count and the first few contacts."""
    shown = [plot_text(n) if n else "no contact" for n in names[:TIMELINE_NAMES_SHOWN]]
    if count == 1:
        return shown[0] if shown else "no contact"
    more = len(names) - len(shown)
    return f"{count} activities: " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def engagement_timeline_figure(activities: pl.DataFrame, weights: Mapping[str, float] | None = None) -> go.Figure:
    """An account's activities over time by type, sized by weight (METRICS.md: activity weights).

    Activities of one type on one day sit on the same spot, so they are drawn as one dot whose hover counts
    them (a busy account has tens of thousands of activities a year, a year has at most 365 × 8 dots)."""
    if not _has(activities, "activity_date", "activity_type"):
        return empty_figure("No activities in the last 12 months.")
    weights = weights or {}
    fig = _base(height=300)
    names = pl.col("contact_name") if "contact_name" in activities.columns else pl.lit(None, dtype=pl.String)
    dots = activities.group_by("activity_type", "activity_date", maintain_order=True).agg(
        count=pl.len(), names=names.unique(maintain_order=True))
    for activity_type in [t for t in ACTIVITY_COLORS if t in set(dots["activity_type"].to_list())]:
        part = dots.filter(pl.col("activity_type") == activity_type)
        hover = [_timeline_hover(n, list(who)) for n, who in zip(part["count"].to_list(), part["names"].to_list())]
        fig.add_trace(go.Scatter(
            x=part["activity_date"].to_list(), y=[activity_type] * part.height, mode="markers",
            name=activity_type, marker=dict(size=8 + 3 * float(weights.get(activity_type, 1)),
                                            color=ACTIVITY_COLORS[activity_type], line=dict(width=0.5, color="white")),
            customdata=hover, hovertemplate="%{x|%Y-%m-%d} " + activity_type + "<br>%{customdata}<extra></extra>",
        ))
    fig.update_yaxes(categoryorder="array", categoryarray=list(ACTIVITY_COLORS)[::-1], type="category")
    fig.update_layout(showlegend=False)
    return fig


# ---------------------------------------------------------------- Share of wallet


def share_of_wallet_figure(accounts: pl.DataFrame, currency: str = "EUR") -> go.Figure:
    """Revenue TTM and wallet headroom per account; the label is the share of wallet (METRICS.md: share_of_wallet, wallet_headroom)."""
    if not _has(accounts, "account_id", "wallet_current", "revenue_ttm", "wallet_headroom", "share_of_wallet"):
        return empty_figure("No wallet estimates: add wallet.csv to your export.")
    data = accounts.filter(pl.col("wallet_current").is_not_null())
    if data.is_empty():
        return empty_figure("No account has a wallet estimate for this year.")
    data = data.sort("wallet_current")
    labels = account_labels(data)
    revenue = [max(v or 0.0, 0.0) for v in data["revenue_ttm"].to_list()]
    # The metric's own columns (account_metrics: wallet_headroom, share_of_wallet): no second definition here.
    headroom = data["wallet_headroom"].to_list()
    shares = data["share_of_wallet"].to_list()
    fig = _base(height=_bar_height(data.height, 24))
    fig.add_trace(go.Bar(
        x=revenue, y=labels, orientation="h", name="revenue TTM (ours)", marker_color=ACCENT,
        customdata=[format_money(v, currency) for v in revenue],
        hovertemplate="%{y}<br>revenue TTM %{customdata}<extra></extra>",
    ))
    fig.add_trace(go.Bar(
        x=headroom, y=labels, orientation="h", name="headroom (rest of wallet)", marker_color="#cbd5e1",
        customdata=[f"{format_money(h, currency)} · share {format_ratio(s)}" for h, s in zip(headroom, shares)],
        text=[format_ratio(s) for s in shares], textposition="outside",
        hovertemplate="%{y}<br>headroom %{customdata}<extra></extra>",
    ))
    fig.update_layout(barmode="stack")
    widest = max((r + h for r, h in zip(revenue, headroom)), default=0) or 1
    _money_axis(fig, currency, "x", title="wallet (label: our share of it)", range=[0, widest * 1.15])
    fig.update_yaxes(type="category")
    return fig


def pipeline_headroom_figure(accounts: pl.DataFrame, currency: str = "EUR") -> go.Figure:
    """Open pipeline against wallet headroom per account; the label is pipeline_to_headroom (METRICS.md: open_pipeline,
    wallet_headroom, pipeline_to_headroom). Accounts without an estimate or a pipeline are left out."""
    if not _has(accounts, "account_id", "open_pipeline", "wallet_headroom"):
        return empty_figure("No open pipeline or wallet headroom to compare.")
    data = accounts.filter(pl.col("open_pipeline").is_not_null() | pl.col("wallet_headroom").is_not_null())
    if data.is_empty():
        return empty_figure("No account has an open pipeline or a wallet estimate.")
    data = data.sort(pl.col("wallet_headroom").fill_null(0.0) + pl.col("open_pipeline").fill_null(0.0))
    labels = account_labels(data)
    headroom = data["wallet_headroom"].to_list()
    pipeline = data["open_pipeline"].to_list()
    ratios = (data["pipeline_to_headroom"].to_list() if "pipeline_to_headroom" in data.columns
              else [None] * data.height)
    fig = _base(height=_bar_height(data.height, 30))
    fig.add_trace(go.Bar(
        x=[h or 0.0 for h in headroom], y=labels, orientation="h", name="wallet headroom", marker_color="#cbd5e1",
        customdata=[format_money(h, currency) for h in headroom],
        hovertemplate="%{y}<br>headroom %{customdata}<extra></extra>",
    ))
    fig.add_trace(go.Bar(
        x=[p or 0.0 for p in pipeline], y=labels, orientation="h", name="open pipeline", marker_color=ACCENT,
        customdata=[f"{format_money(p, currency)} · {format_ratio(r)} of headroom" for p, r in zip(pipeline, ratios)],
        text=[format_ratio(r) if r is not None else "" for r in ratios], textposition="outside",
        hovertemplate="%{y}<br>open pipeline %{customdata}<extra></extra>",
    ))
    fig.update_layout(barmode="group")
    _money_axis(fig, currency, "x", title="open pipeline against wallet headroom (label: pipeline / headroom)")
    fig.update_yaxes(type="category")
    return fig


def wallet_trend_figure(wallet_by_year: pl.DataFrame, accounts: pl.DataFrame | None = None) -> go.Figure:
    """Share of wallet per account by year (METRICS.md: share_of_wallet)."""
    if not _has(wallet_by_year, "account_id", "year", "share_of_wallet"):
        return empty_figure("No wallet estimates: add wallet.csv to your export.")
    data = wallet_by_year.filter(pl.col("share_of_wallet").is_not_null()).sort("account_id", "year")
    if data.is_empty():
        return empty_figure("No year has both revenue and a wallet estimate.")
    names = {}
    if accounts is not None and _has(accounts, "account_id", "account_name"):
        names = dict(zip(accounts["account_id"].to_list(), account_labels(accounts)))
    fig = _base(height=340)
    for account_id in data["account_id"].unique(maintain_order=True).to_list():
        part = data.filter(pl.col("account_id") == account_id)
        label = names.get(account_id, plot_text(account_id))
        fig.add_trace(go.Scatter(
            x=part["year"].to_list(), y=[v * 100 for v in part["share_of_wallet"].to_list()], mode="lines+markers",
            name=label, meta=[label], customdata=[format_ratio(v) for v in part["share_of_wallet"].to_list()],
            hovertemplate="%{meta[0]}<br>%{x}: %{customdata} of wallet<extra></extra>",
        ))
    fig.update_xaxes(dtick=1, title="year")
    fig.update_yaxes(title="share of wallet (%)", ticksuffix="%", rangemode="tozero")
    fig.update_layout(height=max(360, 60 + 20 * len(data["account_id"].unique())),
                      legend=dict(orientation="v", yanchor="top", y=1, x=1.02, xanchor="left", font=dict(size=10)))
    return fig


def whitespace_heatmap(wallet_by_product_line: pl.DataFrame, accounts: pl.DataFrame | None = None) -> go.Figure:
    """Share of wallet per account and product line; low shares are the whitespace (METRICS.md: share_of_wallet by product_line)."""
    if not _has(wallet_by_product_line, "account_id", "product_line", "share_of_wallet"):
        return empty_figure("No product-line wallet estimates: add wallet.csv rows with product_line.")
    data = wallet_by_product_line
    lines = sorted(p for p in data["product_line"].unique().to_list() if p is not None)
    if accounts is not None and _has(accounts, "account_id"):
        order = accounts.select("account_id", *(["account_name"] if "account_name" in accounts.columns else []))
        order = order.filter(pl.col("account_id").is_in(data["account_id"].unique().to_list()))
    else:
        order = data.select("account_id").unique(maintain_order=True)
    if order.is_empty() or not lines:
        return empty_figure("No product-line wallet estimates for these accounts.")
    grid = {(a, p): (s, r, w) for a, p, s, r, w in data.select(
        "account_id", "product_line", "share_of_wallet",
        pl.col("revenue_ttm") if "revenue_ttm" in data.columns else pl.lit(None).alias("r"),
        pl.col("wallet_amount") if "wallet_amount" in data.columns else pl.lit(None).alias("w"),
    ).iter_rows()}
    ids = order["account_id"].to_list()
    z, text = [], []
    for a in ids:
        row_z, row_t = [], []
        for p in lines:
            s = grid.get((a, p), (None, None, None))[0]
            row_z.append(None if s is None else min(s, 1.0) * 100)
            row_t.append("" if s is None else format_ratio(s, decimals=0))
        z.append(row_z)
        text.append(row_t)
    fig = _base(height=_bar_height(len(ids), 24, minimum=260))
    fig.add_trace(go.Heatmap(
        z=z, x=[plot_text(p) for p in lines], y=account_labels(order), text=text, texttemplate="%{text}",
        colorscale=[[0, "#fef3c7"], [0.5, "#93c5fd"], [1, "#1d4ed8"]], zmin=0, zmax=100, hoverongaps=False,
        colorbar=dict(title=dict(text="share of<br>wallet"), ticksuffix="%"),
        hovertemplate="%{y} · %{x}<br>share of wallet %{text}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    return fig


def mutual_dependence_figure(accounts: pl.DataFrame, wallet_full_share: float = 0.5,
                             total_revenue: float | None = None, account_count: int | None = None) -> go.Figure:
    """Our share of their wallet (x) against their share of our revenue (y): who depends on whom.

    total_revenue is our revenue TTM over all accounts in view (default: over the accounts drawn).
    """
    if not _has(accounts, "account_id", "share_of_wallet", "revenue_ttm"):
        return empty_figure("No wallet estimates: add wallet.csv to your export.")
    total = total_revenue if total_revenue is not None else sum(
        v for v in accounts["revenue_ttm"].to_list() if v and v > 0)
    data = accounts.filter(pl.col("share_of_wallet").is_not_null())
    if data.is_empty() or total <= 0:
        return empty_figure("No account has both revenue and a wallet estimate.")
    x = [s * 100 for s in data["share_of_wallet"].to_list()]
    y = [100 * max(r or 0, 0) / total for r in data["revenue_ttm"].to_list()]
    bands = data["band"].to_list() if "band" in data.columns else [None] * data.height
    labels = account_labels(data)
    key = data["is_key_account"].to_list() if "is_key_account" in data.columns else [True] * data.height
    fig = _base(height=440)
    fig.add_trace(go.Scatter(
        x=x, y=y, mode="markers+text", text=[l if k else "" for l, k in zip(labels, key)],
        hovertext=[f"{l}<br>our share of their wallet {format_pct(a)}<br>their share of our revenue {format_pct(b)}"
                   for l, a, b in zip(labels, x, y)],
        textposition="top center", textfont=dict(size=10),
        marker=dict(size=12, color=[BAND_COLORS.get(b, BAND_COLORS[None]) for b in bands],
                    line=dict(width=1, color="white")),
        customdata=data["account_id"].to_list(),
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    even = 100 / max(account_count or accounts.height, 1)
    fig.add_vline(x=wallet_full_share * 100, line_dash="dot", line_color=MUTED)
    fig.add_hline(y=even, line_dash="dot", line_color=MUTED)
    for text, ax, ay, xanchor in (("they depend on us", 1, 0, "right"), ("we depend on them", 0, 1, "left"),
                                  ("interdependent", 1, 1, "right")):
        fig.add_annotation(text=text, x=ax, y=ay, xref="paper", yref="paper", showarrow=False,
                           font=dict(color=MUTED, size=11), xanchor=xanchor, yanchor="bottom" if ay == 0 else "top")
    fig.update_xaxes(title="our share of their wallet (%)", ticksuffix="%", rangemode="tozero")
    fig.update_yaxes(title="their share of our revenue (%)", ticksuffix="%", rangemode="tozero")
    fig.update_layout(showlegend=False)
    return fig


def pareto_figure(accounts: pl.DataFrame, currency: str = "EUR", value: str = "revenue_ttm",
                  limit: int | None = 60) -> go.Figure:
    """Revenue per account, largest first, with the cumulative share of the total (METRICS.md: top20_revenue_share_pct); the first `limit` accounts are drawn."""
    if not _has(accounts, "account_id", value):
        return empty_figure("No revenue in the last 12 months.")
    data = accounts.filter(pl.col(value) > 0).sort(value, descending=True)
    if data.is_empty():
        return empty_figure("No revenue in the last 12 months.")
    total = data[value].sum()
    if limit is not None:
        data = data.head(limit)
    values = data[value].to_list()
    cumulative, running = [], 0.0
    for v in values:
        running += v
        cumulative.append(100 * running / total)
    labels = account_labels(data)
    ranks = list(range(1, len(values) + 1))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    key = data["is_key_account"].to_list() if "is_key_account" in data.columns else [False] * data.height
    fig.add_trace(go.Bar(
        x=ranks, y=values, name="revenue TTM", marker_color=[ACCENT if k else "#93c5fd" for k in key],
        customdata=[[l, format_money(v, currency)] for l, v in zip(labels, values)],
        hovertemplate="#%{x} %{customdata[0]}<br>%{customdata[1]}<extra></extra>",
    ), secondary_y=False)
    fig.add_trace(go.Scatter(
        x=ranks, y=cumulative, name="cumulative share of all revenue", mode="lines+markers",
        line=dict(color=BAND_COLORS["amber"]), customdata=[[l, format_pct(c)] for l, c in zip(labels, cumulative)],
        hovertemplate="top %{x} (to %{customdata[0]}): %{customdata[1]}<extra></extra>",
    ), secondary_y=True)
    fig.add_hline(y=80, line_dash="dot", line_color=MUTED, secondary_y=True)
    _style(fig, height=380)
    _money_axis(fig, currency, "y")
    fig.update_yaxes(title="cumulative share (%)", range=[0, 105], ticksuffix="%", secondary_y=True, tickformat="",
                     tickmode="linear", tick0=0, dtick=20, showgrid=False)
    fig.update_xaxes(title="accounts ranked by revenue TTM", dtick=1 if len(ranks) <= 15 else None)
    return fig


# ---------------------------------------------------------------- Cost to serve and lifetime value


def cost_value_scatter(accounts: pl.DataFrame, currency: str = "EUR") -> go.Figure:
    """Cost to serve TTM (x) against lifetime value (y), sized by revenue and coloured by band, median lines (METRICS.md: cost_to_serve_ttm, lifetime_value)."""
    if not _has(accounts, "account_id", "cost_to_serve_ttm", "lifetime_value"):
        return empty_figure("No cost to serve or lifetime value to show.")
    data = accounts.filter(pl.col("cost_to_serve_ttm").is_not_null() & pl.col("lifetime_value").is_not_null())
    if data.is_empty():
        return empty_figure("No account has both a cost to serve and a lifetime value.")
    revenue = [max(v or 0.0, 0.0) for v in (data["revenue_ttm"].to_list() if "revenue_ttm" in data.columns
                                            else [0.0] * data.height)]
    biggest = max(revenue) or 1.0
    sizes = [10 + 40 * math.sqrt(r / biggest) for r in revenue]
    labels = account_labels(data)
    bands = data["band"].to_list() if "band" in data.columns else [None] * data.height

    columns = {name: (data[name].to_list() if name in data.columns else [None] * data.height)
               for name in ("cost_to_serve_ttm", "cost_to_serve_pct", "net_contribution_ttm", "lifetime_value",
                            "health")}
    cost = columns["cost_to_serve_ttm"]
    value = columns["lifetime_value"]
    account_ids = data["account_id"].to_list()

    hover = [
        f"{label}<br>revenue TTM {r}<br>cost to serve {c}"
        f" ({cp} of revenue)<br>net contribution {n}"
        f"<br>lifetime value {l}<br>health {h}"
        f"{' (insufficient data)' if band == INSUFFICIENT else ''}"
        for label, r, c, cp, n, l, h, band in zip(
            labels, format_money_many(revenue, currency), format_money_many(cost, currency),
            format_pct_many(columns["cost_to_serve_pct"]), format_money_many(columns["net_contribution_ttm"], currency),
            format_money_many(value, currency), [format_number(h, decimals=0) for h in columns["health"]], bands)
    ]
    fig = _base(height=480)
    for band in (*BAND_ORDER, INSUFFICIENT, None):
        idx = [i for i, b in enumerate(bands) if (b if b in BAND_COLORS else None) == band]
        if not idx:
            continue
        fig.add_trace(go.Scatter(
            x=[cost[i] for i in idx], y=[value[i] for i in idx],
            mode="markers", name=BAND_LABELS[band],
            marker=dict(size=[sizes[i] for i in idx], color=BAND_COLORS[band], opacity=0.75,
                        line=dict(width=1, color="white")),
            text=[labels[i] for i in idx], customdata=[account_ids[i] for i in idx],
            hovertext=[hover[i] for i in idx], hovertemplate="%{hovertext}<extra></extra>",
        ))
    cost_median = data["cost_to_serve_ttm"].median()
    value_median = data["lifetime_value"].median()
    fig.add_vline(x=cost_median, line_dash="dot", line_color=MUTED,
                  annotation_text="median cost to serve", annotation_position="top")
    fig.add_hline(y=value_median, line_dash="dot", line_color=MUTED,
                  annotation_text="median lifetime value", annotation_position="top left")
    fig.add_hline(y=0, line_color=BAND_COLORS["red"], line_width=1)
    _money_axis(fig, currency, "x", title="cost to serve TTM")
    _money_axis(fig, currency, "y", title="lifetime value")
    fig.update_layout(legend=dict(title=dict(text="health band "), orientation="h", yanchor="bottom", y=1.02,
                                  xanchor="right", x=1))
    return fig


def whale_curve_figure(whale: pl.DataFrame, concentration: Mapping[str, Any] | None = None) -> go.Figure:
    """Cumulative net contribution against cumulative accounts, most profitable first (METRICS.md: whale curve, whale_peak_pct)."""
    if not _has(whale, "cum_accounts_pct", "cum_net_contribution_pct"):
        return empty_figure("No net contribution to draw a whale curve (total ≤ 0 or no revenue).")
    data = whale.sort("rank") if "rank" in whale.columns else whale
    x = [0.0, *data["cum_accounts_pct"].to_list()]
    y = [0.0, *data["cum_net_contribution_pct"].to_list()]
    labels = ["", *account_labels(data)] if "account_name" in data.columns else ["", *[plot_text(a) for a in data["account_id"].to_list()]]
    fig = _base(height=400)
    fig.add_trace(go.Scatter(
        x=x, y=y, mode="lines+markers", line=dict(color=ACCENT, width=2), marker=dict(size=5),
        text=labels, customdata=np.column_stack([format_pct_many(x), format_pct_many(y)]),
        hovertemplate="%{text}<br>%{customdata[0]} of accounts → %{customdata[1]} of net contribution<extra></extra>",
        name="whale curve",
    ))
    fig.add_hline(y=100, line_dash="dot", line_color=MUTED, annotation_text="100% = total net contribution",
                  annotation_position="bottom right")
    peak = (concentration or {}).get("whale_peak_pct")
    if peak is None and any(v is not None for v in y):
        peak = max(v for v in y if v is not None)
    if peak is not None:
        i = max(range(len(y)), key=lambda k: (y[k] if y[k] is not None else -math.inf))
        fig.add_annotation(x=x[i], y=y[i], text=f"peak {format_pct(peak, decimals=0)}", showarrow=True, arrowhead=2, ay=-30)
    fig.update_xaxes(title="accounts, most profitable first (cumulative %)", ticksuffix="%", range=[0, 101])
    fig.update_yaxes(title="cumulative net contribution (% of total)", ticksuffix="%")
    fig.update_layout(showlegend=False)
    return fig


def cost_breakdown_figure(breakdown: pl.DataFrame, accounts: pl.DataFrame | None = None,
                          currency: str = "EUR", by: str = "component_group") -> go.Figure:
    """Cost to serve TTM per account stacked by component (METRICS.md: cost_to_serve_ttm)."""
    if not _has(breakdown, "account_id", by, "cost_ttm"):
        return empty_figure("No cost to serve in the last 12 months.")
    data = breakdown.group_by("account_id", by).agg(pl.col("cost_ttm").sum())
    order_ids = (data.group_by("account_id").agg(pl.col("cost_ttm").sum()).sort("cost_ttm")["account_id"].to_list())
    if accounts is not None and _has(accounts, "account_id", "account_name"):
        names = dict(zip(accounts["account_id"].to_list(), account_labels(accounts)))
    else:
        names = {}
    labels = [names.get(a, plot_text(a)) for a in order_ids]
    fig = _base(height=_bar_height(len(order_ids), 26))
    palette = ["#1d4ed8", "#f59e0b", "#0d9488", "#7c3aed", "#dc2626", "#64748b", "#0891b2", "#ca8a04"]
    for i, group in enumerate(sorted(g for g in data[by].unique().to_list() if g is not None)):
        part = dict(data.filter(pl.col(by) == group).select("account_id", "cost_ttm").iter_rows())
        values = [part.get(a, 0.0) for a in order_ids]
        fig.add_trace(go.Bar(
            x=values, y=labels, orientation="h", name=plot_text(group), marker_color=palette[i % len(palette)],
            customdata=[format_money(v, currency) for v in values], meta=[plot_text(group)],
            hovertemplate="%{y}<br>%{meta[0]}: %{customdata}<extra></extra>",
        ))
    fig.update_layout(barmode="stack")
    _money_axis(fig, currency, "x", title="cost to serve TTM")
    fig.update_yaxes(type="category")
    return fig


def revenue_monthly_figure(monthly: pl.DataFrame, currency: str = "EUR") -> go.Figure:
    """An account's revenue per month stacked by product line."""
    if not _has(monthly, "month", "product_line", "revenue"):
        return empty_figure("No revenue in the last 24 months.")
    fig = _base(height=300)
    for line in sorted(monthly["product_line"].unique().to_list()):
        part = monthly.filter(pl.col("product_line") == line)
        fig.add_trace(go.Bar(
            x=part["month"].to_list(), y=part["revenue"].to_list(), name=plot_text(line),
            customdata=[format_money(v, currency) for v in part["revenue"].to_list()], meta=[plot_text(line)],
            hovertemplate="%{x|%b %Y} %{meta[0]}: %{customdata}<extra></extra>",
        ))
    fig.update_layout(barmode="relative")
    _money_axis(fig, currency, "y", title="revenue")
    return fig


# ---------------------------------------------------------------- Goals, relationships, selection


def goal_progress_figure(goals: pl.DataFrame) -> go.Figure:
    """Each goal's progress against where it should be by now, coloured by status (METRICS.md: progress, expected, status)."""
    if not _has(goals, "goal_id", "progress"):
        return empty_figure("No goals: add goals.csv to your export.")
    data = goals
    titles = [plot_text(t, 50) for t in (data["title"].to_list() if "title" in data.columns else data["goal_id"].to_list())]
    progress = [None if p is None else p * 100 for p in data["progress"].to_list()]
    expected = [None if e is None else e * 100 for e in (data["expected"].to_list() if "expected" in data.columns
                                                         else [None] * data.height)]
    status = data["status"].to_list() if "status" in data.columns else [None] * data.height
    fig = _base(height=_bar_height(data.height, 30, minimum=220))
    fig.add_trace(go.Bar(
        x=[p if p is not None else 0 for p in progress], y=titles, orientation="h", name="progress", width=0.6,
        marker_color=[STATUS_COLORS.get(s, STATUS_COLORS[None]) for s in status],
        text=[f"{format_pct(p, decimals=0)} · {(s or 'no status').replace('_', ' ')}"
              for p, s in zip(progress, status)],
        textposition="outside", hovertemplate="%{y}<br>progress %{text}<extra></extra>",
    ))
    fig.add_trace(go.Scatter(
        x=expected, y=titles, mode="markers", name="expected by now",
        marker=dict(symbol="line-ns", size=22, line=dict(width=3, color="#0f172a")),
        customdata=[format_pct(e, decimals=0) for e in expected],
        hovertemplate="%{y}<br>expected by now %{customdata}<extra></extra>",
    ))
    top = max([100.0] + [p for p in progress if p is not None])
    low = min([0.0] + [p for p in progress if p is not None])
    fig.update_xaxes(range=[low * 1.1 - 5, top * 1.25], ticksuffix="%", title="progress toward target")
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def relationship_map_figure(contacts: pl.DataFrame) -> go.Figure:
    """Contacts placed by seniority and buying role, coloured by attitude; crosses have left (relationship map)."""
    if not _has(contacts, "contact_id", "seniority", "buying_role"):
        return empty_figure("No contacts: add contacts.csv to your export to see the relationship map.")
    data = contacts
    seniority = [s if s in SENIORITY_ORDER else "unknown" for s in data["seniority"].to_list()]
    roles = [r if r in ROLE_ORDER else "unknown" for r in data["buying_role"].to_list()]
    # Spread contacts that share a cell side by side (and in rows of three) so every one stays visible.
    cells: dict[tuple[str, str], int] = {}
    for s, r in zip(seniority, roles):
        cells[(s, r)] = cells.get((s, r), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    x_pos, y_pos, text_pos = [], [], []
    for s, r in zip(seniority, roles):
        k = seen.get((s, r), 0)
        seen[(s, r)] = k + 1
        in_row = min(cells[(s, r)] - 3 * (k // 3), 3)
        x_pos.append(SENIORITY_ORDER.index(s) + ((k % 3) - (in_row - 1) / 2) * 0.3)
        y_pos.append(ROLE_ORDER.index(r) + (k // 3) * 0.3)
        text_pos.append("bottom center" if k % 2 == 0 else "top center")
    attitude = [0 if a is None else a for a in (data["attitude"].to_list() if "attitude" in data.columns
                                                 else [None] * data.height)]
    active = data["is_active"].to_list() if "is_active" in data.columns else [True] * data.height
    names = [plot_text(n, 40) for n in data["full_name"].to_list()] if "full_name" in data.columns else \
        [plot_text(c) for c in data["contact_id"].to_list()]
    last = data["last_touch_date"].to_list() if "last_touch_date" in data.columns else [None] * data.height
    flags = []
    for row in data.iter_rows(named=True):
        f = []
        if row.get("is_champion_left"):
            f.append("champion left")
        if row.get("is_champion_quiet"):
            f.append("champion quiet")
        flags.append(", ".join(f))
    hover = [
        f"{n}<br>{s.replace('_', ' ')} · {r.replace('_', ' ')}<br>attitude {a:+d}"
        f"<br>last touch {lt.isoformat() if lt else 'never'}{'' if act else '<br>has left'}"
        f"{'<br>' + fl if fl else ''}"
        for n, s, r, a, lt, act, fl in zip(names, seniority, roles, attitude, last, active, flags)
    ]
    fig = _base(height=420)
    fig.add_trace(go.Scatter(
        x=x_pos, y=y_pos, mode="markers+text", text=names, textposition=text_pos, textfont=dict(size=10),
        marker=dict(size=18, color=attitude, cmin=-2, cmax=2,
                    colorscale=[[0, "#dc2626"], [0.5, "#e2e8f0"], [1, "#16a34a"]],
                    symbol=["circle" if a else "x" for a in active],
                    line=dict(width=[3 if f else 1 for f in flags], color=["#f59e0b" if f else "#475569" for f in flags]),
                    colorbar=dict(title=dict(text="attitude"), tickvals=[-2, 0, 2],
                                  ticktext=["opponent", "neutral", "mentor"])),
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
    ))
    fig.update_xaxes(tickvals=list(range(len(SENIORITY_ORDER))),
                     ticktext=[s.replace("_", " ") for s in SENIORITY_ORDER], range=[-0.6, len(SENIORITY_ORDER) - 0.4],
                     title="seniority", showgrid=False)
    fig.update_yaxes(tickvals=list(range(len(ROLE_ORDER))), ticktext=[r.replace("_", " ") for r in ROLE_ORDER],
                     range=[len(ROLE_ORDER) - 0.3, -0.6], title="buying role", showgrid=False)
    fig.update_layout(showlegend=False)
    return fig


def selection_score_figure(selection: pl.DataFrame) -> go.Figure:
    """Selection score of every account, key accounts dark, candidates outlined, the lowest key score as a line (METRICS.md: selection_score)."""
    if not _has(selection, "account_id", "selection_score"):
        return empty_figure("No accounts to score.")
    data = selection.sort("selection_score", descending=True, nulls_last=True)
    key = data["is_key_account"].to_list() if "is_key_account" in data.columns else [False] * data.height
    cand = data["candidate"].to_list() if "candidate" in data.columns else [None] * data.height
    colors = [ACCENT if k else "#93c5fd" for k in key]
    outline = [BAND_COLORS["red"] if c == "review" else (BAND_COLORS["green"] if c == "promote" else "rgba(0,0,0,0)")
               for c in cand]
    fig = _base(height=380)
    fig.add_trace(go.Bar(
        x=account_labels(data), y=data["selection_score"].to_list(),
        marker=dict(color=colors, line=dict(color=outline, width=3)),
        customdata=[(c or "").replace("_", " ") for c in cand], name="selection score",
        hovertemplate="%{x}<br>score %{y:.1f} %{customdata}<extra></extra>",
    ))
    key_scores = [s for s, k in zip(data["selection_score"].to_list(), key) if k and s is not None]
    if key_scores:
        fig.add_hline(y=min(key_scores), line_dash="dot", line_color=MUTED,
                      annotation_text="lowest key account", annotation_position="top right")
    fig.update_yaxes(title="selection score (0–100)", range=[0, 105])
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_layout(showlegend=False)
    return fig


def programme_size_figure(key_count: int, minimum: int = 5, maximum: int = 25, judged: bool = True) -> go.Figure:
    """The number of key accounts on a gauge with the 5–25 guidance band (METRICS.md: key_account_count); green or
    red for the whole programme, neutral (`judged` False) for a part of it, which the guidance does not apply to."""
    top = max(maximum * 1.4, key_count * 1.1, 10)
    inside = minimum <= key_count <= maximum
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=key_count,
        number=dict(suffix=" key accounts", font=dict(size=26)),
        gauge=dict(
            axis=dict(range=[0, top]),
            bar=dict(color=(BAND_COLORS["green"] if inside else BAND_COLORS["red"]) if judged else MUTED),
            steps=[dict(range=[minimum, maximum], color="#dcfce7")],
            threshold=dict(line=dict(color=MUTED, width=2), value=maximum),
        ),
        domain=dict(x=[0, 1], y=[0, 1]),
    ))
    return _style(fig, height=240)


def counts_bar_figure(labels: Iterable[str], values: Iterable[float], colors: Iterable[str] | None = None,
                      title: str | None = None) -> go.Figure:
    """A small bar chart of counts (e.g. accounts per health band or per goal status)."""
    labels, values = list(labels), list(values)
    if not labels:
        return empty_figure("Nothing to count.", title)
    fig = _base(title, height=240)
    fig.add_trace(go.Bar(x=[plot_text(l) for l in labels], y=values, text=values, textposition="outside",
                         marker_color=list(colors) if colors else ACCENT, hovertemplate="%{x}: %{y}<extra></extra>"))
    fig.update_yaxes(range=[0, max(values + [1]) * 1.25], visible=False)
    fig.update_xaxes(type="category")
    fig.update_layout(showlegend=False)
    return fig


def product_line_wallet_figure(rows: pl.DataFrame, currency: str = "EUR") -> go.Figure:
    """One account's revenue TTM against the wallet of each product line; the gap is whitespace (METRICS.md: share_of_wallet by product_line)."""
    if not _has(rows, "product_line", "revenue_ttm"):
        return empty_figure("No revenue or product-line wallet for this account.")
    data = rows.sort("product_line", descending=True)
    lines = [plot_text(p) for p in data["product_line"].to_list()]
    revenue = [v or 0.0 for v in data["revenue_ttm"].to_list()]
    wallet = data["wallet_amount"].to_list() if "wallet_amount" in data.columns else [None] * data.height
    shares = data["share_of_wallet"].to_list() if "share_of_wallet" in data.columns else [None] * data.height
    fig = _base(height=_bar_height(data.height, 44, minimum=240))
    fig.add_trace(go.Bar(
        y=lines, x=[w or 0 for w in wallet], orientation="h", name="wallet (their spend)", marker_color="#cbd5e1",
        customdata=[format_money(w, currency) for w in wallet],
        text=[format_ratio(s) if s is not None else "no estimate" for s in shares], textposition="outside",
        hovertemplate="%{y}<br>wallet %{customdata}<extra></extra>",
    ))
    fig.add_trace(go.Bar(
        y=lines, x=revenue, orientation="h", name="revenue TTM (ours)", marker_color=ACCENT,
        customdata=[format_money(v, currency) for v in revenue],
        hovertemplate="%{y}<br>revenue TTM %{customdata}<extra></extra>",
    ))
    widest = max([*(w or 0 for w in wallet), *revenue, 1])
    fig.update_layout(barmode="overlay")
    _money_axis(fig, currency, "x", title="label: our share of the product line's wallet", range=[0, widest * 1.2])
    fig.update_yaxes(type="category")
    return fig


def cost_components_figure(rows: pl.DataFrame, currency: str = "EUR") -> go.Figure:
    """One account's cost to serve TTM by component, largest first (METRICS.md: cost_to_serve_ttm)."""
    if not _has(rows, "component", "cost_ttm"):
        return empty_figure("No cost to serve in the last 12 months.")
    data = rows.filter(pl.col("cost_ttm") != 0).sort("cost_ttm")
    if data.is_empty():
        return empty_figure("No cost to serve in the last 12 months.")
    groups = data["component_group"].to_list() if "component_group" in data.columns else [""] * data.height
    palette = {"service_costs": "#0d9488", "activities": ACCENT, "cases": BAND_COLORS["amber"]}
    labels = [f"{plot_text(c).replace('_', ' ')} ({plot_text(g).replace('_', ' ')})"
              for c, g in zip(data["component"].to_list(), groups)]
    values = data["cost_ttm"].to_list()
    fig = _base(height=_bar_height(data.height, 26, minimum=220))
    fig.add_trace(go.Bar(
        x=values, y=labels, orientation="h", marker_color=[palette.get(g, MUTED) for g in groups],
        text=[format_money(v, currency) for v in values], textposition="outside",
        hovertemplate="%{y}: %{text}<extra></extra>",
    ))
    _money_axis(fig, currency, "x", title="cost to serve TTM", range=[0, max(values) * 1.25])
    fig.update_yaxes(type="category")
    fig.update_layout(showlegend=False)
    return fig


SCORE_CHECK_GROUPS = {"green": "green", "amber": "amber", "red": "red", "warned": "warned (red or amber)",
                      "all": "all accounts"}


def score_check_figure(bands: pl.DataFrame, what_if: pl.DataFrame | None = None) -> go.Figure:
    """The score check's contraction rate per band (score_check_bands): the share of account-months whose revenue
    of the next 180 days fell by more than 20 %, for the settings' weights and, when given, the what-if weights."""
    if not _has(bands, "band", "pairs", "contracted", "contraction_rate") or not bands["pairs"].sum():
        return empty_figure("No account had a health band and revenue at the check dates.")
    fig = _base(height=340)
    series = [("Settings' weights", bands, 1.0)]
    if what_if is not None and _has(what_if, "band", "contraction_rate"):
        series.append(("What if", what_if, 0.45))
    for name, frame, opacity in series:
        rows = frame.to_dicts()
        labels = [SCORE_CHECK_GROUPS.get(r["band"], r["band"]) for r in rows]
        colors = [BAND_COLORS.get(r["band"], MUTED if r["band"] == "all" else ACCENT) for r in rows]
        rates = [None if r["contraction_rate"] is None else 100.0 * r["contraction_rate"] for r in rows]
        hover = [f"{name}: {r['contracted']:,} of {r['pairs']:,} account-months shrank" for r in rows]
        fig.add_trace(go.Bar(
            x=labels, y=rates, name=name, marker=dict(color=colors, opacity=opacity,
                                                       line=dict(color="#0f172a", width=1 if opacity < 1 else 0)),
            text=format_pct_many(rates, decimals=0), textposition="outside", customdata=hover,
            hovertemplate="%{x}: %{y:.1f}%<br>%{customdata}<extra></extra>",
        ))
    fig.update_layout(barmode="group", showlegend=len(series) > 1, bargap=0.25)
    fig.update_yaxes(title_text="revenue shrank > 20% in the next 180 days", ticksuffix="%", rangemode="tozero")
    return fig


def score_check_trend_figure(by_date: pl.DataFrame) -> go.Figure:
    """Per check date (score_check_by_date): the contraction rate of the accounts that were red or amber, of those
    that were green, and of all, so a warning that holds up month after month shows as a line above the others."""
    if not _has(by_date, "check_date", "contraction_rate_warned", "contraction_rate_green"):
        return empty_figure("No account had a health band and revenue at the check dates.")
    fig = _base(height=320)
    lines = (("contraction_rate_warned", "red or amber", BAND_COLORS["red"], "solid"),
             ("contraction_rate_green", "green", BAND_COLORS["green"], "solid"),
             ("contraction_rate", "all", MUTED, "dot"))
    for column, name, color, dash in lines:
        rates = [None if v is None else 100.0 * v for v in by_date[column].to_list()]
        fig.add_trace(go.Scatter(
            x=by_date["check_date"], y=rates, name=name, mode="lines+markers",
            line=dict(color=color, dash=dash, width=2), customdata=by_date["pairs"],
            hovertemplate=f"{name}: %{{y:.1f}}%<br>%{{x|%Y-%m-%d}} · %{{customdata:,}} account-months<extra></extra>",
        ))
    fig.update_yaxes(title_text="shrank in the next 180 days", ticksuffix="%", rangemode="tozero")
    return fig
