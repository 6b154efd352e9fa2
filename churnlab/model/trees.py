"""A fitted XGBoost model's trees as flat arrays, evaluated in float64 (for driver credit).

XGBoost adds its trees' leaf values in float32, so the margin of a sum of sub-models is not
the margin of the whole model to better than about 1e-5 log-odds. Driver credit
(:mod:`churnlab.model.credit`) evaluates many states of each row that differ in a few
features, and most trees do not look at those features; here every tree's leaf value is added
in float64, in tree order, so a sum over any subset of trees is exact up to float64 rounding
and trees that do not see a change cancel exactly.

The kernels are compiled with numba (a dependency of shap) and release the GIL; rows are split
into contiguous blocks that run on ``threads`` Python threads. Every row is computed on its
own, in a fixed order, so results are the same bits for any block size or thread count.

A tree goes left when ``value < threshold`` (float32, as XGBoost compares) and follows its
default direction when the value is missing (NaN).
"""

from __future__ import annotations

import json
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import factorial

import numpy as np
from numba import njit

#: rows per block handed to one thread
BLOCK = 2048
#: rows that walk the trees together inside a kernel
GROUP = 64


@dataclass(frozen=True)
class Ensemble:
    """The trees of a model up to its best iteration, as flat arrays (nodes of all trees)."""

    #: margin offset (log-odds of the stored base score)
    offset: float
    #: first node of each tree, and one past the last node (len = trees + 1)
    start: np.ndarray
    #: per node: left and right child (global node index; -1 at a leaf), encoded column
    left: np.ndarray
    right: np.ndarray
    column: np.ndarray
    #: per node: split threshold (float32), missing goes left, leaf value (float64)
    threshold: np.ndarray
    default_left: np.ndarray
    value: np.ndarray
    #: deepest tree (edges from root to leaf)
    depth: int

    @property
    def trees(self) -> int:
        return len(self.start) - 1

    def columns_of(self, tree: int) -> set[int]:
        """The encoded columns tree ``tree`` splits on."""
        lo, hi = self.start[tree], self.start[tree + 1]
        inner = self.left[lo:hi] >= 0
        return set(self.column[lo:hi][inner].tolist())

    def users(self, columns) -> np.ndarray:
        """The trees (in order) that split on any of ``columns``."""
        cols = set(columns)
        return np.array([t for t in range(self.trees) if self.columns_of(t) & cols], np.int64)


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ensemble(model) -> Ensemble | None:
    """The :class:`Ensemble` of a fitted model's XGBoost booster (trees up to
    ``model.iteration_range``), cached per booster; None when the model's booster is not a
    tree booster XGBoost can dump (then callers use the booster's own predictions)."""
    booster = model.booster_
    try:
        import xgboost as xgb
    except ImportError:  # pragma: no cover - xgboost is a dependency
        return None
    if not isinstance(booster, xgb.Booster):
        return None
    key = tuple(model.iteration_range)
    per = _CACHE.setdefault(booster, {})
    if key not in per:
        per[key] = _from_json(json.loads(bytes(booster.save_raw("json"))), key)
    return per[key]


