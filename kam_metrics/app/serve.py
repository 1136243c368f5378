"""Start the dashboard's Streamlit server with the libraries of a first page already imported.

Streamlit imports pandas and pyarrow when a process draws its first table, so the first visitor after a start
would wait about a second more than any other. `kam app` starts the server through this module, which imports
them (and Plotly, Polars, DuckDB) before the server takes its first request: every session then starts alike.

    python -m kam_metrics.app.serve app.py --server.port 8501 …   (the arguments of `streamlit run`)
"""

from __future__ import annotations

import sys

#: What a first page needs that Streamlit or the app would otherwise import while a visitor waits.
FIRST_PAGE_IMPORTS = ("pandas", "pyarrow", "plotly.graph_objects", "polars", "duckdb")


def preload() -> None:
    """Import the libraries of FIRST_PAGE_IMPORTS into this process."""
    import importlib

    for name in FIRST_PAGE_IMPORTS:
        importlib.import_module(name)


def main(argv: list[str]) -> int:
    """`streamlit run ARGV…` in this process, after preload()."""
    preload()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *argv]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
