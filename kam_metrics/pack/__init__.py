"""The weekly pack (issue 15): the Weekly review and one page per key account as one self-contained HTML file,
a PDF printed by Debian's Chromium, or the cover as an e-mail. No Streamlit here; `kam pack` and the Weekly
review's "Download weekly pack" both call it."""

from kam_metrics.pack.browser import BrowserMissing
from kam_metrics.pack.content import AccountPage, Pack, build_pack, build_pack_for
from kam_metrics.pack.render import EmailContent, cover_email, pack_file_name, render_html, render_pdf

__all__ = ["AccountPage", "BrowserMissing", "EmailContent", "Pack", "build_pack", "build_pack_for", "cover_email",
           "pack_file_name", "render_html", "render_pdf"]
