"""A tiny hand-made dataset and its hand-worked monthly labels, shared by the report tests."""

from __future__ import annotations

import pandas as pd

from churnlab.contract.dataset import Dataset


def _ts(values):
    return pd.to_datetime(pd.Series(values, dtype="object"))


def tiny_dataset() -> Dataset:
    """Four customers; see the comments in the tests for what each one does."""
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "b", "c", "d"], dtype="string"),
            "signup_date": _ts(["2025-01-10", "2025-01-20", "2025-02-05", "2025-02-10"]),
            "churn_date": _ts(["2025-03-15", None, "2025-02-20", "2025-04-02"]),
            "plan": pd.Series(["x", "y", None, "x"], dtype="string"),
        }
    )
    billing = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "a", "b", "b", "b", "b", "d", "d"], dtype="string"),
            "period_start": _ts(
                [
                    "2025-01-10",
                    "2025-02-10",
                    "2025-03-10",
                    "2025-01-20",
                    "2025-02-20",
                    "2025-03-20",
                    "2025-04-30",
                    "2025-02-10",
                    "2025-03-10",
                ]
            ),
            "amount": [10.0, 12.0, 12.0, 20.0, 20.0, 20.0, 20.0, 30.0, 35.0],
        }
    )
    return Dataset(
        tables={"customers": customers, "billing": billing},
        warnings=("billing.customer_id: 2 rows of unknown customers dropped",),
    )


def hand_labels() -> pd.DataFrame:
    """Populations and one-month labels of snapshots 2025-01..2025-04, worked out by hand.

    2025-01 (cutoff 1 Feb): a, b, nobody churns in February.
    2025-02 (cutoff 1 Mar): a, b, d (c left on 20 Feb); a churns on 15 Mar.
    2025-03 (cutoff 1 Apr): b, d; d churns on 2 Apr.
    2025-04 (cutoff 1 May): b; April's outcome unknown (NA).
    """
    rows = [
        ("a", "2025-01", 0),
        ("b", "2025-01", 0),
        ("a", "2025-02", 1),
        ("b", "2025-02", 0),
        ("d", "2025-02", 0),
        ("b", "2025-03", 0),
        ("d", "2025-03", 1),
        ("b", "2025-04", None),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "snapshot", "churned"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["churned"] = frame["churned"].astype("Int8")
    return frame
