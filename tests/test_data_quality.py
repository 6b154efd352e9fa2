"""The data-quality summary, the backtest quality warning and the history's row budget."""

from __future__ import annotations

import pandas as pd
import pytest
from report_fixtures import tiny_dataset

from churnlab.contract.dataset import Dataset
from churnlab.report import data_quality, model_quality


@pytest.fixture
def tiny() -> Dataset:
    return tiny_dataset()


def test_auc_standard_error_by_hand():
    # Hanley-McNeil for A = 0.8, 10 churners, 40 stayers: Q1 = 0.8/1.2, Q2 = 1.28/1.8
    q1, q2 = 0.8 / 1.2, 2 * 0.64 / 1.8
    var = (0.8 * 0.2 + 9 * (q1 - 0.64) + 39 * (q2 - 0.64)) / 400
    assert model_quality.auc_standard_error(0.8, 10, 40) == pytest.approx(var**0.5)
    low, high = model_quality.auc_interval(0.8, 10, 40)
    assert (low, high) == pytest.approx((0.8 - 1.959964 * var**0.5, 0.8 + 1.959964 * var**0.5))
    assert model_quality.auc_interval(0.99, 400, 4000)[1] <= 1.0
    assert model_quality.auc_standard_error(None, 10, 40) is None
    assert model_quality.auc_standard_error(0.7, 0, 40) is None


def test_quality_warning_only_beyond_chance():
    """The issue's case: a 0.062 dip with 87 churners is within chance, no alarm."""
    history = pd.DataFrame(
        {"roc_auc": [0.751249, 0.780728, 0.788118, None], "n": [3064, 2957, 2861, 10],
         "positives": [86, 87, 96, 0]}
    )  # fmt: skip
    check = model_quality.quality_check(history, {"roc_auc": 0.7109, "n": 3154, "positives": 87})
    assert check.months == 3 and check.past_mean == pytest.approx(0.773365)
    assert check.drop == pytest.approx(0.062465)
    se_now = model_quality.auc_standard_error(0.7109, 87, 3067)
    se_past = [model_quality.auc_standard_error(a, p, n - p) for a, n, p in
               [(0.751249, 3064, 86), (0.780728, 2957, 87), (0.788118, 2861, 96)]]  # fmt: skip
    limit = 1.959964 * (se_now**2 + sum(s**2 for s in se_past) / 9) ** 0.5
    assert check.limit == pytest.approx(limit) and limit > 0.06247
    assert check.warning is None and check.interval[0] < 0.7109 < check.interval[1]
    assert check.past_range == (0.751249, 0.788118)
    # the same dip measured on ten times as many churners is beyond chance
    big = history.assign(n=history["n"] * 10, positives=history["positives"] * 10)
    warned = model_quality.quality_warning(big, {"roc_auc": 0.7109, "n": 31540, "positives": 870})
    assert warned and "0.711" in warned and "0.773" in warned and "3 backtest" in warned


def test_quality_warning_needs_something_to_compare():
    history = pd.DataFrame({"roc_auc": [0.80, 0.84]})  # no counts: earlier AUCs taken as exact
    assert model_quality.quality_warning(history, {"roc_auc": None, "n": 0, "positives": 0}) is None
    empty = pd.DataFrame(columns=["roc_auc", "n", "positives"])
    assert model_quality.quality_warning(empty, {"roc_auc": 0.5, "n": 100, "positives": 10}) is None
    # below the floor MIN_DROP no alarm, however precise
    huge = {"roc_auc": 0.805, "n": 10**7, "positives": 10**6}
    assert model_quality.quality_warning(history, huge) is None


def test_data_quality_summary(tiny):
    q = data_quality.data_quality_summary(tiny).set_index("table")
    assert q.loc["customers", "rows"] == 4 and q.loc["customers", "columns"] == 4
    assert q.loc["customers", "first_date"] == "2025-01-10"
    assert q.loc["customers", "last_date"] == "2025-04-02"
    # churn_date: 1 of 4 empty, plan: 1 of 4 -> 2 of 16 cells
    assert q.loc["customers", "missing_share"] == pytest.approx(2 / 16)
    assert q.loc["customers", "most_missing"] == "churn_date (25%)"
    assert q.loc["billing", "warnings"] == 1 and q.loc["customers", "warnings"] == 0


def test_backtest_history_is_the_reports_own_backtest_one_window_earlier():
    """One backtest: the history's window B scores exactly what the report for B+h scores."""
    from test_analysis import monthly

    from churnlab.report.analysis import analyze_month

    table = monthly()
    past = model_quality.backtest_history(table, "2025-08", horizon=1, n=2).set_index("snapshot")
    for month in ("2025-07", "2025-06"):
        report = analyze_month(table, month, horizon=1).metrics["backtest"]
        window = past.loc[report["snapshot"]]
        assert window["roc_auc"] == report["roc_auc"]
        assert (window["n"], window["positives"]) == (report["n"], report["positives"])
