"""The time-to-churn figures: each returns a Figure with what it says it draws."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots.lifetime_drivers import plot_lifetime_drivers
from churnlab.report.plots.retention_backtest import plot_retention_backtest
from churnlab.report.plots.retention_segments import plot_retention_segments


def test_retention_backtest_draws_both_curves_from_one():
    curve = pd.DataFrame({"month": [1, 2], "predicted": [0.9, 0.8], "observed": [0.92, 0.81]})
    fig = plot_retention_backtest(curve, title="t")
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 0.92, 0.81], [1.0, 0.9, 0.8]]


def test_retention_segments_one_line_per_segment_plus_all():
    curve = pd.DataFrame({"month": [1, 2], "retained": [0.9, 0.8]})
    seg = pd.DataFrame(
        {
            "segment": ["a", "a", "b", "b"],
            "month": [1, 2, 1, 2],
            "retained": [0.95, 0.9, 0.85, 0.7],
            "customers": [10, 10, 5, 5],
        }
    )
    fig = plot_retention_segments(curve, seg)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["a (10)", "b (5)", "all customers"]


def test_lifetime_drivers_sum_months_per_family():
    drivers = pd.DataFrame(
        {"family": ["price", "price", "support"], "mean_abs_months": [0.2, 0.3, 0.1]}
    )
    fig = plot_lifetime_drivers(drivers)
    bars = fig.axes[0].patches
    assert sorted(round(b.get_width(), 6) for b in bars) == [0.1, 0.5]
