"""Time to churn: who leaves when, from the monthly snapshots (docs/time-to-churn.md).

:class:`SurvivalModel` is a discrete-time survival model. Its target is the monthly hazard
h_k(x) = P(churn in month k after the cutoff | still a customer at the start of month k,
features x at the snapshot), k = 1..K; retention follows as S(k) = (1 - h_1) ... (1 - h_k).
Each snapshot row with time to churn t and event e gives one *person-month* row per month
k = 1..min(t, K) it was at risk, labelled 1 only in its churn month (k = t, e = 1): censoring
never counts as churn, and a month that has not closed gives no row at all. One XGBoost
model per horizon (the default), or one model for every horizon with k as an input
(``pooled=True``): benchmarks/bench_survival.py measures both, and one model per horizon
ranked better and trained faster (each model is small enough for few rounds).

Row budget: person-month rows grow with customers x snapshots x horizons, so the models learn
from at most ``max_rows`` of them, a seeded random sample of all the person-month rows of the
modelled horizons: each month ahead gets its share of the budget in proportion to its rows (a
near month, with more customers at risk and more churns, gets more rows than a far one). Unlike
the churn model, which takes its newest snapshots whole, the sample spreads over every
snapshot: the rows of one customer in consecutive snapshots are much alike, and spreading sees
more customers and states for the same rows. The trees are shallow (depth 2, a hessian weight
of at least 20 per leaf: hundreds of rows at a monthly churn rate of a few per cent): a month's
hazard is learnt from few churns, and smoother models ranked customers better at the same cost
(benchmarks/RESULTS.md, "Survival"). Early stopping watches the log-loss of a seeded random
fifth of the customers (all their rows), held out of training. The models of the months ahead are
independent and train two at a time.

Horizons with too little history (fewer than :data:`MIN_ROWS` at-risk rows or
:data:`MIN_EVENTS` churns in month k) are not modelled: ``horizons_`` stops before the first
such month and ``notes_`` says why, so nothing is extrapolated past what the data shows.

:class:`LifetimeModel` is for a flat table with a duration (``churnlab explain --duration``):
XGBoost ``survival:cox`` on one row per customer, whose margin is the log relative hazard
(higher = shorter expected lifetime) and whose TreeSHAP values add up to it.

:func:`censor_at` cuts outcomes at a point in time (a backtest's model may only learn what was
known at its snapshot's cutoff); :func:`duration_leaks` finds features that are near copies of
the duration.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.stats import spearmanr

from churnlab.core.errors import ChurnlabError
from churnlab.core.months import each_month, months_between
from churnlab.features.table import FeatureTable
from churnlab.model.booster import PARALLEL_SHAP_ROWS, SINGLE_THREAD_ROWS
from churnlab.model.encoding import Encoder

#: months ahead the model predicts (the report's 12-month view)
HORIZONS = 12
#: person-month training rows of all the months ahead together, at most (module docstring)
MAX_TRAIN_ROWS = 600_000
#: a horizon is modelled only with at least this many at-risk rows and churns in its month
MIN_ROWS = 200
MIN_EVENTS = 20
#: share of customers held out for early stopping
VALID_SHARE = 0.2
EARLY_STOPPING = 30
NUM_ROUNDS = 600
HORIZON_COLUMN = "months_ahead"

DEFAULT_PARAMS: dict = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    "max_depth": 2,
    "eta": 0.1,
    "min_child_weight": 20.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 5.0,
    "max_bin": 256,
}


def outcome_arrays(table: FeatureTable) -> tuple[np.ndarray, np.ndarray]:
    """(time, event) of every row as float arrays (NaN where unknown)."""
    if not table.duration_col or table.duration_col not in table.frame:
        raise ChurnlabError("This feature table has no time to churn (no duration column).")
    time = pd.to_numeric(table.frame[table.duration_col], errors="coerce")
    event = pd.to_numeric(table.frame[table.event_col or table.label_col], errors="coerce")
    return time.to_numpy("float64", na_value=np.nan), event.to_numpy("float64", na_value=np.nan)


def censor_at(
    time: np.ndarray, event: np.ndarray, snapshots: pd.Series | np.ndarray, month: str
) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes as they were known at the end of ``month`` (at its cutoff).

    A snapshot S had ``months_between(S, month)`` months closed by then: a churn in one of
    them stays a churn, everything later becomes censoring at that many months (0 for
    snapshots at or after ``month``). Exact on time-to-churn columns built from later data,
    since those only add months after the ones kept.
    """
    closed_by = each_month(snapshots, lambda s: float(max(months_between(s, month), 0)))
    closed = closed_by.to_numpy("float64", na_value=np.nan)
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    churn_known = (e == 1) & (t <= closed)
    return np.where(churn_known, t, np.minimum(t, closed)), np.where(churn_known, 1.0, 0.0)


