"""Frames of what the app records in the programme store (issue 14): open actions, alerts with their action's
owner, an account's reviews and notes, and its history of changes. Pure Polars over the store's frames
(ProgrammeStore.current / log); the forms that write them are in kam_metrics/app/programme_ui.py."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import polars as pl

from kam_metrics.app.formatting import safe_text

#: How a programme table is named in the history.
TABLE_LABELS = {
    "reviews": "plan / review", "notes": "note", "account_profile": "account profile", "actions": "action",
    "wallet": "wallet estimate", "goals": "goal", "contact_roles": "contact role",
}
OPS = {"insert": "added", "update": "changed", "delete": "deleted"}
#: Characters of one history line's "what changed".
CHANGE_TEXT_CHARS = 400


def open_actions(actions: pl.DataFrame, today: date) -> pl.DataFrame:
    """Actions without a completed_date, overdue ones first (earliest due first), then by due date (none last)."""
    if actions.is_empty():
        return actions.with_columns(pl.lit(False).alias("is_overdue"))
    return (
        actions.filter(pl.col("completed_date").is_null())
        .with_columns((pl.col("due_date") < today).fill_null(False).alias("is_overdue"))
        .sort(["is_overdue", "due_date", "action_id"], descending=[True, False, False], nulls_last=True)
    )


def goal_account_ids(goals: pl.DataFrame) -> dict[str, str | None]:
    """goal_id → the goal's account_id (None for a programme-wide goal)."""
    return {} if goals.is_empty() else dict(zip(goals["goal_id"].to_list(), goals["account_id"].to_list()))


def action_account_ids(actions: pl.DataFrame, goals: pl.DataFrame) -> pl.Series:
    """The account of each action: its own account_id, else its goal's (null for a programme-wide goal's)."""
    on_goal = pl.col("goal_id").replace_strict(goal_account_ids(goals), default=None, return_dtype=pl.String)
    return actions.select(pl.coalesce(pl.col("account_id"), on_goal)).to_series().alias("account_id")


def _alert_key(account_id: Any, alert: Any, goal_id: Any) -> str:
    return f"{account_id}\x1f{alert}\x1f{goal_id or ''}"


def alert_action_owners(alerts: pl.DataFrame, open_frame: pl.DataFrame) -> list[str | None]:
    """For each alert row (account_id, alert, goal_id), the owners of its open actions ("—" when an open action
    has no owner), None when it has none. An action matches an alert by account, alert and goal."""
    owners: dict[str, list[str]] = {}
    if not open_frame.is_empty():
        for a in open_frame.filter(pl.col("alert").is_not_null()).iter_rows(named=True):
            owners.setdefault(_alert_key(a["account_id"], a["alert"], a.get("goal_id")), []).append(
                a["owner"] or "—")
    out: list[str | None] = []
    for r in alerts.iter_rows(named=True):
        found = owners.get(_alert_key(r.get("account_id"), r.get("alert"), r.get("goal_id")))
        out.append(", ".join(sorted(set(found))) if found else None)
    return out


def with_action_owner(alerts: pl.DataFrame, open_frame: pl.DataFrame) -> pl.DataFrame:
    """The alerts with `action_owner`: who owns an open action on the alert (empty when none)."""
    return alerts.with_columns(pl.Series("action_owner", alert_action_owners(alerts, open_frame), dtype=pl.String))


def account_entries(reviews: pl.DataFrame, notes: pl.DataFrame, account_id: str) -> pl.DataFrame:
    """The account's plans, reviews and notes recorded in the store, newest first (date, kind, rating, text,
    next steps, by)."""
    schema = {"date": pl.Date, "kind": pl.String, "rating": pl.Int64, "text": pl.String, "next_steps": pl.String,
              "recorded_by": pl.String}
    parts = []
    if not reviews.is_empty():
        parts.append(reviews.filter(pl.col("account_id") == account_id).select(
            pl.col("review_date").alias("date"), pl.col("review_type").str.replace_all("_", " ").alias("kind"),
            pl.col("rating"), pl.col("notes").alias("text"), pl.col("next_steps"),
            pl.col("_updated_by").alias("recorded_by")))
    if not notes.is_empty():
        parts.append(notes.filter(pl.col("account_id") == account_id).select(
            pl.col("note_date").alias("date"), pl.lit("note").alias("kind"), pl.lit(None, pl.Int64).alias("rating"),
            pl.col("text"), pl.lit(None, pl.String).alias("next_steps"),
            pl.coalesce("author", "_updated_by").alias("recorded_by")))
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.cast(schema) for p in parts]).sort("date", descending=True, nulls_last=True)


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return safe_text(value, max_length=120).replace("\n", " ")


def change_text(op: str, old_json: str | None, new_json: str | None, key_columns: tuple[str, ...] = ()) -> str:
    """What one event changed: "column: old → new; …" for an update, the values set for an insert, "deleted"."""
    old = json.loads(old_json) if old_json else {}
    new = json.loads(new_json) if new_json else {}
    if op == "delete":
        text = "deleted"
    elif op == "insert":
        text = "; ".join(f"{k}: {_show(v)}" for k, v in new.items() if v is not None and k not in key_columns)
    else:
        text = "; ".join(f"{k}: {_show(old.get(k))} → {_show(new.get(k))}" for k in new
                         if new.get(k) != old.get(k))
    return safe_text(text or "no change", max_length=CHANGE_TEXT_CHARS)


def history_frame(log: pl.DataFrame) -> pl.DataFrame:
    """The store's events as a history, newest first: when (UTC), who, source, what, record, what changed."""
    from kam_metrics.programme import TABLES

    rows = []
    for e in log.sort("event_id", descending=True).iter_rows(named=True):
        table = TABLES.get(e["table_name"])
        keys = tuple(table.key) + ("account_id",) if table else ()
        rows.append({
            "when_utc": (e["at"] or "")[:16].replace("T", " "), "who": e["actor"], "source": e["source"],
            "what": f"{TABLE_LABELS.get(e['table_name'], e['table_name'])} {OPS.get(e['op'], e['op'])}",
            "record": e["record_id"], "change": change_text(e["op"], e["old_values"], e["new_values"], keys),
        })
    schema = {c: pl.String for c in ("when_utc", "who", "source", "what", "record", "change")}
    return pl.DataFrame(rows, schema=schema)
