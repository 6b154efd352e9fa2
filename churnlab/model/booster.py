"""The churn model: XGBoost (hist) on the one-hot encoded feature table, then calibration.

Defaults, chosen for tabular churn data so that no hand tuning is needed: shallow trees
(``max_depth`` 4: churn signals are few and mostly additive), a small learning rate (0.05) with
up to 800 rounds and early stopping after 50 rounds without improvement of the validation
log-loss, ``min_child_weight`` 5 and L2 ``lambda`` 5 against leaves fitted to a handful of
churners, row and column subsampling (0.8) drawn from the seed. Class imbalance: churn is rare,
but ``scale_pos_weight`` stays 1 on purpose: up-weighting churners inflates every probability,
which the calibrator would then have to undo, while ranking gains nothing from it with trees;
log-loss on the natural rate plus calibration gives probabilities that mean what they say.

Everything is deterministic: same data and seed give the same scores to the last digit,
whatever the thread count (``n_jobs``; None = one thread for training below
:data:`SINGLE_THREAD_ROWS` rows, two above; TreeSHAP on every core from
:data:`PARALLEL_SHAP_ROWS` rows). After early stopping the booster keeps only the trees up to
the best iteration, so every prediction, SHAP value and saved model uses exactly those.
Models are saved in XGBoost's own JSON/UBJ format plus a small JSON sidecar for the encoder
and the calibrator (no pickle).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.model_selection import train_test_split

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable
from churnlab.model.calibration import Calibrator
from churnlab.model.encoding import Encoder

DEFAULT_PARAMS: dict = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.05,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 5.0,
    "max_bin": 256,
}
NUM_ROUNDS = 800
#: below this many training rows one thread is used: XGBoost's per-node thread barriers cost
#: more than they save on small data (benchmarks/RESULTS.md, "Training threads"); scores are
#: identical either way.
SINGLE_THREAD_ROWS = 100_000
EARLY_STOPPING = 50
#: from this many rows on, TreeSHAP (``pred_contribs``) runs on every core: rows are
#: independent, so threads split it with no barrier cost; the values are identical for any
#: thread count.
PARALLEL_SHAP_ROWS = 10_000


Data = FeatureTable | tuple[pd.DataFrame, np.ndarray]


def _xy(data: Data, features: list[str] | None = None) -> tuple[pd.DataFrame, np.ndarray, list]:
    """Labelled rows of a table (or an (X, y) pair) as (frame, y, features)."""
    if isinstance(data, FeatureTable):
        lab = data.subset(data.labelled)
        return lab.frame, lab.frame[data.label_col].to_numpy("float64"), data.features
    frame, y = data
    return frame, np.asarray(y, dtype="float64"), features or list(frame.columns)


class ChurnModel:
    """XGBoost churn model with one-hot encoding and a calibrator (sklearn-style).

    ``fit(train, valid)`` takes FeatureTables (only labelled rows are used) or ``(X, y)``
    pairs. ``valid`` (the later validation period) drives early stopping and the calibration;
    without it a stratified 20 % of ``train`` plays that role. Fitted state lives in
    ``booster_``, ``calibrator_``, ``encoder_``, ``best_iteration_``, ``feature_names_``.
    """

    def __init__(
        self,
        seed: int = 0,
        params: dict | None = None,
        calibration: str = "isotonic",
        n_jobs: int | None = None,
        num_rounds: int = NUM_ROUNDS,
    ) -> None:
        self.seed = seed
        self.params = params
        self.calibration = calibration
        self.n_jobs = n_jobs
        self.num_rounds = num_rounds

    def _threads(self, rows: int) -> int:
        if self.n_jobs is not None:
            return self.n_jobs
        return 1 if rows < SINGLE_THREAD_ROWS else 2

    def _params(self) -> dict:
        return {
            **DEFAULT_PARAMS,
            **(self.params or {}),
            "seed": self.seed,
            "nthread": self.nthread_,
        }

    def fit(self, train: Data, valid: Data | None = None) -> ChurnModel:
        """Train on ``train``, early-stop and calibrate on ``valid``; returns ``self``."""
        x_tr, y_tr, features = _xy(train)
        if len(y_tr) == 0 or y_tr.min() == y_tr.max():
            raise ChurnlabError(
                f"Cannot train a churn model: the {len(y_tr)} labelled training rows hold "
                "only one outcome (nobody churned, or everybody did). More history is needed."
            )
        if valid is None:
            x_tr, x_va, y_tr, y_va = _inner_split(x_tr, y_tr, self.seed)
        else:
            x_va, y_va, _ = _xy(valid, features)
        self.nthread_ = self._threads(len(x_tr))
        self.encoder_ = Encoder.fit(x_tr, features)
        self.feature_names_ = self.encoder_.columns
        dtrain = self._dmatrix(x_tr, y_tr)
        evals, stop = [], None
        if len(y_va) and y_va.min() != y_va.max():
            evals, stop = [(self._dmatrix(x_va, y_va), "valid")], EARLY_STOPPING
        self.booster_ = xgb.train(
            self._params(),
            dtrain,
            num_boost_round=self.num_rounds,
            evals=evals,
            early_stopping_rounds=stop,
            verbose_eval=False,
        )
        self.best_iteration_ = int(
            self.booster_.best_iteration if stop else self.booster_.num_boosted_rounds() - 1
        )
        # keep only the trees up to the best iteration: the rounds early stopping waited
        # through never score or explain anything (also not in shap's plots or a saved model)
        self.booster_ = self.booster_[: self.best_iteration_ + 1]
        if len(y_va):
            self.calibrator_ = Calibrator.fit(self.margin(x_va), y_va, self.calibration)
        else:
            self.calibrator_ = Calibrator()
        return self

    def _dmatrix(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> xgb.DMatrix:
        x = self.encoder_.transform(frame)
        threads = self._threads(len(frame))
        # XGBoost rejects names holding [, ] or < (and a column may be called anything), so
        # the booster sees positional names; readable ones stay in ``feature_names_``
        return xgb.DMatrix(x, label=y, feature_names=self.booster_names_, nthread=threads)

    @property
    def booster_names_(self) -> list[str]:
        """The names the booster knows the encoded columns by: ``f0``, ``f1``, ..."""
        return [f"f{i}" for i in range(len(self.feature_names_))]

    def dmatrix(self, data: FeatureTable | pd.DataFrame) -> xgb.DMatrix:
        """The encoded DMatrix of every row of ``data`` (for SHAP)."""
        frame = data.frame if isinstance(data, FeatureTable) else data
        self.booster_.set_param({"nthread": self._threads(len(frame))})
        return self._dmatrix(frame)

    def contributions(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        """TreeSHAP values of every row: (rows x (encoded columns + 1)), the last the bias.

        Exact TreeSHAP from XGBoost (``pred_contribs``) over the trees up to the best
        iteration, on every core above :data:`PARALLEL_SHAP_ROWS` rows.
        """
        frame = data.frame if isinstance(data, FeatureTable) else data
        dm = self._dmatrix(frame)
        threads = self.n_jobs or (os.cpu_count() or 1)
        self.booster_.set_param({"nthread": threads if len(frame) >= PARALLEL_SHAP_ROWS else 1})
        return self.booster_.predict(dm, pred_contribs=True, iteration_range=self.iteration_range)

    @property
    def iteration_range(self) -> tuple[int, int]:
        return (0, self.best_iteration_ + 1)

    def margin(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        """Raw log-odds of churn for every row (before calibration)."""
        dm = self.dmatrix(data)
        return self.booster_.predict(dm, output_margin=True, iteration_range=self.iteration_range)

    def predict_proba(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability of every row, as a 1-D array."""
        return self.calibrator_(self.margin(data))

    def save(self, path: Path | str) -> None:
        """Write the booster to ``path`` (.json or .ubj) and ``path`` + ``.churnlab.json``."""
        path = Path(path)
        self.booster_.save_model(str(path))
        meta = {
            "format": 2,
            "seed": self.seed,
            "params": self.params,
            "calibration": self.calibration,
            "n_jobs": self.n_jobs,
            "num_rounds": self.num_rounds,
            "best_iteration": self.best_iteration_,
            "feature_names": self.feature_names_,
            "encoder": self.encoder_.to_json(),
            "calibrator": self.calibrator_.to_json(),
        }
        Path(f"{path}.churnlab.json").write_text(json.dumps(meta, indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path | str) -> ChurnModel:
        """Read a model written by :meth:`save`."""
        path = Path(path)
        meta = json.loads(Path(f"{path}.churnlab.json").read_text())
        model = cls(meta["seed"], meta["params"], meta["calibration"], meta["n_jobs"])
        model.num_rounds = meta["num_rounds"]
        model.booster_ = xgb.Booster(model_file=str(path))
        model.nthread_ = model._threads(0)
        model.best_iteration_ = int(meta["best_iteration"])
        model.feature_names_ = list(meta["feature_names"])
        model.booster_.feature_names = model.booster_names_  # format 1 stored readable names
        model.encoder_ = Encoder.from_json(meta["encoder"])
        model.calibrator_ = Calibrator(**meta["calibrator"])
        return model


def _inner_split(x: pd.DataFrame, y: np.ndarray, seed: int):
    """Stratified 80/20 split for early stopping and calibration when no period is given."""
    strat = y if min(y.sum(), len(y) - y.sum()) >= 2 else None
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=strat
    )
    return x_tr, x_va, y_tr, y_va
