"""Driver credit: how much of each customer's churn risk fixing a driver family would remove.

Plain TreeSHAP splits an interaction between a driver and its context between the two: when
onboarding matters only for new customers, tenure (who the customer is, which no team can
change) takes part of the credit for what a poor onboarding causes. Driver credit holds the
context fixed and asks what fixing each *actionable* family would remove (docs/definitions.md,
"Driver credit"):

- **Roles.** Families whose role is *context* (the registry's ``profile``, or what a families
  file names under ``context:``) and *held* features (an actionable family's feature that
  mostly stands for the context, e.g. the absolute amount billed, which is the plan chosen)
  always keep the customer's own values. Every other family, ``other`` included, is
  actionable.
- **Healthy reference** (:func:`healthy_reference`, once per explained population): for each
  actionable feature the one-feature partial dependence (PD) of the model's margin over a
  seeded sample of rows, on a grid of the feature's quantiles (a category: its levels). A
  number's PD is made monotone by isotonic regression in the better-fitting direction (a
  tree model's raw PD is a noisy step function, and its raw minimum would turn noise into
  credit). The healthy level is the least demanding value on the lowest plateau of the
  smoothed PD among the grid values inside the 5-95 % quantiles (never an extreme), or
  "missing" when the PD at missing is lower still (months since the last price increase:
  never); a category's is its lowest-PD level among those held by at least
  :data:`MIN_LEVEL_SHARE` of the rows. A feature whose PD is flat (:data:`INERT`) is never
  changed.
- **Each customer's fixed state** r(x): a feature keeps the customer's value when that is
  already as healthy as the level, else takes the level; a *missing* value always stays
  missing (no rated ticket, no survey answer: nothing to fix; other features of the family
  carry the problem). Fixing never makes a feature worse.
- **Family credit**: the exact Shapley value of the game over actionable families
  v(S) = f(families in S at the customer's values, the others fixed, context as it is), in
  log-odds. It adds up to f(x) - b(x), where b(x) = v(empty) is the customer's *baseline*:
  their risk with every fixable driver fixed. An interaction with the context goes wholly to
  the actionable family; one between two actionable families is split equally. A family
  with no feature away from its reference gets exactly 0 (an inactive family is a dummy
  player), so only a row's k active families play: 2^k coalitions, or, above
  :data:`MAX_EXACT` active families, antithetic pairs of seeded random family orders.
- **Feature credit** inside a family: the mean of "what fixing j alone removes" and "what
  restoring j alone adds to the fixed family", rescaled to add up to the family's credit.
- **Probability**: each customer's credits times one positive factor, the calibrator's secant
  (p(x) - p(b(x))) / (f(x) - f(b(x))), so they add up to p(x) - p(b(x)) and keep their order.
  Shares and reasons use this scale: a customer at 60 % risk weighs more than one at 0.5 %.

**Evaluation.** A tree ensemble's margin is a sum over trees, and a tree depends only on the
columns it splits on. So for an XGBoost model (:mod:`churnlab.model.trees`) one walk of a
tree with x and r(x) side by side finds, for each leaf, the families it needs at the
customer's values and those it needs fixed, which gives that tree's exact Shapley values in
closed form (the sampled orders evaluate their coalitions on the trees). A feature's split
and its PD evaluate only the trees that split on the feature, and a state that differs from
one already walked in that feature alone walks on its own only from the first split where the
two part (the PD: all grid values in one walk). Leaf values are added in float64, so this is
the whole-model evaluation up to the order of float64 sums. Any other booster is evaluated
whole, every coalition one stacked ``inplace_predict``.

Determinism: the PD sample is drawn from ``seed`` in the order of the rows' ids (when given),
quantiles, isotonic fits and the booster's predictions are deterministic, every sum over
coalitions or features is accumulated column by column in a fixed order, and on the trees
each row adds its trees in tree order on its own, so the values do not depend on chunk size
or thread count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import factorial

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from churnlab.core.families import OTHER, context_families
from churnlab.features.table import FeatureTable
from churnlab.model import trees
from churnlab.model.encoding import MISSING_LEVEL, OTHER_LEVEL

#: grid of a number: these quantiles of its known values (plus "missing" when it occurs)
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
#: a number's healthy level lies between these quantiles (never an extreme value)
SPAN = (0.05, 0.95)
#: a category level can be the healthy one only when at least this share of rows holds it
MIN_LEVEL_SHARE = 0.05
#: rows whose partial dependence is averaged (a seeded sample)
PD_ROWS = 2000
#: a feature whose smoothed partial dependence varies by less (log-odds) is never changed
INERT = 1e-3
#: exact Shapley values up to this many active families per row; sampled orders above
MAX_EXACT = 8
#: antithetic pairs of random family orders above MAX_EXACT active families
PERMUTATIONS = 32
#: rows encoded at a time
CHUNK = 20_000
#: rows per stacked prediction matrix (memory: rows x encoded columns x 4 bytes)
BLOCK_ROWS = 500_000


@dataclass(frozen=True)
class FeatureReference:
    """One actionable feature's grid, smoothed partial dependence and healthy level."""

    feature: str
    family: str
    categorical: bool
    #: the feature's encoded columns (one for a number, one per level for a category)
    columns: tuple[int, ...]
    #: numbers (NaN = missing) or level names
    grid: tuple
    #: the smoothed partial dependence at each grid value (log-odds)
    pd: np.ndarray
    #: the healthy level: a grid value (NaN for "missing"), None when nothing is known
    level: object
    #: True when the partial dependence is flat: the feature is never changed
    inert: bool

    @property
    def level_pd(self) -> float:
        """The partial dependence at the healthy level."""
        if self.categorical:
            return float(self.pd[self.grid.index(self.level)])
        return float(_pd_at(self, np.array([self.level], dtype=float))[0])


