"""drift.py: PSI of hand-computed distributions and a feature table with one shifted feature."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churnlab.features.table import FeatureTable
from churnlab.report.drift import feature_drift, psi


def test_psi_of_known_distributions():
    # shares 1/2, 1/2 -> 1/4, 3/4: (1/4-1/2) ln(1/2) + (3/4-1/2) ln(3/2)
    by_hand = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    cat = psi(pd.Series(["x", "x", "y", "y"]), pd.Series(["x", "y", "y", "y"]))
    assert cat == pytest.approx(by_hand)
    expected = pd.Series(np.arange(100, dtype=float))  # 2 bins split at the median, 49.5
    actual = pd.Series(np.r_[np.zeros(25), np.full(75, 80.0)])
    assert psi(expected, actual, bins=2) == pytest.approx(by_hand)
    assert psi(expected, expected) == pytest.approx(0.0)


def test_psi_counts_missing_values_as_a_bin():
    expected = pd.Series([1.0, 2.0, 3.0, 4.0])
    actual = pd.Series([1.0, 2.0, np.nan, np.nan])
    # one bin (bins=1): shares 1 -> 1/2 known, and missing 0 (floored at 1e-4) -> 1/2
    e, a = np.array([1.0, 1e-4]), np.array([0.5, 0.5])
    assert psi(expected, actual, bins=1) == pytest.approx(np.sum((a - e) * np.log(a / e)))


def test_feature_drift_flags_shifted_feature():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(2 * n)],
            "snapshot": ["2025-01"] * n + ["2025-02"] * n,
            "churned": pd.array([0] * (2 * n), dtype="Int8"),
            "stable": rng.normal(size=2 * n),
            "shifted": np.r_[rng.normal(size=n), rng.normal(loc=2.0, size=n)],
            "plan": pd.Series(["a", "b"] * n, dtype="string"),
        }
    )
    table = FeatureTable(frame, {"stable": "engagement", "shifted": "price", "plan": "profile"})
    drift = feature_drift(table, "2025-02", ["2025-01"])
    assert drift["feature"].iloc[0] == "shifted" and drift["flagged"].iloc[0]
    assert drift["family"].iloc[0] == "price"
    assert not drift.set_index("feature").loc[["stable", "plan"], "flagged"].any()
    sampled = feature_drift(table, "2025-02", ["2025-01"], max_rows=300).set_index("feature")
    assert sampled.loc["shifted", "flagged"] and not sampled.loc["stable", "flagged"]
