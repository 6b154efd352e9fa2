"""The one backtest: train on history, validate on its last snapshot, score a later one.

Every model churnlab checks against reality is made here, under one row budget: the monthly
report's backtest and forward model, the backtest history that says whether this month's
quality is unusual, experiments, and the training notebook. A model learns from the most
recent of its training snapshots up to ``max_rows`` labelled rows (always at least one
snapshot; the validation snapshot comes on top), which bounds the time on large data and
favours the newest months when drivers drift; a note says when the budget cut history.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable
from churnlab.model.booster import ChurnModel
from churnlab.model.splits import oof_scores, recent_snapshots

#: labelled snapshots needed for a temporal backtest: one to train, one to validate (early
#: stopping and calibration) and one to test.
MIN_BACKTEST_SNAPSHOTS = 3
#: labelled training rows of one model at most (benchmarks/RESULTS.md, "Row budget": the
#: ROC-AUC cost of the budget on 100k customers is within the noise of one month).
MAX_TRAIN_ROWS = 500_000

T = TypeVar("T")


@dataclass
class Backtest:
    """Scores of one held-out snapshot (or out-of-fold scores) next to what happened.

    ``frame`` holds the id column, ``snapshot``, ``churn_probability``, ``churned`` and, when
    the table knows each customer's monthly value, ``value``.
    """

    frame: pd.DataFrame
    snapshot: str | None
    model: ChurnModel | None = None


def fit_history(
    table: FeatureTable,
    train: list[str],
    valid: list[str] | None,
    seed: int = 0,
    max_rows: int | None = MAX_TRAIN_ROWS,
    params: dict | None = None,
    notes: list[str] | None = None,
    role: str = "The",
    threads: int | None = None,
) -> ChurnModel:
    """A model trained on the snapshots ``train`` (within the row budget), validated on ``valid``.

    ``valid=None`` lets the model early-stop and calibrate on a stratified 20 % of its
    training rows. When the budget drops older snapshots, ``notes`` gets a sentence that
    starts with ``role`` ("The backtest model learned from ..."). ``threads``: the
    training threads (:meth:`ChurnModel.fit`).
    """
    kept = recent_snapshots(table, train, max_rows)
    if len(kept) < len(train) and notes is not None:
        notes.append(
            f"{role} model learned from the {len(kept)} most recent of its {len(train)} "
            f"training snapshots ({kept[0]} to {kept[-1]}; the newest up to {max_rows:,} rows) "
            "to bound training time."
        )
    model = ChurnModel(seed=seed, params=params)
    return model.fit(table.at(kept), table.at(valid) if valid else None, threads=threads)


def side_by_side(jobs: list[Callable[[int | None], T]]) -> list[T]:
    """Independent model fits, each ``job(threads)``: in pairs, side by side on one thread
    each; a job left without a partner (one job, or the last of an odd number) runs alone
    with the usual thread choice (None: both cores on a large table).

    XGBoost's per-node thread barriers make one fit on two threads slower than two fits on
    one thread each, and much slower when other work shares the cores (benchmarks/RESULTS.md,
    "Training threads"); XGBoost frees the GIL while it trains. A fit alone on one thread
    would leave a core idle. Results come in the jobs' order and are the same models as
    fitted one after the other (the thread count never changes a model).
    """
    paired = len(jobs) - len(jobs) % 2
    out: list[T] = []
    if paired:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for start in range(0, paired, 2):
                out += list(pool.map(lambda job: job(1), jobs[start : start + 2]))
    return out + [job(None) for job in jobs[paired:]]


def score_snapshot(model: ChurnModel, rows: FeatureTable, snapshot: str | None) -> Backtest:
    """The labelled rows of ``rows`` scored by ``model``, next to their outcomes."""
    lab = rows.subset(rows.labelled)
    frame = pd.DataFrame(
        {
            rows.id_col: lab.frame[rows.id_col].to_numpy(),
            "snapshot": snapshot,
            "churn_probability": model.predict_proba(lab),
            "churned": lab.frame[rows.label_col].to_numpy("float64"),
        }
    )
    if rows.value_col and rows.value_col in lab.frame:
        frame["value"] = pd.to_numeric(lab.frame[rows.value_col], errors="coerce").to_numpy()
    return Backtest(frame, snapshot, model)


def backtest(
    table: FeatureTable,
    history: list[str],
    test: str,
    seed: int = 0,
    max_rows: int | None = MAX_TRAIN_ROWS,
    params: dict | None = None,
    notes: list[str] | None = None,
    threads: int | None = None,
) -> Backtest | None:
    """Train on ``history`` (its last snapshot validates), score snapshot ``test``.

    Returns None, with the reason in ``notes``, when ``history`` is too short or the training
    rows hold one outcome only. ``history`` must hold only snapshots whose labels were known
    at ``test``'s cutoff; the caller decides which those are (see docs/definitions.md).
    ``threads``: the training threads (:meth:`ChurnModel.fit`).
    """
    notes = notes if notes is not None else []
    if len(history) < MIN_BACKTEST_SNAPSHOTS - 1:
        notes.append(
            f"No backtest: it needs {MIN_BACKTEST_SNAPSHOTS - 1} labelled snapshots before the "
            f"backtest month {test} (one to train, one to validate), and there are "
            f"{len(history)}."
        )
        return None
    try:
        model = fit_history(
            table,
            history[:-1],
            history[-1:],
            seed,
            max_rows,
            params,
            notes,
            "The backtest",
            threads,
        )
    except ChurnlabError as err:
        notes.append(f"No backtest for {test}: {err}")
        return None
    return score_snapshot(model, table.at(test), test)


def oof_backtest(table: FeatureTable, seed: int = 0, params: dict | None = None) -> Backtest:
    """Stratified 5-fold out-of-fold scores of every labelled row: the backtest of a table
    without snapshots."""
    lab = table.subset(table.labelled)
    frame = pd.DataFrame(
        {
            table.id_col: lab.frame[table.id_col].to_numpy(),
            "snapshot": None,
            "churn_probability": oof_scores(table, seed=seed, params=params),
            "churned": lab.frame[table.label_col].to_numpy("float64"),
        }
    )
    return Backtest(frame, None)


def outcomes(bt: Backtest | None) -> tuple[np.ndarray, np.ndarray]:
    """(churned, churn_probability) of a backtest as float arrays (empty without one)."""
    if bt is None:
        return np.zeros(0), np.zeros(0)
    return bt.frame["churned"].to_numpy(float), bt.frame["churn_probability"].to_numpy(float)
