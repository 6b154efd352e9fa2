"""The report's plot functions: each returns a Figure (pyplot untouched) drawing the data given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from churnlab.report.plots.ablation import plot_ablation
from churnlab.report.plots.churn_trend import plot_churn_trend
from churnlab.report.plots.cohort_heatmap import plot_cohort_heatmap
from churnlab.report.plots.drift import plot_drift
from churnlab.report.plots.driver_change import plot_driver_change
from churnlab.report.plots.segment_shares import plot_segment_shares


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "plot functions must not register figures with pyplot"


def _bars(ax) -> list:
    return [p for p in ax.patches if p.get_width() or p.get_height()]


def test_churn_trend():
    trend = pd.DataFrame(
        {
            "month": ["2025-01", "2025-02", "2025-03"],
            "churned": [3, 5, np.nan],
            "churn_rate": [0.03, 0.05, np.nan],
        }
    )
    fig = plot_churn_trend(trend, highlight="2025-02")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    line = ax.lines[0]
    assert list(line.get_ydata())[:2] == [0.03, 0.05]
    assert ax.lines[1].get_ydata()[0] == pytest.approx(0.04)  # the average line
    assert [t.get_text() for t in ax.get_xticklabels()] == trend["month"].tolist()


def test_cohort_heatmap():
    table = pd.DataFrame([[1.0, 0.9], [1.0, np.nan]], index=["2025-01", "2025-02"], columns=[0, 1])
    fig = plot_cohort_heatmap(table)
    ax = fig.axes[0]
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["100%", "100%", "90%"]  # the unobserved cell is blank
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2025-01", "2025-02"]


def test_drift_marks_flagged_in_red():
    drift = pd.DataFrame({"feature": ["a", "b", "c"], "psi": [0.5, 0.1, 0.01]})
    fig = plot_drift(drift, top=2)
    bars = _bars(fig.axes[0])
    assert len(bars) == 2
    widths = sorted(b.get_width() for b in bars)
    assert widths == [0.1, 0.5]
    red = [b for b in bars if b.get_width() == 0.5][0]
    assert red.get_facecolor() != [b for b in bars if b.get_width() == 0.1][0].get_facecolor()


def test_segment_shares_stack_to_one():
    shares = pd.DataFrame(
        {
            "segment": ["smb", "smb", "ent", "ent"],
            "family": ["price", "support", "price", "support"],
            "share": [0.7, 0.3, 0.2, 0.8],
        }
    )
    fig = plot_segment_shares(shares)
    bars = _bars(fig.axes[0])
    ends = {}
    for b in bars:
        y = round(b.get_y(), 3)
        ends[y] = max(ends.get(y, 0), b.get_x() + b.get_width())
    assert sorted(ends.values()) == pytest.approx([1.0, 1.0])


def test_driver_change():
    fig = plot_driver_change(
        {"price": 0.6, "support": 0.4}, {"price": 0.5, "support": 0.3, "other": 0.2}
    )
    ax = fig.axes[0]
    assert len(ax.patches) == 6  # three families x (last, this month)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["price", "support", "other"]


def test_ablation_means_per_family():
    comparison = pd.DataFrame(
        {
            "dropped": ["", "price", "price", "support"],
            "delta_auc": [0.0, -0.10, -0.06, -0.01],
        }
    )
    fig = plot_ablation(comparison)
    ax = fig.axes[0]
    widths = sorted(round(b.get_width(), 6) for b in ax.patches)
    assert widths == [-0.08, -0.01]
    assert len(ax.collections[0].get_offsets()) == 3  # one dot per ablation run
