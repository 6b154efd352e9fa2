"""Reading a synthetic world's truth: each customer's true main fixable cause, and how often a
report's first reason names it (the quality measure of driver credit, README "Quality").

The truth holds, per customer and snapshot, each family's contribution to the true log-odds
(``contrib_<family>``). A customer's *true main fixable cause* is the actionable family with
the largest positive contribution (none when no actionable family raises the risk): the
family a retention team should work on first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.core.families import ACTIONABLE, family
from churnlab.synth.params import FAMILIES

#: the families a team can fix (context families such as profile are never a cause to fix)
FIXABLE: tuple[str, ...] = tuple(f for f in FAMILIES if family(f).role == ACTIONABLE)


def main_fixable_cause(truth: pd.DataFrame) -> pd.Series:
    """Each row's true main fixable cause ('' when none raises the risk), indexed by id.

    ``truth`` holds one snapshot's rows (customer_id and the contrib_ columns).
    """
    contrib = truth[[f"contrib_{f}" for f in FIXABLE]].to_numpy()
    top = np.array(FIXABLE, dtype=object)[contrib.argmax(axis=1)] if len(truth) else []
    cause = np.where(contrib.max(axis=1) > 0, top, "") if len(truth) else np.array([], object)
    return pd.Series(cause, index=truth["customer_id"].to_numpy(), name="cause")


def riskiest(scores: pd.DataFrame, top: float = 0.10, id_col: str = "customer_id") -> np.ndarray:
    """Ids of the riskiest ``top`` share of the scored customers (scores are in risk order)."""
    return scores[id_col].to_numpy()[: int(round(top * len(scores)))]


def reason_agreement(
    first_family: pd.Series, cause: pd.Series, ids: np.ndarray, family: str | None = None
) -> tuple[float, int]:
    """Among ``ids`` whose true main cause is ``family`` (any cause when None): the share
    whose first reason names that cause, and how many customers that is (NaN share for 0).

    ``first_family`` and ``cause`` are indexed by customer id.
    """
    true = cause.reindex(ids).fillna("").to_numpy()
    named = first_family.reindex(ids).fillna("").to_numpy()
    sel = true == family if family is not None else true != ""
    if not sel.any():
        return float("nan"), 0
    return float((named[sel] == true[sel]).mean()), int(sel.sum())


def most_common_cause(cause: pd.Series, ids: np.ndarray) -> str:
    """The true main cause most of ``ids`` share (ties: the registry's order)."""
    counts = cause.reindex(ids).value_counts()
    counts = counts[counts.index != ""]
    return max(FIXABLE, key=lambda f: counts.get(f, 0)) if len(counts) else ""
