"""Predicted retention over the next months, overall and per customer segment."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import finish_retention, new_figure


def plot_retention_segments(
    curve: pd.DataFrame, segments: pd.DataFrame | None = None, title: str = "Retention ahead"
) -> Figure:
    """The mean predicted retention per month ahead (``curve``: ``month``, ``retained``) as a
    thick black line, and one line per segment (``segments``: ``segment``, ``month``,
    ``retained``, ``customers``) labelled with its size."""
    fig, ax = new_figure(7, 4)
    if segments is not None and len(segments):
        for name, rows in segments.groupby("segment", sort=True):
            label = f"{name} ({int(rows['customers'].iloc[0]):,})"
            ax.plot([0, *rows["month"]], [1.0, *rows["retained"]], linewidth=1.2, label=label)
    ax.plot(
        [0, *curve["month"]],
        [1.0, *curve["retained"]],
        color="black",
        linewidth=2.5,
        label="all customers",
    )
    return finish_retention(
        fig, ax, [0, *curve["month"]], "months ahead", "predicted still a customer", title
    )