@dataclass(frozen=True)
class Reference:
    """The healthy reference of a population: every actionable feature, and the roles."""

    features: tuple[FeatureReference, ...]
    #: families kept at the customer's values
    context: tuple[str, ...]
    #: features of actionable families kept at the customer's values
    held: tuple[str, ...]
    pd_rows: int
    seed: int

    @property
    def families(self) -> list[str]:
        """The actionable families, sorted by name."""
        return sorted({r.family for r in self.features})

    def levels(self) -> dict[str, object]:
        """Feature -> its healthy level, as written to metrics.json.

        A number, a level name, ``'(missing)'`` when no value at all is the healthy one, and
        None for a feature that is never changed (its partial dependence is flat).
        """
        out: dict[str, object] = {}
        for r in self.features:
            if r.inert or r.level is None:
                out[r.feature] = None
            elif not r.categorical and np.isnan(r.level):
                out[r.feature] = MISSING_LEVEL
            else:
                out[r.feature] = r.level if r.categorical else float(r.level)
        return out


@dataclass
class DriverCredit:
    """Per-customer driver credit (rows align with the explained frame).

    ``family`` (rows x actionable families) and ``feature`` (rows x actionable features) are
    in log-odds; each row of ``family`` adds up to ``margin - baseline``, and the features of
    a family to the family. ``slope`` turns a row's log-odds credit into churn probability.
    """

    family: pd.DataFrame
    feature: pd.DataFrame
    #: f(x), the model's margin
    margin: np.ndarray
    #: b(x) = f(r(x)): the margin with every fixable driver fixed, context as it is
    baseline: np.ndarray
    #: p(x) and p(b(x)), calibrated churn probabilities
    probability: np.ndarray
    baseline_probability: np.ndarray
    #: churn probability per log-odds of each row: the calibrator's secant
    #: (p(x) - p(b)) / (f(x) - f(b)), its local slope at f(x) where the two coincide
    slope: np.ndarray
    reference: Reference

    def family_probability(self) -> pd.DataFrame:
        """Family credit in churn probability (adds up to p(x) - p(b(x)) per row)."""
        return self.family.mul(self.slope, axis=0)

    def feature_probability(self) -> pd.DataFrame:
        """Feature credit in churn probability (adds up to the family's per row)."""
        return self.feature.mul(self.slope, axis=0)

    def family_of(self) -> dict[str, str]:
        """Actionable feature -> its family."""
        return {r.feature: r.family for r in self.reference.features}


# ------------------------------------------------------------------------------ the model
def _margin(model, x: np.ndarray) -> np.ndarray:
    if not len(x):
        return np.zeros(0)
    out = model.booster_.inplace_predict(
        x, predict_type="margin", iteration_range=model.iteration_range, missing=np.nan
    )
    return np.asarray(out, dtype=np.float64)


def _threads(model) -> int:
    return model.n_jobs or os.cpu_count() or 1


def _stacked_margins(model, make: Callable[[int], np.ndarray], variants: int, n: int):
    """Margins of ``variants`` versions of the same n rows, (n x variants); ``make(k)`` gives
    version k. Versions are stacked into matrices of at most BLOCK_ROWS rows."""
    out = np.empty((n, variants))
    per = max(1, BLOCK_ROWS // max(n, 1))
    for start in range(0, variants, per):
        ks = range(start, min(variants, start + per))
        stacked = np.concatenate([make(k) for k in ks])
        out[:, start : start + len(ks)] = _margin(model, stacked).reshape(len(ks), n).T
    return out


def _encoded_columns(model) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, source in enumerate(model.encoder_.source):
        out.setdefault(source, []).append(i)
    return out


# ------------------------------------------------------------------------------ reference
def _monotone(grid: np.ndarray, pdv: np.ndarray) -> tuple[np.ndarray, bool]:
    """A number's PD made monotone on its known grid values (isotonic, in the direction that
    fits better; ties: increasing), and whether it increases; the missing point is kept."""
    known = ~np.isnan(grid)
    out = pdv.copy()
    if known.sum() < 2:
        return out, True
    best: tuple[float, np.ndarray, bool] | None = None
    for increasing in (True, False):
        fit = IsotonicRegression(increasing=increasing).fit_transform(grid[known], pdv[known])
        sse = float(((fit - pdv[known]) ** 2).sum())
        if best is None or sse < best[0] - 1e-12:
            best = (sse, fit, increasing)
    out[known] = best[1]
    return out, best[2]


def _number_level(grid: np.ndarray, pdv: np.ndarray, increasing: bool, span) -> float | None:
    """Least demanding value on the lowest plateau of the smoothed PD inside ``span``; NaN
    (missing) when the PD at missing is lower than all of them; None when nothing is known."""
    known = ~np.isnan(grid)
    if not known.any():
        return None
    inside = known & (grid >= span[0]) & (grid <= span[1])
    if not inside.any():
        inside = known
    low = pdv[inside].min()
    if (~known).any() and pdv[~known][0] < low:
        return float("nan")
    plateau = grid[inside][pdv[inside] <= low]
    return float(plateau.max() if increasing else plateau.min())


def _category_level(levels: list[str], pdv: np.ndarray, share: np.ndarray) -> str | None:
    """The lowest-PD level held by at least MIN_LEVEL_SHARE of the rows (never the missing or
    the rare-level bucket); None when no level qualifies."""
    ok = [
        i
        for i, lvl in enumerate(levels)
        if lvl not in (MISSING_LEVEL, OTHER_LEVEL) and share[i] >= MIN_LEVEL_SHARE
    ]
    if not ok:
        return None
    return levels[min(ok, key=lambda i: (pdv[i], i))]


def _set_value(x: np.ndarray, cols: list[int], grid: list, categorical: bool, value) -> None:
    """Set one feature (encoded ``cols``) to a grid value in the rows ``x``, in place."""
    if categorical:
        x[:, cols] = 0.0
        x[:, cols[grid.index(value)]] = 1.0
    else:
        x[:, cols[0]] = value


def healthy_reference(
    model,
    frame: pd.DataFrame,
    families: dict[str, str],
    context: Iterable[str] | None = None,
    held: Iterable[str] = (),
    ids: np.ndarray | pd.Series | None = None,
    pd_rows: int = PD_ROWS,
    seed: int = 0,
) -> Reference:
    """Grid, smoothed partial dependence and healthy level of every actionable feature.

    ``families`` maps features to families (unknown features go to ``other``); ``context``
    defaults to the registry's context families (``profile``). ``ids`` fixes the order the
    PD sample is drawn in, so the reference does not depend on the rows' order.
    """
    context = _context(families, context)
    held = tuple(sorted(set(held)))
    columns = _encoded_columns(model)
    x_all = model.encoder_.transform(frame)
    n = len(frame)
    # the sample: seeded positions in id order, kept in id order (so are the PD's sums)
    order = np.arange(n) if ids is None else np.argsort(np.asarray(ids, dtype=str), kind="stable")
    sample = x_all[order[np.sort(np.random.default_rng(seed).permutation(n)[: min(pd_rows, n)])]]
    drafts = []
    for feat in model.encoder_.order:
        fam = families.get(feat, OTHER)
        if fam in context or feat in held:
            continue
        cols = columns[feat]
        if feat in model.encoder_.levels:
            grid: list = list(model.encoder_.levels[feat])
            share = x_all[:, cols].mean(axis=0) if n else np.zeros(len(cols))
            span = None
        else:
            values = x_all[:, cols[0]].astype(np.float64)
            known = values[~np.isnan(values)]
            grid = sorted(set(np.quantile(known, QUANTILES).tolist())) if len(known) else []
            span = tuple(np.quantile(known, SPAN).tolist()) if len(known) else None
            if np.isnan(values).any():
                grid.append(float("nan"))
            share = None
        drafts.append((feat, fam, cols, grid, share, span))
    pd_all = _partial_dependence(model, sample, drafts)
    refs, pos = [], 0
    for feat, fam, cols, grid, share, span in drafts:
        raw = pd_all[pos : pos + len(grid)]
        pos += len(grid)
        categorical = feat in model.encoder_.levels
        if categorical:
            smooth, level = raw, _category_level(grid, raw, share)
        else:
            g = np.array(grid, dtype=float)
            smooth, increasing = _monotone(g, raw)
            level = _number_level(g, smooth, increasing, span) if span else None
        inert = bool(not len(grid) or smooth.max() - smooth.min() < INERT or level is None)
        refs.append(
            FeatureReference(feat, fam, categorical, tuple(cols), tuple(grid), smooth, level, inert)
        )
    return Reference(tuple(refs), tuple(sorted(context)), held, len(sample), seed)


def _partial_dependence(model, sample: np.ndarray, drafts: list) -> np.ndarray:
    """The PD of every (feature, grid value) of ``drafts``, in that order: the mean margin of
    the sample with the feature set to the value. On a tree ensemble only the trees that
    split on the feature are evaluated again; the others' sum is the row's own."""
    categorical = model.encoder_.levels
    jobs = [(d, g) for d in drafts for g in d[3]]
    if not jobs or not len(sample):
        return np.zeros(len(jobs))
    ens = trees.ensemble(model)
    if ens is None:

        def version(k: int) -> np.ndarray:
            (feat, _, cols, grid, *_), value = jobs[k]
            return _with_value(sample, cols, grid, feat in categorical, value)

        return _stacked_margins(model, version, len(jobs), len(sample)).mean(axis=0)
    threads = _threads(model)
    whole = trees.margin(ens, sample, threads=threads)
    out = []
    for feat, _, cols, grid, *_ in drafts:
        if not grid:
            continue
        users = ens.users(cols)
        rest = whole - trees.margin(ens, sample, users, threads)
        if len(grid) > 62:  # more levels than a grid mask holds: one version per level
            stacked = np.concatenate(
                [_with_value(sample, cols, grid, feat in categorical, g) for g in grid]
            )
            own = trees.margin(ens, stacked, users, threads).reshape(len(grid), -1).T
        else:
            values = np.stack(
                [_with_value(sample[:1], cols, grid, feat in categorical, g)[0, cols] for g in grid]
            )
            own = trees.grid_margins(ens, sample, users, cols, values, threads)
        out.append((rest[:, None] + own).mean(axis=0))
    return np.concatenate(out)


def _with_value(x: np.ndarray, cols: list[int], grid: list, categorical: bool, value):
    block = x.copy()
    _set_value(block, cols, grid, categorical, value)
    return block


def _context(families: dict[str, str], context: Iterable[str] | None) -> frozenset[str]:
    if context is None:
        return context_families(set(families.values()))
    return frozenset(context)


def _pd_at(ref: FeatureReference, values: np.ndarray) -> np.ndarray:
    """A number's smoothed PD at any values (linear between grid values, clamped)."""
    grid = np.array(ref.grid, dtype=float)
    known = ~np.isnan(grid)
    out = np.interp(values, grid[known], ref.pd[known])
    out[np.isnan(values)] = ref.pd[~known][0] if (~known).any() else np.inf
    return out


def fixed_rows(x: np.ndarray, reference: Reference) -> np.ndarray:
    """Each encoded row's fixed state r(x) (see the module docstring)."""
    r = x.copy()
    for ref in reference.features:
        if ref.inert:
            continue
        best = ref.level_pd
        cols = list(ref.columns)
        if ref.categorical:
            block = x[:, cols]
            own = np.where(block.max(axis=1) > 0, block.argmax(axis=1), -1)
            own_pd = np.where(own >= 0, ref.pd[np.maximum(own, 0)], np.inf)
            if MISSING_LEVEL in ref.grid:  # a missing category stays missing
                own_pd[own == ref.grid.index(MISSING_LEVEL)] = -np.inf
            fix = own_pd > best
            r[np.ix_(fix, cols)] = 0.0
            r[fix, cols[ref.grid.index(ref.level)]] = 1.0
        else:
            own = x[:, cols[0]].astype(np.float64)
            fix = (_pd_at(ref, own) > best) & ~np.isnan(own)  # missing stays missing
            r[fix, cols[0]] = ref.level
    return r


# ---------------------------------------------------------------------------- the game
def _changed(x: np.ndarray, r: np.ndarray, cols: list[int]) -> np.ndarray:
    """Rows whose fixed state differs from their own values in any of ``cols``."""
    a, b = x[:, cols], r[:, cols]
    return np.any((a != b) & ~(np.isnan(a) & np.isnan(b)), axis=1)


def _rowsum(a: np.ndarray) -> np.ndarray:
    """Row sums added column by column, left to right: the same bits for any row count."""
    out = np.zeros(len(a))
    for j in range(a.shape[1]):
        out += a[:, j]
    return out


def _coalitions(model, x, r, fam_cols, masks: list[int]) -> np.ndarray:
    """v(S) for every coalition in ``masks`` (bit a set: family a at the row's own values)."""

    def version(k: int) -> np.ndarray:
        z = r.copy()
        for a, cols in enumerate(fam_cols):
            if masks[k] >> a & 1:
                z[:, cols] = x[:, cols]
        return z

    return _stacked_margins(model, version, len(masks), len(x))


def _family_shapley(values: Callable[[list[int]], np.ndarray], n: int, f: int,
                    permutations: int, max_exact: int, seed: int):  # fmt: skip
    """Shapley values over f families for n rows (every family active), with f(x), b(x) and
    f(x with family a fixed) per family: (phi, v_full, v_empty, v_fixed). ``values(masks)``
    gives v(S) of the rows for every coalition in ``masks`` (rows x masks)."""
    full = (1 << f) - 1
    phi = np.zeros((n, f))
    if f <= max_exact:
        masks = list(range(1 << f))
        v = values(masks)
        weight = [factorial(s) * factorial(f - s - 1) / factorial(f) for s in range(f)]
        for a in range(f):  # explicit accumulation in a fixed order: the same bits always
            for k in masks:
                if not k >> a & 1:
                    phi[:, a] += weight[k.bit_count()] * (v[:, k | 1 << a] - v[:, k])
        at = {m: m for m in masks}
    else:
        rng = np.random.default_rng(seed)
        orders = []
        for _ in range(permutations):
            o = rng.permutation(f)
            orders += [o, o[::-1]]
        needed = {0, full} | {full ^ 1 << a for a in range(f)}
        for o in orders:
            m = 0
            for a in o:
                m |= 1 << int(a)
                needed.add(m)
        masks = sorted(needed)
        at = {m: i for i, m in enumerate(masks)}
        v = values(masks)
        for o in orders:
            m = 0
            for a in o:
                nxt = m | 1 << int(a)
                phi[:, a] += v[:, at[nxt]] - v[:, at[m]]
                m = nxt
        phi /= len(orders)
    fixed = np.column_stack([v[:, at[full ^ 1 << a]] for a in range(f)])
    return phi, v[:, at[full]], v[:, at[0]], fixed


def _active(x, r, fam_cols) -> np.ndarray:
    """Each row's bit mask of active families (a feature away from its fixed state)."""
    active = np.zeros(len(x), dtype=np.int64)
    for a, cols in enumerate(fam_cols):
        active |= _changed(x, r, cols).astype(np.int64) << a
    return active


def _grouped_shapley(model, x, r, fam_cols, permutations: int, max_exact: int, seed: int):
    """:func:`_family_shapley` per group of rows with the same *active* families (a feature
    away from its reference): an inactive family is a dummy player (credit 0, the others'
    values unchanged), so a row with k active families costs 2^k evaluations. On a tree
    ensemble, rows with at most ``max_exact`` active families take the exact values from one
    walk of each tree (:func:`churnlab.model.trees.family_game`)."""
    n, f = len(x), len(fam_cols)
    active = _active(x, r, fam_cols)
    phi, v_fixed = np.zeros((n, f)), np.zeros((n, f))
    v_full, v_empty = np.zeros(n), np.zeros(n)
    ens = trees.ensemble(model) if f < 63 else None
    col_fam = np.full(x.shape[1], -1, dtype=np.int64)
    for a, cols in enumerate(fam_cols):
        col_fam[cols] = a
    if ens is not None:
        exact = np.flatnonzero(_popcount(active) <= max_exact)
        phi[exact], v_full[exact], v_empty[exact], v_fixed[exact] = trees.family_game(
            ens, x[exact], r[exact], col_fam, active[exact], f, _threads(model)
        )
        active_left = np.where(_popcount(active) <= max_exact, -1, active)
    else:
        active_left = active
    for mask in np.unique(active_left[active_left >= 0]):  # sorted: a fixed order
        rows = np.flatnonzero(active_left == mask)
        act = [a for a in range(f) if mask >> a & 1]
        if not act:
            m = _margin(model, x[rows])
            v_full[rows], v_empty[rows], v_fixed[rows] = m, m, m[:, None]
            continue
        xs, rs = x[rows], r[rows]
        if ens is not None:

            def values(masks, xs=xs, rs=rs, act=act):
                wide = [sum(1 << act[a] for a in range(len(act)) if m >> a & 1) for m in masks]
                return trees.coalitions(ens, xs, rs, col_fam, wide, _threads(model))
        else:

            def values(masks, xs=xs, rs=rs, act=act):
                return _coalitions(model, xs, rs, [fam_cols[a] for a in act], masks)

        p, vf, v0, fx = _family_shapley(values, len(rows), len(act), permutations, max_exact, seed)
        phi[np.ix_(rows, act)] = p
        v_full[rows], v_empty[rows], v_fixed[rows] = vf, v0, vf[:, None]
        v_fixed[np.ix_(rows, act)] = fx
    return phi, v_full, v_empty, v_fixed


def _popcount(m: np.ndarray) -> np.ndarray:
    return np.array([int(v).bit_count() for v in m], dtype=np.int64)


def _feature_split(model, x, r, fam_feats, refs, phi, v_full, v_fixed) -> np.ndarray:
    """(rows x features) credit inside each family, rescaled to add up to the family's.

    psi_j = ((f(x) - f(x, j fixed)) + (f(x, family fixed but j) - f(x, family fixed))) / 2,
    the average of j's first and last position in the family (exact for features that
    interact at most in pairs). Only rows where j and at least one other feature of its
    family are away from their reference are evaluated: a feature that is the only one moved
    in its family gets the family's credit, the others 0.
    """
    n = len(x)
    out = np.zeros((n, len(refs)))
    fam_cols = [sorted(c for j in js for c in refs[j].columns) for js in fam_feats]
    moved = np.zeros((n, len(refs)), dtype=bool)
    for j, ref in enumerate(refs):
        moved[:, j] = _changed(x, r, list(ref.columns))
    ens = trees.ensemble(model)
    if ens is not None:  # only the trees that split on a feature; flips share their walks
        several = [moved[:, js].sum(axis=1) >= 2 for js in fam_feats]
        rows = np.flatnonzero(np.logical_or.reduce(several)) if several else np.zeros(0, int)
        col_feat = np.full(x.shape[1], -1, dtype=np.int64)
        for j, ref in enumerate(refs):
            col_feat[list(ref.columns)] = j
        threads = _threads(model)
        actionable = np.flatnonzero(col_feat >= 0)
        d_last = trees.feature_flips(
            ens, x, r, rows, ens.users(actionable), col_feat, False, threads
        )
        for a, js in enumerate(fam_feats):
            pick = np.flatnonzero(several[a][rows])
            if not len(pick):
                continue
            own = np.where(np.isin(col_feat, js), col_feat, -1)  # the family's columns
            d_first = trees.feature_flips(
                ens, x, r, rows[pick], ens.users(fam_cols[a]), own, True, threads
            )
            out[np.ix_(rows[pick], js)] = 0.5 * (d_last[np.ix_(pick, js)] + d_first[:, js])
    else:
        _feature_split_margins(model, x, r, refs, fam_feats, moved, v_full, v_fixed, out)
    for a, js in enumerate(fam_feats):
        psi = out[:, js]
        rest = phi[:, a] - _rowsum(psi)
        weight = np.abs(psi)
        flat = _rowsum(weight) <= 0  # every psi 0 but the family's credit not: spread evenly
        weight[flat] = moved[np.ix_(flat, js)]
        total = _rowsum(weight)
        share = np.divide(
            weight, total[:, None], out=np.zeros_like(weight), where=total[:, None] > 0
        )
        out[:, js] = psi + rest[:, None] * share
    return out


def _feature_split_margins(model, x, r, refs, fam_feats, moved, v_full, v_fixed, out) -> None:
    """:func:`_feature_split`'s psi from the model's own predictions (any booster), two
    stacked evaluations per feature and row."""
    fam_cols = [sorted(c for j in js for c in refs[j].columns) for js in fam_feats]
    jobs = []  # (feature, family, rows)
    for a, js in enumerate(fam_feats):
        several = moved[:, js].sum(axis=1) >= 2
        for j in js:
            rows = np.flatnonzero(moved[:, j] & several)
            if len(rows):
                jobs.append((j, a, rows))
    k = 0
    while k < len(jobs):
        batch, size = [], 0
        while k < len(jobs) and (not batch or size + 2 * len(jobs[k][2]) <= BLOCK_ROWS):
            batch.append(jobs[k])
            size += 2 * len(jobs[k][2])
            k += 1
        parts = []
        for j, a, rows in batch:
            cols = list(refs[j].columns)
            last = x[rows]  # everything as it is, feature j fixed
            last[:, cols] = r[np.ix_(rows, cols)]
            first = x[rows]  # family a fixed except feature j
            first[:, fam_cols[a]] = r[np.ix_(rows, fam_cols[a])]
            first[:, cols] = x[np.ix_(rows, cols)]
            parts += [last, first]
        m = _margin(model, np.concatenate(parts))
        pos = 0
        for j, a, rows in batch:
            v_last, v_first = m[pos : pos + len(rows)], m[pos + len(rows) : pos + 2 * len(rows)]
            pos += 2 * len(rows)
            out[rows, j] = 0.5 * ((v_full[rows] - v_last) + (v_first - v_fixed[rows, a]))


def driver_credit(
    model,
    frame: pd.DataFrame,
    families: dict[str, str],
    context: Iterable[str] | None = None,
    held: Iterable[str] = (),
    ids: np.ndarray | pd.Series | None = None,
    reference: Reference | None = None,
    seed: int = 0,
    chunk: int = CHUNK,
    max_exact: int = MAX_EXACT,
    permutations: int = PERMUTATIONS,
) -> DriverCredit:
    """Family and feature credit of every row of ``frame`` under ``model`` (see the module).

    ``model`` is a fitted :class:`~churnlab.model.ChurnModel`. ``context`` (families) and
    ``held`` (features) keep the customer's values; ``context`` defaults to the registry's
    context families. Without ``reference``, the healthy reference is computed from
    ``frame`` itself (:func:`healthy_reference` with ``ids`` and ``seed``).
    """
    if reference is None:
        reference = healthy_reference(model, frame, families, context, held, ids, seed=seed)
    refs = reference.features
    names = reference.families
    fam_feats = [[j for j, r in enumerate(refs) if r.family == name] for name in names]
    fam_cols = [sorted(c for j in js for c in refs[j].columns) for js in fam_feats]
    n = len(frame)
    phi, feat = np.zeros((n, len(names))), np.zeros((n, len(refs)))
    margin, base = np.zeros(n), np.zeros(n)
    model.booster_.set_param({"nthread": _threads(model)})
    for lo in range(0, n, chunk):
        x = model.encoder_.transform(frame.iloc[lo : lo + chunk])
        r = fixed_rows(x, reference)
        hi = lo + len(x)
        p, v_full, v_empty, v_fixed = _grouped_shapley(
            model, x, r, fam_cols, permutations, max_exact, seed
        )
        phi[lo:hi], margin[lo:hi], base[lo:hi] = p, v_full, v_empty
        feat[lo:hi] = _feature_split(model, x, r, fam_feats, refs, p, v_full, v_fixed)
    prob, base_prob = model.calibrator_(margin), model.calibrator_(base)
    return DriverCredit(
        family=pd.DataFrame(phi, columns=names),
        feature=pd.DataFrame(feat, columns=[r.feature for r in refs]),
        margin=margin,
        baseline=base,
        probability=prob,
        baseline_probability=base_prob,
        slope=_secant(model.calibrator_, margin, base, prob, base_prob),
        reference=reference,
    )


#: below this gap (log-odds) between margin and baseline the calibrator's local slope is used
SECANT_GAP = 1e-6


def _secant(calibrator, margin, base, prob, base_prob) -> np.ndarray:
    """Probability per log-odds between baseline and margin; where the two (nearly) coincide,
    the calibrator's local slope, so that credits that cancel out keep their signs."""
    gap = margin - base
    wide = np.abs(gap) > SECANT_GAP
    out = np.divide(prob - base_prob, gap, out=np.zeros_like(gap), where=wide)
    if (~wide).any():
        m = margin[~wide]
        out[~wide] = (calibrator(m + 1e-3) - calibrator(m - 1e-3)) / 2e-3
    return out


def table_credit(
    model, table: FeatureTable, reference: Reference | None = None, seed: int = 0
) -> DriverCredit:
    """:func:`driver_credit` of every row of a feature table, with the table's families,
    context families and held features (and its ids fixing the PD sample's order)."""
    return driver_credit(
        model,
        table.frame,
        table.families,
        context=table.context_families,
        held=table.held_features,
        ids=table.frame[table.id_col],
        reference=reference,
        seed=seed,
    )