def _from_json(raw: dict, iteration_range: tuple[int, int]) -> Ensemble | None:
    learner = raw["learner"]
    booster = learner["gradient_booster"]
    param = learner["learner_model_param"]
    objective = learner.get("objective", {}).get("name")
    if (
        booster.get("name") != "gbtree"
        or objective != "binary:logistic"
        or int(param.get("num_class", "0")) > 1
        or int(param.get("num_target", "1")) != 1
    ):
        return None
    model = booster["model"]
    trees = model["trees"]
    indptr = model.get("iteration_indptr") or list(range(len(trees) + 1))
    lo, hi = iteration_range
    hi = min(hi, len(indptr) - 1) if hi > 0 else len(indptr) - 1
    chosen = trees[indptr[lo] : indptr[hi]]
    if any(
        any(t.get("split_type", [])) or int(t["tree_param"].get("size_leaf_vector", "1")) > 1
        for t in chosen
    ):
        return None  # categorical splits or vector leaves: not handled here
    # binary:logistic stores the base score as a probability; the margin starts at its logit
    base = float(np.float32(param["base_score"].strip("[]")))
    offset = float(np.log(base / (1.0 - base)))
    start, left, right, column, thr, dleft, value = [0], [], [], [], [], [], []
    depth = 0
    for t in chosen:
        first = start[-1]
        lc = np.asarray(t["left_children"], dtype=np.int64)
        rc = np.asarray(t["right_children"], dtype=np.int64)
        leaf = lc < 0
        left.append(np.where(leaf, -1, lc + first))
        right.append(np.where(leaf, -1, rc + first))
        column.append(np.asarray(t["split_indices"], dtype=np.int64))
        cond = np.asarray(t["split_conditions"], dtype=np.float32)
        thr.append(cond)
        dleft.append(np.asarray(t["default_left"], dtype=np.bool_))
        value.append(np.where(leaf, cond.astype(np.float64), 0.0))
        start.append(first + len(lc))
        depth = max(depth, _depth(lc, rc))

    def cat(parts):
        return np.concatenate(parts) if parts else np.zeros(0)

    return Ensemble(
        offset=offset,
        start=np.asarray(start, dtype=np.int64),
        left=cat(left).astype(np.int64),
        right=cat(right).astype(np.int64),
        column=cat(column).astype(np.int64),
        threshold=cat(thr).astype(np.float32),
        default_left=cat(dleft).astype(np.bool_),
        value=cat(value).astype(np.float64),
        depth=depth,
    )


def _depth(lc: np.ndarray, rc: np.ndarray) -> int:
    out, level = 0, [0]
    while level:
        nxt = [c for n in level for c in (lc[n], rc[n]) if c >= 0]
        if nxt:
            out += 1
        level = nxt
    return out


# ------------------------------------------------------------------------------ threads
def _threads(threads: int | None) -> int:
    return max(1, threads or os.cpu_count() or 1)


def _blocks(n: int, threads: int, run) -> None:
    """``run(lo, hi)`` over contiguous row blocks, on ``threads`` threads."""
    spans = [(lo, min(n, lo + BLOCK)) for lo in range(0, n, BLOCK)]
    if threads <= 1 or len(spans) <= 1:
        for lo, hi in spans:
            run(lo, hi)
        return
    with ThreadPoolExecutor(max_workers=min(threads, len(spans))) as pool:
        for _ in pool.map(lambda s: run(*s), spans):
            pass


# ------------------------------------------------------------------------------ margins
@njit(cache=True, nogil=True)
def _left(v, node, threshold, default_left):
    """Whether value ``v`` goes left at ``node`` (missing: the default direction)."""
    return default_left[node] if np.isnan(v) else v < threshold[node]


@njit(cache=True, nogil=True)
def _leaf(x, i, node, left, right, column, threshold, default_left):
    while left[node] >= 0:
        node = (
            left[node] if _left(x[i, column[node]], node, threshold, default_left) else right[node]
        )
    return node


@njit(cache=True, nogil=True)
def _margin_kernel(x, lo, hi, trees, start, left, right, column, threshold, dleft, value, out):
    # rows in small groups, trees inside: a tree's nodes stay in cache for the group; every
    # row still adds its trees in tree order
    for g in range(lo, hi, GROUP):
        end = min(hi, g + GROUP)
        for i in range(g, end):
            out[i] = 0.0
        for t in trees:
            for i in range(g, end):
                out[i] += value[_leaf(x, i, start[t], left, right, column, threshold, dleft)]


