"""`kam app` and sign-in (issue 16): secrets.toml of the data directory passed to Streamlit, --require-login refusing
to start without [auth] and [access] (no browser: the server process is not started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kam_metrics import access, cli
from kam_metrics.settings import Settings, settings_from_dict

AUTH = ('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "c"\nclient_id = "kam"\n'
        'client_secret = "s"\nserver_metadata_url = "https://idp.example/.well-known/openid-configuration"\n')
ACCESS = '[access]\nadmin = ["it@corp.example"]\n'


@pytest.fixture
def started(monkeypatch, tmp_path):
    """What `kam app` would start: the command and environment given to subprocess.call (nothing is started)."""
    calls: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, cwd=None, env=None: calls.append((cmd, env)) or 0)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.delenv("KAM_REQUIRE_LOGIN", raising=False)
    return calls


def secrets_args(cmd: list[str]) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--secrets.files"]


def test_kam_app_passes_streamlits_secrets_files_then_the_data_directorys(started, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    assert cli.main(["app", "--data-dir", str(data), "--no-demo"]) == 0
    (cmd, env), = started
    assert secrets_args(cmd) == [str(tmp_path / "home" / ".streamlit" / "secrets.toml"),
                                 str(cli.REPO_ROOT / ".streamlit" / "secrets.toml"),
                                 str(data.resolve() / "secrets.toml")]
    assert "KAM_REQUIRE_LOGIN" not in env


def test_require_login_refuses_without_auth_naming_what_is_missing_and_where_it_looked(started, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "kam.toml").write_text(ACCESS)
    assert cli.main(["app", "--data-dir", str(data), "--no-demo", "--require-login"]) == 2
    err = capsys.readouterr().err
    assert "missing [auth]" in err and str(data.resolve() / "secrets.toml") in err
    assert started == []  # nothing started


def test_require_login_names_each_missing_key(started, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "kam.toml").write_text(ACCESS)
    (data / "secrets.toml").write_text('[auth]\nredirect_uri = "http://h:8501/oauth2callback"\nclient_id = "x"\n')
    assert cli.main(["app", "--data-dir", str(data), "--no-demo", "--require-login"]) == 2
    err = capsys.readouterr().err
    for key in ("auth.cookie_secret", "auth.client_secret", "auth.server_metadata_url"):
        assert key in err
    assert "auth.redirect_uri" not in err and "auth.client_id" not in err and started == []


def test_require_login_refuses_without_any_role(started, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secrets.toml").write_text(AUTH)
    assert cli.main(["app", "--data-dir", str(data), "--no-demo", "--require-login"]) == 2
    err = capsys.readouterr().err
    assert "[access]" in err and "missing" not in err and started == []


def test_require_login_starts_with_auth_in_the_data_directory_and_tells_the_app(started, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secrets.toml").write_text(AUTH)
    (data / "kam.toml").write_text(ACCESS)
    assert cli.main(["app", "--data-dir", str(data), "--no-demo", "--require-login"]) == 0
    (cmd, env), = started
    assert env["KAM_REQUIRE_LOGIN"] == "1" and str(data.resolve() / "secrets.toml") in secrets_args(cmd)


def test_a_later_secrets_file_wins_and_providers_may_hold_the_client(tmp_path):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(AUTH)
    second.write_text('[auth]\nredirect_uri = "r"\n')  # replaces the whole [auth] section, as Streamlit does
    assert access.missing_auth_keys(access.read_secrets([first, second]).get("auth")) == [
        "auth.cookie_secret", "auth.client_id", "auth.client_secret", "auth.server_metadata_url"]
    assert access.missing_auth_keys(access.read_secrets([second, first]).get("auth")) == []
    provider = {"redirect_uri": "r", "cookie_secret": "c",
                "google": {"client_id": "i", "client_secret": "s", "server_metadata_url": "u"}}
    assert access.missing_auth_keys(provider) == []
    provider["google"].pop("client_secret")
    assert access.missing_auth_keys(provider) == ["auth.google.client_secret"]
    assert access.missing_auth_keys(None) == ["[auth]"]
    assert access.read_secrets([tmp_path / "absent.toml"]) == {}


def test_require_login_problems_reads_settings_roles():
    files: list[Path] = []
    assert any("[access]" in p for p in access.require_login_problems(files, Settings()))
    roles = settings_from_dict({"access": {"viewer": ["@corp.example"]}})
    assert not any("[access]" in p for p in access.require_login_problems(files, roles))
