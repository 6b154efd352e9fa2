"""Experiments: loss of backtest ROC-AUC when one driver family is left out."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import family_color, new_figure


def plot_ablation(comparison: pd.DataFrame) -> Figure:
    """Bars of ``delta_auc`` vs the full model for each ``dropped`` family (experiments table).

    A longer bar to the left means the model loses more when that family is removed, i.e.
    the family carries more of the signal. Rows without a dropped family are ignored; with
    several seeds, the mean delta is drawn and each seed as a dot.
    """
    rows = comparison[comparison["dropped"].fillna("") != ""]
    fig, ax = new_figure(7, 0.5 * max(rows["dropped"].nunique(), 1) + 1.5)
    if rows.empty:
        ax.text(0.5, 0.5, "no ablation runs", ha="center", va="center")
        ax.set_axis_off()
        return fig
    mean = rows.groupby("dropped")["delta_auc"].mean().sort_values()
    names = mean.index.tolist()
    ax.barh(names, mean.to_numpy(), color=[family_color(f) for f in names])
    pos = {name: i for i, name in enumerate(names)}
    ax.scatter(rows["delta_auc"], rows["dropped"].map(pos), color="black", s=10, zorder=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(names)), [n.replace("_", " ") for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("backtest ROC-AUC without the family minus full model")
    ax.set_title("Family ablation: what the model loses without each driver")
    fig.tight_layout()
    return fig
