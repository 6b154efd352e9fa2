"""Shared look of the report's plots: colours per driver family and a figure factory.

Figures are made with :class:`matplotlib.figure.Figure`, not ``pyplot``: they are not
registered with pyplot, so a notebook shows each exactly once (as the cell's value) and
nothing accumulates in pyplot's global state across a long report.
"""

from __future__ import annotations

import textwrap

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from churnlab.core.families import family
from churnlab.features.registry import feature_label

ACCENT = "#c0392b"
MAIN = "#3b75af"


def family_color(name: str) -> str:
    """The colour of a family (from the registry; spare colours for families of a user's own)."""
    return family(name).color


def new_figure(width: float, height: float) -> tuple[Figure, object]:
    """A pyplot-free figure with one axes."""
    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.subplots()


def label(feature: str, width: int = 38) -> str:
    """A feature in words for an axis (from the registry), wrapped onto lines of ``width``."""
    return "\n".join(textwrap.wrap(feature_label(feature), width)) or feature


def finish_retention(fig: Figure, ax, ticks: list, xlabel: str, ylabel: str, title: str) -> Figure:
    """The look every retention curve shares: a percent axis from the start (month 0)."""
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xticks(ticks)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig
