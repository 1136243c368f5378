"""Loading: an export (canonical, Salesforce, HubSpot) → parsed, checked tables → a new DuckDB snapshot.

The one-way path, in the order a load runs it:
importers/ (one per CRM; only map its objects and fields) → parse.py (text → typed columns) →
contract.py + schemas.py (the rules) → validate.py (checks, keys, references, currency, quarantine) →
pipeline.py (one load, step by step) → warehouse.py (snapshot files, the CURRENT pointer) and marts /
mart_frames (aggregates precomputed at load). verify.py proves nothing was lost.
"""
