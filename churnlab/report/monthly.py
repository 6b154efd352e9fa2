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
from churnlab.model.explain import explain, family_shares, feature_drivers


def training_snapshots(table: FeatureTable, month: str, horizon: int = 1) -> list[str]:
    """Snapshots the forward model of ``month`` learns from: labelled and at or before M-h."""
    last = shift_month(month, -horizon)
    return [s for s in table.labelled_snapshots if s <= last]


#: customers of last month explained for the driver-change chart (a seeded sample above it).
PREVIOUS_SAMPLE = 5_000


def previous_month_shares(
    model, table: FeatureTable, month: str, max_rows: int = PREVIOUS_SAMPLE, seed: int = 0
) -> dict[str, float]:
    """Family shares of the same forward model on last month's snapshot ({} without one).

    The report's "change vs previous month" holds the model fixed and explains the customers
    of M-1 with it: a difference then says that the customer base's drivers moved (more open
    tickets, more expired discounts), not that a retrained model weighs things differently.
    Above ``max_rows`` customers a seeded random sample of that size is explained
    (benchmarks/RESULTS.md, "SHAP", says how close a sample's shares are).
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
    return family_shares(feature_drivers(explain(model, rows)))


def at_risk(scores: pd.DataFrame, n: int = 50, id_col: str = "customer_id") -> pd.DataFrame:
    """The ``n`` customers with the most expected revenue at risk, with reasons and action.

    Sorted by expected_revenue_at_risk, then churn_probability (both descending), then id;
    when no revenue is known (no billing), by churn_probability alone. The reasons are joined
    into one text column. With time to churn the list has the expected months of the next 12
    and the 12-month revenue at risk (12 x the monthly amount - the expected revenue); with an
    actions table each customer's best action, its churn prevented and net gain
    (docs/actions.md).
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
    if "expected_revenue_12m" in frame.columns and "value" in frame.columns:
        frame["revenue_at_risk_12m"] = 12 * frame["value"] - frame["expected_revenue_12m"]
    cols = [id_col, "churn_probability", "risk_rank", "value", "expected_revenue_at_risk"]
    cols += ["expected_months_12m", "revenue_at_risk_12m"]  # time to churn, when computed
    cols += ["reasons", "action", "best_action", "churn_prevented", "net_gain"]  # last 3: actions
    return frame[[c for c in cols if c in frame.columns]].reset_index(drop=True)


def outlook(scores: pd.DataFrame) -> dict:
    """What the scores expect for the horizon ahead: churners, their likely range, revenue.

    ``expected_churners`` is the sum of the churn probabilities (the calibrated model's
    expected count); ``low``/``high`` its 95 % range if the customers leave independently
    (the count's standard deviation is ``sqrt(sum p (1 - p))``); ``revenue_at_risk`` the sum of
    expected_revenue_at_risk (None without billing amounts).
    """
    p = pd.to_numeric(scores["churn_probability"], errors="coerce").dropna().to_numpy(float)
    expected = float(p.sum())
    spread = 1.959964 * float(np.sqrt((p * (1 - p)).sum()))
    revenue = pd.to_numeric(scores.get("expected_revenue_at_risk"), errors="coerce")
    known = revenue is not None and bool(revenue.notna().any())
    return {
        "customers": int(len(p)),
        "expected_churners": expected,
        "low": max(0.0, expected - spread),
        "high": expected + spread,
        "expected_rate": expected / len(p) if len(p) else None,
        "revenue_at_risk": float(revenue.sum()) if known else None,
    }


def outlook_by_segment(scores: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """:func:`outlook` per segment; ``segments`` aligns with the rows of ``scores``.

    Columns segment, customers, expected_churners, expected_rate, revenue_at_risk; segments
    in name order, missing ones as ``'(missing)'``.
    """
    cols = ["segment", "customers", "expected_churners", "expected_rate", "revenue_at_risk"]
    groups = pd.Series(np.asarray(segments, dtype=object)).astype("string").fillna("(missing)")
    frame = scores.reset_index(drop=True)
    rows = [
        {"segment": name, **outlook(frame[(groups == name).to_numpy()])}
        for name in sorted(groups.unique())
    ]
    return pd.DataFrame(rows, columns=cols + ["low", "high"])[cols]
