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


def test_previous_month_shares_can_hold_this_months_healthy_levels():
    from churnlab.model import ChurnModel
    from churnlab.model.credit import healthy_reference, table_credit
    from churnlab.model.explain import credit_shares

    rng = np.random.default_rng(2)
    parts = []
    for snap, shift in (("2025-01", 0.0), ("2025-02", 0.0), ("2025-03", 1.0)):
        x = rng.normal(size=2000) + shift  # March's customers have a worse x
        y = (rng.random(2000) < 1 / (1 + np.exp(-(-2.5 + 1.5 * x)))).astype(int)
        parts.append(
            pd.DataFrame(
                {"customer_id": [f"c{i}" for i in range(2000)], "snapshot": snap, "churned": y}
                | {"x": x, "z": rng.normal(size=2000)}
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["churned"] = frame["churned"].astype("Int8")
    table = FeatureTable(frame, {"x": "price", "z": "support"})
    model = ChurnModel(seed=0).fit(table.at("2025-01"), table.at("2025-02"))
    march = table.at("2025-03")
    reference = healthy_reference(model, march.frame, table.families, ids=march.frame.customer_id)
    feb = table.at("2025-02")
    held = report.previous_month_shares(model, table, "2025-03", reference=reference)
    assert held == credit_shares(table_credit(model, feb, reference=reference))
    assert held != report.previous_month_shares(model, table, "2025-03")


def test_the_credit_explainer_says_what_the_shares_mean_with_the_baseline():
    from churnlab.report.views import credit_explainer

    metrics = {
        "driver_shares": {"support": 0.6, "onboarding": 0.4},
        "baseline_risk": {
            "mean_churn_probability": 0.0312,
            "all_drivers_fixed": 0.0058,
            "context_families": ["profile"],
        },
    }
    html = credit_explainer(metrics).data
    assert "from 3.12% down to 0.58%" in html
    assert "(support, onboarding)" in html and "(profile)" in html
    assert "shap_shares" in html and html.count(". ") == 1  # two sentences
    evil = {**metrics, "baseline_risk": {**metrics["baseline_risk"], "context_families": ["<b>"]}}
    html = credit_explainer(evil).data
    assert "<b>" not in html and "(&lt;b&gt;)" in html
