"""Splits of a feature table: by time (snapshots), by a row budget, and stratified k-fold.

Temporal validation only, for tables with snapshots: train on earlier snapshots, validate and
test on later ones. A table without snapshots is validated out of fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from churnlab.core.errors import ChurnlabError, examples
from churnlab.features.table import FeatureTable
from churnlab.model.booster import ChurnModel


def temporal_split(
    snapshots: list[str], n_valid: int = 1, n_test: int = 1
) -> tuple[list[str], list[str], list[str]]:
    """Split labelled snapshot months by time: (train, valid, test), oldest first.

    The last ``n_test`` months are the test period, the ``n_valid`` before them the
    validation period (early stopping and calibration), everything earlier is training.
    Raises ChurnlabError when fewer than ``n_valid + n_test + 1`` months are given.
    """
    months = sorted(set(snapshots))
    if len(months) < n_valid + n_test + 1:
        raise ChurnlabError(
            f"A temporal split needs at least {n_valid + n_test + 1} labelled snapshots "
            f"(train, {n_valid} validation, {n_test} test); the table has {len(months)}: "
            f"{examples(months)}."
        )
    cut_test = len(months) - n_test
    cut_valid = cut_test - n_valid
    return months[:cut_valid], months[cut_valid:cut_test], months[cut_test:]


def oof_scores(
    table: FeatureTable, k: int = 5, seed: int = 0, params: dict | None = None
) -> np.ndarray:
    """Out-of-fold churn probabilities for every labelled row (stratified k-fold).

    Each fold's model early-stops and calibrates on an inner stratified split of its own
    training rows. ``k`` shrinks to the size of the smaller class when that is below ``k``.
    Returns an array aligned with ``table.subset(table.labelled).frame``.
    """
    lab = table.subset(table.labelled)
    y = lab.frame[table.label_col].to_numpy("int64")
    out = np.full(len(y), np.nan)
    folds = stratified_folds(
        y,
        k,
        seed,
        "Out-of-fold validation needs at least 2 churners and 2 stayers; the table has "
        "{events} churner(s) among {rows} labelled rows.",
    )
    for train_idx, test_idx in folds:
        model = ChurnModel(seed=seed, params=params)
        model.fit(rows_at(lab, train_idx))
        out[test_idx] = model.predict_proba(lab.frame.iloc[test_idx])
    return out


def stratified_folds(
    y: np.ndarray, k: int, seed: int, too_few: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded stratified k-fold (train, test) positions over the 0/1 outcomes ``y``.

    ``k`` shrinks to the size of the smaller class; with fewer than 2 rows in either class
    :class:`ChurnlabError` says ``too_few`` (formatted with ``events`` and ``rows``).
    """
    events = int(y.sum())
    smaller = min(events, len(y) - events)
    if smaller < 2:
        raise ChurnlabError(too_few.format(events=events, rows=len(y)))
    folds = StratifiedKFold(n_splits=min(k, smaller), shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(y)), y))


def rows_at(table: FeatureTable, idx: np.ndarray) -> FeatureTable:
    """The rows of ``table`` at the positions ``idx``."""
    mask = pd.Series(False, index=table.frame.index)
    mask.iloc[idx] = True
    return table.subset(mask)


def recent_snapshots(table: FeatureTable, snapshots: list[str], max_rows: int | None) -> list[str]:
    """The newest of ``snapshots`` whose labelled rows add up to at most ``max_rows``.

    Always at least the newest one; all of them when ``max_rows`` is None. Oldest first.
    """
    if max_rows is None or not snapshots:
        return list(snapshots)
    sizes = table.frame.loc[table.labelled, table.snapshot_col].value_counts()
    newest_first = sorted(snapshots, reverse=True)
    running = np.cumsum([int(sizes.get(s, 0)) for s in newest_first])
    keep = max(1, int(np.searchsorted(running, max_rows, side="right")))
    return sorted(newest_first[:keep])
