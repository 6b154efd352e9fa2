"""Descriptive views of a feature table: churn by group, each family's telling feature, splits.

Used by the exploration and training notebooks to show observed churn before any model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.features.table import FeatureTable


def churn_by_group(table: FeatureTable, column: str, bins: int = 5, last: int = 12) -> pd.DataFrame:
    """Observed churn rate per value of ``column`` over the last ``last`` labelled snapshots.

    Numbers are cut into ``bins`` quantile groups (fewer when values repeat; missing values
    form their own group), categories are taken as they are. Columns group, customers,
    churned, churn_rate; groups in their natural order.
    """
    snaps = table.labelled_snapshots[-last:]
    rows = table.at(snaps).frame if snaps else table.frame.iloc[0:0]
    rows = rows[rows[table.label_col].notna()]
    values = rows[column]
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > bins:
        groups = pd.qcut(values, bins, duplicates="drop").astype("string")
    else:
        groups = values.astype("string")
    groups = groups.fillna("(missing)")
    y = rows[table.label_col].astype(float)
    out = y.groupby(groups.to_numpy(), sort=False).agg(["size", "sum", "mean"])
    out.columns = ["customers", "churned", "churn_rate"]
    order = list(dict.fromkeys(groups.sort_values(key=_group_key).tolist()))
    return out.reindex(order).rename_axis("group").reset_index()


def _group_key(s: pd.Series) -> pd.Series:
    """Sort quantile labels like '(1.5, 3.0]' by their lower bound, others as text."""
    lower = pd.to_numeric(s.str.extract(r"^[\(\[]\s*(-?[\d.e+-]+)")[0], errors="coerce")
    return lower.fillna(np.inf).astype(float) if lower.notna().any() else s


def family_signals(table: FeatureTable, bins: int = 5, last: int = 12) -> pd.DataFrame:
    """For each driver family, churn by group of its most telling feature.

    The most telling feature is the one whose groups' churn rates are furthest apart (max -
    min). Columns family, feature, group, customers, churned, churn_rate.
    """
    best: dict[str, tuple[float, pd.DataFrame]] = {}
    for feature, family in table.families.items():
        by = churn_by_group(table, feature, bins, last)
        if len(by) < 2 or by["customers"].min() < 50:
            continue  # too few groups, or a group too small to read a rate from
        spread = float(by["churn_rate"].max() - by["churn_rate"].min())
        if family not in best or spread > best[family][0]:
            best[family] = (spread, by.assign(family=family, feature=feature))
    if not best:
        return pd.DataFrame(
            columns=["family", "feature", "group", "customers", "churned", "churn_rate"]
        )
    frames = [best[f][1] for f in sorted(best, key=lambda f: -best[f][0])]
    cols = ["family", "feature", "group", "customers", "churned", "churn_rate"]
    return pd.concat(frames, ignore_index=True)[cols]


def split_summary(table: FeatureTable, periods: dict[str, list[str]]) -> pd.DataFrame:
    """Rows, churners and churn rate of each period of a temporal split (labelled rows only)."""
    rows = []
    for name, snaps in periods.items():
        part = table.at(snaps).frame
        y = part[table.label_col].dropna().astype(float)
        rows.append(
            {
                "period": name,
                "snapshots": f"{snaps[0]} to {snaps[-1]}" if len(snaps) > 1 else snaps[0],
                "months": len(snaps),
                "rows": len(y),
                "churners": int(y.sum()),
                "churn_rate": float(y.mean()) if len(y) else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("period")
