"""report.py: the at-risk list and last month's driver shares under this month's model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.features.table import FeatureTable
from churnlab.report import monthly as report


def test_at_risk_order_and_reasons():
    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "churn_probability": [0.9, 0.2, 0.5, 0.5],
            "risk_rank": [1, 4, 2, 3],
            "value": [10.0, 500.0, 40.0, 40.0],
            "expected_revenue_at_risk": [9.0, 100.0, 20.0, 20.0],
            "reason_1": ["r1", "q1", "", "s1"],
            "reason_2": ["r2", "", "", "s2"],
            "reason_3": ["", "", "", ""],
            "action": ["plan review", "x", "y", "z"],
        }
    )
    top = report.at_risk(scores, n=3)
    assert top["customer_id"].tolist() == ["b", "c", "d"]  # ties broken by id
    assert top["reasons"].tolist() == ["q1", "", "s1; s2"]
    assert list(top.columns) == [
        "customer_id",
        "churn_probability",
        "risk_rank",
        "value",
        "expected_revenue_at_risk",
        "reasons",
        "action",
    ]


def test_previous_month_shares_sampled_close_to_full():
    from churnlab.model import ChurnModel

    rng = np.random.default_rng(1)
    parts = []
    for snap in ["2025-01", "2025-02", "2025-03"]:
        x = rng.normal(size=3000)
        z = rng.normal(size=3000)
        y = (rng.random(3000) < 1 / (1 + np.exp(-(-2.5 + 1.5 * x + 0.5 * z)))).astype(int)
        parts.append(
            pd.DataFrame(
                {"customer_id": [f"c{i}" for i in range(3000)], "snapshot": snap, "churned": y}
                | {"x": x, "z": z}
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["churned"] = frame["churned"].astype("Int8")
    table = FeatureTable(frame, {"x": "price", "z": "support"})
    model = ChurnModel(seed=0).fit(table.at("2025-01"), table.at("2025-02"))
    full = report.previous_month_shares(model, table, "2025-03", max_rows=10_000)
    sample = report.previous_month_shares(model, table, "2025-03", max_rows=1000)
    assert sum(full.values()) == pytest.approx(1) and sum(sample.values()) == pytest.approx(1)
    assert full["price"] > full["support"]
    assert sample["price"] == pytest.approx(full["price"], abs=0.05)
    assert report.previous_month_shares(model, table, "2025-01") == {}
