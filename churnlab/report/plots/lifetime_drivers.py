"""Which driver families shorten the expected lifetime most, in months."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import family_color, new_figure


def plot_lifetime_drivers(
    drivers: pd.DataFrame, title: str = "What shortens expected lifetime"
) -> Figure:
    """One bar per family: the mean absolute number of the next 12 months its features add
    or take away (``drivers``: ``family``, ``mean_abs_months``, from the report's survival
    result), largest on top."""
    months = drivers.groupby("family")["mean_abs_months"].sum().sort_index()
    months = months.sort_values(kind="stable")
    fig, ax = new_figure(6.5, 0.5 * len(months) + 1.4)
    names = [str(n).replace("_", " ") for n in months.index]
    bars = ax.barh(names, months.to_numpy(), color=[family_color(n) for n in months.index])
    for bar, value in zip(bars, months.to_numpy(), strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:.2f}", va="center")
    ax.set_xlim(0, (months.max() if len(months) else 0) * 1.25 or 1)
    ax.set_xlabel("mean |months| of expected lifetime its features move (next 12 months)")
    ax.set_title(title)
    fig.tight_layout()
    return fig
