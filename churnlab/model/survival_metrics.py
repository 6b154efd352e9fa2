"""Quality of time-to-churn predictions: Kaplan-Meier, concordance, time-dependent AUC, Brier.

Every function takes the observed ``time`` (months to churn, or to the end of observation),
``event`` (1 churned at ``time``, 0 censored: still a customer after ``time`` months) and a
prediction. Times are on the monthly grid of docs/time-to-churn.md, but any non-negative
numbers work. Censoring is handled the standard ways, said in each docstring; a metric that is
undefined for the data (no comparable pair, no churn before ``t``) is ``None``.

- :func:`kaplan_meier`: the product-limit estimate, the observed retention curve.
- :func:`harrell_c`: Harrell's concordance index (not Uno's): among the pairs whose earlier
  time is a churn, the share where the model gave that customer the higher risk (ties in risk
  count 1/2; at a tied time a churner and a censored customer are comparable, two churners
  are not), as lifelines' ``concordance_index`` counts them.
- :func:`cumulative_auc`: the cumulative/dynamic AUC at ``t`` (churned by ``t`` against still
  there after ``t``), churners weighted by the inverse probability of not being censored
  (Uno et al. 2007; scikit-survival's ``cumulative_dynamic_auc`` uses the same weights).
- :func:`brier_scores` and :func:`integrated_brier`: Graf et al. (1999) with the same inverse
  probability of censoring weights, averaged over the months 1..K of the grid.
"""

from __future__ import annotations

import numpy as np


def _arrays(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    if t.shape != e.shape:
        raise ValueError("time and event must have the same length")
    return t, e


def kaplan_meier(time, event, grid) -> np.ndarray:
    """Kaplan-Meier survival S(t) at each time of ``grid`` (the share still a customer after t).

    At a time where churns and censorings coincide, the churns come first (a customer
    censored at month t was observed through all of month t). Returns NaN at grid times after
    the last observed time, where the estimate is undefined.
    """
    t, e = _arrays(time, event)
    grid = np.asarray(grid, dtype=float)
    if len(t) == 0:
        return np.full(len(grid), np.nan)
    times, churned = np.unique(t[e == 1], return_counts=True)
    at_risk = len(t) - np.searchsorted(np.sort(t), times, side="left")
    curve = np.cumprod(1.0 - churned / at_risk) if len(times) else np.zeros(0)
    pos = np.searchsorted(times, grid, side="right")
    out = np.where(pos > 0, curve[np.maximum(pos - 1, 0)] if len(times) else 1.0, 1.0)
    return np.where(grid > t.max(), np.nan, out)


def _censoring_survival(time, event):
    """G(u) = P(not censored by u), the Kaplan-Meier of the censoring times, as two functions:
    G at u and G just before u."""
    t, e = _arrays(time, event)
    censor_times, censored = np.unique(t[e == 0], return_counts=True)
    ordered = np.sort(t)
    at_risk = len(t) - np.searchsorted(ordered, censor_times, side="left")
    # a churn at u happens before a censoring at u: those churners are no longer at risk of
    # being censored at u
    churns = np.sort(t[e == 1])
    churn_at = np.searchsorted(churns, censor_times, "right") - np.searchsorted(
        churns, censor_times, "left"
    )
    risk = np.maximum(at_risk - churn_at, 1.0)
    curve = np.cumprod(1.0 - censored / risk) if len(censor_times) else np.zeros(0)

    def at(u, side: str) -> np.ndarray:
        pos = np.searchsorted(censor_times, np.asarray(u, dtype=float), side=side)
        values = curve[np.maximum(pos - 1, 0)] if len(censor_times) else np.ones(len(pos))
        return np.where(pos > 0, values, 1.0)

    return (lambda u: at(u, "right")), (lambda u: at(u, "left"))


def _alive_after(time: np.ndarray, event: np.ndarray, u: float) -> np.ndarray:
    """Known to be a customer after ``u``: a later time, or censored at ``u`` itself (a
    customer censored at month u was observed through all of it)."""
    return (time > u) | ((time == u) & (event != 1))


def harrell_c(time, event, risk) -> float | None:
    """Harrell's concordance: P(risk_i > risk_j) over pairs with time_i < time_j, event_i = 1
    (and pairs with equal times where i churned and j was censored: j was there through it).

    Higher ``risk`` must mean an earlier churn. O(n log n) (a Fenwick tree over risk ranks);
    None when no pair is comparable (no churn, or every churn at the latest time).
    """
    t, e = _arrays(time, event)
    r = np.asarray(risk, dtype=float)
    keep = ~(np.isnan(t) | np.isnan(e) | np.isnan(r))
    t, e, r = t[keep], e[keep], r[keep]
    ranks = np.unique(r, return_inverse=True)[1] + 1  # 1-based for the tree
    size = int(ranks.max()) if len(ranks) else 0
    tree = [0] * (size + 1)  # a list: scalar access is several times faster than numpy's
    ranks = ranks.tolist()

    def prefix(i: int) -> int:  # inserted customers with rank <= i
        total = 0
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def insert(members: list[int]) -> None:
        for i in members:
            j = ranks[i]
            while j <= size:
                tree[j] += 1
                j += j & -j

    concordant = 0.0
    pairs = inserted = 0
    order = np.argsort(-t, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(t[order]) != 0, True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        group = order[a:b]  # one time; every customer inserted so far has a later time
        churners = group[e[group] == 1].tolist()
        censored = group[e[group] != 1].tolist()
        # a customer censored at this time was there through it: after these churners
        insert(censored)
        inserted += len(censored)
        for i in churners:
            below, upto = prefix(ranks[i] - 1), prefix(ranks[i])
            concordant += below + 0.5 * (upto - below)
            pairs += inserted
        insert(churners)
        inserted += len(churners)
    return None if pairs == 0 else float(concordant / pairs)


def cumulative_auc(time, event, risk, t: float) -> float | None:
    """Cumulative/dynamic AUC at ``t``: churners by ``t`` (IPCW-weighted) against the customers
    still there after ``t``; ``risk`` is the predicted risk of churning by ``t``.

    None when nobody churned by ``t`` or nobody is known to be there after it.
    """
    tt, e = _arrays(time, event)
    r = np.asarray(risk, dtype=float)
    _, g_before = _censoring_survival(tt, e)
    cases = (tt <= t) & (e == 1)
    controls = _alive_after(tt, e, t)
    if not cases.any() or not controls.any():
        return None
    weights = 1.0 / np.maximum(g_before(tt[cases]), 1e-12)
    ctrl = np.sort(r[controls])
    below = np.searchsorted(ctrl, r[cases], side="left")
    upto = np.searchsorted(ctrl, r[cases], side="right")
    wins = below + 0.5 * (upto - below)
    return float(np.sum(weights * wins) / (np.sum(weights) * len(ctrl)))


def brier_scores(time, event, survival: np.ndarray, grid) -> np.ndarray:
    """IPCW Brier score at each time of ``grid``; ``survival[i, k]`` = predicted S(grid[k]).

    A customer who churned by u contributes S(u)^2 / G(time-), one still there after u
    contributes (1 - S(u))^2 / G(u-), one censored before u nothing (Graf et al. 1999; G is
    taken just before u because a customer censored at u was observed through u).
    """
    tt, e = _arrays(time, event)
    s = np.asarray(survival, dtype=float)
    _, g_before = _censoring_survival(tt, e)
    g_case = np.maximum(g_before(tt), 1e-12)
    out = []
    for k, u in enumerate(np.asarray(grid, dtype=float)):
        case = (tt <= u) & (e == 1)
        alive = _alive_after(tt, e, u)
        g_u = max(float(g_before(np.array([u]))[0]), 1e-12)
        terms = np.where(case, s[:, k] ** 2 / g_case, 0.0)
        terms += np.where(alive, (1.0 - s[:, k]) ** 2 / g_u, 0.0)
        out.append(float(np.mean(terms)) if len(tt) else np.nan)
    return np.array(out)


def integrated_brier(time, event, survival: np.ndarray, grid) -> float | None:
    """The mean of :func:`brier_scores` over ``grid`` (months 1..K: the discrete-time integral,
    divided by K). None without rows."""
    tt, _ = _arrays(time, event)
    if len(tt) == 0:
        return None
    return float(np.mean(brier_scores(time, event, survival, grid)))
