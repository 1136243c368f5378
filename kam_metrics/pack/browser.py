"""Debian's Chromium, headless through Playwright: draws the pack's charts and prints its PDF.

One browser page holds the plotly.min.js the plotly package ships; `Plotly.toImage` draws every figure in one
evaluate (about 25 ms a chart, against some 450 ms with kaleido), and the same browser prints the PDF.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

ENV_CHROMIUM = "KAM_CHROMIUM"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class BrowserMissing(RuntimeError):
    """Chromium is not installed (or $KAM_CHROMIUM names no program): charts and the PDF cannot be drawn."""


def missing_message(found: str | None = None) -> str:
    """What to do when Chromium is missing."""
    where = f" ({found} does not exist)" if found else ""
    return (f"Chromium not found{where}: the PDF and the charts need it. Install Debian's chromium "
            f"(apt-get install chromium) or set {ENV_CHROMIUM} to a Chromium program; an HTML pack "
            "(--out FILE.html) is written without it, with a note in place of each chart.")


def find_chromium() -> str:
    """The Chromium program: $KAM_CHROMIUM, else /usr/bin/chromium, else chromium or chromium-browser on PATH;
    raises BrowserMissing when there is none."""
    named = os.environ.get(ENV_CHROMIUM)
    if named:
        if Path(named).is_file() and os.access(named, os.X_OK):
            return named
        raise BrowserMissing(missing_message(named))
    if Path(DEBIAN_CHROMIUM).is_file():
        return DEBIAN_CHROMIUM
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing(missing_message())


def plotly_js_path() -> Path:
    """The plotly.min.js the plotly package ships (the same version the app draws with)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@dataclass(frozen=True)
class ChartSpec:
    """One figure to draw: its Plotly JSON, the image size in pixels."""

    figure_json: str
    width: int
    height: int


_DRAW = """async ([specs, format]) => {
  const out = [];
  const div = document.getElementById('chart');
  for (const s of specs) {
    const fig = JSON.parse(s.figure);
    out.push(await Plotly.toImage(fig, {format: format, width: s.width, height: s.height}));
  }
  return out;
}"""


class Browser:
    """A headless Chromium with one page that has Plotly loaded. Use as a context manager."""

    def __init__(self, executable: str | None = None):
        self.executable = executable or find_chromium()
        self._playwright = None
        self._browser = None
        self._page = None

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(executable_path=self.executable, args=LAUNCH_ARGS)
        except Exception as exc:
            self._playwright.stop()
            raise BrowserMissing(f"Chromium at {self.executable} did not start ({exc}). " + missing_message()) from exc
        self._page = self._browser.new_page()
        self._page.set_content("<html><body><div id='chart'></div></body></html>")
        self._page.add_script_tag(path=str(plotly_js_path()))
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()

    def images(self, specs: Iterable[ChartSpec], format: str = "svg") -> list[str]:
        """Each figure as a data: URI ("svg" or "png"), drawn in one evaluate."""
        specs = list(specs)
        if not specs:
            return []
        payload = [{"figure": s.figure_json, "width": s.width, "height": s.height} for s in specs]
        return self._page.evaluate(_DRAW, [payload, format])

    def pdf(self, html: str, out_path: str | Path, *, paper: str = "A4", footer: str = "",
            margin_mm: dict[str, float] | None = None, content_width_mm: float = 186.0) -> tuple[bytes, list[int]]:
        """Print `html` to a PDF file (page numbers and `footer` text, already escaped, at the foot of every page).

        Returns the PDF and the indexes of the `.page` sections whose content is taller than their page (cut)."""
        margins = {k: f"{v}mm" for k, v in (margin_mm or {}).items()}
        page = self._browser.new_page(viewport={"width": round(content_width_mm * 96 / 25.4), "height": 1000})
        try:
            page.set_content(html, wait_until="load")
            page.emulate_media(media="print")
            cut = page.evaluate("() => Array.from(document.querySelectorAll('section.page'))"
                                ".map((s, i) => s.scrollHeight > s.clientHeight + 2 ? i : -1).filter(i => i >= 0)")
            template = ("<div style='font-size:8px;width:100%;padding:0 12mm;color:#475569;"
                        "font-family:system-ui,sans-serif;display:flex;justify-content:space-between'>"
                        f"<span>{footer}</span><span>page <span class='pageNumber'></span> / "
                        "<span class='totalPages'></span></span></div>")
            data = page.pdf(path=str(out_path), format=paper, print_background=True, display_header_footer=True,
                            header_template="<span></span>", footer_template=template, margin=margins)
            return data, cut
        finally:
            page.close()


def figure_json(figure) -> str:
    """A Plotly figure as JSON for Plotly.toImage (plotly's own encoder: dates, numpy values)."""
    return figure.to_json()


def data_uri_bytes(uri: str) -> bytes:
    """The bytes of a data: URI (base64 or percent-encoded)."""
    import base64
    from urllib.parse import unquote_to_bytes

    head, _, data = uri.partition(",")
    return base64.b64decode(data) if head.endswith(";base64") else unquote_to_bytes(data)


__all__ = ["Browser", "BrowserMissing", "ChartSpec", "data_uri_bytes", "figure_json", "find_chromium",
           "missing_message", "plotly_js_path"]
