"""Calibration: a monotone map from the booster's margin to a churn probability.

Fitted on the validation period (the same rows that stop the boosting). Platt scaling (a
logistic regression on the margin: two parameters, strictly increasing, no ties) unless the
validation rows hold at least :data:`ISOTONIC_MIN_CLASS` churners and as many stayers; then a
centred isotonic regression (one knot per isotonic block at its mean margin, linear between
knots, so it is strictly increasing inside the data range). The threshold is well above the
common rule of thumb because with a monthly validation period of a few dozen churners
isotonic had few blocks, calibrated worse than Platt and lost ranking to ties
(benchmarks/RESULTS.md, "Calibration"). Being monotone, either map keeps the ranking and the
sign of every SHAP contribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

#: fewer churners (or stayers) than this in the validation rows: Platt instead of isotonic.
ISOTONIC_MIN_CLASS = 300


@dataclass
class Calibrator:
    """Maps a margin to a probability: ``isotonic`` (knots), ``platt`` (a, b) or ``identity``."""

    kind: str = "identity"
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray, method: str = "isotonic") -> Calibrator:
        y = np.asarray(y, dtype=float)
        pos = int(y.sum())
        if pos == 0 or pos == len(y) or method == "none":
            return cls()  # one class only: nothing to calibrate against
        if method == "isotonic" and min(pos, len(y) - pos) >= ISOTONIC_MIN_CLASS:
            iso = IsotonicRegression(out_of_bounds="clip").fit(margin, y)
            fitted = iso.predict(margin)
            # centred isotonic: one knot per block at the block's mean margin
            frame = pd.DataFrame({"m": margin, "p": fitted}).groupby("p", sort=True)["m"].mean()
            return cls("isotonic", frame.to_numpy().tolist(), frame.index.to_numpy().tolist())
        lr = LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), y)
        return cls("platt", [float(lr.coef_[0, 0])], [float(lr.intercept_[0])])

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        margin = np.asarray(margin, dtype=float)
        if self.kind == "isotonic":
            return np.interp(margin, self.x, self.y)
        if self.kind == "platt":
            return 1.0 / (1.0 + np.exp(-(self.x[0] * margin + self.y[0])))
        return 1.0 / (1.0 + np.exp(-margin))

    def to_json(self) -> dict:
        return {"kind": self.kind, "x": self.x, "y": self.y}
