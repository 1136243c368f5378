"""Sign-in and roles in the app (issue 16) through AppTest with st.user faked for every role and page: who sees
which accounts, who may record, upload or edit goals, the sign-in and "No access" pages, deep links and downloads.

The data directory is the demo's snapshot with its own kam.toml ([access], [people] for two of the demo's KAM
owners) and its own programme store. AppTest needs both `at.secrets["auth"]` (the app's "is sign-in
configured") and `at.user` with "is_logged_in" (st.user reads its own secrets singleton, which at.secrets does
not reach).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from kam_metrics import metrics
from kam_metrics.app import programme_ui, widgets
from kam_metrics.app.auth import SIGN_IN_TEXT
from kam_metrics.app.views import data as data_views
from kam_metrics.filters import NO_FILTERS
from kam_metrics.load import warehouse
from kam_metrics.metrics import queries
from kam_metrics.programme import open_store
from kam_metrics.settings import Settings
from tests.test_pages import APP, PAGES, texts

ALL_PAGES = ["app.py", *PAGES]
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "not-a-secret",
        "client_id": "kam", "client_secret": "s", "server_metadata_url": "http://idp.example/.well-known/openid-configuration"}
KAM_A, KAM_B = "ana@corp.example", "ben@corp.example"
USERS = {  # role -> e-mail
    "admin": "it@corp.example", "champion": "chris@corp.example", "leadership": "lee@corp.example",
    "kam": KAM_A, "viewer": "vic@other.example",
}
NO_ROLE = "eve@elsewhere.example"


def _engine_accounts(data_dir: Path) -> pl.DataFrame:
    con = warehouse.connect_current(data_dir)
    try:
        return metrics.account_metrics(con, None, NO_FILTERS, Settings())
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo_accounts(demo_data_dir) -> pl.DataFrame:
    return _engine_accounts(demo_data_dir).select("account_id", "account_name", "kam_owner", "is_key_account")


@pytest.fixture(scope="module")
def owners(demo_accounts) -> tuple[str, str]:
    """Two KAM owners of the demo, the one with the most accounts first."""
    counts = demo_accounts.drop_nulls("kam_owner").group_by("kam_owner").len().sort(["len", "kam_owner"],
                                                                                    descending=[True, False])
    return counts["kam_owner"][0], counts["kam_owner"][1]


@pytest.fixture
def data_dir(tmp_path, demo_data_dir, owners) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    (d / "snapshots").symlink_to(demo_data_dir / "snapshots", target_is_directory=True)
    shutil.copy(demo_data_dir / "CURRENT", d / "CURRENT")
    roles = "\n".join(f'{role} = ["{email}"]' for role, email in USERS.items() if role != "kam")
    (d / "kam.toml").write_text(
        f'[access]\n{roles}\nkam = ["{KAM_A}", "{KAM_B}"]\n\n[people]\n"{KAM_A}" = "{owners[0]}"\n'
        f'"{KAM_B}" = "{owners[1]}"\n', encoding="utf-8")
    return d


def accounts_of(demo_accounts: pl.DataFrame, owner: str) -> set[str]:
    return set(demo_accounts.filter(pl.col("kam_owner") == owner)["account_id"].to_list())


@pytest.fixture
def downloads(monkeypatch) -> list[pl.DataFrame]:
    """Every frame a table offers as its CSV download (widgets.display_frame's result), as the page draws it."""
    seen: list[pl.DataFrame] = []
    original = widgets.display_frame

    def record(frame):
        out = original(frame)
        seen.append(out)
        return out

    monkeypatch.setattr(widgets, "display_frame", record)
    return seen


def session(data_dir: Path, monkeypatch, email: str | None, page: str = "app.py", query: dict | None = None,
            name: str | None = None, auth: dict | None = AUTH) -> AppTest:
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("KAM_CONFIG", raising=False)
    monkeypatch.delenv("KAM_REQUIRE_LOGIN", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    if auth is not None:
        at.secrets["auth"] = auth
    at.user = ({"is_logged_in": True, "email": email, "name": name or email.split("@")[0].title()}
               if email else {"is_logged_in": False})
    at.query_params.update(query or {})
    at.run()
    if page != "app.py":
        at.switch_page(page).run()
    ok(at)
    return at


def plain(markdown: str) -> str:
    """Text as read: without escape_markdown's backslashes and word joiners."""
    return markdown.replace("\\", "").replace("\u2060", "")


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def shows_no_data(at: AppTest) -> None:
    assert not at.dataframe and not at.metric and not at.get("plotly_chart") and not at.download_button


def account_ids(frames: list[pl.DataFrame]) -> set[str]:
    return {a for f in frames if "account_id" in f.columns for a in f["account_id"].drop_nulls().to_list()}


def button_labels(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


# ---------------------------------------------------------------- before a role: sign in, no access


def test_not_signed_in_every_page_asks_to_sign_in_and_shows_nothing(data_dir, monkeypatch):
    for page in ALL_PAGES:
        at = session(data_dir, monkeypatch, None, page)
        assert [t.value for t in at.title] == ["KAM Health"], page
        assert SIGN_IN_TEXT in texts(at)
        assert button_labels(at) == {"Sign in"}
        shows_no_data(at)
        # a link to another page is opened again after sign-in (Streamlit lands on the home page)
        again = [c.value for c in at.caption if "follow your link again" in c.value]
        assert again == ([] if page == "app.py" else [again[0]]), page
        assert page == "app.py" or again[0].startswith("After signing in you will see the Weekly review;")


def test_not_signed_in_a_deep_link_is_to_be_followed_again(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, None, query={"account_id": "ACC-1001"})
    assert [c.value for c in at.caption] == [
        "After signing in you will see the Weekly review; follow your link again to open Weekly review."]


def test_several_providers_get_a_button_each(data_dir, monkeypatch):
    auth = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": "x",
            "google": {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")},
            "entra": {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}}
    at = session(data_dir, monkeypatch, None, auth=auth)
    assert button_labels(at) == {"Sign in with google", "Sign in with entra"}


def test_signed_in_without_a_role_sees_no_access_on_every_page(data_dir, monkeypatch, downloads):
    for page in ALL_PAGES:
        at = session(data_dir, monkeypatch, NO_ROLE, page)
        assert [t.value for t in at.title] == ["No access"], page
        warning = " ".join(w.value for w in at.warning)
        # the address as a code span: shown literally, and copied without the word joiner CRM text gets
        assert f"You are signed in as ` {NO_ROLE} `: it has no role" in warning and "\u2060" not in warning
        assert "[access]" in warning and "kam.toml" in warning
        assert "Sign out" in button_labels(at)
        assert not at.get("page_link")  # not even the navigation
        shows_no_data(at)
    assert downloads == []  # no table was even built


def test_require_login_without_sign_in_configured_refuses_every_page(data_dir, monkeypatch):
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KAM_REQUIRE_LOGIN", "1")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    ok(at)
    assert any("not configured" in e.value for e in at.error)
    shows_no_data(at)


# ---------------------------------------------------------------- every role on every page


EXPECT = {  # role: (sees all accounts, may record on accounts, may upload and edit goals)
    "admin": (True, True, True), "champion": (True, True, True), "leadership": (True, False, False),
    "viewer": (True, False, False), "kam": (False, True, False),
}


@pytest.mark.parametrize("role", list(USERS))
def test_each_role_on_every_page(role, data_dir, monkeypatch, downloads, demo_accounts, owners):
    sees_all, records, manages = EXPECT[role]
    mine = accounts_of(demo_accounts, owners[0])
    every = set(demo_accounts["account_id"].to_list())
    own_account = sorted(mine)[0]
    at = session(data_dir, monkeypatch, USERS[role], name="Ana Grünewald-Test")
    for page in ALL_PAGES:
        downloads.clear()
        query = {"account_id": own_account} if page == "pages/6_Account.py" else None
        if page != "app.py":
            at.query_params.update(query or {})
            at.switch_page(page).run()
            ok(at)
        assert not at.error, (page, [e.value for e in at.error])
        expected_name = owners[0] if role == "kam" else "Ana Grünewald-Test"
        assert f"Signed in as {expected_name} · {role}" in [plain(c.value) for c in at.sidebar.caption], page
        assert "Sign out" in button_labels(at)
        assert "Your name (for the change log)" not in [t.label for t in at.text_input]
        shown = account_ids(downloads)
        if sees_all:
            assert shown <= every
        else:
            assert shown <= mine, (page, shown - mine)
        if page == "pages/2_Engagement.py":  # the trend table lists every account in scope
            assert account_ids([pl.from_pandas(at.dataframe[0].value)]) == (every if sees_all else mine)
        if page == "pages/6_Account.py":
            submit = {b.label for b in at.get("form_submit_button")}
            assert ("Add note" in submit) == records, page
            assert (programme_ui.RECORD_WHO in texts(at)) == (not records)
        if page == "pages/5_Programme_goals.py":
            submit = {b.label for b in at.get("form_submit_button")}
            assert ("Create goal" in submit) == manages
            assert (programme_ui.GOALS_WHO in texts(at)) == (not manages)
        if page == "pages/9_Data.py":
            assert bool(at.get("file_uploader")) == manages
            assert (data_views.UPLOAD_WHO in texts(at)) == (not manages)
            if "No row was quarantined in this load." not in texts(at):
                assert (data_views.QUARANTINE_WHO in texts(at)) == (not manages)
            assert any(f"Signed in as" in c.value and f"role {role}" in c.value for c in at.caption)
        if page == "app.py":
            # "Create action from an alert" only for who may record
            assert any(e.label == "Create action from an alert" for e in at.expander) == records


def test_the_kam_sidebar_offers_only_their_owner_and_ignores_another_in_the_link(data_dir, monkeypatch, downloads,
                                                                                 demo_accounts, owners):
    at = session(data_dir, monkeypatch, KAM_A, "pages/2_Engagement.py", query={"owner": owners[1]})
    picker = at.multiselect(key="kam_widget_kam_owners")
    assert list(picker.options) == [owners[0]] and list(picker.value) == [owners[0]]
    assert account_ids([pl.from_pandas(at.dataframe[0].value)]) == accounts_of(demo_accounts, owners[0])
    assert account_ids(downloads) <= accounts_of(demo_accounts, owners[0])


def test_leadership_may_pick_any_owner(data_dir, monkeypatch, demo_accounts, owners):
    at = session(data_dir, monkeypatch, USERS["leadership"], "pages/2_Engagement.py", query={"owner": owners[1]})
    assert owners[0] in at.multiselect(key="kam_widget_kam_owners").options
    assert account_ids([pl.from_pandas(at.dataframe[0].value)]) == accounts_of(demo_accounts, owners[1])


def test_a_kam_following_a_link_to_another_kams_account_is_told_it_is_not_theirs(data_dir, monkeypatch, downloads,
                                                                                  demo_accounts, owners):
    theirs = sorted(accounts_of(demo_accounts, owners[1]))[0]
    name = demo_accounts.filter(pl.col("account_id") == theirs)["account_name"][0]
    at = session(data_dir, monkeypatch, KAM_A, "pages/6_Account.py", query={"account_id": theirs})
    refusals = [plain(w.value) for w in at.warning if "not yours" in w.value]
    assert refusals == [f"{theirs} is not yours: it belongs to another KAM's portfolio."]
    # the picker stays empty: none of the KAM's own accounts is shown in place of the one linked
    assert at.selectbox(key="kam_account_pick").value is None
    assert theirs not in at.selectbox(key="kam_account_pick").options
    assert not at.header and not at.metric and not at.dataframe
    assert theirs not in account_ids(downloads)
    # the refusal stays on a rerun until the KAM picks one of theirs, which then opens
    at.run()
    assert [plain(w.value) for w in at.warning if "not yours" in w.value] == refusals and not at.header
    own = sorted(accounts_of(demo_accounts, owners[0]))[0]
    at.selectbox(key="kam_account_pick").select(own).run()
    ok(at)
    own_name = demo_accounts.filter(pl.col("account_id") == own)["account_name"][0]
    assert [h.value.replace("\\", "") for h in at.header][:1] == [own_name]
    assert not any("not yours" in w.value for w in at.warning)
    assert at.query_params["account_id"] == own
    assert not any(name in h.value.replace("\\", "") for h in at.header)
    # the champion following the same link sees it
    at = session(data_dir, monkeypatch, USERS["champion"], "pages/6_Account.py", query={"account_id": theirs})
    assert at.selectbox(key="kam_account_pick").value == theirs
    assert not any("not yours" in w.value for w in at.warning)


def test_a_kam_note_records_their_email(data_dir, monkeypatch, demo_accounts, owners):
    account_id = sorted(accounts_of(demo_accounts, owners[0]))[0]
    at = session(data_dir, monkeypatch, KAM_A, "pages/6_Account.py", query={"account_id": account_id})
    p = f"note:{account_id}:v0:r0:"
    at.text_area(key=p + "text").input("Called the buyer")
    [b for b in at.get("form_submit_button") if b.label == "Add note"][0].click().run()
    ok(at)
    store = open_store(data_dir / "programme.sqlite")
    try:
        notes = store.current("notes")
        log = store.log(account_id=account_id)
    finally:
        store.close()
    assert notes["text"].to_list() == ["Called the buyer"]
    assert notes["author"].to_list() == [KAM_A] and notes["_updated_by"].to_list() == [KAM_A]
    assert log["actor"].to_list() == [KAM_A]


def test_a_kam_without_a_people_entry_sees_no_account_and_is_told_why(data_dir, monkeypatch, downloads):
    at = session(data_dir, monkeypatch, "new.kam@corp.example", "pages/2_Engagement.py", name="Nobody Known")
    # new.kam@corp.example has no role yet: add the domain to kam and try again
    assert [t.value for t in at.title] == ["No access"]
    text = (data_dir / "kam.toml").read_text(encoding="utf-8").replace(f'kam = ["{KAM_A}"',
                                                                       f'kam = ["@corp.example", "{KAM_A}"')
    (data_dir / "kam.toml").write_text(text, encoding="utf-8")
    downloads.clear()
    at = session(data_dir, monkeypatch, "new.kam@corp.example", "pages/2_Engagement.py", name="Nobody Known")
    assert any("ask an admin to add your e-mail to [people]" in plain(w.value) for w in at.sidebar.warning)
    assert account_ids(downloads) == set()


def test_local_mode_says_sign_in_is_not_configured(data_dir, monkeypatch):
    at = session(data_dir, monkeypatch, None, "pages/9_Data.py", auth=None)
    assert any("Sign-in is not configured" in i.value for i in at.info)
    assert at.get("file_uploader")  # the one local user may upload, as before


# ---------------------------------------------------------------- a small export, checked by hand


@pytest.fixture
def small_data_dir(make_export, load_folder, tmp_path) -> Path:
    """BASE_EXPORT (A1, A3 owned by Kim Lee; A2 by nobody) with one activity quarantined (a date that is none)."""
    folder = make_export({"activities.csv": """\
        activity_id,account_id,activity_date,activity_type,contact_id,duration_minutes
        X1,A1,2026-11-01,email,,5
        X2,A2,2026-11-02,call,,30
        X3,A3,2026-10-15,meeting,,60
        X4,A2,not-a-date,call,,30
        """})
    data = tmp_path / "small"
    report = load_folder(folder, data)
    assert sum(t.quarantined for t in report.tables) == 1
    (data / "kam.toml").write_text('[access]\nchampion = ["chris@corp.example"]\nkam = ["kim@corp.example"]\n'
                                   '[people]\n"kim@corp.example" = "Kim Lee"\n', encoding="utf-8")
    return data


def test_quarantined_rows_only_for_champion_and_admin_others_see_counts(small_data_dir, monkeypatch, downloads):
    at = session(small_data_dir, monkeypatch, "chris@corp.example", "pages/9_Data.py")
    rows = [f for f in downloads if "source_row" in f.columns]
    assert len(rows) == 1 and rows[0]["value"].to_list() == ["not-a-date"]
    downloads.clear()
    at = session(small_data_dir, monkeypatch, "kim@corp.example", "pages/9_Data.py")
    assert data_views.QUARANTINE_WHO in texts(at)
    assert not [f for f in downloads if "source_row" in f.columns]
    counts = [f for f in downloads if "reason" in f.columns and "rows" in f.columns]
    assert [c["rows"].sum() for c in counts] == [1]
    assert "not-a-date" not in str([f.to_dicts() for f in downloads])


def test_a_kam_sees_only_the_accounts_of_their_name(small_data_dir, monkeypatch, downloads):
    at = session(small_data_dir, monkeypatch, "kim@corp.example", "pages/2_Engagement.py")
    assert account_ids([pl.from_pandas(at.dataframe[0].value)]) == {"A1", "A3"}  # A2 has no KAM owner
    assert account_ids(downloads) == {"A1", "A3"}
    at = session(small_data_dir, monkeypatch, "chris@corp.example", "pages/2_Engagement.py")
    assert account_ids([pl.from_pandas(at.dataframe[0].value)]) == {"A1", "A2", "A3"}


def test_a_hostile_sign_in_name_shows_as_plain_text(data_dir, monkeypatch):
    hostile = "Ana \u202e**bold** <b>x</b> [link](http://evil.example)"
    at = session(data_dir, monkeypatch, USERS["viewer"], name=hostile)
    line = [c.value for c in at.sidebar.caption if "Signed in as" in c.value]
    assert len(line) == 1 and "\u202e" not in line[0]
    assert "**bold**" not in line[0] and "](http" not in line[0]  # escaped: shown, not rendered
    assert plain(line[0]) == "Signed in as Ana **bold** <b>x</b> [link](http://evil.example) · viewer"


def test_a_kam_may_not_move_their_account_out_of_their_scope(data_dir, monkeypatch, demo_accounts, owners):
    """The key-account flag and KAM owner are the champion's: a KAM's profile save keeps them as they were."""
    account_id = sorted(accounts_of(demo_accounts, owners[0]))[0]
    at = session(data_dir, monkeypatch, KAM_A, "pages/6_Account.py", query={"account_id": account_id})
    p = f"profile:{account_id}:v0:r0:"
    assert at.text_input(key=p + "kam").disabled and at.toggle(key=p + "key").disabled
    assert at.text_input(key=p + "sponsor").disabled is False
    at.session_state[p + "kam"] = owners[1]  # what a tampered client could send
    at.text_input(key=p + "sponsor").input("Dana Sponsor")
    [b for b in at.get("form_submit_button") if b.label == "Save account profile"][0].click().run()
    ok(at)
    store = open_store(data_dir / "programme.sqlite")
    try:
        profile = store.current("account_profile").row(0, named=True)
    finally:
        store.close()
    assert profile["executive_sponsor"] == "Dana Sponsor"
    assert profile["kam_owner"] == owners[0]
    assert profile["is_key_account"] == bool(demo_accounts.filter(pl.col("account_id") == account_id)
                                             ["is_key_account"][0])


def test_the_champion_may_reassign_an_account(data_dir, monkeypatch, demo_accounts, owners):
    account_id = sorted(accounts_of(demo_accounts, owners[0]))[0]
    at = session(data_dir, monkeypatch, USERS["champion"], "pages/6_Account.py", query={"account_id": account_id})
    p = f"profile:{account_id}:v0:r0:"
    assert not at.text_input(key=p + "kam").disabled
    at.text_input(key=p + "kam").input(owners[1])
    [b for b in at.get("form_submit_button") if b.label == "Save account profile"][0].click().run()
    ok(at)
    store = open_store(data_dir / "programme.sqlite")
    try:
        assert store.current("account_profile")["kam_owner"].to_list() == [owners[1]]
    finally:
        store.close()


def test_an_unverified_email_gets_no_access(data_dir, monkeypatch):
    """A provider that says the e-mail is not verified: anyone could have typed it, so no role."""
    monkeypatch.setenv("KAM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("KAM_REQUIRE_LOGIN", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": USERS["admin"], "name": "Admin", "email_verified": False}
    at.run()
    ok(at)
    assert [t.value for t in at.title] == ["No access"]
    assert "not verified" in plain(at.warning[0].value)
    shows_no_data(at)


def test_a_kam_is_told_programme_goals_are_measured_over_their_accounts(data_dir, monkeypatch):
    told = lambda at: any("Measured over the accounts in view" in i.value for i in at.info)  # noqa: E731
    assert told(session(data_dir, monkeypatch, KAM_A, "pages/5_Programme_goals.py"))
    assert not told(session(data_dir, monkeypatch, USERS["leadership"], "pages/5_Programme_goals.py"))
