"""Synthetic subscription businesses with known churn drivers (``churnlab synth``).

:func:`generate` simulates customers month by month and returns the contract tables with the
ground truth: for every customer and monthly snapshot, the true probability of churning in
the next month and each driver family's contribution to its log-odds, computed only from
data dated before the snapshot's cutoff. :func:`synthesize` writes the same data to a folder
in chunks; :func:`write_world` writes a world held in memory.
"""

from churnlab.synth.params import FAMILIES, HAZARD, Hazard
from churnlab.synth.writer import SynthWorld, generate, span_text, synthesize, write_world

__all__ = [
    "FAMILIES",
    "HAZARD",
    "Hazard",
    "SynthWorld",
    "generate",
    "span_text",
    "synthesize",
    "write_world",
]
