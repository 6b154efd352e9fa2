"""The data-quality summary of a report: one row per table of the dataset as known at M."""

from __future__ import annotations

import re

import pandas as pd

from churnlab.contract.dataset import Dataset
from churnlab.contract.schema import DATE_COLUMNS


def data_quality_summary(dataset: Dataset) -> pd.DataFrame:
    """One row per table: rows, columns, first and last date, missing shares, warnings.

    ``missing_share`` is the share of empty cells over the whole table; ``most_missing`` names
    the column with the most empty values and its share; ``warnings`` counts the dataset's
    warnings about the table (they start with ``table.column:``; orphans, activity after churn, ...).
    """
    rows = []
    for name, frame in dataset.tables.items():
        dates = [c for c in DATE_COLUMNS.get(name, ()) if c in frame.columns]
        stacked = (
            pd.concat([frame[c] for c in dates]) if dates else pd.Series(dtype="datetime64[ns]")
        )
        missing = frame.isna().mean() if len(frame) else pd.Series(0.0, index=frame.columns)
        worst = missing.sort_values(ascending=False, kind="stable")
        first, last = stacked.min(), stacked.max()
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "columns": frame.shape[1],
                "first_date": "" if pd.isna(first) else f"{first:%Y-%m-%d}",
                "last_date": "" if pd.isna(last) else f"{last:%Y-%m-%d}",
                "missing_share": float(missing.mean()) if len(missing) else 0.0,
                "most_missing": f"{worst.index[0]} ({worst.iloc[0]:.0%})"
                if len(worst) and worst.iloc[0] > 0
                else "",
                "warnings": sum(bool(re.match(rf"{name}[.:]", w)) for w in dataset.warnings),
            }
        )
    return pd.DataFrame(rows)
