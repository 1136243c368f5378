"""The kam command: exit codes, status JSON, quarantine export, errors that name the file."""

from __future__ import annotations

import json

from kam_metrics.cli import main


def test_load_status_and_quarantine(make_export, tmp_path, capsys):
    data_dir = str(tmp_path / "data")
    folder = make_export({"activities.csv": "activity_id,account_id,activity_date,activity_type\nX1,A1,2026-11-01,email\nX2,A9,2026-11-02,=HYPERLINK(\"x\")\n"})
    assert main(["--data-dir", data_dir, "load", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "activities" in out and "unknown account_id" in out
    assert main(["--data-dir", data_dir, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["as_of"] == "2026-11-02" or status["as_of"] == "2026-11-01"
    assert status["format"] == "kam"
    assert status["tables"]["activities"] == {"read": 2, "loaded": 1, "quarantined": 1, "skipped": 0}
    assert status["tables"]["accounts"] == {"read": 3, "loaded": 3, "quarantined": 0, "skipped": 0}
    out_file = tmp_path / "q.csv"
    assert main(["--data-dir", data_dir, "quarantine", "--table", "activities", "--out", str(out_file)]) == 0
    lines = out_file.read_text().splitlines()
    assert lines[0] == "table,source_file,source_row,column,value,reason"
    assert lines[1] == "activities,activities.csv,2,account_id,A9,unknown account_id 'A9' (not in accounts)"
    assert main(["--data-dir", data_dir, "verify"]) == 0


def test_as_of_ignores_future_dates(make_export, tmp_path, capsys):
    folder = make_export({"activities.csv": "activity_id,account_id,activity_date,activity_type\nX1,A1,2026-11-01,email\nX2,A1,2099-01-01,email\n"})
    data_dir = str(tmp_path / "data")
    assert main(["--data-dir", data_dir, "load", str(folder)]) == 0
    capsys.readouterr()
    main(["--data-dir", data_dir, "status", "--json"])
    assert json.loads(capsys.readouterr().out)["as_of"] == "2026-11-01"


def test_bad_input_exits_2_with_one_message(make_export, tmp_path, capsys):
    folder = make_export({"accounts.csv": "account_id,name\nA1,x\n"})
    assert main(["--data-dir", str(tmp_path / "data"), "load", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # (`kam load` prints its progress on standard error: plain lines before the one error message.)
    assert err[-1] == "kam: error: accounts.csv: required column 'account_name' is missing"
    assert all(line.startswith("kam load: ") for line in err[:-1])


def test_status_without_a_snapshot_exits_2(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path / "empty"), "status"]) == 2
    assert "no snapshot loaded yet" in capsys.readouterr().err


def test_bad_settings_file_exits_2_naming_the_key(make_export, tmp_path, capsys):
    cfg = tmp_path / "kam.toml"
    cfg.write_text("discount = 0.1\n")
    assert main(["--config", str(cfg), "--data-dir", str(tmp_path / "d"), "load", str(make_export())]) == 2
    assert "unknown setting 'discount'" in capsys.readouterr().err


def test_a_zip_export_loads_and_a_zip_slip_is_refused(make_export, tmp_path, capsys):
    import zipfile

    folder = make_export()
    good = tmp_path / "export.zip"
    with zipfile.ZipFile(good, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"export/{f.name}")
    assert main(["--data-dir", str(tmp_path / "d"), "load", str(good)]) == 0
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        for f in folder.iterdir():
            z.write(f, f.name)
        z.writestr("../x.csv", "boom")
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path / "d"), "load", str(evil)]) == 2
    assert "entry '../x.csv' points outside the export folder" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_status_gives_the_apps_as_of_with_the_export_date_and_currency(make_export, tmp_path, capsys):
    """One as_of everywhere: with every dated row in the future, status says today (as the app does), not n/a."""
    from datetime import date

    folder = make_export({
        "activities.csv": "activity_id,account_id,activity_date,activity_type\nX1,A1,2099-01-01,email\n",
        "revenue.csv": "revenue_id,account_id,revenue_date,amount\nR1,A1,2099-02-01,10\n",
    })
    data_dir = str(tmp_path / "data")
    assert main(["--data-dir", data_dir, "load", str(folder)]) == 0
    assert "Reporting currency EUR: the default of the canonical format" in capsys.readouterr().out
    main(["--data-dir", data_dir, "status", "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["as_of"] == date.today().isoformat() and status["as_of_from_data"] is False
    assert status["reporting_currency"] == "EUR" and status["export_date"] is None
    main(["--data-dir", data_dir, "status"])
    text = capsys.readouterr().out
    assert f"as_of:          {date.today().isoformat()} (today: the export has no activity or revenue date" in text


def test_a_salesforce_org_in_usd_loads_in_usd_without_any_setting(tmp_path, capsys):
    """CRM_FORMATS.md: the reporting currency defaults to the org's corporate currency, so no deal is quarantined."""
    from pathlib import Path

    folder = Path(__file__).parent / "fixtures" / "salesforce-usd-corporate"
    data_dir = str(tmp_path / "data")
    assert main(["--data-dir", data_dir, "load", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Reporting currency USD: the org's corporate currency (CurrencyType.csv, IsCorporate = 1)" in out
    main(["--data-dir", data_dir, "status", "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["reporting_currency"] == "USD"
    assert status["tables"]["revenue"]["quarantined"] == 0
    assert status["tables"]["revenue"]["loaded"] == 3  # 120,000 USD, 30,000.50 USD and 500,000 MXN won deals
    main(["--data-dir", data_dir, "report", "accounts", "--format", "json"])
    revenue = sum(row["revenue_ttm"] or 0 for row in json.loads(capsys.readouterr().out))
    assert abs(revenue - 175_000.50) < 1e-6 * 175_000.50  # 120,000 + 30,000.50 + 500,000 / 20
