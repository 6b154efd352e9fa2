"""Observed churn rate by group of one telling feature per driver family (small multiples)."""

from __future__ import annotations

import math
import textwrap

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from churnlab.core.families import family as driver_family
from churnlab.report.plots._style import family_color, label


def plot_family_signals(signals: pd.DataFrame, columns: int = 3) -> Figure:
    """One panel per family: churn rate per group of its feature (describe.family_signals).

    The dashed line in each panel is the overall churn rate of the rows shown; bars far above
    it mark the customers that family's signal singles out.
    """
    families = list(dict.fromkeys(signals["family"]))
    rows = max(math.ceil(len(families) / columns), 1)
    fig = Figure(figsize=(4.2 * columns, 3.2 * rows), dpi=100)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, family in zip(axes, families, strict=False):
        part = signals[signals["family"] == family]
        overall = part["churned"].sum() / part["customers"].sum()
        ax.bar(range(len(part)), part["churn_rate"], color=family_color(family))
        ax.axhline(overall, color="black", linestyle="--", linewidth=0.8)
        ax.set_xticks(
            range(len(part)), part["group"].astype(str), rotation=35, ha="right", fontsize=7
        )
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        title = f"{driver_family(family).title}: {label(part['feature'].iloc[0], 200).lower()}"
        ax.set_title("\n".join(textwrap.wrap(title, 48)), fontsize=9)
    for ax in axes[len(families) :]:
        ax.set_axis_off()
    fig.supylabel("churn rate next month")
    fig.tight_layout()
    return fig
