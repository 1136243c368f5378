"""What a table shows on screen (kam_metrics.app.widgets): no negative zero, bands as coloured tags, nulls kept."""

from __future__ import annotations

import math

import polars as pl

from kam_metrics.app.widgets import BAND_TAG_COLORS, band_tags, rounded_for_screen


def test_screen_copy_has_no_negative_zero_and_keeps_nulls():
    frame = pl.DataFrame({"revenue_growth_pct": [-0.04, -1.26, None], "revenue_ttm": [-0.4, 1234.6, None],
                          "touches_90d": [0, 3, None]})
    shown = rounded_for_screen(frame)
    growth = shown["revenue_growth_pct"].to_list()
    assert growth[0] == 0.0 and math.copysign(1.0, growth[0]) == 1.0  # +0.0, drawn "0.0%"
    assert growth[1] == -1.3 and growth[2] is None  # null stays null (drawn "—"), never 0
    money = shown["revenue_ttm"].to_list()
    assert money[0] == 0.0 and math.copysign(1.0, money[0]) == 1.0 and money[1] == 1235.0 and money[2] is None
    assert shown["touches_90d"].to_list() == [0, 3, None]


def test_bands_become_one_coloured_tag_and_insufficient_data_is_grey():
    shown = band_tags(pl.DataFrame({"band": ["red", "insufficient_data", None]}))
    assert shown["band"].to_list() == [["red"], ["insufficient_data"], []]
    assert BAND_TAG_COLORS["insufficient_data"] == "#94a3b8" and BAND_TAG_COLORS["red"] == "#dc2626"
