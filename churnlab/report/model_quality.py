"""Can the model be trusted this month: the backtest of earlier windows and the quality alarm.

``backtest_history`` re-runs the report's backtest on earlier windows and ``quality_warning``
compares this month's ROC-AUC with them.
"""

from __future__ import annotations

import pandas as pd

from churnlab.core.months import shift_month
from churnlab.features.table import FeatureTable

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


def _recent(table: FeatureTable, snapshots: list[str], budget: int) -> list[str]:
    """The latest snapshots whose labelled rows fit in ``budget`` (at least two)."""
    sizes = table.frame.loc[table.labelled, table.snapshot_col].value_counts()
    kept, total = [], 0
    for snap in reversed(snapshots):
        total += int(sizes.get(snap, 0))
        if len(kept) >= 2 and total > budget:
            break
        kept.append(snap)
    return kept[::-1]


def backtest_history(
    table: FeatureTable,
    month: str,
    horizon: int = 1,
    seed: int = 0,
    n: int = 3,
    max_rows: int = HISTORY_ROWS,
) -> pd.DataFrame:
    """Backtest ROC-AUC of the ``n`` closed windows before this month's backtest.

    For each earlier backtest snapshot B (M-h-1, M-h-2, ...), a model is trained as the
    report's backtest is (on snapshots labelled by B's cutoff, the last of them for
    validation) and scored on B. To keep a large report fast, each of these models learns from
    the most recent of those snapshots up to ``max_rows`` labelled rows (all of them on data
    of a few ten thousand customers). Windows without enough history or with one outcome only
    are left out. Columns snapshot, roc_auc, n, positives.
    """
    from churnlab.model import ChurnModel
    from churnlab.model import metrics as mx

    labelled = sorted(table.frame.loc[table.labelled, table.snapshot_col].unique().tolist())
    rows = []
    for k in range(1, n + 1):
        b = shift_month(month, -horizon - k)
        history = _recent(table, [s for s in labelled if s <= shift_month(b, -horizon)], max_rows)
        if b not in labelled or len(history) < 2:
            continue
        test = table.at(b)
        test = test.subset(test.labelled)
        y = test.frame[table.label_col].to_numpy(float)
        if y.min() == y.max():
            continue
        model = ChurnModel(seed=seed).fit(table.at(history[:-1]), table.at(history[-1:]))
        p = model.predict_proba(test)
        rows.append(
            {"snapshot": b, "roc_auc": mx.roc_auc(y, p), "n": len(y), "positives": int(y.sum())}
        )
    return pd.DataFrame(rows, columns=["snapshot", "roc_auc", "n", "positives"])
