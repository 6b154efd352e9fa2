"""Calibration curve: predicted churn probability vs the churn rate that happened."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def plot_calibration(table: pd.DataFrame, title: str = "Calibration") -> Figure:
    """Points (mean predicted, observed rate) per risk bucket of
    :func:`churnlab.model.metrics.calibration_table`, against the diagonal of perfect calibration.
    """
    fig, ax = plt.subplots(figsize=(5, 5))
    top = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 0.01))
    ax.plot([0, top], [0, top], ls="--", color="grey", label="perfect calibration")
    ax.plot(
        table["mean_predicted"], table["observed_rate"], marker="o", color="#3b75af", label="model"
    )
    ax.set_xlabel("mean predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
