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


def test_quality_warning():
    history = pd.DataFrame({"roc_auc": [0.80, 0.84, None]})
    message = model_quality.quality_warning(history, 0.76)
    assert message and "0.760" in message and "0.820" in message and "2 backtest" in message
    assert model_quality.quality_warning(history, 0.78) is None
    assert model_quality.quality_warning(history, None) is None
    assert model_quality.quality_warning(pd.DataFrame({"roc_auc": []}), 0.5) is None


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
