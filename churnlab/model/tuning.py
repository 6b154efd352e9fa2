"""A small, seeded hyperparameter search that adapts the default model to the table.

Churn tables differ: a flat table of a few thousand customers with mostly additive signals
wants stumps and strong regularisation, a long history of snapshots wants deeper trees. The
search tries a fixed number of candidates (tree depth, learning rate, minimum child weight,
L2 regularisation): :data:`churnlab.model.booster.DEFAULT_PARAMS` first, a short ladder of
depths (:data:`CORE`), then draws from the seed, trains each with early stopping on the
validation rows the model was given (the temporal validation period; for a table without
one, :data:`INNER_FOLDS` inner folds up to :data:`INNER_FOLD_ROWS` rows, else a 20 % split)
and keeps the shallowest candidate whose validation log-loss is within one standard error of
the lowest (:func:`best_trial`). On inner folds the winner is then trained on every row for
its mean best number of rounds (scaled up to the larger training set) and calibrated on its
out-of-fold margins, as scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` does. The
budget depends only on the data's size, never on the clock: same inputs and seed, same
candidates, same choice, same bytes.

On a temporal validation period (``ChurnModel(tune=True)``; the monthly report's models do
not search by default) the search is the cheap one: the :data:`CORE` candidates only.

Large tables: each candidate learns from a seeded stratified sample of at most
:data:`SEARCH_ROWS` training rows (and is judged on at most :data:`SEARCH_VALID_ROWS`
validation rows), and the chosen parameters are then trained once on every row. Candidates
are independent, so they run two at a time on one thread each; the result does not depend
on that.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

#: what the search draws from (each candidate: one value of each, uniformly)
SPACE: dict[str, tuple[float, ...]] = {
    "max_depth": (1, 2, 3, 4, 5, 6),
    "eta": (0.03, 0.05, 0.1),
    "min_child_weight": (1.0, 5.0, 20.0, 50.0),
    "lambda": (1.0, 5.0, 20.0),
}
#: the tree depth of :data:`churnlab.model.booster.DEFAULT_PARAMS` (a candidate without a
#: ``max_depth`` of its own has it)
DEFAULT_DEPTH = 4
#: candidates tried, the defaults included
CANDIDATES = 8
#: training rows each candidate learns from at most (a seeded stratified sample above it)
SEARCH_ROWS = 40_000
#: validation rows each candidate is judged on at most
SEARCH_VALID_ROWS = 50_000
#: a table without a validation period and at most this many rows is searched on inner folds
#: (every row validates once: a steadier choice than one 20 % split); larger ones on the split
INNER_FOLD_ROWS = 20_000
INNER_FOLDS = 5
#: boosting rounds are scaled so that every learning rate gets the same total step size as
#: the defaults (0.05 x 800 rounds)
STEP_BUDGET = 40.0


@dataclass(frozen=True)
class Trial:
    """One candidate's outcome: its parameters, validation log-loss and best iteration."""

    params: dict
    loss: float
    best_iteration: int
    #: the trained booster (kept only while the search runs, to reuse the winner)
    booster: object = field(default=None, repr=False, compare=False)
    #: inner folds: the out-of-fold margins of every row (to calibrate the winner)
    margin: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the log-loss of every validation row (for the one-standard-error rule)
    row_loss: np.ndarray | None = field(default=None, repr=False, compare=False)


#: tried first, whatever the seed: the defaults and the depth ladder that matters most
#: (stumps for additive signals, deep regularised trees for interactions)
CORE: tuple[dict, ...] = (
    {},
    {"max_depth": 1},
    {"max_depth": 2},
    {"max_depth": 6, "min_child_weight": 20.0, "lambda": 20.0},
)


def candidates(seed: int, n: int = CANDIDATES) -> list[dict]:
    """``n`` parameter overrides: :data:`CORE` (``{}`` = the defaults first), then seeded
    draws from :data:`SPACE`, no repeats."""
    rng = np.random.default_rng([seed, 12])
    out: list[dict] = [dict(c) for c in CORE[:n]]
    keys = sorted(SPACE)
    seen = {tuple(sorted(c.items())) for c in out}
    tries = 0
    while len(out) < n and tries < 1000:
        tries += 1
        draw = {k: SPACE[k][int(rng.integers(len(SPACE[k])))] for k in keys}
        draw = {k: (int(v) if k == "max_depth" else float(v)) for k, v in draw.items()}
        key = tuple(sorted(draw.items()))
        if key not in seen:
            seen.add(key)
            out.append(draw)
    return out


def rounds_for(eta: float) -> int:
    """Boosting rounds for a learning rate: the same total step size for every rate."""
    return int(round(STEP_BUDGET / eta))


def sample_rows(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of at most ``limit`` rows, stratified by ``y``."""
    n = len(y)
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng([seed, 13])
    keep = []
    for label in (0.0, 1.0):
        idx = np.flatnonzero(y == label)
        k = max(1, int(round(limit * len(idx) / n))) if len(idx) else 0
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def run_trials(train_one, trials: list[dict], workers: int = 2) -> list[Trial]:
    """``train_one(params) -> Trial`` for every candidate, ``workers`` at a time, in order."""
    if workers <= 1 or len(trials) <= 1:
        return [train_one(p) for p in trials]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(train_one, trials))


def row_log_loss(y: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Binary log-loss of every row from its log-odds ``margin``."""
    return np.logaddexp(0.0, margin) - y * margin


def depth(params: dict) -> int:
    """A candidate's tree depth (the defaults' when it does not override it)."""
    return int(params.get("max_depth", DEFAULT_DEPTH))


def best_trial(trials: list[Trial]) -> Trial:
    """The shallowest candidate within one standard error of the lowest validation log-loss.

    The one-standard-error rule (Breiman et al., *Classification and Regression Trees*, 1984;
    Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, 7.10): a candidate
    whose mean loss exceeds the best one's by less than the standard error of that
    difference (paired over the same validation rows) is as good as far as the validation
    rows can tell, and the simpler model is the steadier choice. Among those, the shallowest
    trees win, then the lower loss, then the earlier candidate. Without per-row losses: the
    lowest loss, on a tie the earlier candidate (the defaults first).
    """
    best = min(trials, key=lambda t: t.loss)
    if best.row_loss is None or len(best.row_loss) < 2:
        return best
    within = []
    for t in trials:
        if t.row_loss is None:
            continue
        diff = t.row_loss - best.row_loss
        if diff.mean() <= diff.std(ddof=1) / np.sqrt(len(diff)):
            within.append(t)
    return min(within, key=lambda t: (depth(t.params), t.loss))
