"""The thin Streamlit layer: the page frame (cached readers, sidebar), widgets, charts, formatting and
one view module per page (`views/`). Nothing else in kam_metrics imports Streamlit."""
