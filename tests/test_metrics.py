"""Metrics computed by hand on tiny examples, and undefined metrics as None."""

from __future__ import annotations

import numpy as np
import pytest

from churnlab.model import metrics as mx

Y = [0, 0, 1, 1]
P = [0.1, 0.4, 0.35, 0.8]


def test_ranking_metrics_by_hand():
    # pairs (churner, stayer): (.35,.1) ok, (.35,.4) wrong, (.8,.1) ok, (.8,.4) ok -> 3/4
    assert mx.roc_auc(Y, P) == pytest.approx(0.75)
    # ranked: .8 (churner, precision 1), .4, .35 (churner, precision 2/3)
    assert mx.pr_auc(Y, P) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert mx.brier(Y, P) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)


def test_lift_top_decile_by_hand():
    y = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    p = [0.9, 0.1, 0.2, 0.3, 0.1, 0.1, 0.2, 0.1, 0.1, 0.05]
    # top 10 % = 1 row, a churner: rate 1 vs overall 0.3
    assert mx.lift_top_decile(y, p) == pytest.approx(1 / 0.3)


@pytest.mark.parametrize(
    ("y", "words"),
    [
        ([0, 0, 0], "nobody churned among the 3"),
        ([1, 1], "every one of the 2"),
        ([], "no labelled"),
    ],
)
def test_undefined_metrics_are_none_with_a_reason(y, words):
    p = [0.5] * len(y)
    block = mx.backtest_metrics(y, p)
    assert block["roc_auc"] is None and block["pr_auc"] is None
    assert block["lift_top_decile"] is None
    assert words in block["reason"]
    assert (block["brier"] is None) == (len(y) == 0)


def test_missing_values_are_left_out():
    assert mx.roc_auc([0, 1, np.nan], [0.2, 0.8, 0.5]) == 1.0
    assert mx.backtest_metrics([0, 1, np.nan], [0.2, 0.8, 0.5])["n"] == 2


def test_gains_table_by_hand():
    y = [1, 0, 1, 0]
    p = [0.9, 0.8, 0.1, 0.2]
    g = mx.gains_table(y, p, bins=2)
    assert g["customers"].tolist() == [2, 2]
    assert g["churners"].tolist() == [1.0, 1.0]
    assert g["gain"].tolist() == [0.5, 1.0]
    assert g["lift"].tolist() == [1.0, 1.0]
    assert mx.gains_table([], []).empty


def test_calibration_table_equal_count_buckets():
    y = [0, 0, 1, 0, 1, 1]
    p = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9]
    t = mx.calibration_table(y, p, bins=3)
    assert t["count"].tolist() == [2, 2, 2]
    assert t["mean_predicted"].tolist() == pytest.approx([0.15, 0.45, 0.8])
    assert t["observed_rate"].tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_campaign_profit_by_hand():
    # churner first: 0.3 * (100 - 10) - 1 = 26; then a stayer costs 10 + 1
    profit = mx.campaign_profit([1, 0], [0.9, 0.1], [100, 100])
    assert profit["profit"].tolist() == pytest.approx([0.0, 26.0, 15.0])
    best = mx.best_k(profit)
    assert best == {"k": 1, "share_contacted": 0.5, "profit": pytest.approx(26.0)}


def test_campaign_profit_with_probabilities_and_ordering():
    # expected outcome 0.5: 0.5 * 26 ... per customer = 0.5*(0.3*(clv-10)-1) - 0.5*11
    profit = mx.campaign_profit([0.5, 0.5], [0.2, 0.6], [40, 200])
    first = 0.5 * (0.3 * 190 - 1) - 0.5 * 11  # the 0.6 customer (clv 200) is contacted first
    second = 0.5 * (0.3 * 30 - 1) - 0.5 * 11
    assert profit["profit"].tolist() == pytest.approx([0.0, first, first + second])
    assert mx.best_k(profit)["k"] == 1


def test_customer_value_defaults():
    assert mx.customer_value(None, 2).tolist() == [200.0, 200.0]
    assert mx.customer_value([10.0, np.nan], 2).tolist() == [120.0, 200.0]
