"""Why one customer is at risk: shap's waterfall from the average to their score."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from matplotlib.figure import Figure

from churnlab.model.explain import ExplanationData
from churnlab.report.plots._style import label


def plot_waterfall(expl: ExplanationData, row: int, max_display: int = 10) -> Figure:
    """Waterfall of the SHAP values of row ``row`` (its position in ``expl``), in log-odds,
    each bar labelled with the feature and the customer's value.
    """
    data = expl.data.iloc[row]
    explanation = shap.Explanation(
        values=np.asarray(expl.values[row], dtype=float),
        base_values=float(expl.base_value),
        data=np.array([_show(v) for v in data.to_numpy()], dtype=object),
        feature_names=[label(f, 45) for f in expl.features],
    )
    plt.figure(figsize=(7, 0.4 * min(max_display, len(expl.features)) + 1.5))
    shap.plots.waterfall(explanation, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle(f"Customer {expl.ids[row]}: contributions to the log-odds of churn")
    return fig


def _show(value) -> str:
    """A feature value as the waterfall's label shows it ('missing' for NaN/NA)."""
    if pd.isna(value):
        return "missing"
    return f"{value:.4g}" if isinstance(value, float | np.floating) else str(value)
