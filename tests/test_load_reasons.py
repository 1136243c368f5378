"""The load report counts source rows per (table, column, reason) and names the column (issue 12, item 7)."""

from __future__ import annotations

import polars as pl

from kam_metrics.load.reasons import describe, reason_rows

OPPORTUNITIES = """\
    opportunity_id,account_id,stage,amount,close_date,is_closed,is_won
    O1,A1,Won,100,2026-10-01,true,true
    O2,,Prospecting,,,false,false
    O3,A2,Engaging,,,false,false
    O4,,Won,50,2026-10-02,true,true
    O5,A3,Won,70,,false,true
    O6,A9,Lost,0,2026-10-03,true,false
    O7,A8,Lost,0,2026-10-04,true,false
    O1,A2,Lost,0,2026-10-05,true,false
    """


def _activities(empty_dates: int) -> str:
    rows = ["activity_id,account_id,activity_date,activity_type"]
    rows += [f"X{i},A1,,email" for i in range(empty_dates)]
    rows += ["Y1,A2,2026-11-01,call"]
    return "\n".join(rows) + "\n"


def test_reasons_count_source_rows_per_column_and_name_it(make_export, load_folder):
    folder = make_export({"opportunities.csv": OPPORTUNITIES, "activities.csv": _activities(1234)})
    report = load_folder(folder)
    # By hand: close_date empty on O2, O3, O5 (3 rows); account_id empty on O2, O4 (2 rows); O5 is won but not
    # closed (1 row); A9 and A8 are no accounts (O6, O7: 2 rows, one reason once the values are folded); the
    # second O1 (row 8) repeats row 1's key (1 row). Six problems of "required value is empty" over four rows
    # O2–O5, which the report used to count as 5 "opportunities: required value is empty".
    # activities: 1,234 rows without an activity_date.
    assert report.top_reasons(n=10) == [
        ("activities", "activity_date is empty", 1234),
        ("opportunities", "close_date is empty", 3),
        ("opportunities", "account_id is empty", 2),
        ("opportunities", "account_id: unknown account_id (not in accounts)", 2),
        ("opportunities", "is_won/is_closed: is_won is true but is_closed is false", 1),
        ("opportunities", "opportunity_id repeats an earlier row", 1),
    ]
    counts = {t.table: (t.read, t.loaded, t.quarantined) for t in report.tables}
    assert counts["opportunities"] == (8, 1, 7)  # only O1 (row 1) loads; O2–O7 and the second O1 do not
    assert counts["activities"] == (1235, 1, 1234)
    text = report.as_text()
    assert "  1,234 rows: activities.activity_date is empty\n" in text
    assert "  3 rows: opportunities.close_date is empty\n" in text
    assert "  2 rows: opportunities.account_id is empty\n" in text
    assert "  2 rows: opportunities.account_id: unknown account_id (not in accounts)\n" in text
    assert "  1 row: opportunities.is_won/is_closed: is_won is true but is_closed is false\n" in text
    # the report shows the top five: the duplicate (1 row, last in order) is left for `kam quarantine`
    assert "repeats an earlier row" not in text


def test_rows_are_counted_once_per_reason_even_with_several_entries():
    # Two entries for the same row, column and (folded) reason count one row; a whole-row problem says so.
    quarantine = pl.DataFrame(
        {
            "table": ["wallet", "wallet", "wallet", "contacts", "contacts"],
            "_source_file": ["w.csv", "w.csv", "w.csv", "c.csv", "c.csv"],
            "_source_row": [4, 4, 9, 2, 2],
            "column": ["account_id", "account_id", "account_id", None, "full_name"],
            "value": ["Q", "R", "S", None, None],
            "reason": ["unknown account_id 'Q' (not in accounts)", "unknown account_id 'R' (not in accounts)",
                       "unknown account_id 'S' (not in accounts)", "line has 3 fields, expected 5",
                       "required value is empty"],
        },
        schema_overrides={"_source_row": pl.Int64},
    )
    rows = reason_rows(quarantine)
    assert [(r.table, r.column, r.rows) for r in rows] == [
        ("wallet", "account_id", 2), ("contacts", "full_name", 1), ("contacts", None, 1),
    ]
    assert [r.line() for r in rows] == [
        "2 rows: wallet.account_id: unknown account_id (not in accounts)",
        "1 row: contacts.full_name is empty",
        "1 row: contacts, whole row: line has 3 fields, expected 5",
    ]


def test_reasons_in_words():
    duplicate = "duplicate account_id + year + product_line '…' (first at row …)"
    expected = "wallet.account_id + year + product_line repeats an earlier row"
    assert describe("wallet", "product_line", duplicate) == expected
    assert describe("surveys", "nps", "a response needs an nps or a csat") == (
        "surveys.nps/csat: a response needs an nps or a csat"
    )
    assert describe("accounts", "parent_account_id", "an account cannot be its own parent", with_table=False) == (
        "parent_account_id/account_id: an account cannot be its own parent"
    )
    assert describe("revenue", "amount", "not a number") == "revenue.amount is not a number"
    assert describe("surveys", "nps", "out of range: must be ≤ 10") == "surveys.nps is out of range: must be ≤ 10"
    assert describe("fx_rates", "IsoCode", "IsoCode is empty") == "fx_rates.IsoCode is empty"
    assert describe("revenue", "currency", "no fx rate from USD to the reporting currency EUR") == (
        "revenue.currency: no fx rate from USD to the reporting currency EUR"
    )
