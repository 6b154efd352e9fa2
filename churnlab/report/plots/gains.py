"""Cumulative gains: the share of churners found when contacting the riskiest customers."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_gains(table: pd.DataFrame, title: str = "Cumulative gains") -> Figure:
    """Gains curve from :func:`churnlab.model.metrics.gains_table` against random contact, with
    the lift of each bucket annotated.
    """
    fig, ax = plt.subplots(figsize=(6, 4.5))
    x = np.r_[0.0, table["share_contacted"].to_numpy(float)]
    y = np.r_[0.0, table["gain"].to_numpy(float)]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="random")
    ax.plot(x, y, marker="o", color="#3b75af", label="model")
    for xi, yi, lift in zip(x[1:], y[1:], table["lift"], strict=True):
        ax.annotate(
            f"{lift:.1f}x", (xi, yi), textcoords="offset points", xytext=(2, -12), fontsize=7
        )
    ax.set_xlabel("share of customers contacted (riskiest first)")
    ax.set_ylabel("share of churners found")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
