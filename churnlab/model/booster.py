"""The churn model: one-hot encoding, XGBoost (hist), calibration, temporal and k-fold splits.

Defaults, chosen for tabular churn data so that no hand tuning is needed: shallow trees
(``max_depth`` 4: churn signals are few and mostly additive), a small learning rate (0.05) with
up to 800 rounds and early stopping after 50 rounds without improvement of the validation
log-loss, ``min_child_weight`` 5 and L2 ``lambda`` 5 against leaves fitted to a handful of
churners, row and column subsampling (0.8) drawn from the seed. Class imbalance: churn is rare
(2-5 % a month), but ``scale_pos_weight`` is kept at 1 on purpose: up-weighting churners
inflates every probability and would then have to be undone by the calibrator, while ranking
(ROC-AUC, lift) gains nothing from it with trees; log-loss on the natural rate plus calibration
gives probabilities that mean what they say.

Calibration is fitted on the validation period (the same rows that stop the boosting) and maps
the margin to a probability with a monotone function, so ranking and SHAP signs carry over.
Platt scaling (a logistic regression on the margin: two parameters, strictly increasing, no
ties) unless the validation rows hold at least 300 churners and 300 stayers; then a centred
isotonic regression (one knot per isotonic block at its mean margin, linear between knots, so
that it is strictly increasing inside the data range). The threshold is higher than the
common rule of thumb (~50) because of what we measured on synthetic worlds with a validation
month of ~60 churners: isotonic had only 10-16 blocks, a worse Brier score than Platt in all
three worlds (e.g. 0.0271 vs 0.0268) and lost up to 0.008 ROC-AUC to ties.

Everything is deterministic: same data and seed give the same scores to the last digit,
whatever the thread count (``n_jobs``; None = training on one thread below 100,000 rows, two
above; TreeSHAP on every core from 10,000 rows). After early stopping the booster keeps only
the trees up to the best iteration, so every prediction, SHAP value and saved model uses
exactly those.
Models are saved in XGBoost's own JSON/UBJ format plus a small JSON sidecar for the encoder
and the calibrator (no pickle).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split

from churnlab.core.errors import ChurnlabError, examples
from churnlab.features.table import FeatureTable

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
#: more than they save on small data, and on a busy 2-core machine two threads were measured
#: 5-12x slower than one (scores are identical either way).
SINGLE_THREAD_ROWS = 100_000
EARLY_STOPPING = 50
#: from this many rows on, TreeSHAP (``pred_contribs``) runs on every core: it costs about a
#: millisecond a row and rows are independent, so threads split it with no barrier cost
#: (measured on 64,581 rows: 56.7 s on one thread, see benchmarks/bench_shap.py); the values
#: are identical for any thread count.
PARALLEL_SHAP_ROWS = 10_000
#: fewer churners (or stayers) than this in the validation rows: Platt instead of isotonic.
ISOTONIC_MIN_CLASS = 300
MISSING = "(missing)"
OTHER = "(other)"


# --------------------------------------------------------------------------------- encoding
@dataclass
class Encoder:
    """One-hot layout: numeric features pass through, categorical ones get one column a level.

    One-hot (rather than XGBoost's native categories, which shap cannot explain) keeps TreeSHAP
    exact and readable: a source feature's SHAP value is the sum over its columns, and a column
    name says the category (``plan=basic``). Levels seen in fewer than ``min_count`` training
    rows, or beyond the ``max_levels`` most frequent, share an ``=(other)`` column, as do
    levels first seen at scoring time; a missing category is the level ``(missing)``.
    """

    order: list[str] = field(default_factory=list)
    levels: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, features: list[str], min_count: int = 10, max_levels: int = 30
    ) -> Encoder:
        levels = {}
        for col in features:
            if pd.api.types.is_numeric_dtype(frame[col]):
                continue
            counts = _categories(frame[col]).value_counts()
            # count desc, then name: the layout never depends on row order
            counts = counts.sort_index().sort_values(ascending=False, kind="stable")
            kept = [str(v) for v, n in counts.items() if n >= min_count][:max_levels]
            kept = kept or [str(counts.index[0])]
            levels[col] = sorted(kept) + ([OTHER] if len(kept) < len(counts) else [])
        return cls(order=list(features), levels=levels)

    @property
    def columns(self) -> list[str]:
        """Encoded column names, in matrix order."""
        return [n for col in self.order for n in self._names(col)]

    @property
    def source(self) -> list[str]:
        """The source feature of each encoded column."""
        return [col for col in self.order for _ in self._names(col)]

    def _names(self, col: str) -> list[str]:
        return [f"{col}={lvl}" for lvl in self.levels[col]] if col in self.levels else [col]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The float32 design matrix of ``frame``."""
        missing = [c for c in self.order if c not in frame.columns]
        if missing:
            raise ChurnlabError(
                f"The table to score lacks {len(missing)} feature column(s) the model was "
                f"trained on: {examples(missing)}."
            )
        out = np.zeros((len(frame), len(self.columns)), dtype="float32")
        pos = 0
        for col in self.order:
            if col not in self.levels:
                out[:, pos] = pd.to_numeric(frame[col], errors="coerce").to_numpy(
                    "float32", na_value=np.nan
                )
                pos += 1
                continue
            lv = self.levels[col]
            codes = pd.Index(lv).get_indexer(_categories(frame[col])).astype(np.int64)
            if OTHER in lv:
                codes = np.where(codes < 0, lv.index(OTHER), codes)
            rows = np.flatnonzero(codes >= 0)
            out[rows, pos + codes[rows]] = 1.0
            pos += len(lv)
        return out

    def to_json(self) -> dict:
        return {"order": self.order, "levels": self.levels}

    @classmethod
    def from_json(cls, data: dict) -> Encoder:
        return cls(
            order=list(data["order"]), levels={k: list(v) for k, v in data["levels"].items()}
        )


def _categories(col: pd.Series) -> pd.Series:
    return col.astype("string").fillna(MISSING).astype(str)


# ------------------------------------------------------------------------------ calibration
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


# ------------------------------------------------------------------------------------ model
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


# ----------------------------------------------------------------------------------- splits
def temporal_split(
    snapshots: list[str], n_valid: int = 1, n_test: int = 1
) -> tuple[list[str], list[str], list[str]]:
    """Split labelled snapshot months by time: (train, valid, test), oldest first.

    The last ``n_test`` months are the test period, the ``n_valid`` before them the
    validation period (early stopping and calibration), everything earlier is training.
    Raises ChurnlabError when fewer than ``n_valid + n_test + 1`` months are given.
    """
    months = sorted(set(snapshots))
    if len(months) < n_valid + n_test + 1:
        raise ChurnlabError(
            f"A temporal split needs at least {n_valid + n_test + 1} labelled snapshots "
            f"(train, {n_valid} validation, {n_test} test); the table has {len(months)}: "
            f"{examples(months)}."
        )
    cut_test = len(months) - n_test
    cut_valid = cut_test - n_valid
    return months[:cut_valid], months[cut_valid:cut_test], months[cut_test:]


def oof_scores(
    table: FeatureTable, k: int = 5, seed: int = 0, params: dict | None = None
) -> np.ndarray:
    """Out-of-fold churn probabilities for every labelled row (stratified k-fold).

    Each fold's model early-stops and calibrates on an inner stratified split of its own
    training rows. ``k`` shrinks to the size of the smaller class when that is below ``k``.
    Returns an array aligned with ``table.subset(table.labelled).frame``.
    """
    lab = table.subset(table.labelled)
    y = lab.frame[table.label_col].to_numpy("int64")
    smaller = int(min(y.sum(), len(y) - y.sum()))
    if smaller < 2:
        raise ChurnlabError(
            f"Out-of-fold validation needs at least 2 churners and 2 stayers; the table has "
            f"{int(y.sum())} churner(s) among {len(y)} labelled rows."
        )
    folds = StratifiedKFold(n_splits=min(k, smaller), shuffle=True, random_state=seed)
    out = np.full(len(y), np.nan)
    for train_idx, test_idx in folds.split(np.zeros(len(y)), y):
        model = ChurnModel(seed=seed, params=params)
        model.fit(_rows(lab, train_idx))
        out[test_idx] = model.predict_proba(lab.frame.iloc[test_idx])
    return out


def _rows(table: FeatureTable, idx: np.ndarray) -> FeatureTable:
    mask = pd.Series(False, index=table.frame.index)
    mask.iloc[idx] = True
    return table.subset(mask)
