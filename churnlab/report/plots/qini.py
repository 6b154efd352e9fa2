"""Whom to contact: Qini curves of the uplift model's ranking on held-out months."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import new_figure
from churnlab.report.plots.action_effects import _label

_COLORS = ("#3b75af", "#c44e52", "#55a868", "#8172b3", "#dd8452", "#937860")


def plot_qini(curves: dict[str, pd.DataFrame], title: str = "Uplift model, out of time") -> Figure:
    """One Qini curve per action (:func:`churnlab.model.uplift.qini_curve`): churners prevented
    among the treated when contacting the top share of customers ranked by the model, against
    the straight line of a random ranking. A curve above its line ranks the customers the
    action helps first."""
    fig, ax = new_figure(6.5, 4.5)
    for color, (name, curve) in zip(_COLORS * 3, sorted(curves.items()), strict=False):
        share, gain = curve["share"], curve["gain"]
        ax.plot(share, gain, color=color, label=_label(name))
        ax.plot([0, 1], [0, gain.iloc[-1]], color=color, ls=":", lw=1)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("share of the action's customers contacted (highest expected effect first)")
    ax.set_ylabel("churners prevented (Qini)")
    ax.set_title(_label(title))
    if curves:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig
