"""SHAP summary (beeswarm) of the features that move churn risk most, via shap's own plot."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from matplotlib.figure import Figure

from churnlab.model.explain import ExplanationData
from churnlab.report.plots._style import label


def _numeric_data(expl: ExplanationData) -> np.ndarray:
    """Feature values as numbers for colouring; categories become their sorted level codes."""
    cols = []
    for f in expl.features:
        col = expl.data[f]
        if f in expl.categorical or not pd.api.types.is_numeric_dtype(col):
            cols.append(pd.Categorical(col.astype("string")).codes.astype(float))
        else:
            cols.append(col.to_numpy(float))
    return np.column_stack(cols) if cols else np.zeros((len(expl.data), 0))


def plot_beeswarm(
    expl: ExplanationData, max_display: int = 10, max_rows: int = 5000, seed: int = 0
) -> Figure:
    """One row of dots per feature (top ``max_display`` by mean |SHAP|), colour = value.

    At most ``max_rows`` customers are drawn (a seeded sample) so the figure stays light.
    """
    n = len(expl.values)
    rows = np.arange(n)
    if n > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
    explanation = shap.Explanation(
        values=expl.values[rows],
        base_values=np.full(len(rows), expl.base_value),
        data=_numeric_data(expl)[rows],
        feature_names=[label(f, 45) for f in expl.features],
    )
    fig, ax = plt.subplots(figsize=(7, 0.4 * min(max_display, len(expl.features)) + 1.5))
    shap.plots.beeswarm(explanation, max_display=max_display, ax=ax, show=False, plot_size=None)
    ax.set_xlabel("SHAP value (log-odds of churn; right = raises risk)")
    fig.tight_layout()
    return fig
