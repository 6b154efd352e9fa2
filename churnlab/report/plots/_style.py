"""Shared look of the report's plots: colours per driver family and a figure factory.

Figures are made with :class:`matplotlib.figure.Figure`, not ``pyplot``: they are not
registered with pyplot, so a notebook shows each exactly once (as the cell's value) and
nothing accumulates in pyplot's global state across a long report.
"""

from __future__ import annotations

from matplotlib.figure import Figure

FAMILY_COLORS: dict[str, str] = {
    "price": "#4c72b0",
    "support": "#dd8452",
    "onboarding": "#55a868",
    "engagement": "#c44e52",
    "voice_of_customer": "#8172b3",
    "profile": "#937860",
    "other": "#8c8c8c",
}
ACCENT = "#c0392b"
MAIN = "#3b75af"


def family_color(family: str) -> str:
    """The colour of a family (a stable grey-ish colour for families of a user's own)."""
    if family in FAMILY_COLORS:
        return FAMILY_COLORS[family]
    extra = ["#64b5cd", "#da8bc3", "#ccb974", "#8da0cb", "#a6d854"]
    return extra[sum(map(ord, family)) % len(extra)]


def new_figure(width: float, height: float) -> tuple[Figure, object]:
    """A pyplot-free figure with one axes."""
    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.subplots()
