"""The forward model's part of the monthly report: training snapshots, driver change, at-risk list.

``training_snapshots`` says what this month's model learns from, ``previous_month_shares``
explains last month's customers with that same model, and ``at_risk`` picks the customers to
call first.

The report's other numbers live in their own modules: :mod:`churnlab.report.kpis` (churn KPIs,
trend, cohorts), :mod:`churnlab.report.drift` (PSI), :mod:`churnlab.report.data_quality`,
:mod:`churnlab.report.model_quality` (backtest history), :mod:`churnlab.report.views` (tables and boxes for the notebook) and
:mod:`churnlab.report.outputs` (the report's extra files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.core.months import shift_month
from churnlab.features.table import FeatureTable
from churnlab.model.credit import Reference, table_credit
from churnlab.model.explain import credit_shares


def training_snapshots(table: FeatureTable, month: str, horizon: int = 1) -> list[str]:
    """Snapshots the forward model of ``month`` learns from: labelled and at or before M-h."""
    last = shift_month(month, -horizon)
    return [s for s in table.labelled_snapshots if s <= last]


#: customers of last month explained for the driver-change chart (a seeded sample above it).
PREVIOUS_SAMPLE = 5_000


def previous_month_shares(
    model,
    table: FeatureTable,
    month: str,
    max_rows: int = PREVIOUS_SAMPLE,
    seed: int = 0,
    reference: Reference | None = None,
) -> dict[str, float]:
    """Driver-credit family shares of the same forward model on last month's snapshot ({}
    without one), comparable with ``metrics['driver_shares']``.

    The report's "change vs previous month" holds the model fixed and explains the customers
    of M-1 with it: a difference then says that the customer base's drivers moved (more open
    tickets, more expired discounts), not that a retrained model weighs things differently.
    With ``reference`` (this month's, ``result.credit.reference``) the healthy levels are held
    fixed too; without, they come from last month's customers. Above ``max_rows`` customers a
    seeded random sample of that size is explained (benchmarks/RESULTS.md, "SHAP", says how
    close a sample's shares are).
    """
    previous = shift_month(month, -1)
    if previous not in table.snapshots:
        return {}
    rows = table.at(previous)
    if len(rows.frame) > max_rows:
        keep = np.random.default_rng(seed).choice(len(rows.frame), max_rows, replace=False)
        mask = np.zeros(len(rows.frame), dtype=bool)
        mask[keep] = True
        rows = rows.subset(pd.Series(mask, index=rows.frame.index))
    return credit_shares(table_credit(model, rows, reference=reference, seed=seed))


def at_risk(scores: pd.DataFrame, n: int = 50, id_col: str = "customer_id") -> pd.DataFrame:
    """The ``n`` customers with the most expected revenue at risk, with reasons and action.

    Sorted by expected_revenue_at_risk, then churn_probability (both descending), then id;
    when no revenue is known (no billing), by churn_probability alone. The reasons are joined
    into one text column.
    """
    frame = scores.copy()
    revenue = pd.to_numeric(frame.get("expected_revenue_at_risk"), errors="coerce")
    frame["_rev"] = revenue.fillna(-1.0) if revenue is not None else -1.0
    frame = frame.sort_values(
        ["_rev", "churn_probability", id_col], ascending=[False, False, True], kind="stable"
    ).head(n)
    reasons = [c for c in ("reason_1", "reason_2", "reason_3") if c in frame.columns]
    frame["reasons"] = (
        frame[reasons].fillna("").astype(str).agg(lambda r: "; ".join(t for t in r if t), axis=1)
        if reasons
        else ""
    )
    cols = [id_col, "churn_probability", "risk_rank", "value", "expected_revenue_at_risk"]
    cols += ["reasons", "action"]
    return frame[[c for c in cols if c in frame.columns]].reset_index(drop=True)