def person_months(
    time: np.ndarray, event: np.ndarray, horizons: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, k, churned) of every month k = 1..min(time, horizons) a row was at risk.

    ``churned`` is 1 only for the churn month of a churned row; rows with unknown time give
    nothing. Ordered by row, then k.
    """
    t = np.nan_to_num(np.asarray(time, dtype=float), nan=0.0)
    e = np.asarray(event, dtype=float)
    months = np.clip(t, 0, horizons).astype(np.int64)
    row = np.repeat(np.arange(len(t)), months)
    start = np.cumsum(months) - months
    k = np.arange(len(row)) - np.repeat(start, months) + 1
    churned = ((e[row] == 1) & (t[row] == k)).astype(np.float32)
    return row, k, churned


def smallest(values: np.ndarray, n: int) -> np.ndarray:
    """Sorted positions of the ``n`` smallest values, ties going to the earlier position: the
    set ``np.argsort(values, kind="stable")[:n]`` holds, found by a partition instead of a
    full sort (the survival sample draws from millions of person-months)."""
    if n >= len(values):
        return np.arange(len(values))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    cut = np.partition(values, n - 1)[n - 1]
    below = values < cut
    tied = np.flatnonzero(values == cut)[: n - int(below.sum())]
    below[tied] = True
    return np.flatnonzero(below)


def _threads(rows: int, n_jobs: int | None) -> int:
    return n_jobs if n_jobs is not None else (1 if rows < SINGLE_THREAD_ROWS else 2)


class SurvivalModel:
    """Discrete-time survival on a snapshot feature table (module docstring).

    ``fit(table, time, event)`` returns ``self``; fitted attributes: ``horizons_`` (months
    modelled, 0..K), ``encoder_``, ``boosters_`` (one pooled booster, or one per horizon),
    ``rows_`` and ``events_`` (at-risk rows and churns of each month k in the training data),
    ``train_rows_`` (person-month rows learned from), ``best_iterations_`` and ``notes_``.
    """

    def __init__(
        self,
        horizons: int = HORIZONS,
        seed: int = 0,
        pooled: bool = False,
        max_rows: int | None = MAX_TRAIN_ROWS,
        params: dict | None = None,
        n_jobs: int | None = None,
        num_rounds: int = NUM_ROUNDS,
        min_events: int = MIN_EVENTS,
    ) -> None:
        self.horizons = horizons
        self.seed = seed
        self.pooled = pooled
        self.max_rows = max_rows
        self.params = params
        self.n_jobs = n_jobs
        self.num_rounds = num_rounds
        self.min_events = min_events

    # ---------------------------------------------------------------------------- fitting
    def fit(self, table: FeatureTable, time: np.ndarray, event: np.ndarray) -> SurvivalModel:
        """Learn the monthly hazards from ``table``'s rows and their (time, event)."""
        row, k, y = person_months(time, event, self.horizons)
        self.rows_ = np.bincount(k, minlength=self.horizons + 1)[1:].tolist()
        self.events_ = np.bincount(k, weights=y, minlength=self.horizons + 1)[1:]
        self.events_ = self.events_.astype(int).tolist()
        self.horizons_ = self._supported()
        self.notes_ = self._notes()
        self.boosters_: list[xgb.Booster] = []
        self.best_iterations_: list[int] = []
        if self.horizons_ == 0:
            return self
        keep = self._sample(row, k)
        row, k, y = row[keep], k[keep], y[keep]
        self.train_rows_ = len(row)
        frame = table.frame
        used = np.unique(row)
        self.encoder_ = Encoder.fit(frame.iloc[used], table.features)
        x_used = self.encoder_.transform(frame.iloc[used])
        x = x_used[np.searchsorted(used, row)]
        valid = self._validation_rows(frame[table.id_col].to_numpy()[row])
        if self.pooled:
            groups = [np.arange(len(row))]
        else:
            groups = [np.flatnonzero(k == h) for h in range(1, 1 + self.horizons_)]
        workers = 1 if self.pooled or self.n_jobs == 1 else 2

        def train(i: np.ndarray) -> tuple[xgb.Booster, int]:
            return self._train(x[i], k[i], y[i], valid[i], workers)

        with ThreadPoolExecutor(max_workers=workers) as pool:  # xgboost frees the GIL
            fitted = list(pool.map(train, groups))
        self.boosters_ = [b for b, _ in fitted]
        self.best_iterations_ = [n for _, n in fitted]
        return self

    def _supported(self) -> int:
        for h in range(self.horizons):
            if self.rows_[h] < MIN_ROWS or self.events_[h] < self.min_events:
                return h
        return self.horizons

    def _notes(self) -> list[str]:
        if self.horizons_ == self.horizons:
            return []
        h = self.horizons_ + 1
        return [
            f"Retention is estimated for {self.horizons_} month(s) ahead only: month {h} after "
            f"a snapshot has closed for {self.rows_[h - 1]:,} training customer(s) with "
            f"{self.events_[h - 1]:,} churn(s) in it, and a month needs at least {MIN_ROWS:,} "
            f"customers and {self.min_events} churns; later months are left empty, not "
            "extrapolated."
        ]

    def _sample(self, row: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Positions of the person-month rows learned from: a seeded random ``max_rows`` of
        the rows of horizons 1..``horizons_`` (module docstring), in their original order."""
        inside = np.flatnonzero(k <= self.horizons_)
        if self.max_rows is None or len(inside) <= self.max_rows:
            return inside
        draw = np.random.default_rng(self.seed).random(len(inside))
        return inside[smallest(draw, self.max_rows)]

    def _validation_rows(self, ids: np.ndarray) -> np.ndarray:
        """True for the rows of a seeded random :data:`VALID_SHARE` of the customers."""
        distinct, inverse = np.unique(ids.astype(str), return_inverse=True)
        held = np.random.default_rng(self.seed + 1).random(len(distinct)) < VALID_SHARE
        return held[inverse]

    def _design(self, x: np.ndarray, k: np.ndarray | int) -> np.ndarray:
        if not self.pooled:
            return x
        ks = np.broadcast_to(np.asarray(k, dtype=np.float32), (len(x),))
        return np.column_stack([x, ks]).astype(np.float32, copy=False)

    @property
    def feature_names_(self) -> list[str]:
        """Encoded columns the boosters see (the pooled one also sees the horizon)."""
        return self.encoder_.columns + ([HORIZON_COLUMN] if self.pooled else [])

    def _train(
        self, x: np.ndarray, k: np.ndarray, y: np.ndarray, valid: np.ndarray, workers: int
    ) -> tuple[xgb.Booster, int]:
        # two models at a time use one thread each; scores do not depend on the thread count
        nthread = 1 if workers > 1 else _threads(len(y), self.n_jobs)
        params = {**DEFAULT_PARAMS, **(self.params or {}), "seed": self.seed, "nthread": nthread}
        names = [f"f{i}" for i in range(len(self.feature_names_))]
        fit_rows = ~valid
        dtrain = xgb.DMatrix(
            self._design(x[fit_rows], k[fit_rows]), label=y[fit_rows], feature_names=names
        )
        evals, stop = [], None
        y_va = y[valid]
        if len(y_va) and 0 < y_va.sum() < len(y_va):
            dvalid = xgb.DMatrix(self._design(x[valid], k[valid]), label=y_va, feature_names=names)
            evals, stop = [(dvalid, "valid")], EARLY_STOPPING
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=self.num_rounds,
            evals=evals,
            early_stopping_rounds=stop,
            verbose_eval=False,
        )
        best = int(booster.best_iteration if stop else booster.num_boosted_rounds() - 1)
        return booster[: best + 1], best

    # ------------------------------------------------------------------------- prediction
    def _booster(self, h: int) -> xgb.Booster:
        return self.boosters_[0] if self.pooled else self.boosters_[h - 1]

    def _matrix(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        frame = data.frame if isinstance(data, FeatureTable) else data
        return self.encoder_.transform(frame)

    def _dmatrix(self, x: np.ndarray, h: int, threads: int) -> xgb.DMatrix:
        names = [f"f{i}" for i in range(len(self.feature_names_))]
        return xgb.DMatrix(self._design(x, h), feature_names=names, nthread=threads)

    def hazards(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        """P(churn in month k | there at its start) for k = 1..horizons_: (rows x horizons_)."""
        frame = data.frame if isinstance(data, FeatureTable) else data
        out = np.zeros((len(frame), self.horizons_))
        if self.horizons_ == 0 or not len(frame):
            return out
        x = self._matrix(frame)
        threads = _threads(len(frame), self.n_jobs)
        for h in range(1, self.horizons_ + 1):
            booster = self._booster(h)
            booster.set_param({"nthread": threads})
            out[:, h - 1] = booster.predict(self._dmatrix(x, h, threads))
        return out

    def survival(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        """P(still a customer at the end of month k), k = 1..horizons_: (rows x horizons_)."""
        return np.cumprod(1.0 - self.hazards(data), axis=1)

    def contributions(self, data: FeatureTable | pd.DataFrame, h: int) -> np.ndarray:
        """TreeSHAP values of the log-odds hazard of month ``h``: (rows x (columns + 1)),
        the last column the bias; a pooled model's horizon column is included."""
        frame = data.frame if isinstance(data, FeatureTable) else data
        threads = self.n_jobs or (os.cpu_count() or 1)
        threads = threads if len(frame) >= PARALLEL_SHAP_ROWS else 1
        booster = self._booster(h)
        booster.set_param({"nthread": threads})
        return booster.predict(self._dmatrix(self._matrix(frame), h, threads), pred_contribs=True)


def lifetime_effects(
    model: SurvivalModel, table: FeatureTable, max_rows: int = 2_000, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Months of expected lifetime (within the modelled horizons) each feature takes away.

    With E = S(1) + ... + S(K) the expected months retained, dE/d(logit h_j) =
    -h_j (S(j) + ... + S(K)); a feature's first-order effect on the months lost is therefore
    the sum over j of h_j (S(j) + ... + S(K)) times its SHAP value in the log-odds of h_j.
    Positive = shortens the expected lifetime, relative to an average customer. A pooled
    model's horizon input is left out (it is the shape of the hazard over time, no driver).
    Computed for a seeded random sample of at most ``max_rows`` rows (kept in table order).

    Returns (effects per source feature, rows x features; the sampled rows' positions; their
    expected months E).
    """
    frame = table.frame
    pos = np.arange(len(frame))
    if len(frame) > max_rows:
        pos = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
    rows = frame.iloc[pos]
    hazard = model.hazards(rows)
    surv = np.cumprod(1.0 - hazard, axis=1)
    tail = np.cumsum(surv[:, ::-1], axis=1)[:, ::-1]  # S(j) + ... + S(K)
    source = model.encoder_.source
    effects = np.zeros((len(rows), len(source)))
    for h in range(1, model.horizons_ + 1):
        contrib = model.contributions(rows, h)[:, : len(source)]
        effects += (hazard[:, h - 1] * tail[:, h - 1])[:, None] * contrib
    starts = np.flatnonzero(np.r_[True, np.array(source[1:]) != np.array(source[:-1])])
    per_feature = np.add.reduceat(effects, starts, axis=1) if len(source) else effects
    names = [source[i] for i in starts]
    return pd.DataFrame(per_feature, columns=names), pos, surv.sum(axis=1)


# ------------------------------------------------------------------------------ flat tables
#: XGBoost survival:cox on a flat table: shallow trees (lifetimes are mostly additive in the
#: log hazard), a small learning rate, fixed rounds (benchmarks/RESULTS.md, "IBM Telco")
LIFETIME_PARAMS: dict = {
    "objective": "survival:cox",
    "eval_metric": "cox-nloglik",
    "tree_method": "hist",
    "max_depth": 2,
    "eta": 0.03,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 5.0,
}
LIFETIME_ROUNDS = 500


class LifetimeModel:
    """XGBoost ``survival:cox`` on one row per customer: duration and churn flag in.

    ``margin`` is the log relative hazard (higher = churns sooner); ``contributions`` are its
    TreeSHAP values, so :func:`churnlab.model.explain.explain` explains it like the churn
    model (a positive value shortens the expected lifetime). Fitted: ``booster_``,
    ``encoder_``, ``feature_names_``, ``best_iteration_``.
    """

    def __init__(
        self, seed: int = 0, params: dict | None = None, num_rounds: int | None = None
    ) -> None:
        self.seed = seed
        self.params = params
        self.num_rounds = num_rounds

    def fit(self, table: FeatureTable, time: np.ndarray, event: np.ndarray) -> LifetimeModel:
        known = ~(np.isnan(time) | np.isnan(event))
        frame = table.frame.loc[known]
        self.encoder_ = Encoder.fit(frame, table.features)
        self.feature_names_ = self.encoder_.columns
        # xgboost's Cox label: the time, negative when censored
        label = np.where(event[known] == 1, time[known], -time[known])
        if not (event[known] == 1).any():
            raise ChurnlabError("Cannot fit a survival model: no row of the table churned.")
        params = {**LIFETIME_PARAMS, **(self.params or {}), "seed": self.seed, "nthread": 1}
        dtrain = self._dmatrix(frame, label)
        rounds = self.num_rounds or LIFETIME_ROUNDS
        self.booster_ = xgb.train(params, dtrain, num_boost_round=rounds)
        self.best_iteration_ = rounds - 1
        return self

    def _dmatrix(self, frame: pd.DataFrame, label: np.ndarray | None = None) -> xgb.DMatrix:
        names = [f"f{i}" for i in range(len(self.feature_names_))]
        return xgb.DMatrix(self.encoder_.transform(frame), label=label, feature_names=names)

    def margin(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        frame = data.frame if isinstance(data, FeatureTable) else data
        return self.booster_.predict(self._dmatrix(frame), output_margin=True)

    def contributions(self, data: FeatureTable | pd.DataFrame) -> np.ndarray:
        frame = data.frame if isinstance(data, FeatureTable) else data
        return self.booster_.predict(self._dmatrix(frame), pred_contribs=True)


#: a numeric feature whose rank correlation with the duration reaches this is a copy of it
LEAK_CORRELATION = 0.9
#: ... and so is one whose ratio to another feature reaches this (total = months x price)
LEAK_RATIO_CORRELATION = 0.95


def duration_leaks(table: FeatureTable, duration: np.ndarray) -> dict[str, str]:
    """Numeric features that are near copies of the duration, each with the evidence in words.

    A feature leaks when its Spearman correlation with the duration is at least
    :data:`LEAK_CORRELATION`, or when its ratio to another numeric feature is (at least
    :data:`LEAK_RATIO_CORRELATION`): a total charged equals months x monthly price, so it
    tells the model how long the customer stayed, which is the answer, not a driver.
    """
    frame = table.frame
    known = ~np.isnan(duration)
    numeric = [c for c in table.features if pd.api.types.is_numeric_dtype(frame[c])]
    values = {c: frame[c].to_numpy("float64", na_value=np.nan)[known] for c in numeric}
    dur = duration[known]
    leaks: dict[str, str] = {}

    def rank_corr(x: np.ndarray) -> float:
        ok = np.isfinite(x)
        if ok.sum() < 10 or np.ptp(x[ok]) == 0 or np.ptp(dur[ok]) == 0:
            return 0.0
        return float(spearmanr(x[ok], dur[ok]).statistic)

    for col in numeric:
        rho = rank_corr(values[col])
        if abs(rho) >= LEAK_CORRELATION:
            leaks[col] = f"its rank correlation with the duration is {rho:.2f}"
    for col in numeric:
        # a total grows with the duration: only features already close to it are tried
        if col in leaks or abs(rank_corr(values[col])) < 0.5:
            continue
        for other in numeric:
            if other == col:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = values[col] / values[other]
            rho = rank_corr(np.where(np.isfinite(ratio), ratio, np.nan))
            if rho >= LEAK_RATIO_CORRELATION:
                leaks[col] = (
                    f"{col} / {other} has a rank correlation of {rho:.2f} with the duration "
                    f"(a total = duration x a rate)"
                )
                break
    return leaks
