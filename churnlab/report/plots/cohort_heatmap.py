"""Cohort retention heatmap: signup month x months since signup."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import new_figure


def plot_cohort_heatmap(table: pd.DataFrame, max_cohorts: int = 24) -> Figure:
    """Share of each signup cohort still a customer k months later (kpis.cohort_retention).

    One row per cohort (the latest ``max_cohorts``), one column per month since signup;
    darker is better retention, blank cells are not observed yet. Cells are annotated with
    percentages when the grid is small enough to read.
    """
    table = table.tail(max_cohorts).dropna(axis=1, how="all")
    values = table.to_numpy(float)
    rows, cols = values.shape if values.size else (0, 0)
    fig, ax = new_figure(min(2 + 0.45 * max(cols, 1), 13), min(1.5 + 0.32 * max(rows, 1), 10))
    if not values.size:
        ax.text(0.5, 0.5, "no cohorts", ha="center", va="center")
        ax.set_axis_off()
        return fig
    # the colour scale starts at the lowest retention shown (rounded down to 10 %), so that
    # differences between cohorts are visible even when every cell is above 50 %
    low = min(float(np.floor(np.nanmin(values) * 10) / 10), 0.9)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=low, vmax=1, aspect="auto")
    if rows * cols <= 400:
        for (i, j), v in np.ndenumerate(values):
            if not np.isnan(v):
                color = "white" if (v - low) / (1 - low) > 0.6 else "black"
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=6, color=color)
    ax.set_xticks(range(cols), [str(c) for c in table.columns], fontsize=8)
    ax.set_yticks(range(rows), [str(i) for i in table.index], fontsize=8)
    ax.set_xlabel("months since signup")
    ax.set_ylabel("signup month (cohort)")
    ax.set_title("Retention by signup cohort")
    fig.colorbar(image, ax=ax, fraction=0.03, label="share still a customer")
    fig.tight_layout()
    return fig
