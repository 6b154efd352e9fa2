"""Predicted against observed (Kaplan-Meier) retention of the time-to-churn backtest cohort."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from churnlab.report.plots._style import ACCENT, MAIN, new_figure


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
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xticks(months)
    ax.set_xlabel("months after the backtest snapshot")
    ax.set_ylabel("still a customer")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig
