"""The programme store in the app (issue 14): the store handle, who makes a change, and the forms that record
plans and reviews, notes, account profiles, contact roles, wallet estimates, goals and actions.

- The store handle is cached per process (st.cache_resource keyed on its location: the `programme_store`
  setting, else programme.sqlite in the data directory, as settings.programme_store_location resolves it).
  A page view never creates the store: until the first save, the lists read as empty.
- Who makes a change: `current_actor()`, the one function sign-in replaces (st.user); for now the name the user
  gives once per session in the sidebar. A save without it is refused and says so.
- No lost update: every form saves with expected_version = the version the record had when the form was drawn
  (bound to the submit button's callback; 0 for a new record). A record someone changed since is refused with
  the store's "changed by X at T since you opened it", nothing is overwritten, and the form then shows the
  current values (its widget keys carry the version).
- Text shows as text: Markdown gets escape_markdown, tables get the widgets' safe text; inputs are capped at the
  store's limits (500 characters, 5,000 for notes and next steps), which the store checks again.

Until the overlay lays the store over the snapshot, the metrics do not see these records; the lists here read
the store directly.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping

import polars as pl
import streamlit as st

from kam_metrics import metrics
from kam_metrics.app import auth, widgets
from kam_metrics.app.formatting import escape_markdown, safe_text
from kam_metrics.app.frame import View, current_settings
from kam_metrics.app.views import actions as action_views
from kam_metrics.filters import NO_FILTERS
from kam_metrics.load.contract import BUYING_ROLES, CONFIDENCES, HORIZONS, RELATIONSHIP_STAGES, REVIEW_TYPES
from kam_metrics.metrics import queries
from kam_metrics.programme import TABLES, ProgrammeStore, StaleRecord, StoreError, ValidationError, open_store
from kam_metrics.programme.schema import LONG_TEXT_MAX_CHARS, TEXT_MAX_CHARS
from kam_metrics.programme.store import is_postgres_url
from kam_metrics.settings import programme_store_location, resolve_data_dir

ACTOR_LABEL = "Your name (for the change log)"
NAME_NEEDED = ("Give your name in the sidebar (“Your name (for the change log)”) before saving: every change "
               "records who made it. Nothing was saved.")
ACTOR_MAX_CHARS = 200
RECORD_WHO = ("Plans, reviews, notes and actions on an account are recorded by its KAM, the programme champion or "
              "an admin; you can read them here.")
GOALS_WHO = "Programme goals are created and edited by the programme champion or an admin."
#: Open actions listed with their buttons (the rest are counted).
ACTIONS_SHOWN = 50
ATTITUDES = {-2: "−2 opponent", -1: "−1 critical", 0: "0 neutral", 1: "+1 supporter", 2: "+2 mentor"}

_ACTOR = "kam_actor"  # the name, kept across pages
_ACTOR_WIDGET = "kam_widget_actor"
_MSG = "kam_form_msg_"  # a form's last outcome, shown once after its callback
_ROUND = "kam_form_round_"  # bumped after a save, so a form's widgets start afresh
_NEW = "__new__"


# ---------------------------------------------------------------- the store handle


def _close_store(store: ProgrammeStore) -> None:
    try:
        store.close()
    except Exception:  # noqa: BLE001 - already closed
        pass


@st.cache_resource(max_entries=8, show_spinner=False, on_release=_close_store)
def _open(location: str) -> ProgrammeStore:
    """One store handle per location, shared by the sessions of this process (it serialises its own calls)."""
    return open_store(location)


def store_location() -> str:
    """Where the programme store is (settings.programme_store_location for the app's data directory)."""
    return programme_store_location(current_settings(), resolve_data_dir())


def _exists(location: str) -> bool:
    return is_postgres_url(location) or Path(location).is_file()


def writer() -> ProgrammeStore:
    """The store for a save (created on first use)."""
    return _open(store_location())


def reader() -> ProgrammeStore | None:
    """The store for reading; None while nothing was ever recorded (a page view creates no file). A store that
    cannot be opened is said on the page."""
    location = store_location()
    if not _exists(location):
        return None
    try:
        return _open(location)
    except StoreError as exc:
        st.error(f"The programme store cannot be opened: {escape_markdown(exc)}", icon=":material/error:")
        return None


def current(table: str) -> pl.DataFrame:
    """The table's current records (empty, with its columns, before anything was recorded)."""
    s = reader()
    if s is None:
        t = TABLES[table]
        return pl.DataFrame(schema=t.polars_schema() | {"_version": pl.Int64, "_updated_at": pl.String,
                                                         "_updated_by": pl.String})
    return s.current(table)


def _record(table: str, record_id: str):
    s = reader()
    return None if s is None else s.get(table, record_id)


# ---------------------------------------------------------------- who makes a change


def current_actor() -> str | None:
    """Who makes a change, or None when not known yet.

    With sign-in configured, the signed-in user's e-mail (st.user); without it, the name the user gave once per
    session in the sidebar.
    """
    if auth.is_auth_configured():
        user = auth.signed_in_user()
        return str(user["email"]).strip() if user else None
    name = st.session_state.get(_ACTOR) or st.session_state.get(_ACTOR_WIDGET) or ""
    name = str(name).strip()
    return name or None


def _copy_actor() -> None:
    st.session_state[_ACTOR] = str(st.session_state.get(_ACTOR_WIDGET) or "").strip()


def actor_input() -> None:
    """The sidebar's name field (once per page; none when signed in); the name is kept for the session across
    pages."""
    if auth.is_auth_configured():
        return
    st.session_state[_ACTOR_WIDGET] = st.session_state.get(_ACTOR, "")
    with st.sidebar:
        st.text_input(ACTOR_LABEL, key=_ACTOR_WIDGET, max_chars=ACTOR_MAX_CHARS, on_change=_copy_actor,
                      placeholder="e.g. Kim Lee",
                      help="Every change in the programme store records who made it, when and what changed.")


# ---------------------------------------------------------------- saving and messages


def _say(form: str, kind: str, text: str) -> None:
    st.session_state[_MSG + form] = (kind, text)


def show_message(form: str) -> None:
    """The outcome of the form's last save (once)."""
    message = st.session_state.pop(_MSG + form, None)
    if message:
        kind, text = message
        if kind == "success":
            st.success(escape_markdown(text), icon=":material/check_circle:")
        else:
            st.error(escape_markdown(text), icon=":material/error:")


def _round(form: str) -> int:
    return int(st.session_state.get(_ROUND + form, 0))


def _prefix(form: str, version: int = 0) -> str:
    """The widget keys of a form drawn for a record at `version` (new keys after a save or someone else's)."""
    return f"{form}:v{version}:r{_round(form)}:"


def _new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10].upper()}"


def _save(form: str, table: str, record_id: str, values: Mapping[str, Any], expected_version: int,
          done: str) -> bool:
    """Save through the store with the version the form was drawn at; the outcome becomes the form's message."""
    actor = current_actor()
    if actor is None:
        _say(form, "error", NAME_NEEDED)
        return False
    try:
        writer().save(table, record_id, dict(values), actor, expected_version=expected_version)
    except StaleRecord as exc:
        _say(form, "error", f"{exc}. The form now shows the current values.")
        return False
    except ValidationError as exc:
        _say(form, "error", "Nothing was saved: " + "; ".join(f"{c.replace('_', ' ')}: {r}" for c, r in exc.problems))
        return False
    except StoreError as exc:
        _say(form, "error", str(exc))
        return False
    st.session_state[_ROUND + form] = _round(form) + 1
    _say(form, "success", done)
    return True


def _words(value: Any) -> str:
    return "—" if value is None else safe_text(value, max_length=80).replace("_", " ")


def _date(value: Any) -> date | None:
    """A stored date (text "YYYY-MM-DD" in a record's values) as a date."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return value


def _index(options: list, value: Any) -> int:
    return options.index(value) if value in options else 0


def _changed_caption(rec) -> None:
    if rec is None:
        st.caption("Not recorded in the app yet: the values shown come from the export.")
    else:
        st.caption(f"Recorded in the app: last changed by {escape_markdown(rec.updated_by)} at "
                   f"{rec.updated_at[:16].replace('T', ' ')} UTC (version {rec.version}).")


# ---------------------------------------------------------------- account: plan or review, note


def _save_review(form: str, p: str, account_id: str) -> None:
    s = st.session_state
    review_id = _new_id("REV")
    kind = s.get(p + "type")
    _save(form, "reviews", review_id, {
        "review_id": review_id, "account_id": account_id, "review_date": s.get(p + "date"), "review_type": kind,
        "rating": s.get(p + "rating"), "notes": s.get(p + "notes"), "next_steps": s.get(p + "next"),
    }, 0, f"Saved: {_words(kind)} of {s.get(p + 'date')} ({review_id}).")


def review_form(account_id: str, default_date: date) -> None:
    """Record a 90-day plan or a review (date, type, rating, notes, next steps)."""
    form = f"review:{account_id}"
    p = _prefix(form)
    with st.form(p + "form"):
        c1, c2, c3 = st.columns(3)
        c1.date_input("Date", value=default_date, key=p + "date", format="YYYY-MM-DD")
        c2.selectbox("Type", list(REVIEW_TYPES), index=REVIEW_TYPES.index("review_30_day"), key=p + "type",
                     format_func=_words)
        c3.selectbox("Rating", [None, 1, 2, 3, 4, 5], key=p + "rating",
                     format_func=lambda r: "—" if r is None else f"{r} of 5")
        st.text_area("Notes", key=p + "notes", max_chars=LONG_TEXT_MAX_CHARS)
        st.text_area("Next steps", key=p + "next", max_chars=LONG_TEXT_MAX_CHARS)
        st.form_submit_button("Save plan / review", on_click=_save_review, args=(form, p, account_id),
                              icon=":material/save:")
    show_message(form)


def _save_note(form: str, p: str, account_id: str) -> None:
    s = st.session_state
    note_id = _new_id("NOTE")
    _save(form, "notes", note_id, {"note_id": note_id, "account_id": account_id, "note_date": s.get(p + "date"),
                                   "author": current_actor(), "text": s.get(p + "text")}, 0,
          f"Note saved ({note_id}).")


def note_form(account_id: str, default_date: date) -> None:
    form = f"note:{account_id}"
    p = _prefix(form)
    with st.form(p + "form"):
        st.date_input("Date", value=default_date, key=p + "date", format="YYYY-MM-DD")
        st.text_area("Note", key=p + "text", max_chars=LONG_TEXT_MAX_CHARS)
        st.form_submit_button("Add note", on_click=_save_note, args=(form, p, account_id), icon=":material/note_add:")
    show_message(form)


# ---------------------------------------------------------------- account: profile, contact roles, wallet


#: Who may change an account's key-account flag and KAM owner (programme-wide decisions).
REASSIGN_WHO = "The key-account flag and the KAM owner are changed by the programme's champion or an admin."


def _save_profile(form: str, p: str, account_id: str, version: int, kept: Mapping[str, Any] | None = None) -> None:
    """Save the profile form; `kept`: the key-account flag and KAM owner as they were, for a user who may not
    change them (a KAM: moving their account out of their own scope is the champion's decision)."""
    s = st.session_state
    values = {
        "account_id": account_id, "is_key_account": bool(s.get(p + "key")),
        "executive_sponsor": s.get(p + "sponsor"), "kam_owner": s.get(p + "kam"),
        "relationship_stage": s.get(p + "stage"),
    }
    _save(form, "account_profile", account_id, values | dict(kept or {}), version, "Account profile saved.")


def profile_form(account_id: str, profile: Mapping[str, Any], may_reassign: bool = True) -> None:
    """Sponsor, KAM, key-account flag and relationship stage (the export's values until recorded here);
    `may_reassign`: whether the key-account flag and the KAM owner may be changed (admin, champion)."""
    form = f"profile:{account_id}"
    rec = _record("account_profile", account_id)
    version = rec.version if rec else 0
    base = rec.values if rec else profile
    p = _prefix(form, version)
    stages = [None, *RELATIONSHIP_STAGES]
    kept = None if may_reassign else {"is_key_account": bool(base.get("is_key_account")),
                                      "kam_owner": base.get("kam_owner")}
    with st.form(p + "form"):
        _changed_caption(rec)
        if not may_reassign:
            st.caption(REASSIGN_WHO)
        st.toggle("Key account", value=bool(base.get("is_key_account")), key=p + "key", disabled=not may_reassign)
        c1, c2 = st.columns(2)
        c1.text_input("Executive sponsor", value=safe_text(base.get("executive_sponsor"), max_length=TEXT_MAX_CHARS),
                      key=p + "sponsor", max_chars=TEXT_MAX_CHARS)
        c2.text_input("KAM owner", value=safe_text(base.get("kam_owner"), max_length=TEXT_MAX_CHARS), key=p + "kam",
                      max_chars=TEXT_MAX_CHARS, disabled=not may_reassign)
        st.selectbox("Relationship stage", stages, index=_index(stages, base.get("relationship_stage")),
                     key=p + "stage", format_func=_words)
        st.form_submit_button("Save account profile", on_click=_save_profile, args=(form, p, account_id, version, kept),
                              icon=":material/save:")
    show_message(form)


def _save_contact_role(form: str, p: str, contact_id: str, version: int) -> None:
    s = st.session_state
    _save(form, "contact_roles", contact_id, {
        "contact_id": contact_id, "buying_role": s.get(p + "role"), "attitude": s.get(p + "attitude"),
        "backup_contact_id": s.get(p + "backup"),
    }, version, "Contact role saved.")


def contact_role_form(account_id: str, contacts: pl.DataFrame | None) -> None:
    """Buying role, attitude and backup of one of the account's contacts."""
    if contacts is None:
        st.info("Add contacts.csv to your export to record buying roles, attitudes and backups of the account's "
                "contacts.", icon=":material/add_notes:")
        return
    if contacts.is_empty():
        widgets.empty("No contacts recorded for this account.")
        return
    rows = {r["contact_id"]: r for r in contacts.iter_rows(named=True)}
    ids = list(rows)

    def name(contact_id: Any) -> str:
        if contact_id is None:
            return "—"
        r = rows.get(contact_id, {})
        title = f", {safe_text(r.get('title'), max_length=60)}" if r.get("title") else ""
        return f"{safe_text(r.get('full_name') or contact_id, max_length=80)}{title}"

    chosen = st.selectbox("Contact", ids, format_func=name, key=f"kam_contact_pick:{account_id}")
    form = f"contact:{chosen}"
    rec = _record("contact_roles", chosen)
    version = rec.version if rec else 0
    base = rec.values if rec else rows[chosen]
    p = _prefix(form, version)
    roles = [None, *BUYING_ROLES]
    attitudes = [None, *ATTITUDES]
    backups = [None, *[i for i in ids if i != chosen]]
    with st.form(p + "form"):
        _changed_caption(rec)
        c1, c2, c3 = st.columns(3)
        c1.selectbox("Buying role", roles, index=_index(roles, base.get("buying_role")), key=p + "role",
                     format_func=_words)
        c2.selectbox("Attitude", attitudes, index=_index(attitudes, base.get("attitude")), key=p + "attitude",
                     format_func=lambda a: "—" if a is None else ATTITUDES[a])
        c3.selectbox("Backup", backups, index=_index(backups, base.get("backup_contact_id")), key=p + "backup",
                     format_func=name, help="Who takes over if this contact leaves.")
        st.form_submit_button("Save contact role", on_click=_save_contact_role, args=(form, p, chosen, version),
                              icon=":material/save:")
    show_message(form)


def _save_wallet(form: str, p: str, key: Mapping[str, Any], version: int) -> None:
    s = st.session_state
    _save(form, "wallet", TABLES["wallet"].record_id(key), {
        **key, "wallet_amount": s.get(p + "amount"), "source": s.get(p + "source"),
        "confidence": s.get(p + "confidence"),
    }, version, f"Wallet estimate for {key['year']} saved.")


def wallet_form(account_id: str, default_year: int, currency: str) -> None:
    """The wallet estimate for a year and product line (empty: the whole wallet)."""
    c1, c2 = st.columns(2)
    year = int(c1.number_input("Year", min_value=1900, max_value=2200, value=default_year, step=1,
                               key=f"kam_wallet_year:{account_id}"))
    product_line = c2.text_input("Product line", key=f"kam_wallet_line:{account_id}", max_chars=ACTOR_MAX_CHARS,
                                 placeholder="empty: the whole wallet").strip() or None
    key = {"account_id": account_id, "year": year, "product_line": product_line}
    record_id = TABLES["wallet"].record_id(key)
    form = f"wallet:{record_id}"
    rec = _record("wallet", record_id)
    version = rec.version if rec else 0
    base = rec.values if rec else {}
    p = _prefix(form, version)
    confidences = [None, *CONFIDENCES]
    with st.form(p + "form"):
        if rec is None:
            st.caption("No estimate recorded in the app for this year and product line.")
        else:
            _changed_caption(rec)
        c1, c2, c3 = st.columns(3)
        c1.number_input(f"Wallet ({currency})", min_value=0.0, value=base.get("wallet_amount"), step=1000.0,
                        key=p + "amount", format="%.0f")
        c2.text_input("Source", value=safe_text(base.get("source"), max_length=TEXT_MAX_CHARS), key=p + "source",
                      max_chars=TEXT_MAX_CHARS, placeholder="e.g. annual report, the buyer")
        c3.selectbox("Confidence", confidences, index=_index(confidences, base.get("confidence")),
                     key=p + "confidence", format_func=_words)
        st.form_submit_button("Save wallet estimate", on_click=_save_wallet, args=(form, p, key, version),
                              icon=":material/save:")
    show_message(form)


# ---------------------------------------------------------------- actions


def _today() -> date:
    return date.today()


def _save_new_action(form: str, p: str, links: Mapping[str, Any]) -> None:
    s = st.session_state
    action_id = _new_id("ACT")
    _save(form, "actions", action_id, {
        "action_id": action_id, "title": s.get(p + "title"), "owner": s.get(p + "owner"),
        "due_date": s.get(p + "due"), **links,
    }, 0, f"Action created ({action_id}).")


def new_action_form(form: str, links: Mapping[str, Any], *, title: str = "", button: str = "Create action") -> None:
    """Owner, due date and title of a new action linked to an account, alert and/or goal."""
    p = _prefix(form)
    with st.form(p + "form"):
        st.text_input("Action", value=title, key=p + "title", max_chars=TEXT_MAX_CHARS)
        c1, c2 = st.columns(2)
        c1.text_input("Owner", value=current_actor() or "", key=p + "owner", max_chars=TEXT_MAX_CHARS)
        c2.date_input("Due date", value=_today() + timedelta(days=7), key=p + "due", format="YYYY-MM-DD")
        st.form_submit_button(button, on_click=_save_new_action, args=(form, p, dict(links)),
                              icon=":material/add_task:")
    show_message(form)


def _complete(form: str, action_id: str, version: int) -> None:
    _save(form, "actions", action_id, {"completed_date": _today()}, version, f"Action {action_id} completed.")


def _redate(form: str, key: str, action_id: str, version: int) -> None:
    due = st.session_state.get(key)
    _save(form, "actions", action_id, {"due_date": due}, version, f"Action {action_id} now due {due}.")


def actions_list(form: str, actions: pl.DataFrame, *, names: Mapping[str, str] | None = None,
                 empty_text: str = "No open actions.", may_edit: Callable[[Mapping[str, Any]], bool] | None = None
                 ) -> None:
    """Open actions, overdue first, each with a new due date and Complete (when `may_edit` allows, default all)."""
    today = _today()
    frame = action_views.open_actions(actions, today)
    show_message(form)
    if frame.is_empty():
        widgets.empty(empty_text)
        return
    overdue = int(frame["is_overdue"].sum())
    st.caption(f"{frame.height:,} open, {overdue:,} overdue (due before {today.isoformat()})"
               + (f"; the first {ACTIONS_SHOWN} are listed." if frame.height > ACTIONS_SHOWN else "."))
    for a in frame.head(ACTIONS_SHOWN).iter_rows(named=True):
        action_id, version = a["action_id"], int(a["_version"])
        k = f"{form}:{action_id}:v{version}:"
        parts = [f"**{escape_markdown(a['title'])}**", f"owner {escape_markdown(a['owner'] or '—')}",
                 "no due date" if a["due_date"] is None else f"due {a['due_date'].isoformat()}"
                 + (" :red[**overdue**]" if a["is_overdue"] else "")]
        if a.get("account_id"):
            parts.append(escape_markdown((names or {}).get(a["account_id"], a["account_id"])))
        if a.get("alert"):
            parts.append(f"alert: {escape_markdown(a['alert'])}")
        if a.get("goal_id"):
            parts.append(f"goal {escape_markdown(a['goal_id'])}")
        with st.container(border=True):
            if may_edit is not None and not may_edit(a):
                st.markdown(" · ".join(parts))
                continue
            c1, c2, c3, c4 = st.columns([6, 2, 1, 1], vertical_alignment="bottom")
            c1.markdown(" · ".join(parts))
            c2.date_input("New due date", value=a["due_date"] or today, key=k + "due", format="YYYY-MM-DD")
            c3.button("Re-date", key=k + "redate", on_click=_redate, args=(form, k + "due", action_id, version))
            c4.button("Complete", key=k + "done", on_click=_complete, args=(form, action_id, version),
                      type="primary")


# ---------------------------------------------------------------- the Weekly review


def _alert_id(row: Mapping[str, Any]) -> str:
    return f"{row['account_id']}\x1f{row['alert']}\x1f{row.get('goal_id') or ''}"


def alerts_with_owners(view: View, shown: pl.DataFrame) -> pl.DataFrame:
    """The alerts table with `action_owner`: who owns an open action on the alert (empty when none)."""
    every = view.metric(metrics.alerts)
    open_frame = action_views.open_actions(current("actions"), _today())
    if every.height != shown.height:
        return shown
    return shown.with_columns(pl.Series("action_owner", action_views.alert_action_owners(every, open_frame),
                                        dtype=pl.String))


def create_action_from_alert(view: View) -> None:
    """"Create action" for any alert: owner, due date, linked to its account and alert (and goal)."""
    every = view.metric(metrics.alerts)
    if every.is_empty() or view.access.is_read_only:
        return
    rows = {_alert_id(r): r for r in every.iter_rows(named=True)}
    owners = dict(zip(rows, action_views.alert_action_owners(every, action_views.open_actions(current("actions"),
                                                                                               _today()))))

    def label(alert_id: str) -> str:
        r = rows[alert_id]
        text = (f"{safe_text(r['account_name'], max_length=60)}: {_words(r['alert'])}: "
                f"{safe_text(r['detail'], max_length=70)}")
        return text + (f" (open action: {safe_text(owners[alert_id], max_length=40)})" if owners.get(alert_id) else "")

    with st.expander("Create action from an alert", icon=":material/add_task:",
                     expanded=bool(st.session_state.get(_MSG + "alert_action"))):
        chosen = st.selectbox("Alert", list(rows), format_func=label, key="kam_action_alert")
        r = rows[chosen]
        links = {"account_id": r["account_id"], "alert": r["alert"], "goal_id": r.get("goal_id")}
        new_action_form("alert_action", links,
                        title=safe_text(f"{_words(r['alert'])}: {r['account_name']}", max_length=TEXT_MAX_CHARS))


def open_actions_section(view: View) -> None:
    """**Open actions**: every open action of the programme, overdue first; complete or re-date each."""
    st.subheader("Open actions")
    actions = current("actions")
    names = _account_names(view) if not actions.is_empty() else {}
    if not view.filters.is_empty and not actions.is_empty():
        shown = set(view.metric(metrics.account_metrics)["account_id"].to_list())
        on_account = action_views.action_account_ids(actions, current("goals"))
        actions = actions.filter(on_account.is_null() | on_account.is_in(list(shown)))
    actions_list("open_actions", scoped_actions(view, actions), names=names,
                 empty_text="No open actions. Create one from an alert above, on an account or on a goal.",
                 may_edit=action_editor(view))


def _account_owners(view: View) -> dict[str, str | None]:
    """kam_owner of every account the user may see."""
    accounts = view.metric(metrics.account_metrics, filters=NO_FILTERS)
    return dict(zip(accounts["account_id"].to_list(), accounts["kam_owner"].to_list()))


def scoped_actions(view: View, actions: pl.DataFrame) -> pl.DataFrame:
    """The actions the user may see: programme-wide ones (no account) and those of accounts in their scope (an
    action on a goal is on the goal's account)."""
    if view.access.sees_all or actions.is_empty():
        return actions
    on_account = action_views.action_account_ids(actions, current("goals"))
    return actions.filter(on_account.is_null() | on_account.is_in(list(_account_owners(view))))


def action_editor(view: View) -> Callable[[Mapping[str, Any]], bool]:
    """Whether the user may complete or re-date an action: on an account, its KAM, the champion or an admin; a
    programme-wide action, the champion or an admin (an action on a goal is on the goal's account)."""
    owners = _account_owners(view)
    goal_accounts = action_views.goal_account_ids(current("goals"))

    def may_edit(action: Mapping[str, Any]) -> bool:
        account_id = action.get("account_id") or goal_accounts.get(action.get("goal_id"))
        if account_id is None:
            return view.access.may_edit_programme_goals
        return account_id in owners and view.access.may_record_on(owners[account_id])

    return may_edit


def _account_names(view: View) -> dict[str, str]:
    accounts = view.metric(metrics.account_metrics, filters=NO_FILTERS)
    return dict(zip(accounts["account_id"].to_list(), accounts["account_name"].to_list()))


# ---------------------------------------------------------------- the Account page


def account_programme(view: View, account_id: str, profile: Mapping[str, Any]) -> None:
    """Record for one account (plan or review, note, profile, contact roles, wallet, actions), what was recorded,
    and its history."""
    actor_input()
    st.subheader("Record for this account")
    contacts = (view.query(queries.account_contacts, account_id, view.as_of, with_settings=True)
                if view.has("contacts") else None)
    if view.access.may_record_on((profile or {}).get("kam_owner")):
        _account_forms(view, account_id, profile, contacts)
    else:
        st.caption(RECORD_WHO)
        actions = current("actions")
        actions_list(f"account_actions:{account_id}",
                     actions.filter(pl.col("account_id") == account_id) if not actions.is_empty() else actions,
                     empty_text="No open actions on this account.", may_edit=lambda _a: False)
    _account_records(view, account_id, contacts)



def _account_forms(view: View, account_id: str, profile: Mapping[str, Any], contacts: pl.DataFrame | None) -> None:
    if current_actor() is None:
        st.caption("Give your name in the sidebar to save: every change records who made it.")
    default_date = min(view.as_of, _today())
    tabs = st.tabs(["Plan or review", "Note", "Account profile", "Relationship map", "Wallet estimate", "Actions"])
    with tabs[0]:
        review_form(account_id, default_date)
    with tabs[1]:
        note_form(account_id, default_date)
    with tabs[2]:
        profile_form(account_id, profile, may_reassign=view.access.may_reassign_accounts)
    with tabs[3]:
        contact_role_form(account_id, contacts)
    with tabs[4]:
        wallet_form(account_id, view.as_of.year, view.currency)
    with tabs[5]:
        new_action_form(f"account_action:{account_id}", {"account_id": account_id}, button="Add action")
        actions = current("actions")
        actions_list(f"account_actions:{account_id}",
                     actions.filter(pl.col("account_id") == account_id) if not actions.is_empty() else actions,
                     empty_text="No open actions on this account.")


def _account_records(view: View, account_id: str, contacts: pl.DataFrame | None) -> None:
    st.subheader("Plans, reviews and notes recorded in the app")
    entries = action_views.account_entries(current("reviews"), current("notes"), account_id)
    if entries.is_empty():
        widgets.empty("Nothing recorded in the app for this account yet.")
    else:
        widgets.table(entries, key="acc_recorded", currency=view.currency, file_name=f"recorded_{account_id}",
                      link_accounts=False)

    st.subheader("History")
    log = account_log(account_id, contacts)
    if log.is_empty():
        widgets.empty("No change to this account's programme records yet.")
    else:
        st.caption("Every change to this account's programme records, newest first: when (UTC), who, from where, "
                   "and what changed.")
        widgets.table(action_views.history_frame(log), key="acc_history", currency=view.currency,
                      file_name=f"history_{account_id}", link_accounts=False, labels={"when_utc": "When (UTC)"})


def account_log(account_id: str, contacts: pl.DataFrame | None) -> pl.DataFrame:
    """The store's events of an account, with those of its contacts' roles."""
    s = reader()
    if s is None:
        return pl.DataFrame()
    log = s.log(account_id=account_id)
    if contacts is not None and not contacts.is_empty():
        roles = s.log(table="contact_roles")
        roles = roles.filter(pl.col("record_id").is_in(contacts["contact_id"].to_list()))
        log = pl.concat([log, roles]).unique("event_id")
    return log.sort("event_id", descending=True)


# ---------------------------------------------------------------- the Programme goals page


def _save_goal(form: str, p: str, goal_id: str | None, version: int) -> None:
    s = st.session_state
    new = goal_id is None
    goal_id = goal_id or _new_id("GOAL")
    values = {"goal_id": goal_id, **{c: s.get(p + c) for c in (
        "title", "account_id", "metric", "baseline", "target", "current", "start_date", "due_date", "owner",
        "horizon")}}
    if _save(form, "goals", goal_id, values, version, f"Goal {goal_id} {'created' if new else 'saved'}.") and new:
        st.session_state["kam_goal_pick"] = goal_id


def goals_section(view: View, snapshot_goals: pl.DataFrame | None) -> None:
    """Create and edit goals (programme goals have no account) and the actions toward each."""
    st.subheader("Create and edit goals")
    if not view.access.may_edit_programme_goals:
        st.caption(GOALS_WHO)
        return
    actor_input()
    stored = current("goals")
    base_rows: dict[str, dict] = {}
    if snapshot_goals is not None:
        base_rows.update({r["goal_id"]: r for r in snapshot_goals.iter_rows(named=True)})
    base_rows.update({r["goal_id"]: r for r in stored.iter_rows(named=True)})
    names = _account_names(view)

    def goal_label(goal_id: str) -> str:
        if goal_id == _NEW:
            return "New goal"
        r = base_rows[goal_id]
        return f"{safe_text(goal_id, max_length=40)}: {safe_text(r.get('title'), max_length=80)}"

    chosen = st.selectbox("Goal", [_NEW, *sorted(base_rows)], format_func=goal_label, key="kam_goal_pick")
    goal_id = None if chosen == _NEW else chosen
    rec = _record("goals", goal_id) if goal_id else None
    version = rec.version if rec else 0
    base = rec.values if rec else dict(base_rows.get(goal_id, {})) if goal_id else {}
    if not rec and base.get("metric"):
        base["current"] = None  # computed from the metric, not recorded
    form = f"goal:{goal_id or _NEW}"
    p = _prefix(form, version)
    accounts = [None, *sorted(names)]
    horizons = [None, *HORIZONS]
    with st.form(p + "form"):
        if goal_id:
            _changed_caption(rec)
        st.text_input("Title", value=safe_text(base.get("title"), max_length=TEXT_MAX_CHARS), key=p + "title",
                      max_chars=TEXT_MAX_CHARS)
        c1, c2, c3 = st.columns(3)
        c1.selectbox("Account", accounts, index=_index(accounts, base.get("account_id")), key=p + "account_id",
                     format_func=lambda a: "— (a programme goal)" if a is None else
                     f"{safe_text(names.get(a, a), max_length=60)} ({safe_text(a, max_length=40)})")
        c2.text_input("Metric", value=safe_text(base.get("metric"), max_length=TEXT_MAX_CHARS), key=p + "metric",
                      max_chars=TEXT_MAX_CHARS, help="A METRICS.md key whose value is the goal's current value; "
                                                     "empty: give the current value yourself.")
        c3.text_input("Owner", value=safe_text(base.get("owner"), max_length=TEXT_MAX_CHARS), key=p + "owner",
                      max_chars=TEXT_MAX_CHARS)
        c1, c2, c3 = st.columns(3)
        c1.number_input("Baseline", value=base.get("baseline"), key=p + "baseline", format="%g")
        c2.number_input("Target", value=base.get("target"), key=p + "target", format="%g")
        c3.number_input("Current (without a metric)", value=base.get("current"), key=p + "current", format="%g")
        c1, c2, c3 = st.columns(3)
        c1.date_input("Start", value=_date(base.get("start_date")), key=p + "start_date", format="YYYY-MM-DD")
        c2.date_input("Due", value=_date(base.get("due_date")), key=p + "due_date", format="YYYY-MM-DD")
        c3.selectbox("Horizon", horizons, index=_index(horizons, base.get("horizon")), key=p + "horizon",
                     format_func=_words)
        st.form_submit_button("Create goal" if goal_id is None else "Save goal", on_click=_save_goal,
                              args=(form, p, goal_id, version), icon=":material/save:")
    show_message(form)
    if goal_id is None:
        return
    st.markdown(f"**Actions toward {escape_markdown(goal_id)}**")
    links = {"goal_id": goal_id, "account_id": base.get("account_id")}
    new_action_form(f"goal_action:{goal_id}", links, button="Add action")
    actions = current("actions")
    actions_list(f"goal_actions:{goal_id}",
                 actions.filter(pl.col("goal_id") == goal_id) if not actions.is_empty() else actions,
                 names=names, empty_text="No open actions toward this goal.")
