"""Did the actions work: each action's measured effect on churn with its 95 % interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from churnlab.report.plots._style import ACCENT, MAIN, new_figure


def _label(text: object) -> str:
    # matplotlib reads $...$ as math; a name from the data is shown as it is
    return str(text).replace("$", r"\$")


def plot_action_effects(effects: pd.DataFrame, title: str = "Did the actions work?") -> Figure:
    """One row per action: treated churn rate minus held-out churn rate, in percentage points,
    with its 95 % interval; left of zero the action lowered churn. Rows of
    :func:`churnlab.report.actions.effect_table` (one breakdown level each); an action
    without a holdout gets no bar, only the reason."""
    rows = effects.reset_index(drop=True)
    fig, ax = new_figure(7, 0.55 * max(len(rows), 1) + 1.4)
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows.itertuples(), strict=True):
        if pd.isna(r.effect):
            ax.annotate(
                "no holdout: no effect", (0, yi), ha="center", va="center", color="grey", fontsize=8
            )
            continue
        color = ACCENT if r.high < 0 else MAIN
        ax.errorbar(
            100 * r.effect,
            yi,
            xerr=[[100 * (r.effect - r.low)], [100 * (r.high - r.effect)]],
            fmt="o",
            color=color,
            capsize=4,
        )
        ax.annotate(
            f"{100 * r.effect:+.1f} pp ({r.n_treated:,} treated, {r.n_control:,} held out)",
            (100 * r.high, yi),
            textcoords="offset points",
            xytext=(6, -3),
            fontsize=7,
        )
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, [_label(a) for a in rows["action"]])
    ax.set_xlabel("churn of treated minus held-out customers (percentage points, 95 % interval)")
    ax.set_title(_label(title))
    ax.margins(x=0.25)
    fig.tight_layout()
    return fig
