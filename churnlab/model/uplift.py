"""Which action helps whom: each retention action's effect per customer (uplift), and its checks.

The learner is a **T-learner on a shared baseline**, on XGBoost. The baseline is a churn
model of the *untreated* outcome, trained on the labelled snapshots without any row that an
action (of either group) could have touched: it has seen no outcome of the experiments, and it
knows every customer, targeted or not. On top of its margin m(x), which enters as a fixed
offset (``base_margin``), small boosters learn from the randomized rows how the held-out and
the treated customers' log-odds differ from it:

    p_control(x) = sigmoid(c(x)),  c(x) = m(x) + h_control(x, action)
    p_treated(x) = sigmoid(c(x) + t_a(x)),  t_a(x) = b_a + w_a . x
    churn prevented by action a = p_control(x) - p_treated(x)

- ``h_control`` learns from every held-out row, with the intended action as a feature (the
  held-out customers of different actions churn alike given their features unless the data
  shows otherwise). The effect is identified by the randomized comparison: both groups share
  the offset, so a baseline that is off among the targeted customers is corrected alike in
  both.
- ``t_a``, the action's effect on the log-odds, learns from the treated rows of action a on
  top of the held-out prediction c(x): a logistic regression with c(x) as its offset and a
  ridge penalty on its weights (:func:`fit_ridge_logit`), so what is learned and shrunk
  toward zero is the *effect* itself, not two separate corrections whose difference carries
  the noise of both. It is linear in the family contributions: a family that raises a
  customer's risk more changes what the action does for them in proportion.
- The corrections see each customer as the baseline explains them: how much each **driver
  family** raises or lowers their log-odds (approximate TreeSHAP per family, summed over the
  family's features). A few hundred randomized rows cannot learn an effect over fifty raw
  features; over six family contributions they can, and the effect reads in the report's own
  terms (a plan review relieves price risk).
- The held-out correction's trees are stumps (depth 1): additive over the families, each tree
  looking at one family. Strong regularisation and early stopping on a seeded fifth of the
  rows (then a refit on all of them) keep it small where the data says little, and the offset
  makes the effect of a customer unlike anyone ever targeted scale with their own risk.

benchmarks/RESULTS.md ("Retention actions") has the variants that were compared (raw
features, per-action held-out models, deeper trees, boosted treated corrections, a sparser
effect) on synthetic truth. A library (CausalML,
scikit-uplift) was not used: neither takes an offset or a representation like this one, and
CausalML brings a second booster stack (docs/actions.md).

The checks: the Qini curve (Radcliffe 2007) of a ranking on randomized rows, its coefficient,
the uplift in the top share, and the same curve on known true effects (synthetic data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xgboost as xgb

from churnlab.features.table import FeatureTable
from churnlab.model.backtest import MAX_TRAIN_ROWS, fit_history
from churnlab.model.booster import ChurnModel

PARAMS: dict = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    "max_depth": 1,
    "eta": 0.05,
    "min_child_weight": 10.0,
    "lambda": 10.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "nthread": 1,
}
ROUNDS = 300
EARLY_STOPPING = 30
#: ridge penalty of the effect's weights, on standardized family contributions: a normal
#: prior of variance 1/RIDGE on each weight, whose pull fades as treated rows accumulate
RIDGE = 30.0
#: randomized rows needed in each group of an action to model its effect
MIN_GROUP = 30


@dataclass(frozen=True)
class Randomized:
    """Rows of a randomized action history, aligned: the features each customer had at the
    snapshot before the action (``rows``), the action, whether it was carried out
    (``treated``; False = held out) and whether the customer churned in the outcome window."""

    rows: FeatureTable
    action: np.ndarray
    treated: np.ndarray
    churned: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.rows.frame)
        if not len(self.action) == len(self.treated) == len(self.churned) == n:
            raise ValueError("rows, action, treated and churned must have the same length")


def fit_baseline(
    table: FeatureTable,
    snapshots: list[str],
    touched: pd.Series,
    seed: int = 0,
    max_rows: int | None = MAX_TRAIN_ROWS,
) -> ChurnModel:
    """The untreated-outcome model: trained on ``snapshots`` without the ``touched`` rows.

    ``touched`` (aligned with ``table.frame``) marks the rows whose label window holds an
    action of either group; the last snapshot validates (early stopping, calibration).
    """
    rows = table.subset(~touched.to_numpy(bool))
    valid = snapshots[-1:] if len(snapshots) >= 2 else None
    train = snapshots[:-1] if valid else snapshots
    return fit_history(rows, train, valid, seed, max_rows)


@dataclass
class UpliftModel:
    """Per action, the churn prevented by carrying it out, for any customer's features.

    ``fit`` learns the held-out correction and the effect on the log-odds of each action with
    at least :data:`MIN_GROUP` rows in both of its groups (``ridge``: the effect's penalty); ``skipped_`` says in words why any
    other action has no model. ``families_`` are the driver families the corrections see.
    """

    baseline: ChurnModel
    seed: int = 0
    params: dict | None = None
    ridge: float = RIDGE
    models_: dict[str, LogitFit] = field(default_factory=dict)
    control_: xgb.Booster | None = None
    intended_: list[str] = field(default_factory=list)
    families_: list[str] = field(default_factory=list)
    skipped_: dict[str, str] = field(default_factory=dict)

    @property
    def actions(self) -> list[str]:
        """The actions that have a model, in name order."""
        return sorted(self.models_)

    def representation(self, rows: FeatureTable) -> tuple[np.ndarray, np.ndarray]:
        """(each row's log-odds contribution of every driver family, the baseline margin).

        Approximate TreeSHAP (per-tree path attribution) of the baseline, summed over each
        family's encoded columns: for a representation it ranks like exact TreeSHAP at the
        cost of a prediction.
        """
        base = self.baseline
        contribs = base.booster_.predict(
            base.dmatrix(rows),
            pred_contribs=True,
            approx_contribs=True,
            iteration_range=base.iteration_range,
        )
        family = np.array([rows.families.get(src, "other") for src in base.encoder_.source])
        if not self.families_:
            self.families_ = sorted(set(family.tolist()))
        x = np.column_stack([contribs[:, :-1][:, family == f].sum(axis=1) for f in self.families_])
        # the contributions and the bias add up to the margin (exactly, as for TreeSHAP)
        return x, contribs.sum(axis=1)

    def fit(self, data: Randomized) -> UpliftModel:
        """Learn the held-out correction and each action's effect from ``data``."""
        self.families_ = []
        x, offset = self.representation(data.rows)
        y = np.asarray(data.churned, dtype=float)
        treated = np.asarray(data.treated, dtype=bool)
        action = np.asarray(data.action).astype(str)
        self.models_, self.skipped_ = {}, {}
        usable = []
        for name in sorted(set(action)):
            sizes = [int(((action == name) & g).sum()) for g in (~treated, treated)]
            if min(sizes) < MIN_GROUP:
                self.skipped_[name] = (
                    f"{sizes[1]:,} treated and {sizes[0]:,} held-out customers; the effect "
                    f"model needs at least {MIN_GROUP} in each group"
                )
            else:
                usable.append(name)
        if not usable:
            return self
        self.intended_ = usable
        held = ~treated & np.isin(action, usable)
        self.control_ = self._correction(
            self._with_intent(x[held], action[held]), y[held], offset[held]
        )
        for name in usable:
            mine = (action == name) & treated
            held_margin = self._control_margin(x[mine], name, offset[mine])
            self.models_[name] = fit_ridge_logit(x[mine], y[mine], held_margin, self.ridge)
        return self

    def _control_margin(self, x: np.ndarray, name: str, offset: np.ndarray) -> np.ndarray:
        """The held-out log-odds c(x) of rows ``x`` had they been held out of action ``name``."""
        held = xgb.DMatrix(self._with_intent(x, name), base_margin=offset)
        return self.control_.predict(held, output_margin=True)

    def _with_intent(self, x: np.ndarray, action) -> np.ndarray:
        """The representation plus one indicator per intended action (held-out model)."""
        action = np.broadcast_to(np.asarray(action).astype(str), (len(x),))
        return np.column_stack([x, *[(action == a).astype(float) for a in self.intended_]])

    def _correction(self, x: np.ndarray, y: np.ndarray, offset: np.ndarray) -> xgb.Booster:
        """A booster on top of the offset: rounds by early stopping on a seeded fifth of the
        rows, then refit on every row with that many rounds."""
        params = {**PARAMS, **(self.params or {}), "seed": self.seed}
        valid = np.random.default_rng(self.seed).random(len(y)) < 0.2
        fit = xgb.DMatrix(x[~valid], label=y[~valid], base_margin=offset[~valid])
        check = xgb.DMatrix(x[valid], label=y[valid], base_margin=offset[valid])
        probe = xgb.train(
            params,
            fit,
            ROUNDS,
            evals=[(check, "valid")],
            early_stopping_rounds=EARLY_STOPPING,
            verbose_eval=False,
        )
        rounds = int(probe.best_iteration) + 1
        return xgb.train(params, xgb.DMatrix(x, label=y, base_margin=offset), rounds)

    def prevented(self, rows: FeatureTable) -> pd.DataFrame:
        """Expected churn prevented by each modelled action for every row of ``rows``:
        P(churn | held out) - P(churn | carried out), one column per action."""
        out = {}
        if self.models_:
            x, offset = self.representation(rows)
            for name in self.actions:
                control = self._control_margin(x, name, offset)
                treated = control + self.models_[name].margin(x)
                out[name] = _sigmoid(control) - _sigmoid(treated)
        return pd.DataFrame(out, index=rows.frame.index, columns=self.actions, dtype=float)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class LogitFit:
    """A logistic regression's shift of the log-odds: ``intercept + weights . (x - mean) / scale``."""

    mean: np.ndarray
    scale: np.ndarray
    intercept: float
    weights: np.ndarray

    def margin(self, x: np.ndarray) -> np.ndarray:
        """The shift of the log-odds for rows ``x`` (added to their offset)."""
        return self.intercept + ((np.asarray(x, float) - self.mean) / self.scale) @ self.weights


def fit_ridge_logit(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray, ridge: float, tol: float = 1e-10
) -> LogitFit:
    """Logistic regression of ``y`` on ``x`` with a fixed ``offset`` and an L2 penalty.

    Maximizes sum(log-likelihood of sigmoid(offset + b + w . z)) - ridge / 2 x |w|^2, z the
    columns of ``x`` standardized (a constant column gets weight 0), the intercept b free.
    Newton's method with step halving: the objective is strictly concave for ridge > 0, so
    it converges to the one optimum, the same bytes for the same inputs.
    """
    x, y, offset = np.asarray(x, float), np.asarray(y, float), np.asarray(offset, float)
    mean = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
    scale = x.std(axis=0) if len(x) else np.ones(x.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    z = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    penalty = np.r_[0.0, np.full(x.shape[1], float(ridge))]

    def objective(w: np.ndarray) -> float:
        eta = offset + z @ w
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)) - 0.5 * penalty @ (w * w))

    w = np.zeros(z.shape[1])
    current = objective(w)
    for _ in range(100):
        p = _sigmoid(offset + z @ w)
        grad = z.T @ (y - p) - penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-12 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        size, trial = 1.0, objective(w + step)
        while trial < current and size > 1e-8:
            size /= 2
            trial = objective(w + size * step)
        if trial < current:  # no step uphill left: at the optimum to rounding
            break
        w, gain, current = w + size * step, trial - current, trial
        if gain <= tol * (1 + abs(current)):
            break
    return LogitFit(mean, scale, float(w[0]), w[1:])


