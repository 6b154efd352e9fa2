"""The data-quality summary, the backtest quality warning and the history's row budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_fixtures import tiny_dataset

from churnlab.contract.dataset import Dataset
from churnlab.features.table import FeatureTable
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


def test_recent_snapshots_within_row_budget():
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "snapshot": ["2025-01"] * 4 + ["2025-02"] * 3 + ["2025-03"] * 3,
            "churned": pd.array([0, 1] * 5, dtype="Int8"),
            "x": np.arange(10.0),
        }
    )
    table = FeatureTable(frame, {"x": "price"})
    snaps = ["2025-01", "2025-02", "2025-03"]
    assert model_quality._recent(table, snaps, 6) == ["2025-02", "2025-03"]
    assert model_quality._recent(table, snaps, 10) == snaps
    assert model_quality._recent(table, snaps, 1) == ["2025-02", "2025-03"]  # never fewer than two
