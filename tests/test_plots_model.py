"""Model plots: each returns a Figure that draws what it was given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from test_explain import hand_made

from churnlab.model import metrics as mx
from churnlab.report.plots.beeswarm import plot_beeswarm
from churnlab.report.plots.calibration import plot_calibration
from churnlab.report.plots.dependence import plot_dependence
from churnlab.report.plots.family_shares import plot_family_shares
from churnlab.report.plots.gains import plot_gains
from churnlab.report.plots.profit import plot_profit
from churnlab.report.plots.waterfall import plot_waterfall


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def texts(fig: Figure) -> str:
    ax_texts = [t.get_text() for ax in fig.axes for t in ax.texts + ax.get_yticklabels()]
    ax_texts += [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()]
    ax_texts += [ax.get_xlabel() for ax in fig.axes] + [ax.get_title() for ax in fig.axes]
    ax_texts += [fig._suptitle.get_text()] if fig._suptitle else []
    return " | ".join(ax_texts)


def test_family_shares_one_bar_per_family_largest_on_top():
    fig = plot_family_shares({"price": 0.2, "support": 0.5, "voice_of_customer": 0.3})
    ax = fig.axes[0]
    widths = [b.get_width() for b in ax.patches]
    assert widths == [0.2, 0.3, 0.5]  # barh draws bottom-up: largest on top
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["price", "voice of customer", "support"]
    assert "50%" in texts(fig)


def test_beeswarm_shows_the_top_features():
    fig = plot_beeswarm(hand_made(), max_display=3)
    assert isinstance(fig, Figure)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows == ["plan", "price_change", "tickets_open"]  # bottom-up: largest on top
    assert "SHAP value" in texts(fig)
    fig = plot_beeswarm(hand_made(), max_display=2)
    assert "Sum of 2 other features" in texts(fig)


def test_dependence_numeric_scatter_and_categorical_boxes():
    expl = hand_made()
    fig = plot_dependence(expl, "tickets_open")
    offsets = fig.axes[0].collections[0].get_offsets()
    assert np.allclose(np.asarray(offsets), [[2, 1], [5, 3], [0, -0.2]])
    fig = plot_dependence(expl, "plan")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["basic", "pro"]
    with pytest.raises(KeyError):
        plot_dependence(expl, "nope")


def test_waterfall_of_one_customer():
    fig = plot_waterfall(hand_made(), 1)
    assert isinstance(fig, Figure)
    assert "Customer b" in texts(fig)
    assert "tickets_open" in texts(fig)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any(label.startswith("missing = price_change") for label in labels), labels


def test_calibration_curve_points():
    table = mx.calibration_table([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.9], bins=3)
    fig = plot_calibration(table)
    model_line = fig.axes[0].lines[1]
    assert np.allclose(model_line.get_xdata(), [0.15, 0.45, 0.8])
    assert np.allclose(model_line.get_ydata(), [0.0, 0.5, 1.0])


def test_gains_curve_starts_at_zero_and_ends_at_one():
    fig = plot_gains(mx.gains_table([1, 0, 1, 0], [0.9, 0.8, 0.1, 0.2], bins=2))
    line = fig.axes[0].lines[1]
    assert np.allclose(line.get_xdata(), [0, 0.5, 1]) and np.allclose(line.get_ydata(), [0, 0.5, 1])
    assert "1.0x" in texts(fig)


def test_profit_curve_marks_the_best_k():
    profit = mx.campaign_profit([1, 0], [0.9, 0.1], [100, 100])
    fig = plot_profit(profit)
    ax = fig.axes[0]
    assert np.allclose(ax.lines[0].get_ydata(), [0, 26, 15])
    assert ax.get_legend().get_texts()[0].get_text() == "best: contact 1"
    assert ax.get_ylabel() == "expected profit"
    assert plot_profit(profit, currency="EUR").axes[0].get_ylabel() == "expected profit (EUR)"
