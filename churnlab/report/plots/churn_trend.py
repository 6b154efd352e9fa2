"""Monthly churn rate over time, with the 12-month average and the report month marked."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from churnlab.report.plots._style import ACCENT, MAIN, new_figure


def plot_churn_trend(trend: pd.DataFrame, highlight: str | None = None) -> Figure:
    """Line of ``churn_rate`` per ``month`` (from kpis.churn_trend), bars of churned counts.

    A dashed line marks the mean rate of the months shown; ``highlight`` (the report month)
    is drawn in red. Months whose outcome is unknown are left as gaps.
    """
    fig, ax = new_figure(9, 3.6)
    months = trend["month"].astype(str).tolist()
    x = range(len(months))
    counts = ax.twinx()
    counts.bar(x, trend["churned"], color="#d9d9d9", width=0.7, zorder=0)
    counts.set_ylabel("customers churned", color="#7f7f7f")
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(x, trend["churn_rate"], marker="o", color=MAIN, label="churn rate")
    mean = trend["churn_rate"].mean()
    if pd.notna(mean):
        ax.axhline(mean, color=MAIN, linestyle="--", linewidth=1, label=f"average {mean:.1%}")
    if highlight in months:
        i = months.index(highlight)
        ax.plot([i], [trend["churn_rate"].iloc[i]], marker="o", markersize=10, color=ACCENT)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_ylim(bottom=0)
    ax.set_xticks(list(x), months, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("churn rate (churned / active at start)")
    ax.set_title("Monthly churn")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
