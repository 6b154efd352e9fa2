"""Feature drift: PSI of each feature this month against the training period."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import ACCENT, MAIN, label, new_figure


def plot_drift(drift: pd.DataFrame, top: int = 15, threshold: float = 0.2) -> Figure:
    """Horizontal bars of the ``top`` largest PSI values (drift.feature_drift).

    Bars above ``threshold`` (the dashed line) are red: the feature's distribution has moved
    enough that the model's view of it may be stale.
    """
    shown = drift.head(top).iloc[::-1]
    fig, ax = new_figure(8, 0.42 * max(len(shown), 1) + 1.4)
    colors = [ACCENT if v > threshold else MAIN for v in shown["psi"]]
    ax.barh(range(len(shown)), shown["psi"], color=colors)
    ax.set_yticks(range(len(shown)), [label(f, 45) for f in shown["feature"].astype(str)])
    ax.axvline(threshold, color=ACCENT, linestyle="--", linewidth=1)
    ax.set_xlabel(f"PSI, this month against the training months (red: above {threshold})")
    ax.set_title("How far each feature moved since the training months")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig
