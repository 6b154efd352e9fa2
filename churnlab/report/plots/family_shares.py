"""Bar chart of each driver family's share of the model's explanation."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def plot_family_shares(shares: dict[str, float], title: str = "What drives churn") -> Figure:
    """Horizontal bars, one per family, largest share on top, labelled with percentages.

    ``shares`` maps family to its share of the total mean |SHAP| (as in
    ``metrics['driver_shares']``).
    """
    items = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    names = [k.replace("_", " ") for k, _ in items][::-1]
    values = [v for _, v in items][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(items) + 1.2))
    bars = ax.barh(names, values, color="#3b75af")
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:.0%}", va="center")
    ax.set_xlim(0, max(values, default=0) * 1.2 or 1)
    ax.set_xlabel("share of the explanation of churn risk (all families add up to 100%)")
    ax.set_title(title)
    fig.tight_layout()
    return fig
