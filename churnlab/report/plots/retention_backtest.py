"""Predicted against observed (Kaplan-Meier) retention of the time-to-churn backtest cohort."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import ACCENT, MAIN, finish_retention, new_figure


def plot_retention_backtest(curve: pd.DataFrame, title: str = "Retention backtest") -> Figure:
    """Two lines over the months after the backtest snapshot: the mean predicted retention
    and the observed one (``curve``: ``month``, ``predicted``, ``observed``, as in
    ``metrics['survival']['backtest']['curve']``)."""
    fig, ax = new_figure(6.5, 3.6)
    months = [0, *curve["month"].tolist()]
    ax.plot(
        months, [1.0, *curve["observed"]], marker="o", color=MAIN, label="observed (Kaplan-Meier)"
    )
    ax.plot(
        months,
        [1.0, *curve["predicted"]],
        marker="s",
        linestyle="--",
        color=ACCENT,
        label="predicted (mean)",
    )
    return finish_retention(
        fig, ax, months, "months after the backtest snapshot", "still a customer", title
    )
