"""The peer: what a data analyst would write instead of KAM Health, with pandas + pandera (pandas backend).

`python -m benchmarks.peer_pandas EXPORT_DIR DB_PATH` reads every CSV of a canonical export with pandas,
types the columns (a cell that cannot be read fails its row), validates each table with a pandera
DataFrameSchema (required values, ranges, enumerations, unique keys, account and contact references,
the rules across two columns of a row), and stores the good rows plus the failure cases in a new DuckDB
file. It prints JSON: seconds, rows read and kept per table.

It is written to be fast and fair: pandas' pyarrow CSV engine (multithreaded) parses the contract's
types directly (a file with an unreadable cell is re-read as text and coerced column by column),
hash-based `isin` for references, one lazy validation per table. It does NOT do what KAM Health also
does (raw layer, provenance, quarantine with reasons per cell, currency conversion, ISO datetimes,
precomputed aggregates, atomic snapshots), so it is a lower bound for a hand-written script.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_lib
from pandera import Check

# The contract's enumerations, as an analyst would copy them from DATA_CONTRACT.md.
ACTIVITY_TYPES = ["email", "call", "meeting", "exec_meeting", "qbr", "site_visit", "workshop", "other"]
RELATIONSHIP_STAGES = ["exploratory", "basic", "cooperative", "interdependent", "integrated"]
SENIORITIES = ["c_level", "vp", "director", "manager", "individual", "unknown"]
BUYING_ROLES = ["decision_maker", "economic_buyer", "champion", "influencer", "user", "gatekeeper", "blocker", "unknown"]
COST_CATEGORIES = ["support", "logistics", "account_management", "discount", "travel", "customisation", "other"]
CASE_PRIORITIES = ["low", "medium", "high", "critical"]
CONFIDENCES = ["low", "medium", "high"]
HORIZONS = ["short", "mid", "long"]
REVIEW_TYPES = ["plan_90_day", "review_30_day", "qbr", "strategy_day", "other"]

# Column types per table: s string, d date, f float, i int, b bool, e enum (list, fallback or None).
TYPES: dict[str, dict[str, object]] = {
    "fx_rates": {"currency": "s", "rate": "f", "valid_from": "d"},
    "accounts": {"account_id": "s", "account_name": "s", "is_key_account": "b", "parent_account_id": "s",
                 "industry": "s", "region": "s", "segment": "s", "kam_owner": "s", "executive_sponsor": "s",
                 "key_account_since": "d", "relationship_stage": ("e", RELATIONSHIP_STAGES, None),
                 "created_date": "d"},
    "contacts": {"contact_id": "s", "account_id": "s", "full_name": "s", "title": "s",
                 "seniority": ("e", SENIORITIES, "unknown"), "buying_role": ("e", BUYING_ROLES, "unknown"),
                 "attitude": "i", "is_active": "b", "left_date": "d"},
    "goals": {"goal_id": "s", "title": "s", "account_id": "s", "metric": "s", "baseline": "f", "target": "f",
              "current": "f", "start_date": "d", "due_date": "d", "owner": "s",
              "horizon": ("e", HORIZONS, None)},
    "activities": {"activity_id": "s", "account_id": "s", "activity_date": "d",
                   "activity_type": ("e", ACTIVITY_TYPES, "other"), "contact_id": "s", "owner": "s",
                   "duration_minutes": "f", "subject": "s"},
    "revenue": {"revenue_id": "s", "account_id": "s", "revenue_date": "d", "amount": "f", "cost_of_goods": "f",
                "product_line": "s", "currency": "s"},
    "opportunities": {"opportunity_id": "s", "account_id": "s", "name": "s", "stage": "s", "amount": "f",
                      "close_date": "d", "is_closed": "b", "is_won": "b", "product_line": "s", "currency": "s",
                      "created_date": "d"},
    "service_costs": {"cost_id": "s", "account_id": "s", "cost_date": "d",
                      "category": ("e", COST_CATEGORIES, "other"), "amount": "f", "currency": "s"},
    "cases": {"case_id": "s", "account_id": "s", "opened_date": "d", "closed_date": "d",
              "priority": ("e", CASE_PRIORITIES, "medium"), "status": "s"},
    "surveys": {"response_id": "s", "account_id": "s", "response_date": "d", "contact_id": "s", "nps": "i",
                "csat": "i"},
    "wallet": {"account_id": "s", "year": "i", "wallet_amount": "f", "product_line": "s", "source": "s",
               "confidence": ("e", CONFIDENCES, None)},
    "actions": {"action_id": "s", "goal_id": "s", "title": "s", "owner": "s", "due_date": "d",
                "completed_date": "d"},
    "reviews": {"review_id": "s", "account_id": "s", "review_date": "d",
                "review_type": ("e", REVIEW_TYPES, "other"), "rating": "i"},
}
ORDER = ["fx_rates", "accounts", "contacts", "goals", "activities", "revenue", "opportunities", "service_costs",
         "cases", "surveys", "wallet", "actions", "reviews"]
REQUIRED = {
    "fx_rates": ["currency", "rate"], "accounts": ["account_id", "account_name", "is_key_account"],
    "contacts": ["contact_id", "account_id", "full_name"], "goals": ["goal_id", "title", "target", "start_date", "due_date"],
    "activities": ["activity_id", "account_id", "activity_date", "activity_type"],
    "revenue": ["revenue_id", "account_id", "revenue_date", "amount"],
    "opportunities": ["opportunity_id", "account_id", "stage", "close_date", "is_closed", "is_won"],
    "service_costs": ["cost_id", "account_id", "cost_date", "amount"], "cases": ["case_id", "account_id", "opened_date"],
    "surveys": ["response_id", "account_id", "response_date"], "wallet": ["account_id", "year", "wallet_amount"],
    "actions": ["action_id", "goal_id", "title"], "reviews": ["review_id", "account_id", "review_date"],
}
KEYS = {"fx_rates": None, "accounts": "account_id", "contacts": "contact_id", "goals": "goal_id",
        "activities": "activity_id", "revenue": "revenue_id", "opportunities": "opportunity_id",
        "service_costs": "cost_id", "cases": "case_id", "surveys": "response_id", "wallet": None,
        "actions": "action_id", "reviews": "review_id"}
RANGES = {
    ("fx_rates", "rate"): Check.gt(0), ("contacts", "attitude"): Check.in_range(-2, 2),
    ("activities", "duration_minutes"): Check.in_range(0, 1440), ("revenue", "cost_of_goods"): Check.ge(0),
    ("opportunities", "amount"): Check.ge(0), ("service_costs", "amount"): Check.ge(0),
    ("surveys", "nps"): Check.in_range(0, 10), ("surveys", "csat"): Check.in_range(1, 5),
    ("wallet", "year"): Check.in_range(1900, 2200), ("wallet", "wallet_amount"): Check.ge(0),
    ("reviews", "rating"): Check.in_range(1, 5), ("fx_rates", "currency"): Check.str_matches(r"^[A-Z]{3}$"),
}
TRUE_WORDS = {"true": True, "1": True, "yes": True, "y": True, "t": True,
              "false": False, "0": False, "no": False, "n": False, "f": False}


ARROW_TYPES = {"d": "date32[pyarrow]", "f": "double[pyarrow]", "i": "double[pyarrow]", "b": "bool[pyarrow]"}


def read_table(path: Path, table: str) -> tuple[pd.DataFrame, bool]:
    """(frame, typed?): first with the contract's types parsed by pyarrow (fast, multithreaded); a file
    with a cell pyarrow cannot read (e.g. a bad date, 'yes' for a bool) is read again as text for coerce()."""
    header = [c.strip().lower() for c in pd.read_csv(path, nrows=0).columns]
    dtypes = {}
    for original, col in zip(pd.read_csv(path, nrows=0).columns, header):
        kind = TYPES[table].get(col)
        dtypes[original] = ARROW_TYPES.get(kind, "string[pyarrow]") if isinstance(kind, str) else "string[pyarrow]"
    try:
        df, typed = pd.read_csv(path, engine="pyarrow", dtype_backend="pyarrow", dtype=dtypes), True
    except (pa_lib.ArrowInvalid, ValueError):
        df, typed = pd.read_csv(path, engine="pyarrow", dtype="string[pyarrow]"), False
    df.columns = header
    return df, typed


def coerce(df: pd.DataFrame, table: str, typed: bool) -> tuple[pd.DataFrame, pd.Series]:
    """Typed columns and a mask of rows with a cell that could not be read."""
    unreadable = pd.Series(False, index=df.index)
    out = {}
    for col, kind in TYPES[table].items():
        if col not in df.columns:
            out[col] = pd.Series(pd.NA, index=df.index, dtype="string[pyarrow]")
            continue
        if typed and kind in ("d", "f", "i", "b"):  # pyarrow has read every cell of the file
            value = df[col]
            if kind == "i":
                unreadable |= value.notna() & (value != value.round())
            out[col] = value
            continue
        if typed and kind == "s":
            out[col] = df[col]
            continue
        text = df[col].str.strip()
        text = text.mask(text == "")
        if kind == "d":
            value = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        elif kind in ("f", "i"):
            value = pd.to_numeric(text, errors="coerce")
            if kind == "i":
                unreadable |= value.notna() & (value != value.round())
        elif kind == "b":
            value = text.str.lower().map(TRUE_WORDS).astype("boolean")
        elif isinstance(kind, tuple):
            _, allowed, fallback = kind
            value = text.str.lower()
            if fallback is not None:
                value = value.where(value.isin(allowed), fallback)
        else:
            value = text
        if kind in ("d", "f", "i", "b"):
            unreadable |= text.notna() & value.isna()
        out[col] = value
    typed = pd.DataFrame(out, index=df.index)
    if table == "revenue":
        typed["product_line"] = typed["product_line"].fillna("unassigned")
    if table == "contacts":
        typed["is_active"] = typed["is_active"].fillna(True)
    if table == "goals":
        typed["baseline"] = typed["baseline"].fillna(0.0)
    return typed, unreadable


def schema_for(table: str, known: dict[str, pd.Series], own_ids: pd.Series | None = None) -> pa.DataFrameSchema:
    """The table's pandera schema: required values, ranges, enumerations, unique key, references."""
    columns = {}
    for col, kind in TYPES[table].items():
        checks = []
        if (table, col) in RANGES:
            checks.append(RANGES[(table, col)])
        if isinstance(kind, tuple) and kind[2] is None:
            checks.append(Check.isin(kind[1]))
        if col == "account_id" and table != "accounts" and "accounts" in known:
            checks.append(Check.isin(known["accounts"]))
        if col == "parent_account_id" and own_ids is not None:
            checks.append(Check.isin(own_ids))
        if col == "contact_id" and table != "contacts" and "contacts" in known:
            checks.append(Check.isin(known["contacts"]))
        if col == "goal_id" and table == "actions" and "goals" in known:
            checks.append(Check.isin(known["goals"]))
        key = KEYS[table] == col
        columns[col] = pa.Column(
            nullable=col not in REQUIRED[table], checks=checks, unique=key,
            report_duplicates="exclude_first" if key else "all",
        )
    wide = []
    if table == "opportunities":
        wide.append(Check(lambda d: ~d["is_won"].fillna(False) | d["is_closed"].fillna(False)))
    if table == "cases":
        wide.append(Check(lambda d: d["closed_date"].isna() | (d["closed_date"] >= d["opened_date"])))
    if table == "surveys":
        wide.append(Check(lambda d: d["nps"].notna() | d["csat"].notna()))
    if table == "goals":
        wide.append(Check(lambda d: d["start_date"] <= d["due_date"]))
    if table == "wallet":
        unique = ["account_id", "year", "product_line"]
        return pa.DataFrameSchema(columns, checks=wide, unique=unique, report_duplicates="exclude_first")
    return pa.DataFrameSchema(columns, checks=wide)


