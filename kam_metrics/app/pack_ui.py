"""The Weekly review's "Download weekly pack": the pack (kam_metrics.pack) at the sidebar's as_of and filters,
built from the app's cached connection and the programme store on "Prepare weekly pack" (not on every rerun),
then offered as HTML, and as PDF when Chromium is found."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from kam_metrics.app import programme_ui
from kam_metrics.app.formatting import escape_markdown
from kam_metrics.app.frame import View, snapshot_connection
from kam_metrics.pack import BrowserMissing, build_pack, pack_file_name, render_pdf
from kam_metrics.pack.browser import find_chromium
from kam_metrics.pack.render import Images, draw_charts, render_html
from kam_metrics.pack import browser as chromium

STATE = "kam_weekly_pack"


def _pack_key(view: View) -> tuple:
    return (view.source, view.as_of, view.filters, view.settings_fingerprint)


def _prepare(view: View) -> dict:
    """The pack's files at the view's as_of and filters: {"html": bytes, "pdf": bytes | None, ...}."""
    cursor = snapshot_connection(view.source).cursor()
    try:
        pack = build_pack(cursor, view.settings, as_of=view.as_of, filters=view.filters, store=programme_ui.reader())
    finally:
        cursor.close()
    out = {"key": _pack_key(view), "as_of": pack.as_of, "filters": pack.filters, "pdf": None, "missing": None,
           "html_name": pack_file_name(pack, "html"), "pdf_name": pack_file_name(pack, "pdf")}
    try:
        find_chromium()
    except BrowserMissing as exc:
        out["missing"] = str(exc)
        out["html"] = render_html(pack, images=Images(missing="Chromium not found on the app's server")).encode()
        return out
    with chromium.Browser() as b, tempfile.TemporaryDirectory() as folder:
        images = Images(draw_charts(pack, b))
        out["html"] = render_html(pack, images=images).encode()
        path = Path(folder) / out["pdf_name"]
        out["pages"] = render_pdf(pack, path, browser=b, images=images)
        out["pdf"] = path.read_bytes()
    return out


def weekly_pack_download(view: View) -> None:
    """"Prepare weekly pack" then the HTML (and PDF) download buttons, for the sidebar's as_of and filters."""
    prepared = st.session_state.get(STATE)
    if prepared is not None and prepared["key"] != _pack_key(view):
        prepared = None
    if st.button("Prepare weekly pack", icon=":material/summarize:", key="kam_prepare_pack",
                 help="The Weekly review and one page per key account at this as_of and these filters, as one HTML "
                      "file (and a PDF when Chromium is installed on the server); `kam pack` writes the same."):
        with st.spinner("Preparing the weekly pack…"):
            prepared = _prepare(view)
        st.session_state[STATE] = prepared
    if prepared is None:
        return
    left, right = st.columns(2)
    with left:
        st.download_button("Download weekly pack (HTML)", prepared["html"], file_name=prepared["html_name"],
                           mime="text/html", icon=":material/download:", key="kam_pack_html", on_click="ignore")
    with right:
        if prepared["pdf"] is not None:
            st.download_button("Download weekly pack (PDF)", prepared["pdf"], file_name=prepared["pdf_name"],
                               mime="application/pdf", icon=":material/picture_as_pdf:", key="kam_pack_pdf",
                               on_click="ignore")
        else:
            st.caption(escape_markdown(prepared["missing"] or "No PDF."))
