"""Restricting health_history and health_movement to one account gives that account's rows exactly as the
all-accounts computation does (the page for one account computes only that account)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from polars.testing import assert_frame_equal

from kam_metrics.load import warehouse
from kam_metrics.filters import Filters, NO_FILTERS
from kam_metrics.metrics import default_as_of, health_history, health_movement


def _some_accounts(full: pl.DataFrame) -> list[str]:
    ids = full["account_id"].unique().sort().to_list()
    return [ids[0], ids[len(ids) // 2], ids[-1]]


def test_health_history_for_one_account_equals_its_rows_of_all(demo_data_dir):
    con = warehouse.connect_current(demo_data_dir)
    as_of = default_as_of(con)
    full = health_history(con, as_of, NO_FILTERS, weeks=6)
    assert full["account_id"].n_unique() > 3
    for account_id in _some_accounts(full):
        one = health_history(con, as_of, NO_FILTERS, weeks=6, account_id=account_id)
        assert one["account_id"].unique().to_list() == [account_id]
        assert one.height == 6
        assert_frame_equal(one, full.filter(pl.col("account_id") == account_id))


def test_account_restriction_keeps_the_filters(demo_data_dir):
    con = warehouse.connect_current(demo_data_dir)
    as_of = default_as_of(con)
    keys = health_history(con, as_of, Filters(key_only=True), weeks=2)
    everyone = health_history(con, as_of, NO_FILTERS, weeks=2)
    not_key = sorted(set(everyone["account_id"].to_list()) - set(keys["account_id"].to_list()))[0]
    assert health_history(con, as_of, Filters(key_only=True), weeks=2, account_id=not_key).is_empty()
    assert health_history(con, as_of, NO_FILTERS, weeks=2, account_id="no such account").is_empty()


def test_health_movement_for_one_account_equals_its_rows_of_all(demo_data_dir):
    con = warehouse.connect_current(demo_data_dir)
    as_of = default_as_of(con)
    full = health_movement(con, as_of - timedelta(days=7), as_of)
    for account_id in _some_accounts(full):
        one = health_movement(con, as_of - timedelta(days=7), as_of, account_id=account_id)
        assert one.height == 10  # eight components, the cap and health
        assert_frame_equal(one, full.filter(pl.col("account_id") == account_id))


def test_wallet_share_at_equals_metrics_at(demo_data_dir):
    from kam_metrics.metrics import metrics_at
    from kam_metrics.metrics.accounts import HEALTH_OFFSETS, wallet_share_at

    con = warehouse.connect_current(demo_data_dir)
    as_of = default_as_of(con)
    cols = ["account_id", "as_of", "revenue_ttm", "wallet_current", "share_of_wallet", "is_share_of_wallet_above_1"]
    for filters in (NO_FILTERS, Filters(key_only=True)):
        full = metrics_at(con, [as_of], filters, offsets=HEALTH_OFFSETS).select(cols)
        assert_frame_equal(wallet_share_at(con, as_of, filters).select(cols), full)


def test_alerts_share_of_wallet_above_1_for_key_and_non_key_accounts(load_folder, make_export):
    from datetime import date

    from kam_metrics.metrics import alerts
    from kam_metrics.metrics.alerts import KEY_ACCOUNT_ALERTS

    # conftest BASE_EXPORT: A1 key, revenue 1000; A2 not key, 500; A3 key, −50 (all within the TTM).
    # Wallets: A1 500 → share 2.0; A2 400 → 1.25; A3 100 → −0.5. Above 1: A1 (key) and A2 (not key).
    report = load_folder(make_export({"wallet.csv": """\
        account_id,year,wallet_amount,product_line
        A1,2026,500,
        A2,2026,400,
        A3,2026,100,
        """}))
    con = warehouse.connect_current(report.snapshot_path.parent.parent)
    found = alerts(con, date(2026, 11, 5))
    over = found.filter(pl.col("alert") == "share_of_wallet_above_1")
    assert over["account_id"].to_list() == ["A1", "A2"]
    assert "share of wallet 1.25" in over.filter(pl.col("account_id") == "A2")["detail"][0]
    assert set(found.filter(pl.col("alert").is_in(list(KEY_ACCOUNT_ALERTS)))["account_id"].to_list()) <= {"A1", "A3"}
    only_a2 = alerts(con, date(2026, 11, 5), Filters(regions=("Americas",)))
    # A2 is also a promotion candidate (METRICS.md "Alerts", issue 12): selection scores A1 70, A2 35, A3 0
    # (revenue, wallet and net margin ranks 100 / 50 / 0 with A3's margin null; growth and contacts tie), and
    # 35 ≥ the lowest key account's 0. Both are low; promotion_candidate comes first in the kind order.
    assert only_a2.select("account_id", "alert").rows() == [("A2", "promotion_candidate"),
                                                             ("A2", "share_of_wallet_above_1")]
