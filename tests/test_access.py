"""Roles and scope (kam_metrics/access.py) and the [access]/[people] settings, with hand-built settings."""

from __future__ import annotations

import pytest

from kam_metrics import access
from kam_metrics.filters import Filters
from kam_metrics.settings import Settings, SettingsError, load_settings, settings_from_dict, settings_toml

SETTINGS = settings_from_dict({
    "access": {
        "admin": ["it@corp.example"],
        "champion": ["Chris@Corp.Example"],
        "leadership": ["lee@corp.example"],
        "kam": ["@corp.example", "ana@partner.example"],
        "viewer": ["vic@other.example", "it@corp.example"],
    },
    "people": {"ana@corp.example": "Ana Grünewald", "BEN@corp.example": "Ben Ode"},
})


@pytest.mark.parametrize("email,role", [
    ("it@corp.example", "admin"),  # also a viewer and (by domain) a kam: the highest wins
    ("chris@corp.example", "champion"),  # the list says Chris@Corp.Example: case does not matter
    ("LEE@CORP.EXAMPLE", "leadership"),
    ("someone@corp.example", "kam"),  # by domain
    ("ana@partner.example", "kam"),  # by e-mail
    ("vic@other.example", "viewer"),
    ("eve@partner.example", None),  # partner.example is not a domain entry
    ("x@notcorp.example", None),  # "@corp.example" is a suffix with its @, not any ending
    ("", None),
    (None, None),
])
def test_role_is_the_highest_list_naming_the_email_or_its_domain(email, role):
    assert access.role_of(SETTINGS, email) == role


def test_people_name_the_kam_owner_case_insensitively():
    assert access.person_name(SETTINGS, "Ben@Corp.Example") == "Ben Ode"
    assert access.person_name(SETTINGS, "nobody@corp.example") is None


def test_a_kam_sees_and_records_on_their_own_accounts_only():
    ana = access.access_for(SETTINGS, "ana@corp.example", "Ana G.", ["Ana Grünewald", "Ben Ode"])
    assert (ana.role, ana.owners, ana.name) == ("kam", ("Ana Grünewald",), "Ana Grünewald")
    assert not ana.sees_all and not ana.may_upload and not ana.may_edit_programme_goals and not ana.is_read_only
    assert ana.may_record_on("Ana Grünewald") and not ana.may_record_on("Ben Ode") and not ana.may_record_on(None)
    # asking for another KAM's accounts gives their own; asking for nothing gives their own; a mix keeps theirs
    assert ana.scope_filters(Filters(kam_owners=("Ben Ode",))).kam_owners == ("Ana Grünewald",)
    assert ana.scope_filters(Filters()).kam_owners == ("Ana Grünewald",)
    assert ana.scope_filters(Filters(kam_owners=("Ben Ode", "Ana Grünewald"))).kam_owners == ("Ana Grünewald",)
    # the other filters are kept
    scoped = ana.scope_filters(Filters(regions=("DACH",), key_only=True))
    assert (scoped.regions, scoped.key_only) == (("DACH",), True)


def test_a_kam_without_people_entry_falls_back_to_an_exact_sign_in_name_else_sees_nothing():
    owners = ["Ana Grünewald", "Carla Diaz"]
    carla = access.access_for(SETTINGS, "carla@corp.example", "Carla Diaz", owners)
    assert carla.owners == ("Carla Diaz",) and access.unknown_kam_text(carla) is None
    near = access.access_for(SETTINGS, "carla@corp.example", "carla diaz", owners)
    assert near.owners == () and near.has_no_accounts
    assert "ask an admin" in access.unknown_kam_text(near) and "[people]" in access.unknown_kam_text(near)
    only = near.scope_filters(Filters(kam_owners=("Ana Grünewald",))).kam_owners
    assert only == (access.NO_OWNER,) and access.NO_OWNER not in owners


@pytest.mark.parametrize("email,sees_all,upload,goals,read_only,record_any", [
    ("it@corp.example", True, True, True, False, True),
    ("chris@corp.example", True, True, True, False, True),
    ("lee@corp.example", True, False, False, True, False),
    ("vic@other.example", True, False, False, True, False),
])
def test_what_each_other_role_may_do(email, sees_all, upload, goals, read_only, record_any):
    a = access.access_for(SETTINGS, email, None, ["Ana Grünewald"])
    assert (a.sees_all, a.may_upload, a.may_edit_programme_goals, a.is_read_only) == (sees_all, upload, goals,
                                                                                      read_only)
    assert a.may_record_on("Ana Grünewald") == record_any
    assert a.scope_filters(Filters(kam_owners=("Ben Ode",))).kam_owners == ("Ben Ode",)  # all: unchanged


def test_no_role_means_no_access_and_local_mode_means_everything():
    eve = access.access_for(SETTINGS, "eve@partner.example", "Eve", ["Eve"])
    assert not eve.has_access and not eve.may_record_on("Eve") and not eve.may_upload
    local = access.LOCAL
    assert local.has_access and local.sees_all and local.may_upload and local.may_record_on(None)
    assert local.scope_filters(Filters(kam_owners=("X",))) == Filters(kam_owners=("X",))


def test_sidebar_owner_options_are_the_ones_in_scope():
    ana = access.access_for(SETTINGS, "ana@corp.example")
    assert access.owners_in_scope(ana, ["Ana Grünewald", "Ben Ode"]) == ["Ana Grünewald"]
    assert access.owners_in_scope(access.LOCAL, ["Ana Grünewald", "Ben Ode"]) == ["Ana Grünewald", "Ben Ode"]


def test_access_and_people_read_back_from_settings_toml(tmp_path):
    (tmp_path / "kam.toml").write_text(settings_toml(SETTINGS), encoding="utf-8")
    again = load_settings(data_dir=tmp_path)
    assert dict(again.access) == dict(SETTINGS.access) and dict(again.people) == dict(SETTINGS.people)
    assert again == SETTINGS
    assert load_settings(data_dir=tmp_path).access["kam"] == ("@corp.example", "ana@partner.example")
    assert Settings().access == {} and Settings().people == {}


@pytest.mark.parametrize("text,message", [
    ('[access]\nboss = ["a@b.example"]\n', "unknown key 'access.boss'"),
    ('[access]\nkam = ["ana"]\n', "setting 'access.kam': 'ana' is neither an e-mail nor \"@domain\""),
    ('[access]\nkam = ["ana@b.example x"]\n', "setting 'access.kam'"),
    ('[access]\nkam = "ana@b.example"\n', "setting 'access.kam' must be a list"),
    ('access = 3\n', "setting 'access' must be a table"),
    ('[people]\nana = "Ana"\n', "setting 'people.ana': the key must be an e-mail"),
    ('[people]\n"ana@b.example" = 3\n', "setting 'people.ana@b.example' must be a kam_owner name"),
])
def test_bad_access_entries_name_the_key(tmp_path, text, message):
    (tmp_path / "kam.toml").write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=None) as exc:
        load_settings(data_dir=tmp_path)
    assert message in str(exc.value)


def test_an_unverified_email_gets_no_role_and_a_verified_one_does():
    assert access.access_for(SETTINGS, "ana@corp.example", email_verified=False).role is None
    assert not access.access_for(SETTINGS, "ana@corp.example", email_verified=False).has_access
    assert access.access_for(SETTINGS, "ana@corp.example", email_verified=True).role == "kam"
    assert access.access_for(SETTINGS, "ana@corp.example").role == "kam"  # a provider that does not say


def test_only_admin_and_champion_may_reassign_accounts():
    rights = {role: access.Access(email="x@corp.example", name="x", role=role).may_reassign_accounts
              for role in access.ROLES}
    assert rights == {"admin": True, "champion": True, "leadership": False, "kam": False, "viewer": False}
    assert access.LOCAL.may_reassign_accounts


def test_the_app_address_is_the_redirect_uris_origin_with_sign_in(tmp_path):
    """kam app prints where to open the app: a browser on another host name than redirect_uri's is not signed in."""
    secrets = tmp_path / "secrets.toml"
    files = [tmp_path / "absent.toml", secrets]
    assert access.app_address(files, 8600) == "http://localhost:8600"
    secrets.write_text('[auth]\nredirect_uri = "https://kam.example.com:8443/oauth2callback"\n', encoding="utf-8")
    assert access.app_address(files, 8600) == "https://kam.example.com:8443"
    secrets.write_text('[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\n', encoding="utf-8")
    assert access.app_address(files, 8501) == "http://127.0.0.1:8501"
    secrets.write_text('[auth\nbroken', encoding="utf-8")
    assert access.app_address(files, 8501) == "http://localhost:8501"
