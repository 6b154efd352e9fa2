"""Monthly churn figures of the report: the report month, labels, KPIs, trend and cohorts.

Pure functions on a :class:`~churnlab.contract.dataset.Dataset` and DataFrames; the notebooks call them
on ``dataset.as_of(month_cutoff(M))`` so that nothing dated at or after M's cutoff can reach
the figures (docs/definitions.md).

Definitions (for month M, churn measured with a horizon of one month whatever the model's
horizon, because a KPI is about what happened *in* M):

- **active customers** of M: the population of snapshot M-1, i.e. customers at the start of M;
- **churned in M**: those of them whose label (h = 1) is 1; **churn rate** = churned / active;
- **revenue lost**: the sum of the churned customers' latest billed amount before the start of
  M (their monthly revenue), NaN without a ``billing`` table;
- **cohort retention**: of the customers who signed up in month C, the share that is in the
  population of snapshot C+k (still a customer, or still active for inactivity churn).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from churnlab.contract.dataset import Dataset
from churnlab.core import engine
from churnlab.core.churn import DEFAULT_CHURN, ChurnDefinition
from churnlab.core.errors import ChurnlabError
from churnlab.core.months import (
    each_month,
    month_cutoff,
    month_of,
    month_range,
    parse_month,
    shift_month,
)
from churnlab.features.snapshots import snapshot_labels

# --- the report month -----------------------------------------------------------------------


def latest_complete_month(dataset: Dataset) -> str:
    """The latest calendar month whose last day the data reaches (YYYY-MM).

    Data ending on 31 October gives October; data ending on 15 October gives September.
    """
    end = pd.Timestamp(dataset.data_end)
    month = month_of(end)
    if end.normalize() < month_cutoff(month) - pd.Timedelta(days=1):
        month = shift_month(month, -1)
    return month


def first_month(dataset: Dataset) -> str:
    """The month of the earliest signup (the first snapshot that can have a population)."""
    return month_of(dataset.first_signup)


def resolve_month(dataset: Dataset, month: str, horizon: int = 1) -> str:
    """``month`` checked against the data ('' = the latest complete month).

    Raises ChurnlabError when the month lies outside the data, is not complete, or is so
    early that no snapshot's label window (``horizon`` months) has closed by its end.
    """
    latest = latest_complete_month(dataset)
    start = first_month(dataset)
    chosen = parse_month(month) if month else latest
    span = f"The data runs from {start} to {dataset.data_end:%Y-%m-%d}"
    if chosen > latest:
        raise ChurnlabError(
            f"Month {chosen} is outside the data (or not complete in it). {span}, so the "
            f"latest complete month is {latest}. Choose a month up to {latest}."
        )
    earliest = shift_month(start, horizon)
    if earliest > latest:
        longest = len(month_range(start, latest)) - 1
        raise ChurnlabError(
            f"The horizon of {horizon} months is longer than the data (it runs from {start} "
            f"to {dataset.data_end:%Y-%m-%d}), so no "
            f"snapshot's {horizon}-month outcome is known. Use a horizon of at most "
            f"{longest} month(s), or more history."
        )
    if chosen < start:
        raise ChurnlabError(
            f"Month {chosen} is before the data. {span}: choose a month from {earliest} to "
            f"{latest}."
        )
    if chosen < earliest:
        raise ChurnlabError(
            f"Month {chosen} is too early for a report with horizon {horizon}. {span}; a "
            f"report needs at least one earlier snapshot whose {horizon}-month outcome is "
            f"known by the end of the month. Choose a month from {earliest} to {latest}."
        )
    return chosen


# --- churn KPIs, trend, cohorts -------------------------------------------------------------


def monthly_labels(
    dataset: Dataset, last_month: str, definition: ChurnDefinition = DEFAULT_CHURN
) -> pd.DataFrame:
    """Populations and one-month labels of every snapshot from the first month to ``last_month``.

    Columns customer_id, snapshot, churned (Int8; NA where the month after is not observed).
    """
    months = month_range(first_month(dataset), last_month)
    return snapshot_labels(dataset, months, definition.with_horizon(1)).reset_index(drop=True)


def _monthly_amount(dataset: Dataset, pairs: pd.DataFrame) -> pd.Series:
    """Each (customer_id, snapshot) pair's latest billed amount before the snapshot cutoff.

    In SQL over the billing table (a table in its file is never loaded); among billing rows
    of the same instant, the highest amount counts.
    """
    if "billing" not in dataset.tables or pairs.empty:
        return pd.Series(np.nan, index=pairs.index)
    left = pd.DataFrame(
        {
            "customer_id": pairs["customer_id"].astype(str).to_numpy(),
            "cutoff": pd.to_datetime(each_month(pairs["snapshot"], month_cutoff)).astype(
                "datetime64[us]"
            ),
            "pos": np.arange(len(pairs)),
        }
    )
    con = dataset.connect()
    try:
        con.register("pairs", left)
        found = con.execute(
            "SELECT p.pos, max_by(b.amount, struct_pack(ts := b.period_start, a := b.amount)) "
            "AS amount FROM pairs p JOIN billing b ON b.customer_id = p.customer_id "
            "AND b.period_start < p.cutoff GROUP BY p.pos"
        ).df()
    finally:
        con.close()
    values = np.full(len(pairs), np.nan)
    values[found["pos"].to_numpy()] = found["amount"].to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(values, index=pairs.index)


def churn_history(dataset: Dataset, labels: pd.DataFrame) -> pd.DataFrame:
    """Churn per month from :func:`monthly_labels`: one row per month M after the first.

    Columns month, active_customers, churned, churn_rate, revenue_lost; ``churned`` and the
    rest are NaN for a month whose outcome is not observed.
    """
    month = each_month(labels["snapshot"], lambda m: shift_month(m, 1))
    frame = labels.assign(month=month.astype(labels["snapshot"].dtype))
    churners = frame[frame["churned"].fillna(0).astype(int) == 1]
    lost = _monthly_amount(dataset, churners[["customer_id", "snapshot"]])
    revenue = lost.groupby(churners["month"]).sum(min_count=1)
    grouped = frame.groupby("month", sort=True)
    out = pd.DataFrame(
        {
            "active_customers": grouped.size(),
            "labelled": grouped["churned"].count(),
            "churned": grouped["churned"].sum(min_count=1).astype(float),
        }
    )
    unknown = out["labelled"] < out["active_customers"]
    out.loc[unknown, "churned"] = np.nan
    out["churn_rate"] = out["churned"] / out["active_customers"].where(out["active_customers"] > 0)
    has_billing = "billing" in dataset.tables
    out["revenue_lost"] = revenue.reindex(out.index).fillna(0.0) if has_billing else np.nan
    out.loc[unknown, "revenue_lost"] = np.nan
    out = out.drop(columns="labelled").rename_axis("month").reset_index()
    return out


def churn_trend(history: pd.DataFrame, last_month: str, n: int = 24) -> pd.DataFrame:
    """The last ``n`` months of :func:`churn_history` up to ``last_month``."""
    kept = history[history["month"] <= last_month]
    return kept.tail(n).reset_index(drop=True)


_COUNTS = ("active_customers", "churned")


def _number(value, key: str) -> float | int | None:
    """A plain Python number for JSON and text; None for a missing or undefined value."""
    if (
        value is None
        or value is pd.NA
        or (isinstance(value, float | np.floating) and math.isnan(value))
    ):
        return None
    value = float(value)
    return int(round(value)) if key in _COUNTS else value


def kpis(history: pd.DataFrame, month: str) -> dict:
    """Headline KPIs of ``month``: value, previous month, 12-month average and changes.

    Returns ``{"month", "current": {...}, "previous": {...}, "average_12m": {...},
    "months_in_average", "change_vs_previous": {...}, "change_vs_average": {...}}`` where
    each block has active_customers, churned, churn_rate and revenue_lost (None when
    undefined). The 12-month average covers the 12 months before ``month`` that the data has.
    """
    keys = ["active_customers", "churned", "churn_rate", "revenue_lost"]
    by_month = history.set_index("month")
    if month not in by_month.index:
        raise ChurnlabError(f"No churn figures for {month}: the data does not cover it.")

    current = {k: _number(by_month.at[month, k], k) for k in keys}
    prev_month = shift_month(month, -1)
    previous = (
        {k: _number(by_month.at[prev_month, k], k) for k in keys}
        if prev_month in by_month.index
        else dict.fromkeys(keys)
    )
    window = by_month.loc[
        [m for m in month_range(shift_month(month, -12), prev_month) if m in by_month.index]
    ]
    # an average is not a count: keep the fractional number of customers
    average = {k: _number(window[k].mean(), "") if len(window) else None for k in keys}

    def change(base: dict) -> dict:
        return {
            k: None if current[k] is None or base[k] is None else current[k] - base[k] for k in keys
        }

    return {
        "month": month,
        "current": current,
        "previous": previous,
        "average_12m": average,
        "months_in_average": len(window),
        "change_vs_previous": change(previous),
        "change_vs_average": change(average),
    }


def cohort_retention(dataset: Dataset, labels: pd.DataFrame, last_month: str) -> pd.DataFrame:
    """Share of each signup cohort still in the population k months later.

    Rows: signup month (YYYY-MM), columns: months since signup 0, 1, ..., values in [0, 1]
    (NaN where cohort + k is after ``last_month``). ``labels`` is :func:`monthly_labels`.
    """
    customers = dataset.query(
        "SELECT customer_id, signup_date FROM customers "
        "WHERE customer_id IS NOT NULL AND signup_date IS NOT NULL"
    )
    cohort = each_month(customers["signup_date"], month_of)
    cohort = cohort[cohort <= last_month]
    sizes = cohort.groupby(cohort.to_numpy()).size()
    if sizes.empty:
        return pd.DataFrame()
    member = pd.DataFrame(
        {"customer_id": customers.loc[cohort.index, "customer_id"], "cohort": cohort}
    )
    pop = labels.loc[labels["snapshot"] <= last_month, ["customer_id", "snapshot"]]
    first = sizes.index.min()
    index = {m: i for i, m in enumerate(month_range(first, last_month))}
    # the population rows per cohort and snapshot, counted by the engine: a join of every
    # label row to its customer's cohort in pandas hashes millions of ids
    con = engine.connect()
    try:
        con.register("member", member)
        con.register("pop", pop)
        pairs = con.execute(
            "SELECT m.cohort, p.snapshot, count(*) AS n FROM pop p "
            "JOIN member m ON m.customer_id = p.customer_id GROUP BY m.cohort, p.snapshot"
        ).df()
    finally:
        con.close()
    age = pairs["snapshot"].map(index) - pairs["cohort"].map(index)
    counts = pairs.assign(age=age).groupby(["cohort", "age"])["n"].sum().unstack("age")
    ages = range(len(index))
    counts = counts.reindex(index=sizes.index, columns=ages).fillna(0.0)
    table = counts.div(sizes, axis=0)
    for c in table.index:  # ages the data has not reached yet are unknown, not zero
        table.loc[c, [a for a in ages if a > index[last_month] - index[c]]] = np.nan
    table.index.name, table.columns.name = "cohort", "months_since_signup"
    return table.dropna(axis=1, how="all")


def segment_kpis(
    dataset: Dataset, labels: pd.DataFrame, month: str, column: str = "segment"
) -> pd.DataFrame:
    """The churn KPIs of ``month`` per customer segment (the ``column`` of customers).

    One row per segment, in name order (missing segments as ``'(missing)'``): segment,
    active_customers (at the start of the month), churned, churn_rate and revenue_lost, by the
    definitions of the module docstring. Empty when customers have no such column.
    """
    cols = ["segment", "active_customers", "churned", "churn_rate", "revenue_lost"]
    if column not in dataset.customers.columns:
        return pd.DataFrame(columns=cols)
    start = labels[labels["snapshot"] == shift_month(month, -1)].reset_index(drop=True)
    start = start.assign(segment=segment_of(dataset, start["customer_id"], column).to_numpy())
    churned = start["churned"].astype("Float64")
    lost = _monthly_amount(dataset, start[["customer_id", "snapshot"]]).where(churned == 1, 0.0)
    grouped = start.assign(_churned=churned, _lost=lost).groupby("segment", sort=True)
    out = pd.DataFrame(
        {
            "active_customers": grouped.size(),
            "churned": grouped["_churned"].sum(min_count=1).astype(float),
            "revenue_lost": grouped["_lost"].sum(min_count=1).astype(float),
        }
    )
    unknown = grouped["_churned"].count() < out["active_customers"]
    out.loc[unknown, ["churned", "revenue_lost"]] = np.nan
    if "billing" not in dataset.tables:  # asks, without loading billing
        out["revenue_lost"] = np.nan
    out["churn_rate"] = out["churned"] / out["active_customers"]
    return out.rename_axis("segment").reset_index()[cols]


def segment_of(dataset: Dataset, ids: pd.Series, column: str = "segment") -> pd.Series:
    """Each id's value of the customers' ``column`` as text, ``'(missing)'`` when unknown."""
    customers = dataset.customers
    if column not in customers.columns:
        return pd.Series("(missing)", index=ids.index, dtype="string")
    values = pd.Series(
        customers[column].astype("string").to_numpy(),
        index=customers["customer_id"].astype("string").to_numpy(),
    )
    return ids.astype("string").map(values).astype("string").fillna("(missing)")
