"""How one feature's value moves its contribution to churn risk (SHAP dependence)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from churnlab.model.explain import ExplanationData
from churnlab.report.plots._style import label


def plot_dependence(expl: ExplanationData, feature: str, max_rows: int = 5000) -> Figure:
    """Scatter of the feature's value against its SHAP value (numbers), or one box of SHAP
    values per category (categories). Missing values are left out of the scatter.
    """
    if feature not in expl.features:
        raise KeyError(f"{feature!r} is not an explained feature")
    i = expl.features.index(feature)
    shap_values = expl.values[:max_rows, i]
    values = expl.data[feature].iloc[:max_rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    if feature in expl.categorical or not pd.api.types.is_numeric_dtype(values):
        cats = values.astype("string").fillna("(missing)").to_numpy()
        levels = sorted(set(cats))
        ax.boxplot([shap_values[cats == c] for c in levels], showfliers=False)
        ax.set_xticks(range(1, len(levels) + 1), levels, rotation=30, ha="right")
    else:
        x = values.to_numpy(float)
        known = ~np.isnan(x)
        ax.scatter(x[known], shap_values[known], s=6, alpha=0.4, color="#3b75af")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel(label(feature, 60))
    ax.set_ylabel("SHAP value (log-odds of churn)")
    ax.set_title(f"Effect on churn risk: {label(feature, 200).lower()}", fontsize=10)
    fig.tight_layout()
    return fig