def load(export_dir: Path, db_path: Path) -> dict:
    start = time.perf_counter()
    con = duckdb.connect(str(db_path))
    known: dict[str, pd.Series] = {}
    stats = {}
    failures = []
    try:
        for table in ORDER:
            path = Path(export_dir) / f"{table}.csv"
            if not path.exists():
                continue
            raw, arrow_typed = read_table(path, table)
            typed, unreadable = coerce(raw, table, arrow_typed)
            del raw
            bad = typed.index[unreadable.to_numpy()]
            try:
                own_ids = typed["account_id"].dropna() if table == "accounts" else None
                schema_for(table, known, own_ids).validate(typed, lazy=True, inplace=True)
            except pa.errors.SchemaErrors as exc:
                cases = exc.failure_cases
                cases = cases[cases["index"].notna()]
                failures.append(cases.assign(table=table)[["table", "column", "check", "index"]].astype(str))
                bad = bad.union(pd.Index(cases["index"].astype("int64").unique()))
            good = typed.drop(index=bad) if len(bad) else typed
            if KEYS[table] in ("account_id", "contact_id", "goal_id"):
                known[table] = good[KEYS[table]]
            con.register("good", good)
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM good').fetchall()
            con.unregister("good")
            stats[table] = {"read": len(typed), "kept": len(good)}
            del typed, good
        quarantine = pd.concat(failures) if failures else pd.DataFrame(columns=["table", "column", "check", "index"])
        con.register("q", quarantine)
        con.execute("CREATE TABLE quarantine AS SELECT * FROM q").fetchall()
        con.execute("CHECKPOINT").fetchall()
    finally:
        con.close()
    return {"seconds": time.perf_counter() - start, "tables": stats}


def main(argv: list[str]) -> int:
    export_dir, db_path = Path(argv[0]), Path(argv[1])
    db_path.unlink(missing_ok=True)
    print(json.dumps(load(export_dir, db_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
