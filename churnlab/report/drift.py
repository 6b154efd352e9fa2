"""Feature drift: population stability index (PSI) of each feature against the training period.

Pure functions on Series and a :class:`~churnlab.features.table.FeatureTable`; the report shows the
features whose distribution this month moved away from the snapshots the model learned from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.features.table import FeatureTable

#: PSI above this is flagged as drift (the usual rule of thumb: < 0.1 stable, > 0.2 shifted).
PSI_FLAG = 0.2
#: share floor for an empty PSI bin (avoids log(0); a common convention).
PSI_EPSILON = 1e-4


def _shares(values: pd.Series, categories: list) -> np.ndarray:
    return _floored(values.value_counts().reindex(categories, fill_value=0).to_numpy(float))


def _floored(counts: np.ndarray) -> np.ndarray:
    """Each bin's share of the counts, floored at PSI_EPSILON."""
    total = counts.sum()
    shares = counts / total if total else counts
    return np.maximum(shares, PSI_EPSILON)


def psi(expected: pd.Series, actual: pd.Series, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected``.

    Numbers: ``bins`` quantile bins of ``expected`` (fewer when values repeat), plus one bin
    for missing values; categories: one bin per category seen in either, missing included.
    PSI = sum over bins of (a - e) * ln(a / e), shares floored at 1e-4 so an empty bin does not
    make it infinite. 0 means identical distributions; above 0.2 is usually read as a shift.
    """
    expected, actual = pd.Series(expected), pd.Series(actual)
    if pd.api.types.is_numeric_dtype(expected) and pd.api.types.is_numeric_dtype(actual):
        known = expected.dropna().to_numpy(float)
        edges = (
            np.unique(np.quantile(known, np.linspace(0, 1, bins + 1))[1:-1]) if len(known) else []
        )

        def shares(s: pd.Series) -> np.ndarray:
            # bins 0 .. len(edges) by value, the last one for missing values
            values = s.to_numpy(float)
            codes = np.searchsorted(edges, values, side="right")
            codes[np.isnan(values)] = len(edges) + 1
            return _floored(np.bincount(codes, minlength=len(edges) + 2).astype(float))

        pe, pa = shares(expected), shares(actual)
    else:
        e = expected.astype("string").fillna("(missing)")
        a = actual.astype("string").fillna("(missing)")
        categories = sorted(set(e) | set(a))
        pe, pa = _shares(e, categories), _shares(a, categories)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


#: reference rows for PSI; above this a seeded sample (quantiles of 200k rows are exact enough).
DRIFT_ROWS = 200_000


def feature_drift(
    table: FeatureTable,
    month: str,
    reference_snapshots: list[str],
    max_rows: int = DRIFT_ROWS,
    seed: int = 0,
) -> pd.DataFrame:
    """PSI of every feature in snapshot ``month`` against the reference (training) snapshots.

    Columns family, feature, psi, flagged (psi > 0.2); sorted by psi, largest first. A
    reference period above ``max_rows`` rows is represented by a seeded random sample.
    """
    current = table.at(month).frame
    # the sample is drawn among the reference rows' positions before any row is copied:
    # a reference period of a large population is millions of rows of every feature
    snapshots = table.frame[table.snapshot_col]
    positions = np.flatnonzero(snapshots.isin(list(reference_snapshots)).to_numpy())
    if len(positions) > max_rows:
        rows = np.random.default_rng(seed).choice(len(positions), max_rows, replace=False)
        positions = positions[np.sort(rows)]
    reference = table.frame.iloc[positions]
    rows = [
        {
            "family": table.families[f],
            "feature": f,
            "psi": psi(reference[f], current[f]),
        }
        for f in table.features
    ]
    out = pd.DataFrame(rows, columns=["family", "feature", "psi"])
    out["flagged"] = out["psi"] > PSI_FLAG
    return out.sort_values(["psi", "feature"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )
