"""The weekly pack written out: one self-contained HTML file (inline styles, system fonts, charts as SVG data: URIs,
no script, nothing fetched), the PDF Chromium prints from it (a page break before each key account, page numbers
and the as_of stamp at the foot of every page), and the cover as an e-mail (PNG charts as cid: images).

Every figure carries its engine value: `data-key`, `data-value` (repr of the float; empty for unknown) and
`data-account-id` on an account's figures, so a test can read the pack back. CRM text is escaped (html.escape)
after control and bidi characters are removed (formatting.safe_text).
"""

from __future__ import annotations

import html
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import plotly.graph_objects as go
import polars as pl

from kam_metrics.app import formatting
from kam_metrics.app.charts import COMPONENT_LABELS
from kam_metrics.app.formatting import MISSING, format_metric, format_metric_delta
from kam_metrics.pack import browser as chromium
from kam_metrics.pack.content import (
    ACCOUNT_FLAGS, COVER_ACTIONS, COVER_ALERTS, ECONOMICS_KEYS, ENGAGEMENT_KEYS, WHY_COMPONENTS, Pack,
)

COVER_PAGES = 3
#: The figure key whose format a pack key borrows (key_revenue_ttm is money like revenue_ttm).
FORMAT_AS = {"key_revenue_ttm": "revenue_ttm"}
LABELS = {
    "health": "Health", "health_coverage_pct": "Health coverage", "revenue_ttm": "Revenue TTM",
    "revenue_growth_pct": "Revenue growth", "share_of_wallet": "Share of wallet", "wallet_headroom": "Wallet headroom",
    "open_pipeline": "Open pipeline", "cost_to_serve_ttm": "Cost to serve TTM",
    "net_contribution_ttm": "Net contribution TTM", "lifetime_value": "Lifetime value",
    "days_since_last_touch": "Days since last touch", "engaged_contacts_90d": "Engaged contacts (90 d)",
    "nps_365d": "NPS (365 d)",
}
#: (width, height) in CSS pixels of each kind of chart image.
CHART_SIZES = {"bands": (760, 560), "movers": (420, 240), "history": (760, 150)}
PAPER_HEIGHT_MM = {"A4": 297.0, "Letter": 279.4}
PAPER_WIDTH_MM = {"A4": 210.0, "Letter": 215.9}
MARGIN_MM = {"top": 10.0, "bottom": 14.0, "left": 12.0, "right": 12.0}

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f1f5f9; color: #0f172a;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
  font-size: 10pt; line-height: 1.35; }
.page { background: #fff; max-width: 210mm; margin: 8mm auto; padding: 8mm 10mm; overflow: hidden; }
h1 { font-size: 17pt; margin: 0 0 1mm; } h2 { font-size: 11.5pt; margin: 3mm 0 1mm; border-bottom: 1px solid #e2e8f0; }
h3 { font-size: 10pt; margin: 2mm 0 0.8mm; }
h1.account { font-size: 15pt; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.stamp { color: #475569; font-size: 8.5pt; }
.muted { color: #64748b; } .note { color: #64748b; font-size: 8.5pt; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2mm; margin: 2mm 0; }
.tile { border: 1px solid #e2e8f0; border-radius: 2mm; padding: 1.5mm 2.5mm; }
.tile .label { color: #475569; font-size: 8.5pt; } .tile .value { font-size: 14pt; font-weight: 600; }
.tile .change { font-size: 8.5pt; color: #475569; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
th, td { text-align: left; padding: 0.8mm 1.5mm; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
th { color: #475569; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; } .nowrap { white-space: nowrap; }
.figs td { width: 25%; } .figs .v { font-size: 11pt; font-weight: 600; }
.flag { background: #fef3c7; border-left: 3px solid #f59e0b; padding: 0.8mm 2mm; margin: 0.8mm 0; font-size: 8.5pt; }
.band { display: inline-block; padding: 0.3mm 2mm; border-radius: 2mm; color: #fff; font-size: 9pt; font-weight: 600; }
.band-green { background: #16a34a; } .band-amber { background: #d97706; } .band-red { background: #dc2626; }
.band-none { background: #94a3b8; }
img.chart { display: block; max-width: 100%; height: auto; margin: 1mm 0; }
.chart-missing { border: 1px dashed #94a3b8; color: #64748b; padding: 3mm; font-size: 8.5pt; margin: 1mm 0; }
.cols { display: flex; gap: 4mm; } .cols > div { flex: 1; min-width: 0; }
p { margin: 1mm 0; }
ul { margin: 0.5mm 0; padding-left: 5mm; } li { margin: 0.3mm 0; }
@media print {
  body { background: #fff; }
  .page { margin: 0; padding: 0; max-width: none; break-after: page; }
  .page:last-child { break-after: auto; }
}
"""


def esc(value: Any, max_length: int = 200) -> str:
    """CRM or other text for HTML: control and bidi characters removed, capped, escaped (quotes too)."""
    return html.escape(formatting.safe_text(value, max_length=max_length), quote=True)


def value_attr(value: Any) -> str:
    """A figure's machine-readable value: repr of a float, the int, true/false; empty for unknown."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return html.escape(str(value), quote=True)


def figure_text(key: str, value: Any, currency: str) -> str:
    """A figure as the app writes it (formatting.format_metric); unknown is "—", never 0."""
    return format_metric(FORMAT_AS.get(key, key), value, currency)


def figure(key: str, value: Any, currency: str, *, account_id: str | None = None, tag: str = "span",
           cls: str = "", on: date | None = None) -> str:
    """One figure with its engine value in data- attributes (`on`: the date of a value not at as_of's row)."""
    attrs = f' data-key="{esc(key)}" data-value="{value_attr(value)}"'
    if account_id is not None:
        attrs += f' data-account-id="{esc(account_id)}"'
    if on is not None:
        attrs += f' data-date="{on.isoformat()}"'
    if cls:
        attrs += f' class="{cls}"'
    return f"<{tag}{attrs}>{esc(figure_text(key, value, currency))}</{tag}>"


def _words(value: Any) -> str:
    return esc(str(value).replace("_", " ")) if value is not None else MISSING


def _more(shown: int, total: int, what: str) -> str:
    return f'<p class="note">+{total - shown:,} more {what} (see the app).</p>' if total > shown else ""


def filters_text(pack: Pack) -> str:
    """The filters in words ('region: North · owner: Ana · key accounts only'; 'all accounts')."""
    f = pack.filters
    parts = [f"{label}: {', '.join(values)}" for label, values in
             (("region", f.regions), ("segment", f.segments), ("KAM owner", f.kam_owners)) if values]
    if f.key_only:
        parts.append("key accounts only")
    return " · ".join(parts) or "all accounts"


def stamp_text(pack: Pack) -> str:
    """The as_of stamp on every page."""
    return f"KAM weekly pack · as of {pack.as_of.isoformat()}"


# ---------------------------------------------------------------- charts


@dataclass
class Images:
    """Chart images by figure key (data: URIs, or cid: references in the e-mail); `missing` says why none."""

    uris: dict[str, str] = field(default_factory=dict)
    missing: str | None = None


def _chart_size(key: str, fig) -> tuple[int, int]:
    """(width, height) of a chart's image: the figure's own height up to its kind's cap (history: the cap)."""
    kind = key.split(":", 1)[0]
    width, cap = CHART_SIZES.get(kind, (760, 400))
    if kind == "history":
        return width, cap
    return width, int(min(fig.layout.height or cap, cap))


def chart_specs(pack: Pack, keys: Iterable[str] | None = None) -> list[tuple[str, chromium.ChartSpec]]:
    """The figures to draw, each with its size."""
    out = []
    for key, fig in pack.figures.items():
        if keys is not None and key not in keys:
            continue
        width, height = _chart_size(key, fig)
        fig_copy = go.Figure(fig)  # a copy: the app's own figure, sized for the page
        fig_copy.update_layout(width=width, height=height, paper_bgcolor="#ffffff", plot_bgcolor="#ffffff")
        out.append((key, chromium.ChartSpec(chromium.figure_json(fig_copy), width, height)))
    return out


def draw_charts(pack: Pack, browser: chromium.Browser, format: str = "svg",
                keys: Iterable[str] | None = None) -> dict[str, str]:
    """Every figure of the pack as a data: URI, drawn in one browser evaluate."""
    specs = chart_specs(pack, keys)
    uris = browser.images([s for _, s in specs], format=format)
    return {key: uri for (key, _), uri in zip(specs, uris)}


def _chart(images: Images, key: str, alt: str) -> str:
    uri = images.uris.get(key)
    if uri:
        return f'<img class="chart" alt="{esc(alt)}" src="{html.escape(uri, quote=True)}">'
    why = images.missing or "no chart for this data"
    return f'<div class="chart-missing">chart not drawn: {esc(why, 300)}</div>'


# ---------------------------------------------------------------- sections


def _tiles(pack: Pack) -> str:
    cur = pack.currency
    out = []
    for t in pack.tiles:
        change = format_metric_delta(FORMAT_AS.get(t.key, t.key), t.change, cur)
        change_html = (f'<div class="change" data-key="{esc(t.key)}" data-change="{value_attr(t.change)}">'
                       f'{esc(change)} vs 7 days earlier</div>' if change else
                       f'<div class="change">{esc(t.absent) if t.absent and t.value is None else "no change data"}</div>')
        out.append(f'<div class="tile"><div class="label">{esc(t.label)}</div>'
                   f'{figure(t.key, t.value, cur, tag="div", cls="value")}{change_html}</div>')
    return f'<div class="tiles">{"".join(out)}</div>'


def band_summary(pack: Pack) -> str:
    """'15 green · 2 amber · 0 red' (and the insufficient-data count when there is one), as on the Weekly review."""
    parts = [f"{figure(f'{b}_count', pack.band_counts.get(b), pack.currency)} {b}" for b in ("green", "amber", "red")]
    insufficient = pack.band_counts.get("insufficient_data")
    if insufficient:
        parts.append(f"{figure('insufficient_data_count', insufficient, pack.currency)} insufficient data")
    return " · ".join(parts)


def _header(pack: Pack, title: str) -> str:
    s = pack.status
    loaded = s.loaded_at.strftime("%Y-%m-%d %H:%M UTC") if s.loaded_at else "unknown time"
    source = Path(s.source_path).name if s.source_path else "unknown source"
    return (f'<h1>{esc(title)}</h1>'
            f'<div class="stamp">Key account programme · <strong>as of {pack.as_of.isoformat()}</strong> · '
            f'filters: <span data-key="filters">{esc(filters_text(pack), 400)}</span></div>'
            f'<div class="stamp">Snapshot <span data-key="snapshot_id">{esc(s.load_id)}</span> '
            f'(export {esc(source)}, loaded {esc(loaded)}) · pack made '
            f'{pack.made_at.strftime("%Y-%m-%d %H:%M UTC")}</div>')


def _alerts_table(pack: Pack, limit: int = COVER_ALERTS) -> str:
    alerts = pack.alerts
    if alerts.is_empty():
        return '<p class="muted">No alerts for these accounts at this date.</p>'
    rows = []
    for r in alerts.head(limit).iter_rows(named=True):
        owner = r.get("action_owner")
        rows.append(f'<tr data-alert-account-id="{esc(r["account_id"])}"><td>{_words(r["severity"])}</td>'
                    f'<td>{esc(r["account_name"] or r["account_id"], 60)}</td><td>{_words(r["alert"])}</td>'
                    f'<td>{esc(r["detail"], 120)}</td><td>{esc(owner, 60) if owner else MISSING}</td></tr>')
    return ('<table><tr><th>Severity</th><th>Account</th><th>Alert</th><th>Detail</th><th>Action owner</th></tr>'
            + "".join(rows) + "</table>" + _more(min(limit, alerts.height), alerts.height, "alerts"))


def _actions_table(frame: pl.DataFrame, total: int, *, with_account: bool, empty: str) -> str:
    if frame.is_empty():
        return f'<p class="muted">{esc(empty)}</p>'
    rows = []
    for r in frame.iter_rows(named=True):
        due = formatting.format_date(r.get("due_date"))
        overdue = " (overdue)" if r.get("is_overdue") else ""
        account = (f'<td>{esc(r.get("account_name") or r.get("account_id") or "programme", 60)}</td>'
                   if with_account else "")
        rows.append(f'<tr>{account}<td>{esc(r.get("title"), 60)}</td><td>{esc(r.get("owner"), 60) or MISSING}</td>'
                    f'<td class="nowrap">{esc(due)}{overdue}</td></tr>')
    head = "<th>Account</th>" if with_account else ""
    return (f'<table><tr>{head}<th>Action</th><th>Owner</th><th>Due</th></tr>' + "".join(rows) + "</table>"
            + _more(frame.height, total, "open actions"))


def _why_line(movement: pl.DataFrame, limit: int = WHY_COMPONENTS) -> str:
    if movement.is_empty():
        return "no movement data"
    parts = []
    for r in movement.filter(pl.col("change").abs() >= 0.05).head(limit).iter_rows(named=True):
        parts.append(f"{COMPONENT_LABELS.get(r['component'], r['component'])} "
                     f"{formatting.format_number(r['change'], signed=True)}")
    return esc(", ".join(parts)) if parts else "no component changed"


def _movers(pack: Pack, images: Images) -> str:
    if pack.movers.is_empty():
        return '<p class="muted">No key account\'s health moved this week.</p>'
    lines = []
    for m in pack.movers.iter_rows(named=True):
        from kam_metrics.pack.content import component_changes

        why = _why_line(component_changes(pack.movement, m["account_id"]))
        lines.append(f'<li data-mover-account-id="{esc(m["account_id"])}"><strong>{esc(m["account_name"], 60)}</strong>: '
                     f'{figure("health", m["health_from"], pack.currency, account_id=m["account_id"], on=pack.date_from)} → '
                     f'{figure("health", m["health_to"], pack.currency, account_id=m["account_id"], on=pack.as_of)} '
                     f'({esc(formatting.format_number(m["health_change"], signed=True))}). Why: {why}</li>')
    return (f'<div class="cols"><div>{_chart(images, "movers", "Biggest movers of the week")}</div>'
            f'<div><ul>{"".join(lines)}</ul></div></div>')


def _score_check(pack: Pack) -> str:
    sc = pack.score_check
    if not sc:
        return ('<p class="muted">No score check: no account had revenue history around the check dates.</p>')
    verdict = pack.score_check_verdict
    lift = sc.get("warning_lift")
    lead = sc.get("warning_lead_days_median")
    items = [
        f"Precision {figure('warning_precision', sc.get('warning_precision'), pack.currency)}: of the account-months "
        "red or amber, the share whose revenue then shrank.",
        f"Recall {figure('warning_recall', sc.get('warning_recall'), pack.currency)}: of the account-months that "
        "shrank, the share that had been red or amber.",
        f'Lift <span data-key="warning_lift" data-value="{value_attr(lift)}">'
        f'{MISSING if lift is None else f"{lift:.2f}×"}</span> against accounts overall.',
        f'Warned for (median) <span data-key="warning_lead_days_median" data-value="{value_attr(lead)}">'
        f'{MISSING if lead is None else f"{lead:,.0f} days"}</span> before the shrinking.',
        f"{figure('pairs', sc.get('pairs'), pack.currency)} account-months checked.",
    ]
    return (f'<p>{esc(verdict, 400)}</p>' if verdict else "") + "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def cover_html(pack: Pack, images: Images) -> list[str]:
    """The cover's COVER_PAGES pages: the programme (header, KPIs, health bands); what needs attention (alerts with
    their action owners, open actions); the week's movers and why, and the score check."""
    key_note = ("" if pack.key_count <= 30 else
                f' <span class="note">The chart shows the {30} lowest of {pack.key_count:,} key accounts.</span>')
    first = (_header(pack, "Weekly pack") +
             "<h2>Programme KPIs</h2>" + _tiles(pack) +
             f"<h2>Health of the key accounts</h2><p>{band_summary(pack)}.{key_note}</p>" +
             (_chart(images, "bands", "Health of the key accounts") if pack.key_count else
              '<p class="muted">No key account matches these filters.</p>'))
    actions_note = ("" if pack.has_store else
                    '<p class="note">No programme store yet: open actions are recorded in the app.</p>')
    stamp = f'<div class="stamp">{esc(stamp_text(pack))} · {esc(filters_text(pack), 300)}</div>'
    second = (stamp + "<h2>Needs attention</h2>" + _alerts_table(pack) +
              "<h3>Open actions</h3>" + actions_note +
              (_actions_table(pack.open_actions.head(COVER_ACTIONS), pack.open_actions.height, with_account=True,
                              empty="No open actions.") if pack.has_store else ""))
    third = (stamp + f"<h2>Biggest movers of the week ({pack.date_from.isoformat()} → {pack.as_of.isoformat()})</h2>"
             + _movers(pack, images) + "<h2>Score check</h2>" + _score_check(pack))
    return [first, second, third]


def _band_badge(row: dict) -> str:
    band = row.get("band")
    cls = {"green": "band-green", "amber": "band-amber", "red": "band-red"}.get(band, "band-none")
    return f'<span class="band {cls}">{_words(band) if band else "no score"}</span>'


def _figures_grid(keys: Iterable[str], row: dict, pack: Pack, account_id: str) -> str:
    cells = [f'<td><div class="muted">{esc(LABELS.get(k, k))}</div>'
             f'{figure(k, row.get(k), pack.currency, account_id=account_id, cls="v")}</td>'
             for k in keys if k in row or k != "open_pipeline"]
    rows = ["".join(cells[i:i + 4]) for i in range(0, len(cells), 4)]
    return '<table class="figs">' + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>"


def _goals_table(pack: Pack, page) -> str:
    if page.goals.is_empty():
        return '<p class="muted">No goals for this account.</p>'
    rows = []
    for g in page.goals.iter_rows(named=True):
        rows.append(f'<tr><td>{esc(g.get("title"), 50)}</td><td>{esc(g.get("metric"), 40) or MISSING}</td>'
                    f'<td class="num">{esc(format_metric(g.get("metric") or "", g.get("current"), pack.currency))}</td>'
                    f'<td class="num">{esc(format_metric(g.get("metric") or "", g.get("target"), pack.currency))}</td>'
                    f'<td class="num">{esc(formatting.format_ratio(g.get("progress")))}</td>'
                    f'<td class="nowrap">{_words(g.get("status"))}</td>'
                    f'<td class="nowrap">{esc(formatting.format_date(g.get("due_date")))}</td></tr>')
    return ('<table><tr><th>Goal</th><th>Metric</th><th>Current</th><th>Target</th><th>Progress</th><th>Status</th>'
            '<th>Due</th></tr>' + "".join(rows) + "</table>" + _more(page.goals.height, page.goals_total, "goals"))


def account_html(pack: Pack, page, number: int, images: Images) -> str:
    """One key account's page."""
    row, aid = page.row, page.account_id
    desc = [f"{label}: {esc(row.get(col), 60)}" for label, col in
            (("region", "region"), ("segment", "segment"), ("KAM", "kam_owner"), ("sponsor", "executive_sponsor"))
            if row.get(col)]
    has_reviews = "reviews" in pack.status.present_tables
    cadence = (_words(row.get("cadence_status")) if has_reviews else "— (needs reviews.csv)")
    moved = (f'{figure("health", page.health_from, pack.currency, account_id=aid, on=pack.date_from)} → '
             f'{figure("health", page.health_to, pack.currency, account_id=aid, on=pack.as_of)}'
             if page.health_from is not None or page.health_to is not None else MISSING)
    flags = ("".join(f'<div class="flag">{esc(f, 200)}</div>' for f in page.flags[:ACCOUNT_FLAGS])
             + _more(min(len(page.flags), ACCOUNT_FLAGS), len(page.flags), "flags"))
    return (
        f'<div class="stamp">{esc(stamp_text(pack))} · key account {number} of {len(pack.accounts)}</div>'
        f'<h1 class="account" data-account-name-of="{esc(aid)}">{esc(page.account_name, 200)}</h1>'
        f'<div class="stamp">{esc(aid)} · ' + " · ".join(desc) + "</div>"
        "<h2>Health</h2>"
        f'<p>{_band_badge(row)} health {figure("health", row.get("health"), pack.currency, account_id=aid)} · '
        f'coverage {figure("health_coverage_pct", row.get("health_coverage_pct"), pack.currency, account_id=aid)} · '
        f'this week {moved} · why: {_why_line(page.movement)}</p>'
        + _chart(images, f"history:{aid}", f"Health history of {page.account_name}")
        + ("<h3>Relationship flags</h3>" + flags if flags else '<p class="muted">No relationship flags.</p>')
        + "<h2>Economics, engagement and plan cadence</h2>"
        + _figures_grid((*ECONOMICS_KEYS, *ENGAGEMENT_KEYS), row, pack, aid)
        + f'<p>Plan cadence: <strong data-key="cadence_status" data-account-id="{esc(aid)}" '
          f'data-value="{value_attr(row.get("cadence_status"))}">{cadence}</strong>'
          f' · 90-day plan current: {figure("plan_current", row.get("plan_current"), pack.currency, account_id=aid)}'
          f' · 30-day review current: {figure("review_current", row.get("review_current"), pack.currency, account_id=aid)}</p>'
        + "<h2>Goals</h2>" + _goals_table(pack, page)
        + "<h2>Open actions</h2>"
        + (_actions_table(page.actions, page.actions_total, with_account=False,
                          empty="No open actions on this account.") if pack.has_store
           else '<p class="muted">No programme store yet: open actions are recorded in the app.</p>')
    )


def _document(pack: Pack, sections: list[str], extra_css: str = "") -> str:
    title = f"KAM weekly pack · as of {pack.as_of.isoformat()}"
    body = "".join(f'<section class="page">{s}</section>' for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}{extra_css}</style></head><body>{body}</body></html>\n")


def page_css(paper: str) -> str:
    """Print rules for one paper size: every section exactly one page (taller content is cut, never spilled)."""
    height = PAPER_HEIGHT_MM[paper] - MARGIN_MM["top"] - MARGIN_MM["bottom"] - 2.0
    return f"@media print {{ .page {{ height: {height:.1f}mm; }} }}"


def _images_or_note(pack: Pack, format: str = "svg") -> Images:
    try:
        with chromium.Browser() as b:
            return Images(draw_charts(pack, b, format))
    except chromium.BrowserMissing as exc:
        print(f"kam: warning: {exc}", file=sys.stderr)
        return Images(missing="Chromium not found (apt-get install chromium, or set KAM_CHROMIUM)")


def render_html(pack: Pack, *, images: Images | None = None, paper: str | None = None) -> str:
    """The whole pack as one self-contained HTML document (charts drawn by Chromium, or a note when it is missing)."""
    images = images if images is not None else _images_or_note(pack)
    sections = cover_html(pack, images) + [account_html(pack, p, i, images)
                                           for i, p in enumerate(pack.accounts, start=1)]
    return _document(pack, sections, page_css(paper) if paper else page_css("A4"))


def normalise_paper(paper: str) -> str:
    """"A4" or "Letter" from any case."""
    for name in PAPER_HEIGHT_MM:
        if paper.lower() == name.lower():
            return name
    raise ValueError(f"paper must be A4 or Letter, not {paper!r}")


def render_pdf(pack: Pack, out_path: str | Path, paper: str = "A4", *, browser: chromium.Browser | None = None,
               images: Images | None = None) -> int:
    """Print the pack to a PDF (A4 or Letter; one page per key account after the cover); returns the page count.
    Raises BrowserMissing (saying what to install) when Chromium is missing. `browser`, `images`: an open browser
    and charts already drawn (the app draws them once for the HTML and the PDF)."""
    paper = normalise_paper(paper)
    if browser is None:
        with chromium.Browser() as b:
            return render_pdf(pack, out_path, paper, browser=b, images=images)
    images = images if images is not None else Images(draw_charts(pack, browser, "svg"))
    document = render_html(pack, images=images, paper=paper)
    data, cut = browser.pdf(document, out_path, paper=paper, footer=esc(stamp_text(pack)), margin_mm=MARGIN_MM,
                            content_width_mm=PAPER_WIDTH_MM[paper] - MARGIN_MM["left"] - MARGIN_MM["right"])
    for index in cut:
        what = (f"cover page {index + 1}" if index < COVER_PAGES
                else f"the page of {pack.accounts[index - COVER_PAGES].account_id}")
        print(f"kam: warning: {what} is taller than one {paper} page; its end is cut", file=sys.stderr)
    return pdf_page_count(data)


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF (its /Type /Page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


# ---------------------------------------------------------------- the e-mail


@dataclass(frozen=True)
class EmailContent:
    """The cover as an e-mail: subject, HTML (images as <img src="cid:KEY">), plain text, KEY -> PNG bytes."""

    subject: str
    html: str
    text: str
    images: dict[str, bytes]


def _text_lines(pack: Pack) -> list[str]:
    cur = pack.currency
    lines = [stamp_text(pack), f"Filters: {formatting.safe_text(filters_text(pack), max_length=300)}",
             f"Snapshot {pack.status.load_id}", "",
             "Programme KPIs (change vs 7 days earlier):"]
    for t in pack.tiles:
        change = format_metric_delta(FORMAT_AS.get(t.key, t.key), t.change, cur)
        lines.append(f"- {t.label}: {figure_text(t.key, t.value, cur)}" + (f" ({change})" if change else ""))
    counts = " · ".join(f"{formatting.format_count(pack.band_counts.get(b))} {b}" for b in ("green", "amber", "red"))
    lines += ["", f"Health of the key accounts: {counts}", "", "Needs attention:"]
    if pack.alerts.is_empty():
        lines.append("- No alerts.")
    for r in pack.alerts.head(COVER_ALERTS).iter_rows(named=True):
        owner = f" (action: {formatting.safe_text(r['action_owner'], max_length=60)})" if r.get("action_owner") else ""
        lines.append(f"- [{r['severity']}] {formatting.safe_text(r['account_name'], max_length=60)}: "
                     f"{str(r['alert']).replace('_', ' ')}: {formatting.safe_text(r['detail'], max_length=140)}{owner}")
    if pack.alerts.height > COVER_ALERTS:
        lines.append(f"- +{pack.alerts.height - COVER_ALERTS:,} more alerts")
    lines += ["", "Biggest movers of the week:"]
    if pack.movers.is_empty():
        lines.append("- No key account's health moved this week.")
    for m in pack.movers.iter_rows(named=True):
        lines.append(f"- {formatting.safe_text(m['account_name'], max_length=60)}: "
                     f"{formatting.format_number(m['health_from'])} → {formatting.format_number(m['health_to'])} "
                     f"({formatting.format_number(m['health_change'], signed=True)})")
    if pack.score_check_verdict:
        lines += ["", f"Score check: {pack.score_check_verdict}"]
    return lines


def cover_email(pack: Pack) -> EmailContent:
    """The cover (KPIs, health bands, what needs attention, movers, score check) as an e-mail with PNG charts."""
    owner = f" · {', '.join(pack.filters.kam_owners)}" if pack.filters.kam_owners else ""
    subject = formatting.safe_text(f"KAM weekly pack · as of {pack.as_of.isoformat()}{owner}", max_length=200)
    keys = [k for k in ("bands", "movers") if k in pack.figures]
    png: dict[str, bytes] = {}
    try:
        with chromium.Browser() as b:
            uris = draw_charts(pack, b, "png", keys)
        png = {f"kam-{k}": chromium.data_uri_bytes(u) for k, u in uris.items()}
        images = Images({k: f"cid:kam-{k}" for k in uris})
    except chromium.BrowserMissing as exc:
        print(f"kam: warning: {exc}", file=sys.stderr)
        images = Images(missing="Chromium not found on the sending machine")
    sections = cover_html(pack, images)
    document = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{esc(subject)}</title><style>{CSS}</style></head><body>"
                + "".join(f'<div class="page">{s}</div>' for s in sections) + "</body></html>\n")
    return EmailContent(subject=subject, html=document, text="\n".join(_text_lines(pack)) + "\n", images=png)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", formatting.safe_text(text, max_length=80).lower()).strip("-")
    return slug[:40].strip("-") or "owner"


def pack_file_name(pack: Pack, ext: str) -> str:
    """'kam-weekly-pack-2026-11-20.pdf', with the KAM owner's slug when the pack is one owner's."""
    owner = f"-{_slug(pack.filters.kam_owners[0])}" if len(pack.filters.kam_owners) == 1 else ""
    return f"kam-weekly-pack-{pack.as_of.isoformat()}{owner}.{ext.lstrip('.')}"