def margin(ens: Ensemble, x: np.ndarray, trees: np.ndarray | None = None, threads=None):
    """The sum of the leaf values of ``trees`` (default: all, plus the offset) for the rows
    of the encoded matrix ``x``, in float64."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    whole = trees is None
    trees = np.arange(ens.trees, dtype=np.int64) if whole else np.asarray(trees, np.int64)
    out = np.zeros(len(x))
    args = (ens.start, ens.left, ens.right, ens.column, ens.threshold, ens.default_left)

    def run(lo, hi):
        _margin_kernel(x, lo, hi, trees, *args, ens.value, out)

    _blocks(len(x), _threads(threads), run)
    return out + ens.offset if whole else out


# ------------------------------------------------------------------- the family game
@njit(cache=True, nogil=True)
def _popcount(m):
    c = 0
    while m:
        m &= m - 1
        c += 1
    return c


@njit(cache=True, nogil=True)
def _game_kernel(
    x, r, lo, hi, active, col_fam, nfam, start, left, right, column, threshold, dleft, value,
    w_in, w_out, stack_node, stack_in, stack_out, phi, v_full, v_empty, v_fixed,
):  # fmt: skip
    """Exact Shapley values of v(S) = f(families in S at x, the others at r) per row.

    A tree's value under S is the leaf its path reaches; walking the tree once with both x
    and r, a split where the two go different ways on family a leads to the x side when a is
    in S and the r side when not. Each leaf is thus reached exactly by the coalitions holding
    the set X of families it needs at x and none of the set R it needs at r: the game
    [X <= S, R & S = 0], whose Shapley value is (p-1)! q! / (p+q)! for each of X's p
    families and -p! (q-1)! / (p+q)! for each of R's q (independent of the other players).
    """
    for i in range(lo, hi):
        act = active[i]
        for t in range(len(start) - 1):
            top = 0
            stack_node[0], stack_in[0], stack_out[0] = start[t], 0, 0
            top = 1
            while top > 0:
                top -= 1
                node, xin, xout = stack_node[top], stack_in[top], stack_out[top]
                while left[node] >= 0:
                    c = column[node]
                    ga = _left(x[i, c], node, threshold, dleft)
                    gb = _left(r[i, c], node, threshold, dleft)
                    na = left[node] if ga else right[node]
                    if ga == gb:
                        node = na
                        continue
                    if col_fam[c] < 0:  # not a family's column: x and r agree there
                        node = na
                        continue
                    nb = left[node] if gb else right[node]
                    bit = np.int64(1) << col_fam[c]
                    if xin & bit:
                        node = na
                    elif xout & bit:
                        node = nb
                    else:  # both: the x side now, the r side later
                        stack_node[top], stack_in[top], stack_out[top] = nb, xin, xout | bit
                        top += 1
                        xin |= bit
                        node = na
                w = value[node]
                p, q = _popcount(xin), _popcount(xout)
                if p or q:
                    for f in range(nfam):
                        bit = np.int64(1) << f
                        if xin & bit:
                            phi[i, f] += w * w_in[p, q]
                        elif xout & bit:
                            phi[i, f] -= w * w_out[p, q]
                if xin == 0:
                    v_empty[i] += w
                if xout == 0:
                    v_full[i] += w
                    for f in range(nfam):  # v(active but f): reached when f is not needed at x
                        bit = np.int64(1) << f
                        if act & bit and not xin & bit:
                            v_fixed[i, f] += w
                elif q == 1 and not xin & xout:
                    for f in range(nfam):
                        if xout == np.int64(1) << f:
                            v_fixed[i, f] += w
        for f in range(nfam):
            if not act & np.int64(1) << f:
                v_fixed[i, f] = v_full[i]


def _weights(size: int) -> tuple[np.ndarray, np.ndarray]:
    w_in, w_out = np.zeros((size + 1, size + 1)), np.zeros((size + 1, size + 1))
    for p in range(size + 1):
        for q in range(size + 1 - p):
            if p:
                w_in[p, q] = factorial(p - 1) * factorial(q) / factorial(p + q)
            if q:
                w_out[p, q] = factorial(p) * factorial(q - 1) / factorial(p + q)
    return w_in, w_out


def family_game(ens: Ensemble, x, r, col_fam: np.ndarray, active: np.ndarray, nfam: int,
                threads=None):  # fmt: skip
    """Exact Shapley values over families for every row: (phi, v_full, v_empty, v_fixed).

    ``col_fam`` gives each encoded column's family (0..nfam-1, or -1: x and r agree there);
    ``active`` each row's bit mask of families with a feature away from its fixed state.
    v_fixed[:, f] = v(active families but f), f(x) for an inactive f.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    r = np.ascontiguousarray(r, dtype=np.float32)
    n = len(x)
    phi, v_fixed = np.zeros((n, nfam)), np.zeros((n, nfam))
    v_full, v_empty = np.full(n, ens.offset), np.full(n, ens.offset)
    size = max(ens.depth, 1)
    w_in, w_out = _weights(size)
    col_fam = np.asarray(col_fam, dtype=np.int64)
    active = np.asarray(active, dtype=np.int64)
    nodes = max(len(ens.left), 1)
    v_fixed[:] = ens.offset

    def run(lo, hi):
        stacks = (np.zeros(nodes, np.int64), np.zeros(nodes, np.int64), np.zeros(nodes, np.int64))
        _game_kernel(
            x, r, lo, hi, active, col_fam, nfam, ens.start, ens.left, ens.right, ens.column,
            ens.threshold, ens.default_left, ens.value, w_in, w_out, *stacks,
            phi, v_full, v_empty, v_fixed,
        )  # fmt: skip

    _blocks(n, _threads(threads), run)
    return phi, v_full, v_empty, v_fixed


