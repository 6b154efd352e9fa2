"""Expected campaign profit for contacting the top-k customers by risk."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def plot_profit(
    profit: pd.DataFrame, title: str = "Retention campaign profit", currency: str = ""
) -> Figure:
    """Profit curve from :func:`churnlab.model.metrics.campaign_profit` with the best k marked;
    ``currency`` names the unit of the profit axis."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(profit["k"], profit["profit"], color="#3b75af")
    best = profit.loc[profit["profit"].idxmax()]
    ax.axvline(best["k"], ls="--", color="#c44e52", label=f"best: contact {int(best['k']):,}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("customers contacted (riskiest first)")
    ax.set_ylabel(f"expected profit ({currency})" if currency else "expected profit")
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig
