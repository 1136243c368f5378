"""Settings: METRICS.md defaults, kam.toml overrides, and errors that name the key."""

from __future__ import annotations

import pytest

from kam_metrics.settings import Settings, SettingsError, SmtpSettings, load_settings, settings_toml


def test_defaults_are_those_of_metrics_md():
    s = Settings()
    assert s.reporting_currency is None  # not set: the export's own currency, EUR for a canonical export
    assert s.default_gross_margin == 0.35
    assert (s.retention_rate, s.discount_rate, s.ltv_horizon_years) == (0.90, 0.10, 5)
    assert dict(s.activity_weights) == {"email": 1, "call": 2, "meeting": 3, "workshop": 3, "site_visit": 4,
                                        "qbr": 5, "exec_meeting": 5, "other": 1}
    assert dict(s.activity_costs)["qbr"] == 1200 and dict(s.activity_costs)["exec_meeting"] == 1000
    assert dict(s.case_costs) == {"low": 50, "medium": 150, "high": 400, "critical": 1000}
    assert dict(s.health_weights) == {"recency": 15, "trend": 15, "breadth": 15, "loyalty": 15, "wallet": 15,
                                      "profitability": 15, "cadence": 10, "relationship": 15}
    assert dict(s.relationship_penalties) == {"champion_left": 60, "champion_quiet": 30,
                                              "no_decision_maker_engaged": 20, "no_c_level_engaged": 10,
                                              "key_account_without_sponsor": 20}
    assert s.champion_left_health_cap == 69 and s.min_health_coverage_pct == 50
    assert (s.band_green_min, s.band_amber_min) == (70, 40)
    assert (s.key_account_min, s.key_account_max) == (5, 25)


def test_an_unset_reporting_currency_is_printed_as_a_comment_and_reads_back_unset(tmp_path):
    text = settings_toml(Settings())
    assert '# reporting_currency = "EUR"  (not set: the export\'s own currency' in text
    (tmp_path / "kam.toml").write_text(text)
    assert load_settings(data_dir=tmp_path) == Settings()
    (tmp_path / "kam.toml").write_text(settings_toml(Settings(reporting_currency="USD")))
    assert load_settings(data_dir=tmp_path).reporting_currency == "USD"


def test_kam_toml_in_the_data_dir_overrides(tmp_path):
    (tmp_path / "kam.toml").write_text('reporting_currency = "USD"\nretention_rate = 0.8\n[activity_costs]\nqbr = 900\n')
    s = load_settings(data_dir=tmp_path)
    assert s.reporting_currency == "USD" and s.retention_rate == 0.8
    assert s.activity_costs["qbr"] == 900.0 and s.activity_costs["email"] == 5  # others keep their default


def test_config_option_wins_over_the_data_dir(tmp_path):
    (tmp_path / "kam.toml").write_text('reporting_currency = "USD"\n')
    other = tmp_path / "other.toml"
    other.write_text('reporting_currency = "GBP"\n')
    assert load_settings(other, tmp_path).reporting_currency == "GBP"


@pytest.mark.parametrize(
    "text,message",
    [
        ("retension_rate = 0.9\n", "unknown setting 'retension_rate'"),
        ('retention_rate = "high"\n', "setting 'retention_rate' must be float, got str 'high'"),
        ("ltv_horizon_years = 2.5\n", "setting 'ltv_horizon_years' must be int"),
        ("[activity_weights]\nzoom = 2\n", "unknown key 'activity_weights.zoom'"),
        ('[case_costs]\nhigh = "lots"\n', "setting 'case_costs.high' must be float"),
        ("upload_enabled = 1\n", "setting 'upload_enabled' must be bool"),
        ("not toml at all [\n", "not a valid TOML file"),
        ('[smtp]\nhots = "mail.example.com"\n', "unknown key 'smtp.hots'"),
        ('[smtp]\nport = "587"\n', "setting 'smtp.port' must be int, got str '587'"),
        ("[smtp]\nport = 70000\n", "setting 'smtp.port' must be between 1 and 65535"),
        ('[smtp]\nsecurity = "tls"\n', "setting 'smtp.security' must be one of starttls, ssl, none, got 'tls'"),
        ("[smtp]\ntimeout_seconds = 0\n", "setting 'smtp.timeout_seconds' must be above 0"),
        ('[smtp]\nuser = "kam"\npassword_env = ""\n', "setting 'smtp.password_env' must name an environment"),
        ('smtp = "mail.example.com"\n', "setting 'smtp' must be a table like [smtp]"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, text, message):
    path = tmp_path / "kam.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_settings_toml_round_trips(tmp_path):
    s = Settings().replace(reporting_currency="USD", keep_snapshots=3)
    path = tmp_path / "kam.toml"
    path.write_text(settings_toml(s))
    assert load_settings(path) == s


def test_smtp_section_reads_its_keys_and_keeps_defaults(tmp_path):
    path = tmp_path / "kam.toml"
    path.write_text('[smtp]\nhost = "mail.example.com"\nfrom = "kam@example.com"\nuser = "kam"\n'
                    'password_env = "MAIL_PW"\nsecurity = "ssl"\nport = 465\ntimeout_seconds = 5\n')
    smtp = load_settings(path).smtp
    assert (smtp.host, smtp.port, smtp.from_address, smtp.user) == ("mail.example.com", 465, "kam@example.com", "kam")
    assert (smtp.password_env, smtp.security, smtp.timeout_seconds) == ("MAIL_PW", "ssl", 5.0)
    assert smtp.ca_file == ""  # not given: its default
    defaults = Settings().smtp
    assert (defaults.host, defaults.port, defaults.security, defaults.password_env, defaults.from_address) == (
        "localhost", 587, "starttls", "KAM_SMTP_PASSWORD", "")


def test_smtp_section_round_trips_with_from_as_its_toml_key(tmp_path):
    s = Settings().replace(smtp=SmtpSettings(host="mx.example.org", from_address="kam@example.org", security="none"))
    text = settings_toml(s)
    assert '\n[smtp]\nhost = "mx.example.org"\nport = 587\nfrom = "kam@example.org"\n' in text
    path = tmp_path / "kam.toml"
    path.write_text(text)
    assert load_settings(path) == s