@njit(cache=True, nogil=True)
def _states_kernel(x, r, rows, lo, hi, trees, take_r, start, left, right, column, threshold,
                   dleft, value, out):  # fmt: skip
    for k in range(lo, hi):
        i = rows[k]
        for s in range(take_r.shape[0]):
            acc = 0.0
            for t in trees:
                node = start[t]
                while left[node] >= 0:
                    c = column[node]
                    v = r[i, c] if take_r[s, c] else x[i, c]
                    node = left[node] if _left(v, node, threshold, dleft) else right[node]
                acc += value[node]
            out[k, s] = acc


def states(ens: Ensemble, x, r, rows, trees, take_r: np.ndarray, threads=None) -> np.ndarray:
    """Leaf sums of ``trees`` (no offset) for rows ``rows`` in states s = 0..S-1: column c at
    r where ``take_r[s, c]``, else at x; (len(rows) x S)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    r = np.ascontiguousarray(r, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    trees = np.asarray(trees, dtype=np.int64)
    take_r = np.ascontiguousarray(take_r, dtype=np.bool_)
    out = np.zeros((len(rows), len(take_r)))
    args = (ens.start, ens.left, ens.right, ens.column, ens.threshold, ens.default_left)

    def run(lo, hi):
        _states_kernel(x, r, rows, lo, hi, trees, take_r, *args, ens.value, out)

    _blocks(len(rows), _threads(threads), run)
    return out


def coalitions(ens: Ensemble, x, r, col_fam, masks, threads=None) -> np.ndarray:
    """v(S) for every mask S (bit f set: family f at x, else at r), rows x masks; ``col_fam``
    as in :func:`family_game`."""
    col_fam = np.asarray(col_fam, dtype=np.int64)
    bit = np.int64(1) << np.maximum(col_fam, 0)
    take_r = np.array([(col_fam < 0) | (np.int64(m) & bit == 0) for m in masks], dtype=bool)
    every = np.arange(ens.trees, dtype=np.int64)
    return (
        states(ens, x, r, np.arange(len(x)), every, take_r.reshape(len(masks), -1), threads)
        + ens.offset
    )


@njit(cache=True, nogil=True)
def _flip_walk(x, r, i, node, col_feat, fixed, flip, left, right, column, threshold, dleft):
    """The leaf from ``node`` on: the family's columns at r when ``fixed`` else at x, except
    feature ``flip``'s, which take the other."""
    while left[node] >= 0:
        c = column[node]
        j = col_feat[c]
        at_r = (j >= 0 and fixed) != (j >= 0 and j == flip)
        v = r[i, c] if at_r else x[i, c]
        node = left[node] if _left(v, node, threshold, dleft) else right[node]
    return node


@njit(cache=True, nogil=True)
def _split_kernel(x, r, rows, lo, hi, trees, col_feat, fixed, start, left, right, column,
                  threshold, dleft, value, flips, leaves, out):  # fmt: skip
    """Per row and feature j: sum over trees of leaf(x) - leaf(x, j at r) (``fixed`` False)
    or leaf(the features at r but j) - leaf(the features at r). A state with j flipped
    follows the background's path until the first split on j where x and r go different
    ways; only there does it walk on its own: a tree costs one walk plus one per such split."""
    for k in range(lo, hi):
        i = rows[k]
        for t in trees:
            count = 0  # features flipped on this tree's path: flips[:count], leaves
            node = start[t]
            while left[node] >= 0:
                c = column[node]
                j = col_feat[c]
                a = _left(x[i, c], node, threshold, dleft)
                if j < 0:
                    node = left[node] if a else right[node]
                    continue
                b = _left(r[i, c], node, threshold, dleft)
                main = b if fixed else a
                if a != b:
                    new = True
                    for s in range(count):
                        if flips[s] == j:
                            new = False
                    if new:
                        other = right[node] if main else left[node]
                        flips[count] = j
                        leaves[count] = _flip_walk(
                            x, r, i, other, col_feat, fixed, j, left, right, column,
                            threshold, dleft,
                        )  # fmt: skip
                        count += 1
                node = left[node] if main else right[node]
            for s in range(count):
                diff = value[node] - value[leaves[s]]
                out[k, flips[s]] += -diff if fixed else diff


def feature_flips(ens: Ensemble, x, r, rows, trees, col_feat, fixed: bool, threads=None):
    """(len(rows) x features): ``col_feat`` gives each encoded column's feature (0..F-1) or
    -1; ``trees`` the trees that split on those features. With ``fixed`` False, column j is
    f(x) - f(x, j at r); with ``fixed`` True, f(the features at r but j) - f(the features at
    r), every other column at x."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    r = np.ascontiguousarray(r, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    trees = np.asarray(trees, dtype=np.int64)
    col_feat = np.asarray(col_feat, dtype=np.int64)
    out = np.zeros((len(rows), int(col_feat.max()) + 1 if len(col_feat) else 0))
    args = (ens.start, ens.left, ens.right, ens.column, ens.threshold, ens.default_left)

    def run(lo, hi):
        flips, leaves = np.zeros(ens.depth + 1, np.int64), np.zeros(ens.depth + 1, np.int64)
        _split_kernel(
            x, r, rows, lo, hi, trees, col_feat, fixed, *args, ens.value, flips, leaves, out
        )

    _blocks(len(rows), _threads(threads), run)
    return out


@njit(cache=True, nogil=True)
def _grid_kernel(x, lo, hi, trees, col_local, values, start, left, right, column, threshold,
                 dleft, value, stack_node, stack_mask, out):  # fmt: skip
    """out[i, g] = sum over trees of the leaf row i reaches with one feature at grid value g:
    one walk per tree that splits the set of grid values where the feature's splits do."""
    npos = values.shape[0]
    every = (np.int64(1) << npos) - 1
    for i in range(lo, hi):
        for t in trees:
            stack_node[0], stack_mask[0] = start[t], every
            top = 1
            while top > 0:
                top -= 1
                node, mask = stack_node[top], stack_mask[top]
                while left[node] >= 0:
                    c = column[node]
                    k = col_local[c]
                    if k < 0:
                        go = _left(x[i, c], node, threshold, dleft)
                        node = left[node] if go else right[node]
                        continue
                    lmask = np.int64(0)
                    for g in range(npos):
                        if mask >> g & 1 and _left(values[g, k], node, threshold, dleft):
                            lmask |= np.int64(1) << g
                    rmask = mask & ~lmask
                    if lmask and rmask:
                        stack_node[top], stack_mask[top] = right[node], rmask
                        top += 1
                        node, mask = left[node], lmask
                    elif lmask:
                        node = left[node]
                    else:
                        node = right[node]
                for g in range(npos):
                    if mask >> g & 1:
                        out[i, g] += value[node]


def grid_margins(ens: Ensemble, x, trees, cols, values: np.ndarray, threads=None) -> np.ndarray:
    """Leaf sums of ``trees`` (no offset) for every row of ``x`` with the encoded columns
    ``cols`` of one feature set to each row of ``values`` (grid values x len(cols), at most
    62), (rows x grid values); each grid value adds its trees in tree order."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    trees = np.asarray(trees, dtype=np.int64)
    col_local = np.full(x.shape[1], -1, dtype=np.int64)
    col_local[list(cols)] = np.arange(len(cols))
    values = np.ascontiguousarray(values, dtype=np.float32)
    out = np.zeros((len(x), len(values)))
    args = (ens.start, ens.left, ens.right, ens.column, ens.threshold, ens.default_left)
    nodes = max(len(ens.left), 1)

    def run(lo, hi):
        stacks = (np.zeros(nodes, np.int64), np.zeros(nodes, np.int64))
        _grid_kernel(x, lo, hi, trees, col_local, values, *args, ens.value, *stacks, out)

    _blocks(len(x), _threads(threads), run)
    return out
