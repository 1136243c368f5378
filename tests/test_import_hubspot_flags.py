"""HubSpot won and closed deals from the portal's own flags (CRM_FORMATS.md, "What real exports taught us").

Fixture tests/fixtures/hubspot-custom-stages/ (see its README): the portal's won stages are `Paid` and
`Contract Signed`, its lost stage `No Success`, an open one `Demo Scheduled` (none in the default [stages]);
the deals export carries `Is Closed Won`, `Is closed` and `Deal probability`. Rows (1-based, header excluded):
1 40001 Paid, company 20000000001, 12,000        → won
2 40002 Contract Signed, company 20000000002, 8,500.5 → won
3 40003 Paid, company 20000000001, 4,000         → won
4 40004 No Success, company 20000000002          → lost
5 40005 No Success, no company                   → lost
6 40006 Demo Scheduled, no company               → open
7 40007 Contract Signed, no company, 5,000       → won
8 40008 Demo Scheduled, company 20000000001      → open
Revenue = the won deals with a company: 12,000 + 8,500.5 + 4,000 = 24,500.5.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import polars as pl
import pytest

from kam_metrics.load.contract import SOURCE_FILE, SOURCE_ROW
from kam_metrics.load.importers.hubspot import DEFAULT_MAPPING, IMPORTER
from kam_metrics.settings import Settings

FOLDER = Path(__file__).parent / "fixtures" / "hubspot-custom-stages"
DEALS = "hubspot-crm-exports-all-deals-2024-06-30.csv"
COMPANIES = "hubspot-crm-exports-all-companies-2024-06-30.csv"
NOT_WON = "deal is not closed-won"


def read(folder: Path = FOLDER, mapping: Path | None = None):
    return IMPORTER.read(folder, settings=Settings(reporting_currency=None), mapping=mapping)


def rows_for(result, table: str, frame_name: str) -> dict[int, str]:
    frame = getattr(result, frame_name).filter(pl.col("table") == table)
    text = "rule" if frame_name == "skipped" else "reason"
    return dict(frame.select(SOURCE_ROW, text).iter_rows())


def without_columns(tmp_path: Path, *drop: str) -> Path:
    """A copy of the fixture whose deals export lacks the given columns (still every field quoted, LF)."""
    folder = tmp_path / "export"
    shutil.copytree(FOLDER, folder)
    path = folder / DEALS
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    keep = [i for i, h in enumerate(rows[0]) if h not in drop]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return folder


def test_fixture_is_an_all_properties_export_every_field_quoted_lf_no_bom():
    data = (FOLDER / DEALS).read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data
    assert all(line.startswith(b'"') and line.endswith(b'"') for line in data.splitlines())
    header = data.splitlines()[0].decode()
    for flag in ("Is Closed Won", "Is closed", "Deal probability"):
        assert f'"{flag}"' in header
    stages = {r["Deal Stage"] for r in csv.DictReader(io.StringIO(data.decode()))}
    default_stages = {s.casefold() for s in DEFAULT_MAPPING["stages"]}
    assert stages == {"Paid", "Contract Signed", "No Success", "Demo Scheduled"}
    assert not {s.casefold() for s in stages} & default_stages


def test_revenue_is_exactly_the_won_deals_with_a_company():
    result = read()
    revenue = result.tables["revenue"]
    assert sorted(revenue["revenue_id"].to_list()) == ["40001", "40002", "40003"]
    assert revenue["amount"].sum() == 24500.5  # 12,000 + 8,500.5 + 4,000
    assert dict(revenue.select("revenue_id", "account_id").iter_rows()) == {
        "40001": "20000000001", "40002": "20000000002", "40003": "20000000001"}


def test_deals_that_are_not_won_are_skipped_by_rule_for_revenue_with_or_without_a_company():
    result = read()
    assert rows_for(result, "revenue", "skipped") == {4: NOT_WON, 5: NOT_WON, 6: NOT_WON, 8: NOT_WON}
    # Only the won deal without a company is quarantined as revenue, with a reason naming the column.
    assert rows_for(result, "revenue", "quarantine") == {
        7: "closed-won deal has no associated company ('Associated Company IDs' is empty)"}
    q = result.quarantine.filter(pl.col("table") == "revenue")
    assert q.select("column").to_series().to_list() == ["Associated Company IDs"]


def test_opportunities_take_won_and_closed_from_the_flags():
    result = read()
    opps = {r["opportunity_id"]: (r["is_closed"], r["is_won"]) for r in result.tables["opportunities"].iter_rows(named=True)}
    assert opps == {
        "40001": (True, True), "40002": (True, True), "40003": (True, True),  # Paid, Contract Signed
        "40004": (True, False),  # No Success
        "40008": (False, False),  # Demo Scheduled
    }
    # Deals without a company cannot be opportunities of an account: quarantined for that table.
    assert rows_for(result, "opportunities", "quarantine") == {
        5: "deal has no associated company", 6: "deal has no associated company", 7: "deal has no associated company"}


def test_every_deal_row_is_staged_skipped_or_quarantined_once_per_table():
    result = read()
    for table in ("opportunities", "revenue"):
        keys = result.tables[table].select(SOURCE_FILE, SOURCE_ROW).rows()
        keys += result.skipped.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).rows()
        keys += result.quarantine.filter(pl.col("table") == table).select(SOURCE_FILE, SOURCE_ROW).rows()
        assert sorted(keys) == [(DEALS, n) for n in range(1, 9)], table


def test_the_notes_say_the_flags_decided_and_no_stage_label_is_called_unmapped():
    notes = read().notes
    assert f"{DEALS}: won and closed from the portal's flags 'Is Closed Won' and 'Is closed' for 5 deal(s); " \
           "[stages] is not used for them" in notes
    assert not any("not in [stages]" in n for n in notes)
    # The flags' alternatives it lacks ('Is Deal Closed?', 'Deal Currency Code') are not reported missing.
    assert not any(n.startswith(f"{DEALS}: mapped headers not found") for n in notes)


def test_without_is_closed_won_the_deal_probability_decides(tmp_path):
    # Probability 1.0 → won; 0.0 with Is closed = true → lost; 0.2 with Is closed = false → open.
    result = read(without_columns(tmp_path, "Is Closed Won"))
    assert sorted(result.tables["revenue"]["revenue_id"].to_list()) == ["40001", "40002", "40003"]
    assert rows_for(result, "revenue", "skipped") == {4: NOT_WON, 5: NOT_WON, 6: NOT_WON, 8: NOT_WON}
    opps = {r["opportunity_id"]: (r["is_closed"], r["is_won"]) for r in result.tables["opportunities"].iter_rows(named=True)}
    assert opps["40004"] == (True, False) and opps["40008"] == (False, False)
    assert any("won and closed from 'Deal probability' (1 = won) for 5 deal(s)" in n for n in result.notes)


def test_without_any_flag_the_stage_mapping_decides_and_the_notes_say_so(tmp_path):
    folder = without_columns(tmp_path, "Is Closed Won", "Is closed", "Deal probability")
    result = read(folder)
    # No won stage is in the default [stages]: nothing is revenue, and the labels are listed.
    assert result.tables["revenue"].height == 0
    assert any("no 'Is Closed Won' column: won and closed deals from the stage labels" in n for n in result.notes)
    assert any("not in [stages], staged as open" in n and "'Paid' (2)" in n for n in result.notes)
    # The won deal without a company is not won by the stages either, so it is skipped for revenue too.
    assert rows_for(result, "revenue", "quarantine") == {}
    mapping = tmp_path / "stages.toml"
    mapping.write_text('[stages]\n"Paid" = "won"\n"Contract Signed" = "won"\n"No Success" = "lost"\n', encoding="utf-8")
    mapped = read(folder, mapping)
    assert mapped.tables["revenue"]["amount"].sum() == 24500.5
    assert rows_for(mapped, "revenue", "quarantine") == {
        7: "closed-won deal has no associated company ('Associated Company IDs' is empty)"}


def test_a_renamed_flag_is_found_through_the_mapping(tmp_path):
    # A non-English export: the mapping renames the flag headers.
    folder = tmp_path / "export"
    shutil.copytree(FOLDER, folder)
    path = folder / DEALS
    path.write_text(path.read_text(encoding="utf-8").replace('"Is Closed Won"', '"Är stängd vunnen"'), encoding="utf-8")
    assert len(read(folder).tables["revenue"]) == 3  # Deal probability still decides
    mapping = tmp_path / "sv.toml"
    mapping.write_text('[deals]\nis_closed_won = "Är stängd vunnen"\n', encoding="utf-8")
    result = read(folder, mapping)
    assert sorted(result.tables["revenue"]["revenue_id"].to_list()) == ["40001", "40002", "40003"]
    assert any("flags 'Är stängd vunnen' and 'Is closed'" in n for n in result.notes)


def test_an_unreadable_flag_quarantines_the_deal_with_the_column(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(FOLDER, folder)
    with (folder / DEALS).open("a", encoding="utf-8", newline="") as fh:
        fh.write('"40009","900","2024-06-01 10:00","2024-05-01 10:00","USD","Odd","Paid","Sam Carter","1.0",'
                 '"perhaps","true","Sales Pipeline","20000000002","Lone Star Freight LLC"\n')
    result = read(folder)
    q = result.quarantine.filter(pl.col(SOURCE_ROW) == 9).select("table", "column", "value", "reason").rows()
    assert sorted(q) == [("opportunities", "Is Closed Won", "perhaps", "not a boolean (expected true/false)"),
                         ("revenue", "Is Closed Won", "perhaps", "not a boolean (expected true/false)")]


@pytest.mark.parametrize("text, expected", [("1.0", 1.0), ("0.2", 0.2), ("0", 0.0), ("100", 1.0), ("20", 0.2)])
def test_probability_as_fraction_or_percent(text, expected):
    from kam_metrics.load.importers.hubspot.values import parse_probability

    assert parse_probability(text) == pytest.approx(expected)


def test_probability_out_of_range_is_an_error():
    from kam_metrics.load.importers.hubspot.values import parse_probability

    with pytest.raises(ValueError, match="not a probability"):
        parse_probability("-0.5")
    with pytest.raises(ValueError, match="not a probability"):
        parse_probability("250")


def test_the_load_counts_revenue_and_skips_end_to_end(load_folder):
    report = load_folder(FOLDER, fmt="hubspot", settings=Settings(reporting_currency="USD"))
    counts = {t.table: (t.read, t.loaded, t.quarantined, t.skipped) for t in report.tables if t.is_present}
    assert counts["revenue"] == (8, 3, 1, 4)
    assert counts["opportunities"] == (8, 5, 3, 0)
    assert counts["accounts"] == (2, 2, 0, 0)
