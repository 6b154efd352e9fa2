"""Can the model be trusted this month: the backtest of earlier windows and the quality alarm.

``backtest_history`` re-runs the report's backtest on earlier windows and ``quality_warning``
compares this month's ROC-AUC with them.
"""

from __future__ import annotations

import pandas as pd

from churnlab.core.months import shift_month
from churnlab.features.table import FeatureTable
from churnlab.model import metrics as mx
from churnlab.model.backtest import backtest, outcomes

#: the backtest AUC must fall this far below its recent average to raise a warning.
AUC_DROP = 0.05


def quality_warning(
    history: pd.DataFrame, current_auc: float | None, margin: float = AUC_DROP
) -> str | None:
    """A warning when this month's backtest ROC-AUC is ``margin`` below its recent average.

    ``history`` has a ``roc_auc`` column for earlier backtest windows (NaN/None ignored).
    Returns None when there is no drop, or nothing to compare.
    """
    past = pd.to_numeric(history.get("roc_auc", pd.Series(dtype=float)), errors="coerce").dropna()
    if current_auc is None or past.empty:
        return None
    average = float(past.mean())
    if current_auc < average - margin:
        return (
            f"Model quality dropped: this month's backtest ROC-AUC is {current_auc:.3f}, "
            f"{average - current_auc:.3f} below its average of {average:.3f} over the previous "
            f"{len(past)} backtest month(s). Check the drift table and the data-quality "
            "summary before acting on the scores."
        )
    return None


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
    keep a large report fast. Windows without enough history or with one outcome only are
    left out. Columns snapshot, roc_auc, n, positives.
    """
    labelled = table.labelled_snapshots
    rows = []
    for k in range(1, n + 1):
        b = shift_month(month, -horizon - k)
        history = [s for s in labelled if s <= shift_month(b, -horizon)]
        if b not in labelled:
            continue
        bt = backtest(table, history, b, seed, max_rows)
        y, p = outcomes(bt)
        if bt is None or len(y) == 0 or y.min() == y.max():
            continue
        rows.append(
            {"snapshot": b, "roc_auc": mx.roc_auc(y, p), "n": len(y), "positives": int(y.sum())}
        )
    return pd.DataFrame(rows, columns=["snapshot", "roc_auc", "n", "positives"])