# ------------------------------------------------------------------------------ the checks
def _ranked(score: np.ndarray) -> np.ndarray:
    """Row order by score, highest first; ties keep the input order (deterministic)."""
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")


def qini_curve(churned, treated, score) -> pd.DataFrame:
    """The Qini curve of a ranking on randomized rows (Radcliffe 2007), for churn.

    Contacting the top k rows by ``score``: ``gain`` = churners among the held-out rows of
    the top k, scaled to the number of treated rows there, minus the treated churners, i.e.
    the churners prevented among the treated of the top k (0 while a group is still empty).
    Columns ``k``, ``share`` and ``gain``; row k = 0 is the origin.
    """
    order = _ranked(score)
    y = np.asarray(churned, dtype=float)[order]
    t = np.asarray(treated, dtype=bool)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    c_t, c_c = np.cumsum(y * t), np.cumsum(y * ~t)
    scaled = np.divide(c_c * n_t, n_c, out=np.zeros(len(y)), where=n_c > 0)
    gain = np.where((n_t > 0) & (n_c > 0), scaled - c_t, 0.0)
    k = np.arange(len(y) + 1)
    return pd.DataFrame({"k": k, "share": k / max(len(y), 1), "gain": np.r_[0.0, gain]})


def expected_qini_curve(prevented, score) -> pd.DataFrame:
    """The Qini curve on known effects: ``gain`` = the true churn prevented (sum of
    ``prevented``) among the top k rows by ``score``. Same columns as :func:`qini_curve`."""
    gain = np.cumsum(np.asarray(prevented, dtype=float)[_ranked(score)])
    k = np.arange(len(gain) + 1)
    return pd.DataFrame({"k": k, "share": k / max(len(gain), 1), "gain": np.r_[0.0, gain]})


def qini_coefficient(curve: pd.DataFrame) -> float:
    """Area between a Qini curve and the random ranking's straight line, per row contacted.

    The mean over k = 0..n of (gain(k) - k/n x gain(n)), divided by n: 0 for a ranking no
    better than chance, positive when the top holds more of the effect. Comparable between
    rankings of the same rows (the ratio to the ranking by the true effect is the usual score).
    """
    gain = curve["gain"].to_numpy(float)
    n = len(gain) - 1
    if n <= 0:
        return 0.0
    line = np.arange(n + 1) / n * gain[-1]
    return float(np.mean(gain - line) / n)


def uplift_at(churned, treated, score, share: float = 0.3) -> float | None:
    """Churn rate of the held-out minus that of the treated among the top ``share`` of rows
    by ``score`` (None when a group is empty there)."""
    order = _ranked(score)[: max(1, int(round(share * len(score))))]
    y = np.asarray(churned, dtype=float)[order]
    t = np.asarray(treated, dtype=bool)[order]
    if t.all() or not t.any():
        return None
    return float(y[~t].mean() - y[t].mean())
