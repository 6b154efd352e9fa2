"""Driver family shares within each customer segment (stacked bars)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import family_color, new_figure


def plot_segment_shares(shares: pd.DataFrame) -> Figure:
    """One stacked bar per segment, one colour per family; each bar adds up to 100 %.

    ``shares`` has columns segment, family, share (analysis' ``segment_shares``).
    """
    wide = shares.pivot_table(index="segment", columns="family", values="share", aggfunc="sum")
    wide = wide.fillna(0.0)
    fig, ax = new_figure(8, 0.45 * max(len(wide), 1) + 1.6)
    left = pd.Series(0.0, index=wide.index)
    for family in wide.columns:
        ax.barh(
            wide.index.astype(str),
            wide[family],
            left=left,
            color=family_color(str(family)),
            label=str(family).replace("_", " "),
        )
        left = left + wide[family]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the segment's explanation of churn risk")
    ax.set_title("What drives churn, per segment")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=4, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
