"""The programme in the app (issue 14): forms on the Account, Weekly review and Programme goals pages write the
programme store, with who made the change and no lost update; the Account page shows the account's history.

Each test has its own data directory (the demo snapshot linked in, the store file its own), so no test sees
another's records.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from kam_metrics.app.views import actions as action_views
from kam_metrics.generators.demo import CHAMPION_LEFT_ACCOUNT, OFF_TRACK_GOAL_ID
from kam_metrics.programme import open_store
from tests.test_pages import run, texts

OVERDUE_ACCOUNT = "ACC-1042"  # Meridian Health Partners: overdue for review
ACTOR_KEY = "kam_widget_actor"


@pytest.fixture
def data_dir(tmp_path, demo_data_dir) -> Path:
    """A data directory of its own: the demo's snapshots linked (read-only), the programme store new."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "snapshots").symlink_to(demo_data_dir / "snapshots", target_is_directory=True)
    shutil.copy(demo_data_dir / "CURRENT", d / "CURRENT")
    return d


def session(data_dir: Path, monkeypatch, page: str | None = None, query: dict | None = None,
            name: str | None = None) -> AppTest:
    at = run(data_dir, monkeypatch, page, query, timeout=120)
    if name:
        at.text_input(key=ACTOR_KEY).input(name).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def click(at: AppTest, label: str) -> AppTest:
    buttons = [b for b in at.button if b.label == label]
    assert len(buttons) == 1, (label, [b.label for b in at.button])
    buttons[0].click().run()
    ok(at)
    return at


def records(data_dir: Path, table: str) -> pl.DataFrame:
    store = open_store(data_dir / "programme.sqlite")
    try:
        return store.current(table)
    finally:
        store.close()


def table_with(at: AppTest, column: str) -> pl.DataFrame:
    frames = [pl.from_pandas(d.value) for d in at.dataframe if column in d.value.columns]
    assert frames, f"no table with {column}"
    return frames[0]


