"""ROC and precision-recall curves of one or more models on the same outcomes."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from churnlab.report.plots._style import ACCENT, MAIN

_COLORS = (MAIN, ACCENT, "#55a868", "#8172b3")


def plot_roc_pr(y, scores: dict[str, np.ndarray], title: str = "") -> Figure:
    """Two panels side by side: ROC curves (left) and precision-recall curves (right).

    ``scores`` maps a model's name to its predicted probabilities for the outcomes ``y``; the
    dashed lines are a random ranking (the diagonal, and the churn rate).
    """
    y = np.asarray(y, dtype=float)
    fig = Figure(figsize=(10, 4.2), dpi=100)
    roc, pr = fig.subplots(1, 2)
    for (name, p), color in zip(scores.items(), _COLORS, strict=False):
        fpr, tpr, _ = roc_curve(y, p)
        precision, recall, _ = precision_recall_curve(y, p)
        roc.plot(fpr, tpr, color=color, label=name)
        pr.plot(recall, precision, color=color, label=name)
    roc.plot([0, 1], [0, 1], ls="--", color="grey", label="random")
    pr.axhline(y.mean(), ls="--", color="grey", label=f"random (churn rate {y.mean():.1%})")
    roc.set(xlabel="share of stayers flagged", ylabel="share of churners found", title="ROC")
    pr.set(xlabel="share of churners found (recall)", ylabel="precision", title="Precision-recall")
    roc.legend(loc="lower right", fontsize=8)
    pr.legend(loc="upper right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
