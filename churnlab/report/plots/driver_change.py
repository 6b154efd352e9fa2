"""Driver family shares this month next to last month."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from churnlab.report.plots._style import family_color, new_figure


def plot_driver_change(
    previous: dict[str, float],
    current: dict[str, float],
    labels: tuple[str, str] = ("last month", "this month"),
) -> Figure:
    """Paired bars per family: faded for ``previous``, solid for ``current`` shares."""
    families = sorted(set(previous) | set(current), key=lambda f: (-current.get(f, 0.0), f))
    y = np.arange(len(families))
    fig, ax = new_figure(7, 0.5 * max(len(families), 1) + 1.4)
    colors = [family_color(f) for f in families]
    ax.barh(
        y + 0.2,
        [previous.get(f, 0.0) for f in families],
        height=0.4,
        color=colors,
        alpha=0.35,
        label=labels[0],
    )
    ax.barh(
        y - 0.2, [current.get(f, 0.0) for f in families], height=0.4, color=colors, label=labels[1]
    )
    ax.set_yticks(y, [f.replace("_", " ") for f in families])
    ax.invert_yaxis()
    ax.set_xlabel("share of the explanation of churn risk")
    ax.set_title("Driver families: this month against last month")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
