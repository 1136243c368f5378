"""Formatting of figures, safe text and CSV exports (kam_metrics.app.formatting)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import polars as pl
from hypothesis import given, settings as hsettings, strategies as st

from kam_metrics.app.formatting import (
    MISSING, code_span, csv_safe_cell, currency_symbol, escape_markdown, format_count, format_date, format_metric,
    format_metric_delta, format_money, format_number, format_pct, format_points, format_ratio, frame_to_csv,
    join_names, metric_kind, safe_text,
)


def parse_csv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff"), "CSV exports start with a BOM so spreadsheets read UTF-8"
    return list(csv.reader(io.StringIO(text[1:])))


def test_money_is_compact_with_the_currency_symbol():
    assert format_money(1_234_567) == "€1.2 M"
    assert format_money(-350_000) == "-€350 k"
    assert format_money(950) == "€950"
    assert format_money(12_300_000, "USD") == "$12.3 M"
    assert format_money(2_500_000_000, "GBP") == "£2.5 bn"
    assert format_money(150_000_000) == "€150 M"
    assert format_money(5, "XYZ") == "XYZ 5"
    assert format_money(41_100, signed=True) == "+€41.1 k"
    assert format_money(1_234_567, compact=False) == "€1,234,567"
    assert format_money(None) == MISSING
    assert format_money(float("nan")) == MISSING


def test_currency_symbols():
    assert currency_symbol("eur") == "€"
    assert currency_symbol("CHF") == "CHF "
    assert currency_symbol(None) == ""


def test_percentages_have_one_decimal():
    assert format_pct(12.345) == "12.3%"
    assert format_pct(-3.0, signed=True) == "-3.0%"
    assert format_pct(7.26, signed=True) == "+7.3%"
    assert format_ratio(0.2567) == "25.7%"
    assert format_ratio(1.5) == "150.0%"
    assert format_points(-11.7647) == "-11.8 pp"
    assert format_pct(None) == MISSING and format_ratio(None) == MISSING


def test_numbers_counts_and_dates():
    assert format_number(8074.0, decimals=0) == "8,074"
    assert format_number(-3.51, signed=True) == "-3.5"
    assert format_count(16.0) == "16"
    assert format_count(2, signed=True) == "+2"
    assert format_date(date(2026, 11, 20)) == "2026-11-20"
    assert format_date(None) == MISSING


def test_metric_keys_are_written_by_their_unit():
    assert metric_kind("revenue_ttm") == "money"
    assert metric_kind("share_of_wallet") == "ratio"
    assert metric_kind("key_revenue_share_pct") == "pct"
    assert metric_kind("key_account_count") == "count"
    assert metric_kind("days_since_last_touch") == "count"
    assert metric_kind("programme_nps") == "number"
    assert format_metric("revenue_ttm", 41_300_000, "EUR") == "€41.3 M"
    assert format_metric("share_of_wallet", 0.557) == "55.7%"
    assert format_metric("sponsor_coverage_pct", 82.352941) == "82.4%"
    assert format_metric("key_account_count", 17.0) == "17"
    assert format_metric("weighted_touches_90d", 8074.0) == "8,074"
    assert format_metric("programme_nps", 30.701754) == "30.7"
    assert format_metric("champion_left", True) == "yes"
    assert format_metric("health", None) == MISSING


def test_metric_deltas_are_signed_in_the_metric_unit():
    assert format_metric_delta("multithreaded_pct", -11.764706) == "-11.8 pp"
    assert format_metric_delta("revenue_ttm", 41_100.0) == "+€41.1 k"
    assert format_metric_delta("share_of_wallet", 0.012) == "+1.2 pp"
    assert format_metric_delta("key_account_count", 2.0) == "+2"
    assert format_metric_delta("programme_nps", -3.508772) == "-3.5"
    assert format_metric_delta("health_mean", None) is None


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped():
    assert csv_safe_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert csv_safe_cell("+49 30 1234") == "'+49 30 1234"
    assert csv_safe_cell("-1+2") == "'-1+2"
    assert csv_safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe_cell("\tcmd") == "'\tcmd"
    assert csv_safe_cell("Acme") == "Acme"
    assert csv_safe_cell("-3") == "-3" and csv_safe_cell("+2.5") == "+2.5"  # a number, not a formula
    assert csv_safe_cell(-5) == -5


def test_frame_to_csv_escapes_text_and_keeps_numbers():
    frame = pl.DataFrame({
        "account_name": ["=cmd|' /C calc'!A0", "Acme", None, "-minus"],
        "revenue_ttm": [-1.5, 2.0, None, 1e6],
        "is_key_account": [True, False, None, True],
        "as_of": [date(2026, 1, 2)] * 4,
    })
    rows = parse_csv(frame_to_csv(frame))
    assert rows[0] == ["account_name", "revenue_ttm", "is_key_account", "as_of"]
    assert rows[1] == ["'=cmd|' /C calc'!A0", "-1.5", "true", "2026-01-02"]
    assert rows[2] == ["Acme", "2", "false", "2026-01-02"]
    assert rows[3] == ["", "", "", "2026-01-02"]
    assert rows[4] == ["'-minus", "1000000", "true", "2026-01-02"]


def test_frame_to_csv_escapes_a_hostile_header():
    rows = parse_csv(frame_to_csv(pl.DataFrame({"=1+1": ["x"]})))
    assert rows[0] == ["'=1+1"]


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=8))
def test_no_exported_text_cell_starts_like_a_formula(values):
    rows = parse_csv(frame_to_csv(pl.DataFrame({"name": values})))
    assert len(rows) == len(values) + 1
    for original, (cell,) in zip(values, rows[1:]):
        assert not cell.startswith(("=", "@", "\t", "\r")) and (
            not cell.startswith(("+", "-")) or re.fullmatch(r"[-+]?[0-9]+(\.[0-9]+)?", cell))
        expected = original
        if original.startswith(("=", "+", "-", "@", "\t", "\r")) and not re.fullmatch(r"[-+]?[0-9]+(\.[0-9]+)?",
                                                                                      original):
            expected = "'" + original
        assert cell == expected


def test_markdown_escaping_leaves_no_live_syntax():
    text = escape_markdown("[click](http://evil) **bold** <img src=x> :smile: $x$ `code` # head")
    for special in "[]()*<>:$`#":
        index = -1
        while True:
            index = text.find(special, index + 1)
            if index == -1:
                break
            assert text[index - 1] == "\\", f"{special!r} at {index} is not escaped in {text!r}"
    assert "\n" not in escape_markdown("line one\nline two")


def test_safe_text_drops_control_characters_and_caps_length():
    assert safe_text("a\x00b\x1bc") == "abc"
    assert safe_text(None) == ""
    long = safe_text("x" * 600)
    assert len(long) == 500 and long.endswith("…")


def test_join_names():
    assert join_names(["A", "B"]) == "A, B"
    assert join_names(list("abcdefg"), limit=3) == "a, b, c and 4 more"


# ---------------------------------------------------------------- issue 12: one way to write money and percentages


def test_no_negative_zero_anywhere():
    assert format_pct(-0.04) == "0.0%"
    assert format_pct(-0.04, signed=True) == "0.0%"
    assert format_ratio(-0.0004) == "0.0%"
    assert format_points(-0.01) == "0.0 pp"
    assert format_number(-0.0) == "0.0"
    assert format_count(-0.2) == "0"
    assert format_money(-0.3) == "€0"
    assert format_money(-0.3, signed=True) == "€0"
    # A real negative keeps its sign.
    assert format_pct(-0.06) == "-0.1%"
    assert format_points(-1.25) == "-1.2 pp"


def test_money_uses_the_symbol_of_eur_usd_gbp_else_the_iso_code():
    assert format_money(1_234_567, "MXN") == "MXN 1.2 M"
    assert format_money(-350_000, "JPY") == "-JPY 350 k"
    assert format_money(2_000, "CAD") == "CAD 2.0 k"
    assert currency_symbol("usd") == "$" and currency_symbol("GBP") == "£"
    assert currency_symbol("AUD") == "AUD "


def test_money_ticks_are_k_m_bn_with_the_currency():
    from kam_metrics.app.formatting import format_money_tick, money_ticks, nice_ticks

    assert nice_ticks(-500_000, 1_200_000) == ([-500_000.0, 0.0, 500_000.0, 1_000_000.0, 1_500_000.0], 500_000.0)
    assert money_ticks(-500_000, 1_200_000, "EUR")[1] == ["-€500 k", "€0", "€500 k", "€1 M", "€1.5 M"]
    # A fine step keeps the decimals it needs: 1.00 M … 1.20 M in steps of 50 k.
    assert money_ticks(1_000_000, 1_200_000, "USD")[1] == ["$1 M", "$1.05 M", "$1.1 M", "$1.15 M", "$1.2 M"]
    assert money_ticks(0, 2_300_000_000, "MXN")[1] == [
        "MXN 0", "MXN 500 M", "MXN 1 bn", "MXN 1.5 bn", "MXN 2 bn", "MXN 2.5 bn"]
    assert format_money_tick(-0.4, "EUR", 1.0) == "€0"
    assert format_money_tick(500e-3, "EUR", 0.5) == "€0.5"


def test_the_many_forms_write_the_same_texts_as_the_single_ones():
    """format_pct_many / format_money_many (chart hovers of thousands of points) follow the single forms' rules:
    no negative zero, the unit thresholds, one or no decimal, the currency symbol or code."""
    import random

    from kam_metrics.app.formatting import format_money_many, format_pct_many

    values = [None, 0.0, -0.0, -0.04, 0.04, -0.05, 1.25, -1.25, 99.95, 999.4, 999.5, 999.6, 1000, -1234.5, 99949,
              99950, 999499, 999500, 1e6, -5e5, 9.9949e7, 1e9, -3e12, float("nan")]
    rng = random.Random(7)
    values += [rng.uniform(-1e7, 1e7) for _ in range(2000)] + [rng.uniform(-200, 200) for _ in range(2000)]
    assert format_pct_many(values) == [format_pct(v) for v in values]
    assert format_pct_many(values, decimals=0) == [format_pct(v, decimals=0) for v in values]
    for currency in ("EUR", "USD", "MXN"):
        assert format_money_many(values, currency) == [format_money(v, currency) for v in values]
    assert format_pct_many([-0.04, None]) == ["0.0%", "—"]
    assert format_money_many([-1_234_567, 0.4], "MXN") == ["-MXN 1.2 M", "MXN 0"]


def test_code_span_shows_text_literally_and_fences_past_its_backticks():
    assert code_span("ana@example.com") == "` ana@example.com `"
    assert code_span("a`b``c") == "``` a`b``c ```"
    assert code_span("x\u202ey\nz") == "` xy z `"  # bidi override gone, one line
