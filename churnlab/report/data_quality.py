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
    Computed in SQL (one scan per table), so a table in its file is never loaded.
    """
    rows = []
    con = dataset.connect()
    try:
        for name in dataset.tables:
            kinds = dataset.columns(name)
            cols = list(kinds)
            missing = [
                f"count(*) FILTER (WHERE {_q(c)} IS NULL"
                + (f" OR isnan(CAST({_q(c)} AS DOUBLE))" if kinds[c] == "number" else "")
                + ")"
                for c in cols
            ]
            dates = [c for c in DATE_COLUMNS.get(name, ()) if c in kinds]
            bounds = [f"min({_q(c)})" for c in dates] + [f"max({_q(c)})" for c in dates]
            values = con.execute(
                f"SELECT count(*), {', '.join(missing + bounds) or '0'} FROM {_q(name)}"
            ).fetchone()
            n, empty = int(values[0]), [int(v) for v in values[1 : 1 + len(cols)]]
            lows = [v for v in values[1 + len(cols) : 1 + len(cols) + len(dates)] if v is not None]
            highs = [v for v in values[1 + len(cols) + len(dates) :] if v is not None]
            shares = pd.Series([e / n if n else 0.0 for e in empty], index=cols, dtype=float)
            worst = shares.sort_values(ascending=False, kind="stable")
            first = pd.Timestamp(min(lows)) if lows else pd.NaT
            last = pd.Timestamp(max(highs)) if highs else pd.NaT
            rows.append(
                {
                    "table": name,
                    "rows": n,
                    "columns": len(cols),
                    "first_date": "" if pd.isna(first) else f"{first:%Y-%m-%d}",
                    "last_date": "" if pd.isna(last) else f"{last:%Y-%m-%d}",
                    "missing_share": float(shares.mean()) if len(shares) else 0.0,
                    "most_missing": f"{worst.index[0]} ({worst.iloc[0]:.0%})"
                    if len(worst) and worst.iloc[0] > 0
                    else "",
                    "warnings": sum(bool(re.match(rf"{name}[.:]", w)) for w in dataset.warnings),
                }
            )
    finally:
        con.close()
    return pd.DataFrame(rows)


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'
