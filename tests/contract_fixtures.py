"""Hand-made datasets for the data-contract tests, and a writer for dataset folders.

``good_tables`` is a tiny valid dataset with every table whose numbers are easy to check by
hand. ``foreign_tables`` is an *independent* generator (not churnlab's synth): integer ids,
time-zone-aware timestamps, extra columns, as another team's export would look.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def good_tables() -> dict[str, pd.DataFrame]:
    """Three customers (C1 churned 2024-03-15), each table present, every rule satisfied."""
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "signup_date": ["2024-01-05", "2024-01-20", "2024-02-10"],
                "churn_date": ["2024-03-15", None, None],
                "plan": ["basic", "pro", "basic"],
                "segment": ["smb", "enterprise", "smb"],
                "seats": [1.0, 25.0, 3.0],
            }
        ),
        "billing": pd.DataFrame(
            {
                "customer_id": ["C1", "C1", "C2", "C3"],
                "period_start": ["2024-01-05", "2024-02-05", "2024-01-20", "2024-02-10"],
                "amount": [10.0, 12.5, 99.0, 0.0],
                "discount": [0.0, 0.0, 10.0, None],
                "paid": ["yes", "no", "1", "true"],
            }
        ),
        "tickets": pd.DataFrame(
            {
                "customer_id": ["C1", "C2", "C2"],
                "opened_at": ["2024-02-01T09:00:00", "2024-02-03T10:30:00", "2024-03-01T08:00:00"],
                "resolved_at": ["2024-02-02T12:00:00", None, "2024-03-01T09:15:00"],
                "category": ["billing", "bug", "bug"],
                "csat": [2.0, None, 5.0],
                "escalated": ["false", "true", "0"],
            }
        ),
        "onboarding": pd.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "step": ["account", "account", "first_report"],
                "completed_at": [
                    "2024-01-05T10:00:00",
                    "2024-01-21T11:00:00",
                    "2024-02-12T15:00:00",
                ],
            }
        ),
        "usage": pd.DataFrame(
            {
                "customer_id": ["C1", "C2", "C2", "C3"],
                "date": ["2024-02-01", "2024-02-01", "2024-02-02", "2024-02-11"],
                "sessions": [3.0, 1.0, 4.0, 2.0],
                "minutes": [30.0, 5.0, 60.5, 12.0],
            }
        ),
        "feedback": pd.DataFrame(
            {
                "customer_id": ["C2", "C3"],
                "responded_at": ["2024-02-15T12:00:00", "2024-02-20T12:00:00"],
                "score": [9.0, 4.0],
                "comment": ["great", "slow, and expensive"],
            }
        ),
    }


def write(folder: Path, tables: dict[str, pd.DataFrame], fmt: str | dict[str, str] = "csv") -> Path:
    """Write ``tables`` as ``<table>.<fmt>`` files into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        kind = fmt if isinstance(fmt, str) else fmt.get(name, "csv")
        if kind == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def foreign_tables(n_customers: int = 50, seed: int = 7) -> dict[str, pd.DataFrame]:
    """A dataset from a generator unrelated to churnlab's synth (another team's export).

    Integer customer ids, tz-aware timestamps (Europe/Berlin), extra columns in every table,
    an optional column left out (billing has no paid), churners with activity only before
    their churn date, and every value valid under the contract.
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(1001, 1001 + n_customers)
    signup = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n_customers), "D")
    churned = rng.random(n_customers) < 0.3
    life = pd.to_timedelta(rng.integers(40, 300, n_customers), "D")
    churn = pd.Series(signup + life).where(churned)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup.date,
            "churn_date": [d.date() if pd.notna(d) else None for d in churn],
            "plan": rng.choice(["starter", "team", "business"], n_customers),
            "region": rng.choice(["north", "south"], n_customers),
            "employees": rng.integers(1, 500, n_customers),
        }
    )
    end = churn.fillna(pd.Timestamp("2024-06-30"))
    rows = []
    for cid, start, stop in zip(ids, signup, end, strict=True):
        days = pd.date_range(start, stop, freq="7D")
        rows.append(pd.DataFrame({"customer_id": cid, "date": days}))
    usage = pd.concat(rows, ignore_index=True)
    usage["events"] = rng.poisson(20, len(usage)).astype(np.int64)
    usage["device"] = rng.choice(["web", "ios"], len(usage))
    pick = rng.choice(len(usage), size=len(usage) // 10, replace=False)
    # 09:00 UTC shown in Berlin time: offsets +01:00 in winter, +02:00 in summer
    opened = (usage["date"].iloc[pick] + pd.Timedelta(hours=9)).dt.tz_localize("UTC")
    tickets = pd.DataFrame(
        {
            "customer_id": usage["customer_id"].iloc[pick].to_numpy(),
            "opened_at": opened.dt.tz_convert("Europe/Berlin").to_numpy(),
            "priority": rng.choice(["low", "high"], len(pick)),
            "csat": rng.integers(1, 6, len(pick)).astype(float),
            "escalated": rng.random(len(pick)) < 0.1,
        }
    )
    tickets["resolved_at"] = tickets["opened_at"] + pd.to_timedelta(
        rng.integers(1, 72, len(pick)), "h"
    )
    billing = usage.groupby("customer_id", as_index=False)["date"].min()
    billing = billing.rename(columns={"date": "period_start"})
    billing["amount"] = rng.choice([19.0, 49.0, 99.0], len(billing))
    billing["currency"] = "EUR"
    return {"customers": customers, "usage": usage, "tickets": tickets, "billing": billing}
