"""Shared test set-up: a non-interactive matplotlib backend and a printed seed per test."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")