def test_record_a_30_day_review_on_an_overdue_key_account(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": OVERDUE_ACCOUNT}, name="Kim Lee")
    assert any("Nothing recorded in the app" in t for t in texts(at))
    p = f"review:{OVERDUE_ACCOUNT}:v0:r0:"
    at.date_input(key=p + "date").set_value(date(2026, 11, 18))
    at.selectbox(key=p + "type").set_value("review_30_day")
    at.selectbox(key=p + "rating").set_value(4)
    at.text_area(key=p + "notes").input("Plan on track; **renewal** <b>talks</b> started")
    at.text_area(key=p + "next").input("Book the QBR")
    click(at, "Save plan / review")
    assert any(s.value.replace("\\", "").startswith("Saved: review 30 day of 2026-11-18") for s in at.success), \
        [s.value for s in at.success]

    reviews = records(data_dir, "reviews")
    assert reviews.height == 1
    review = reviews.row(0, named=True)
    assert (review["account_id"], review["review_type"], review["review_date"], review["rating"]) == (
        OVERDUE_ACCOUNT, "review_30_day", date(2026, 11, 18), 4)
    assert review["_updated_by"] == "Kim Lee" and review["next_steps"] == "Book the QBR"

    recorded = table_with(at, "next_steps")
    assert recorded["text"].to_list() == ["Plan on track; **renewal** <b>talks</b> started"]  # text, as written
    history = table_with(at, "change")
    assert history.height == 1
    first = history.row(0, named=True)
    assert (first["who"], first["what"], first["source"]) == ("Kim Lee", "plan / review added", "app")
    assert "review_type: review_30_day" in first["change"] and "rating: 4" in first["change"]
    # The form starts afresh for the next review.
    assert at.text_area(key=f"review:{OVERDUE_ACCOUNT}:v0:r1:notes").value == ""


def test_a_save_without_a_name_is_refused(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": OVERDUE_ACCOUNT})
    p = f"note:{OVERDUE_ACCOUNT}:v0:r0:"
    at.text_area(key=p + "text").input("Called the buyer")
    click(at, "Add note")
    assert any("Give your name" in e.value and "Nothing was saved" in e.value for e in at.error)
    assert not (data_dir / "programme.sqlite").exists() or records(data_dir, "notes").is_empty()
    # Once the name is given, the same note (still typed) saves, with the name as its author.
    at.text_input(key=ACTOR_KEY).input("Kim Lee").run()
    click(at, "Add note")
    assert not at.error, [e.value for e in at.error]
    notes = records(data_dir, "notes")
    assert notes["text"].to_list() == ["Called the buyer"] and notes["author"].to_list() == ["Kim Lee"]


def test_a_stale_save_from_a_second_session_is_refused(data_dir, monkeypatch):
    first = session(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": OVERDUE_ACCOUNT}, name="Ann")
    second = session(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": OVERDUE_ACCOUNT}, name="Bob")
    p = f"profile:{OVERDUE_ACCOUNT}:v0:r0:"
    # Both opened the profile before anyone saved it: the export's sponsor.
    assert first.text_input(key=p + "sponsor").value == second.text_input(key=p + "sponsor").value == "Richard Hale"
    first.text_input(key=p + "sponsor").input("Alice Sponsor")
    click(first, "Save account profile")
    assert not first.error
    second.text_input(key=p + "sponsor").input("Bert Sponsor")
    second.selectbox(key=p + "stage").set_value("integrated")
    click(second, "Save account profile")
    errors = [e.value.replace("\\", "") for e in second.error]
    assert any("changed by Ann at" in e and "since you opened it" in e for e in errors), errors
    profile = records(data_dir, "account_profile").row(0, named=True)
    assert (profile["executive_sponsor"], profile["relationship_stage"], profile["_version"]) == (
        "Alice Sponsor", "cooperative", 1)
    # The second session's form now shows the saved values, and saving from there works.
    q = f"profile:{OVERDUE_ACCOUNT}:v1:r0:"
    assert second.text_input(key=q + "sponsor").value == "Alice Sponsor"
    second.selectbox(key=q + "stage").set_value("integrated")
    click(second, "Save account profile")
    profile = records(data_dir, "account_profile").row(0, named=True)
    assert (profile["executive_sponsor"], profile["relationship_stage"], profile["_updated_by"]) == (
        "Alice Sponsor", "integrated", "Bob")


def test_create_an_action_from_an_alert_then_complete_it(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, name="Kim Lee")
    picker = at.selectbox(key="kam_action_alert")
    assert any(o.startswith("Nordhavn Logistics A/S: champion left: ") for o in picker.options), picker.options[:3]
    picker.set_value(f"{CHAMPION_LEFT_ACCOUNT}\x1fchampion_left\x1f").run()
    assert any("No open actions" in t for t in texts(at))
    p = "alert_action:v0:r0:"
    at.text_input(key=p + "title").input("Find the new champion")
    at.text_input(key=p + "owner").input("Dana Ortiz")
    click(at, "Create action")

    actions = records(data_dir, "actions")
    assert actions.height == 1
    action = actions.row(0, named=True)
    assert (action["account_id"], action["alert"], action["owner"], action["completed_date"]) == (
        CHAMPION_LEFT_ACCOUNT, "champion_left", "Dana Ortiz", None)
    assert action["due_date"] == date.today() + timedelta(days=7)
    listed = [m.value for m in at.markdown if "Find the new champion" in m.value]
    assert listed and "Dana Ortiz" in listed[0]
    alerts = table_with(at, "action_owner")
    owners = alerts.filter((pl.col("account_id") == CHAMPION_LEFT_ACCOUNT) & (pl.col("alert") == "champion_left"))
    assert owners["action_owner"].to_list() == ["Dana Ortiz"]
    assert alerts["action_owner"].drop_nulls().len() == 1

    k = f"open_actions:{action['action_id']}:v1:"
    new_due = date.today() + timedelta(days=21)
    at.date_input(key=k + "due").set_value(new_due)
    at.button(key=k + "redate").click().run()
    ok(at)
    assert records(data_dir, "actions")["due_date"].to_list() == [new_due]

    at.button(key=f"open_actions:{action['action_id']}:v2:done").click().run()
    ok(at)
    assert records(data_dir, "actions")["completed_date"].to_list() == [date.today()]
    assert not [m.value for m in at.markdown if "Find the new champion" in m.value]
    assert any("No open actions" in t for t in texts(at))
    assert table_with(at, "action_owner")["action_owner"].drop_nulls().len() == 0


def test_create_a_goal_and_an_action_toward_it(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, "pages/5_Programme_goals.py", name="Kim Lee")
    p = "goal:__new__:v0:r0:"
    at.text_input(key=p + "title").input("Ten key accounts multi-threaded")
    at.number_input(key=p + "baseline").set_value(4.0)
    at.number_input(key=p + "target").set_value(10.0)
    at.number_input(key=p + "current").set_value(5.0)
    at.date_input(key=p + "start_date").set_value(date(2026, 10, 1))
    at.date_input(key=p + "due_date").set_value(date(2027, 3, 31))
    click(at, "Create goal")
    goals = records(data_dir, "goals")
    assert goals["title"].to_list() == ["Ten key accounts multi-threaded"]
    goal = goals.row(0, named=True)
    assert (goal["target"], goal["current"], goal["account_id"], goal["_updated_by"]) == (10.0, 5.0, None, "Kim Lee")
    # The picker now holds the new goal, ready to edit, with its actions.
    assert at.selectbox(key="kam_goal_pick").value == goal["goal_id"]
    q = f"goal:{goal['goal_id']}:v1:r0:"
    assert at.text_input(key=q + "title").value == "Ten key accounts multi-threaded"
    a = f"goal_action:{goal['goal_id']}:v0:r0:"
    at.text_input(key=a + "title").input("Map the buying centre of ACC-1068")
    click(at, "Add action")
    actions = records(data_dir, "actions")
    assert actions["goal_id"].to_list() == [goal["goal_id"]]
    assert any("Map the buying centre" in m.value for m in at.markdown)
    # Editing the goal changes the stored record.
    at.number_input(key=q + "current").set_value(6.0)
    click(at, "Save goal")
    assert records(data_dir, "goals")["current"].to_list() == [6.0]


def test_an_export_goal_can_be_edited_in_the_app(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, "pages/5_Programme_goals.py", name="Kim Lee")
    goal_id = OFF_TRACK_GOAL_ID
    at.selectbox(key="kam_goal_pick").set_value(goal_id).run()
    p = f"goal:{goal_id}:v0:r0:"
    assert at.text_input(key=p + "title").value  # the export's title
    at.text_input(key=p + "owner").input("New Owner")
    click(at, "Save goal")
    stored = records(data_dir, "goals").row(0, named=True)
    assert (stored["goal_id"], stored["owner"]) == (goal_id, "New Owner")


# ---------------------------------------------------------------- the frames behind the lists


def test_open_actions_put_overdue_first_and_leave_completed_out():
    today = date(2026, 12, 5)
    frame = pl.DataFrame({
        "action_id": ["A", "B", "C", "D", "E"],
        "due_date": [date(2026, 12, 20), date(2026, 11, 1), None, date(2026, 12, 1), date(2026, 10, 1)],
        "completed_date": [None, None, None, None, date(2026, 10, 2)],
    })
    shown = action_views.open_actions(frame, today)
    assert shown["action_id"].to_list() == ["B", "D", "A", "C"]
    assert shown["is_overdue"].to_list() == [True, True, False, False]


def test_an_action_on_a_goal_is_on_the_goal_account():
    """A goal's action carries no account_id of its own (the demo's actions.csv has none): its account is the
    goal's, so a KAM's scope (programme_ui.scoped_actions) can leave out the actions of other KAMs' goals."""
    text = pl.String
    actions = pl.DataFrame({"action_id": ["X1", "X2", "X3", "X4"], "goal_id": ["G1", "GP", None, "G-gone"],
                            "account_id": [None, None, "A9", None]},
                           schema={"action_id": text, "goal_id": text, "account_id": text})
    goals = pl.DataFrame({"goal_id": ["G1", "GP"], "account_id": ["A1", None]}, schema={"goal_id": text,
                                                                                       "account_id": text})
    assert action_views.action_account_ids(actions, goals).to_list() == ["A1", None, "A9", None]
    assert action_views.action_account_ids(actions, goals.clear()).to_list() == [None, None, "A9", None]


def test_history_says_what_changed():
    assert action_views.change_text("update", '{"owner": "A", "title": "T"}', '{"owner": "B", "title": "T"}') == \
        "owner: A → B"
    assert action_views.change_text("insert", None, '{"note_id": "N1", "text": "hi", "author": null}',
                                    ("note_id",)) == "text: hi"
    assert action_views.change_text("delete", '{"x": 1}', None) == "deleted"


def test_recorded_text_is_shown_as_text(data_dir, monkeypatch):
    from tests.test_hostile_text import IMG, MD_LINK, RLO, SCRIPT, assert_page_is_safe

    hostile = f"Call **now** {MD_LINK} {IMG} {SCRIPT} {RLO}gnp.exe"
    at = session(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": OVERDUE_ACCOUNT}, name=f"Eve {SCRIPT}")
    a = f"account_action:{OVERDUE_ACCOUNT}:v0:r0:"
    at.text_input(key=a + "title").input(hostile)
    click(at, "Add action")
    n = f"note:{OVERDUE_ACCOUNT}:v0:r0:"
    at.text_area(key=n + "text").input(hostile)
    click(at, "Add note")
    assert records(data_dir, "notes")["text"].to_list() == [hostile]  # stored as written
    assert_page_is_safe(at, "recorded text")
    listed = [m.value for m in at.markdown if m.value.startswith("**Call")]
    assert listed and "\\*\\*now\\*\\*" in listed[0]
    history = table_with(at, "change")
    assert history["who"].to_list() == [f"Eve {SCRIPT}"] * 2
    assert any(SCRIPT in c for c in history["change"].to_list())
    # Over the store's limit a text is refused (the form caps it too).
    at.text_area(key=f"note:{OVERDUE_ACCOUNT}:v0:r1:text").input("x" * 5000)
    assert at.text_area(key=f"note:{OVERDUE_ACCOUNT}:v0:r1:text").max_chars == 5000


def test_set_a_contact_role_and_a_wallet_estimate(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, "pages/6_Account.py", {"account_id": OVERDUE_ACCOUNT}, name="Kim Lee")
    picker = at.selectbox(key=f"kam_contact_pick:{OVERDUE_ACCOUNT}")
    contact = picker.value
    p = f"contact:{contact}:v0:r0:"
    at.selectbox(key=p + "role").set_value("champion")
    at.selectbox(key=p + "attitude").set_value(2)
    click(at, "Save contact role")
    role = records(data_dir, "contact_roles").row(0, named=True)
    assert (role["contact_id"], role["buying_role"], role["attitude"]) == (contact, "champion", 2)

    at.number_input(key=f"kam_wallet_year:{OVERDUE_ACCOUNT}").set_value(2027).run()
    at.text_input(key=f"kam_wallet_line:{OVERDUE_ACCOUNT}").input("Pumps").run()
    w = f"wallet:{OVERDUE_ACCOUNT}|2027|Pumps:v0:r0:"
    at.number_input(key=w + "amount").set_value(250000.0)
    at.selectbox(key=w + "confidence").set_value("medium")
    click(at, "Save wallet estimate")
    wallet = records(data_dir, "wallet").row(0, named=True)
    assert (wallet["account_id"], wallet["year"], wallet["product_line"], wallet["wallet_amount"],
            wallet["confidence"]) == (OVERDUE_ACCOUNT, 2027, "Pumps", 250000.0, "medium")
    # Both are in the account's history, the contact's role too (its record carries no account).
    what = table_with(at, "change")["what"].to_list()
    assert what == ["wallet estimate added", "contact role added"]
