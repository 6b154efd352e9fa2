"""Feature drift: PSI of each feature this month against the training period."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import ACCENT, MAIN, new_figure


def plot_drift(drift: pd.DataFrame, top: int = 15, threshold: float = 0.2) -> Figure:
    """Horizontal bars of the ``top`` largest PSI values (drift.feature_drift).

    Bars above ``threshold`` (the dashed line) are red: the feature's distribution has moved
    enough that the model's view of it may be stale.
    """
    shown = drift.head(top).iloc[::-1]
    fig, ax = new_figure(7, 0.32 * max(len(shown), 1) + 1.4)
    colors = [ACCENT if v > threshold else MAIN for v in shown["psi"]]
    ax.barh(shown["feature"].astype(str), shown["psi"], color=colors)
    ax.axvline(threshold, color=ACCENT, linestyle="--", linewidth=1)
    ax.set_xlabel(f"PSI vs training period (red: above {threshold})")
    ax.set_title("Feature drift")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig
