"""Can the model be trusted this month: the backtest of earlier windows and the quality alarm.

``backtest_history`` re-runs the report's backtest on earlier windows and ``quality_check``
compares this month's ROC-AUC with them, taking into account how precise an AUC measured on
a month's churners can be: it warns only when the drop is larger than chance explains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab.core.months import shift_month
from churnlab.features.table import FeatureTable
from churnlab.model import metrics as mx
from churnlab.model.backtest import backtest, outcomes, side_by_side

#: a drop of ROC-AUC smaller than this is never worth an alarm, however many customers
MIN_DROP = 0.02
#: normal quantile of the two-sided 95 % intervals
Z95 = 1.959964


def auc_standard_error(auc: float | None, positives: int, negatives: int) -> float | None:
    """Standard error of a ROC-AUC (Hanley and McNeil, 1982), None when it is undefined.

    With ``Q1 = A / (2 - A)`` and ``Q2 = 2 A^2 / (1 + A)``:
    ``SE^2 = (A (1 - A) + (P - 1)(Q1 - A^2) + (N - 1)(Q2 - A^2)) / (P N)`` for ``P`` churners
    and ``N`` stayers. It is driven by the number of churners, far more than by the stayers.
    """
    if auc is None or positives < 1 or negatives < 1 or not np.isfinite(auc):
        return None
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return float(np.sqrt(max(var, 0.0) / (positives * negatives)))


def auc_interval(auc: float | None, positives: int, negatives: int) -> tuple[float, float] | None:
    """The 95 % interval ``AUC +- 1.96 SE`` (clipped to [0, 1]), or None when undefined."""
    se = auc_standard_error(auc, positives, negatives)
    if se is None:
        return None
    return max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se)


@dataclass(frozen=True)
class QualityCheck:
    """This month's backtest ROC-AUC against the months before, with their uncertainty.

    ``interval`` is the 95 % interval of this month's AUC; ``past_mean`` the average AUC of
    the earlier windows and ``past_range`` their lowest and highest; ``drop`` how far this
    month is below that average and ``limit`` the largest drop that chance explains (1.96
    standard errors of the difference, at least :data:`MIN_DROP`). ``warning`` is set only
    when ``drop > limit``.
    """

    auc: float | None
    interval: tuple[float, float] | None
    past_mean: float | None
    past_range: tuple[float, float] | None
    months: int
    drop: float | None
    limit: float | None
    warning: str | None


def quality_check(
    history: pd.DataFrame, backtest: dict, min_drop: float = MIN_DROP
) -> QualityCheck:
    """Compare this month's backtest (``roc_auc``, ``n``, ``positives``) with earlier ones.

    ``history`` is :func:`backtest_history` (columns roc_auc, n, positives; rows whose AUC is
    undefined are ignored; without n/positives an earlier AUC counts as exact). The standard
    error of the difference combines this month's (:func:`auc_standard_error`) with that of the
    earlier windows' mean, ``sqrt(sum SE_i^2) / k``.
    """
    auc = backtest.get("roc_auc")
    positives = int(backtest.get("positives") or 0)
    negatives = int(backtest.get("n") or 0) - positives
    se = auc_standard_error(auc, positives, negatives)
    interval = auc_interval(auc, positives, negatives)
    frame = history.copy() if len(history) else pd.DataFrame(columns=["roc_auc"])
    frame["roc_auc"] = pd.to_numeric(frame.get("roc_auc"), errors="coerce")
    frame = frame.dropna(subset=["roc_auc"])
    if auc is None or frame.empty:
        return QualityCheck(auc, interval, None, None, len(frame), None, None, None)
    past = frame["roc_auc"].astype(float)

    def counts(column: str) -> pd.Series:
        values = frame[column] if column in frame else pd.Series(0, index=frame.index)
        return pd.to_numeric(values, errors="coerce").fillna(0).astype(int)

    n, pos = counts("n"), counts("positives")
    past_se = [auc_standard_error(a, p, k - p) or 0.0 for a, k, p in zip(past, n, pos, strict=True)]
    mean = float(past.mean())
    se_diff = float(np.sqrt((se or 0.0) ** 2 + sum(x**2 for x in past_se) / len(past) ** 2))
    drop, limit = mean - auc, max(min_drop, Z95 * se_diff)
    warning = None
    if drop > limit:
        shown = f" (95% interval {interval[0]:.3f} to {interval[1]:.3f})" if interval else ""
        warning = (
            f"Model quality dropped: this month's backtest ROC-AUC is {auc:.3f}{shown}, "
            f"{drop:.3f} below its average of {mean:.3f} over the previous {len(past)} "
            f"backtest month(s), more than the {limit:.3f} that chance explains with this "
            "many churners. Check the drift and data-quality sections before acting on the "
            "scores."
        )
    return QualityCheck(
        auc, interval, mean, (float(past.min()), float(past.max())), len(past), drop, limit, warning
    )


def quality_warning(history: pd.DataFrame, backtest: dict) -> str | None:
    """The warning of :func:`quality_check`: set only when the drop is beyond chance."""
    return quality_check(history, backtest).warning


#: training rows of one earlier backtest window's model (the most recent snapshots first).
HISTORY_ROWS = 300_000


def backtest_history(
    table: FeatureTable,
    month: str,
    horizon: int = 1,
    seed: int = 0,
    n: int = 3,
    max_rows: int = HISTORY_ROWS,
) -> pd.DataFrame:
    """Backtest ROC-AUC of the ``n`` closed windows before this month's backtest.

    For each earlier backtest snapshot B (M-h-1, M-h-2, ...), the report's backtest is run
    again at B (:func:`churnlab.model.backtest.backtest`: trained on snapshots labelled by
    B's cutoff, the last of them for validation) with a smaller row budget, ``max_rows``, to
    keep a large report fast; the windows' models are fitted side by side
    (:func:`~churnlab.model.backtest.side_by_side`). Windows without enough history or with
    one outcome only are left out. Columns snapshot, roc_auc, low and high (its 95 %
    interval), n, positives.
    """
    labelled = table.labelled_snapshots
    windows = [shift_month(month, -horizon - k) for k in range(1, n + 1)]
    windows = [b for b in windows if b in labelled]

    def job(b: str):
        history = [s for s in labelled if s <= shift_month(b, -horizon)]
        return lambda threads: backtest(table, history, b, seed, max_rows, threads=threads)

    rows = []
    for b, bt in zip(windows, side_by_side([job(b) for b in windows]), strict=True):
        y, p = outcomes(bt)
        if bt is None or len(y) == 0 or y.min() == y.max():
            continue
        auc, positives = mx.roc_auc(y, p), int(y.sum())
        low, high = auc_interval(auc, positives, len(y) - positives) or (None, None)
        rows.append(
            {
                "snapshot": b,
                "roc_auc": auc,
                "low": low,
                "high": high,
                "n": len(y),
                "positives": positives,
            }
        )
    return pd.DataFrame(rows, columns=["snapshot", "roc_auc", "low", "high", "n", "positives"])
