"""Models on a feature table: encoding, the XGBoost booster and its calibration, temporal and
k-fold splits, the one backtest, quality metrics, and explanations: SHAP per feature, family,
segment and customer, and driver credit (what fixing each actionable family would remove).

Pure computation on :class:`~churnlab.features.FeatureTable` values. May import
:mod:`churnlab.core` and :mod:`churnlab.features`.
"""

from churnlab.model.booster import ChurnModel
from churnlab.model.calibration import Calibrator
from churnlab.model.encoding import Encoder
from churnlab.model.splits import oof_scores, temporal_split

__all__ = ["Calibrator", "ChurnModel", "Encoder", "oof_scores", "temporal_split"]
