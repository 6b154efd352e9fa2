"""The churn model: XGBoost (hist) on the one-hot encoded feature table, then calibration.

Defaults, chosen for tabular churn data so that no hand tuning is needed: shallow trees
(``max_depth`` 4: churn signals are few and mostly additive), a small learning rate (0.05) with
up to 800 rounds and early stopping after 50 rounds without improvement of the validation
log-loss, ``min_child_weight`` 5 and L2 ``lambda`` 5 against leaves fitted to a handful of
churners, row and column subsampling (0.8) drawn from the seed. Class imbalance: churn is rare,
but ``scale_pos_weight`` stays 1 on purpose: up-weighting churners inflates every probability,
which the calibrator would then have to undo, while ranking gains nothing from it with trees;
log-loss on the natural rate plus calibration gives probabilities that mean what they say.
These defaults are the first candidate of the search in :mod:`churnlab.model.tuning`, which
adapts depth, learning rate, minimum child weight and L2 regularisation to the table.

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
from sklearn.model_selection import StratifiedKFold, train_test_split

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable
from churnlab.model.calibration import Calibrator
from churnlab.model.encoding import Encoder
from churnlab.model.tuning import (
    CORE,
    DEFAULT_DEPTH,
    INNER_FOLD_ROWS,
    INNER_FOLDS,
    SEARCH_ROWS,
    SEARCH_VALID_ROWS,
    Trial,
    best_trial,
    candidates,
    rounds_for,
    row_log_loss,
    run_trials,
    sample_rows,
)

DEFAULT_PARAMS: dict = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    "max_depth": DEFAULT_DEPTH,
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

    With ``params=None`` the model can first run the seeded search of
    :mod:`churnlab.model.tuning` and keep the shallowest candidate that predicts held-out
    rows as well as the best one, within a standard error (``tuned_``: the overrides of the
    defaults, ``{}`` when the defaults won; ``trials_``: every candidate's log-loss).
    ``tune=None`` (the default) searches only where it is cheap next to the rest of a run: a
    table without a validation period (a customer table for ``churnlab explain``) of up to
    ``INNER_FOLD_ROWS`` rows, on inner folds with every candidate. Models with a validation
    period (the monthly report's backtest and forward models) keep the defaults unless
    ``tune=True``, which tries the few ``CORE`` candidates on that period: in the report it
    fits them for every model of every backtest, for a gain within the noise (cost and gain
    in benchmarks/RESULTS.md, issue 12 notes). ``tune=False`` never searches; given ``params``
    switch the search off: they are used as they are.
    """

    def __init__(
        self,
        seed: int = 0,
        params: dict | None = None,
        calibration: str = "isotonic",
        n_jobs: int | None = None,
        num_rounds: int = NUM_ROUNDS,
        tune: bool | None = None,
    ) -> None:
        self.seed = seed
        self.params = params
        self.calibration = calibration
        self.n_jobs = n_jobs
        self.num_rounds = num_rounds
        self.tune = tune
        self.tuned_: dict = {}
        self.trials_: list[Trial] = []

    def _threads(self, rows: int) -> int:
        if self.n_jobs is not None:
            return self.n_jobs
        return 1 if rows < SINGLE_THREAD_ROWS else 2

    def _params(self, overrides: dict | None = None, nthread: int | None = None) -> dict:
        return {
            **DEFAULT_PARAMS,
            **(self.params or {}),
            **(self.tuned_ if overrides is None else overrides),
            "seed": self.seed,
            "nthread": self.nthread_ if nthread is None else nthread,
        }

    def _rounds(self, overrides: dict) -> int:
        """Rounds of a search candidate; the given ``num_rounds`` for the defaults."""
        return rounds_for(overrides["eta"]) if "eta" in overrides else self.num_rounds

    def _train(self, params: dict, rounds: int, dtrain, dvalid) -> xgb.Booster:
        evals = [(dvalid, "valid")] if dvalid is not None else []
        return xgb.train(
            params,
            dtrain,
            num_boost_round=rounds,
            evals=evals,
            early_stopping_rounds=EARLY_STOPPING if evals else None,
            verbose_eval=False,
        )

    def _search(self, x_tr, y_tr, x_va, y_va) -> xgb.Booster | None:
        """Run the search; set ``tuned_`` and ``trials_``. Returns the winner's booster when
        it learned from every row (nothing left to train), else None."""
        tr = sample_rows(y_tr, SEARCH_ROWS, self.seed)
        va = sample_rows(y_va, SEARCH_VALID_ROWS, self.seed)
        full = len(tr) == len(y_tr) and len(va) == len(y_va)
        m_tr = self.encoder_.transform(x_tr.iloc[tr])
        m_va = self.encoder_.transform(x_va.iloc[va])
        names = self.booster_names_

        def train_one(overrides: dict) -> Trial:
            # one DMatrix per candidate: candidates train side by side on one thread each
            dtrain = xgb.DMatrix(m_tr, label=y_tr[tr], feature_names=names, nthread=1)
            dvalid = xgb.DMatrix(m_va, label=y_va[va], feature_names=names, nthread=1)
            params = self._params(overrides, nthread=1)
            booster = self._train(params, self._rounds(overrides), dtrain, dvalid)
            stop = (0, booster.best_iteration + 1)
            margin = booster.predict(dvalid, output_margin=True, iteration_range=stop)
            row_loss = row_log_loss(y_va[va], margin)
            return Trial(
                overrides,
                float(row_loss.mean()),
                int(booster.best_iteration),
                booster,
                None,
                row_loss,
            )

        workers = 1 if self.n_jobs == 1 else 2
        trials = run_trials(train_one, candidates(self.seed, len(CORE)), workers)
        best = best_trial(trials)
        self.tuned_ = best.params
        self.trials_ = [
            Trial(t.params, t.loss, t.best_iteration, row_loss=t.row_loss) for t in trials
        ]
        if full:
            best.booster.set_param({"nthread": self.nthread_})
            return best.booster
        return None

    def fit(self, train: Data, valid: Data | None = None, threads: int | None = None) -> ChurnModel:
        """Train on ``train``, early-stop and calibrate on ``valid``; returns ``self``.

        ``threads`` sets the training threads of this fit only (None: ``n_jobs``, else by
        rows), e.g. 1 for fits that run side by side; the model is the same for any value.
        """
        x_tr, y_tr, features = _xy(train)
        if len(y_tr) == 0 or y_tr.min() == y_tr.max():
            raise ChurnlabError(
                f"Cannot train a churn model: the {len(y_tr)} labelled training rows hold "
                "only one outcome (nobody churned, or everybody did). More history is needed."
            )
        searched = self.tune is not False and self.params is None
        smaller = int(min(y_tr.sum(), len(y_tr) - y_tr.sum()))
        if valid is None and searched and len(y_tr) <= INNER_FOLD_ROWS and smaller >= INNER_FOLDS:
            return self._fit_on_inner_folds(x_tr, y_tr, features, threads)
        if valid is None:
            x_tr, x_va, y_tr, y_va = _inner_split(x_tr, y_tr, self.seed)
        else:
            x_va, y_va, _ = _xy(valid, features)
        self.nthread_ = self._threads(len(x_tr)) if threads is None else threads
        self.encoder_ = Encoder.fit(x_tr, features)
        self.feature_names_ = self.encoder_.columns
        stop = len(y_va) > 0 and y_va.min() != y_va.max()
        self.tuned_, self.trials_, booster = {}, [], None
        if stop and self.params is None and self.tune is True:
            booster = self._search(x_tr, y_tr, x_va, y_va)
        if booster is None:
            dvalid = self._dmatrix(x_va, y_va, self.nthread_) if stop else None
            dtrain = self._dmatrix(x_tr, y_tr, self.nthread_)
            booster = self._train(self._params(), self._rounds(self.tuned_), dtrain, dvalid)
        self.booster_ = booster
        self.best_iteration_ = int(
            booster.best_iteration if stop else booster.num_boosted_rounds() - 1
        )
        # keep only the trees up to the best iteration: the rounds early stopping waited
        # through never score or explain anything (also not in shap's plots or a saved model)
        self.booster_ = self.booster_[: self.best_iteration_ + 1]
        if len(y_va):
            self.calibrator_ = Calibrator.fit(self.margin(x_va), y_va, self.calibration)
        else:
            self.calibrator_ = Calibrator()
        return self

    def _fit_on_inner_folds(
        self, x: pd.DataFrame, y: np.ndarray, features: list, threads: int | None = None
    ) -> ChurnModel:
        """A small table without a validation period: search, stop and calibrate on inner
        folds, then train the winner on every row (:mod:`churnlab.model.tuning`)."""
        self.nthread_ = self._threads(len(x)) if threads is None else threads
        self.encoder_ = Encoder.fit(x, features)
        self.feature_names_ = self.encoder_.columns
        matrix, names = self.encoder_.transform(x), self.booster_names_
        folds = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=self.seed)
        splits = list(folds.split(np.zeros(len(y)), y))

        def train_one(overrides: dict) -> Trial:
            margin, rounds = np.zeros(len(y)), []
            for fit_rows, check_rows in splits:
                dtrain = xgb.DMatrix(matrix[fit_rows], y[fit_rows], feature_names=names, nthread=1)
                dvalid = xgb.DMatrix(
                    matrix[check_rows], y[check_rows], feature_names=names, nthread=1
                )
                booster = self._train(
                    self._params(overrides, nthread=1), self._rounds(overrides), dtrain, dvalid
                )
                stop = (0, booster.best_iteration + 1)
                margin[check_rows] = booster.predict(
                    dvalid, output_margin=True, iteration_range=stop
                )
                rounds.append(booster.best_iteration + 1)
            # every fold learned from (k-1)/k of the rows; the final model learns from all
            scaled = int(round(np.mean(rounds) * INNER_FOLDS / (INNER_FOLDS - 1)))
            row_loss = row_log_loss(y, margin)
            return Trial(
                overrides, float(row_loss.mean()), max(scaled, 1) - 1, None, margin, row_loss
            )

        workers = 1 if self.n_jobs == 1 else 2
        trials = run_trials(train_one, candidates(self.seed), workers)
        best = best_trial(trials)
        self.tuned_ = best.params
        self.trials_ = [
            Trial(t.params, t.loss, t.best_iteration, row_loss=t.row_loss) for t in trials
        ]
        dtrain = xgb.DMatrix(matrix, y, feature_names=names, nthread=self.nthread_)
        self.booster_ = self._train(self._params(), best.best_iteration + 1, dtrain, None)
        self.best_iteration_ = best.best_iteration
        self.calibrator_ = Calibrator.fit(best.margin, y, self.calibration)
        return self

    def _dmatrix(
        self, frame: pd.DataFrame, y: np.ndarray | None = None, threads: int | None = None
    ) -> xgb.DMatrix:
        x = self.encoder_.transform(frame)
        threads = self._threads(len(frame)) if threads is None else threads
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
            "tune": self.tune,
            "tuned": self.tuned_,
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
        model.tune = meta.get("tune", False)
        model.tuned_ = dict(meta.get("tuned", {}))
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
