"""Warnings about feature columns that give the label away or identify the customer.

A user's own feature table (``churnlab explain``) may hold a column that is not known before a
customer churns: a copy of the label, a cancellation reason filled only for those who left, or
the customer's number. The model then looks perfect in validation and is useless on new
customers. :func:`leak_notes` looks for three signs on the labelled rows and says each in one
sentence for ``metrics['notes']`` (the explanation report shows notes as call-outs):

- a feature that alone separates churners from stayers almost perfectly (ROC-AUC of the value,
  or of a category's churn rate, at least :data:`LEAK_AUC` either way);
- a feature missing exactly when the label is 0, or exactly when it is 1 (balanced accuracy of
  "is missing" as a prediction at least :data:`LEAK_AUC` either way);
- an id-like feature: named like an id (``id``, ``*_id``, ``customerId``, ``uuid``, ``*_key``,
  ``*_number``), or a different value on every row of a snapshot that is text, a number that
  rises or falls with the id, or a whole number numbering the rows (1..n with few gaps) or of
  one length (account numbers).

These are warnings, not errors: a real, very strong driver can trip the first.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab.features.table import FeatureTable

#: how well a single feature (or its missingness) must separate the classes to be suspicious
LEAK_AUC = 0.99
#: both classes need this many labelled rows for a separation to mean anything
MIN_CLASS = 5
#: a column needs this many filled rows before "unique on every row" says id
MIN_ID_ROWS = 200
#: categories with more levels than this are not scored by their churn rate
MAX_LEVELS = 50
#: rows looked at, at most (a seeded sample of a larger table)
SAMPLE_ROWS = 200_000
_ID_LAST = {"id", "ids", "uuid", "guid", "key", "number", "nr"}
_ID_FIRST = {"id", "uuid", "guid"}


def leak_notes(table: FeatureTable) -> list[str]:
    """One note per suspicious feature column of ``table``, in column order."""
    frame = table.frame
    if len(frame) > SAMPLE_ROWS:
        rng = np.random.default_rng(0)
        frame = frame.iloc[np.sort(rng.choice(len(frame), SAMPLE_ROWS, replace=False))]
    labelled = frame.loc[frame[table.label_col].notna()]
    y = labelled[table.label_col].to_numpy("int64")
    enough = min(int(y.sum()), int(len(y) - y.sum())) >= MIN_CLASS
    notes = []
    for col in table.features:
        why = _id_like(frame, col, table.snapshot_col)
        if why:
            notes.append(
                f"Feature {col!r} looks like an id ({why}): a model can only memorise it, and "
                "it says nothing about new customers. Drop it from the feature table."
            )
        elif enough:
            note = _missing_pattern(col, labelled[col], y) or _separates(col, labelled[col], y)
            if note:
                notes.append(note)
    return notes


def _name_says_id(name: str) -> bool:
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))]
    return bool(words) and (words[-1] in _ID_LAST or words[0] in _ID_FIRST)


def _id_like(frame: pd.DataFrame, col: str, snapshot_col: str | None) -> str | None:
    if _name_says_id(col):
        return "its name says so"
    filled = frame[frame[col].notna()]
    if len(filled) < MIN_ID_ROWS:
        return None
    keys = [snapshot_col, col] if snapshot_col and snapshot_col in filled else [col]
    if filled.duplicated(keys).any():
        return None
    values = filled[col]
    if not pd.api.types.is_numeric_dtype(values):
        return "a different text on every row"
    x = values.to_numpy("float64")
    if np.all(x == np.round(x)):
        span = x.max() - x.min() + 1
        digits = np.unique(np.floor(np.log10(np.maximum(np.abs(x), 1))))
        # numbered rows (1..n with few gaps), or numbers of one length such as account numbers
        if span <= 2 * len(x) or (len(digits) == 1 and digits[0] >= 4):
            return "a different whole number on every row"
    # rows are in id order within a snapshot (FeatureTable loading sorts them)
    groups = filled[snapshot_col].to_numpy() if len(keys) == 2 else np.zeros(len(x))
    same = groups[1:] == groups[:-1]
    step = np.diff(x)[same]
    if len(step) and (np.all(step > 0) or np.all(step < 0)):
        return "it rises or falls with the id"
    return None


def _missing_pattern(col: str, values: pd.Series, y: np.ndarray) -> str | None:
    missing = values.isna().to_numpy()
    if not missing.any() or missing.all():
        return None
    churners, stayers = y == 1, y == 0
    tpr, tnr = missing[churners].mean(), (~missing)[stayers].mean()
    balanced = (tpr + tnr) / 2
    if balanced >= LEAK_AUC:
        who = "missing for churners and filled for stayers"
    elif balanced <= 1 - LEAK_AUC:
        who = "filled for churners and missing for stayers"
    else:
        return None
    return (
        f"Possible leak: feature {col!r} is {who} ({int((~missing)[churners].sum()):,} of "
        f"{int(churners.sum()):,} churners filled, {int((~missing)[stayers].sum()):,} of "
        f"{int(stayers.sum()):,} stayers): a column recorded only when a customer leaves (or "
        "stays) gives the label away. Drop it from the feature table."
    )


def _separates(col: str, values: pd.Series, y: np.ndarray) -> str | None:
    known = values.notna().to_numpy()
    yk = y[known]
    if min(int(yk.sum()), int(len(yk) - yk.sum())) < MIN_CLASS:
        return None
    if pd.api.types.is_numeric_dtype(values):
        score = values.to_numpy("float64")[known]
    else:
        levels = values[known].astype(str).to_numpy()
        rates = pd.Series(yk).groupby(levels).mean()
        if len(rates) > MAX_LEVELS:
            return None
        score = rates.reindex(levels).to_numpy()
    auc = float(roc_auc_score(yk, score))
    strength = max(auc, 1 - auc)
    if strength < LEAK_AUC:
        return None
    return (
        f"Possible leak: feature {col!r} alone separates churners from stayers almost "
        f"perfectly (ROC-AUC {strength:.3f} on {len(yk):,} labelled rows): a copy of the label, "
        "or something recorded after the outcome? Drop it unless it is known before a "
        "customer churns."
    )
