"""The monthly report's own numbers: KPIs, churn trend, cohort retention, drift, data quality.

Pure functions on a :class:`~churnlab.dataset.Dataset`, a feature table or DataFrames; the
report notebook calls them on ``dataset.as_of(month_cutoff(M))`` so that nothing dated at or
after M's cutoff can reach the report (DESIGN section 2).

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

import json
import math
import re

import numpy as np
import pandas as pd

from churnlab.dataset import DATE_COLUMNS, Dataset
from churnlab.errors import ChurnlabError
from churnlab.months import month_cutoff, month_of, month_range, parse_month, shift_month
from churnlab.table import FeatureTable

#: PSI above this is flagged as drift (the usual rule of thumb: < 0.1 stable, > 0.2 shifted).
PSI_FLAG = 0.2
#: share floor for an empty PSI bin (avoids log(0); a common convention).
PSI_EPSILON = 1e-4
#: the backtest AUC must fall this far below its recent average to raise a warning.
AUC_DROP = 0.05


# --- months ---------------------------------------------------------------------------------


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
    return month_of(dataset.customers["signup_date"].min())


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
    dataset: Dataset, last_month: str, churn: str = "cancellation", inactive_days: int = 30
) -> pd.DataFrame:
    """Populations and one-month labels of every snapshot from the first month to ``last_month``.

    Columns customer_id, snapshot, churned (Int8; NA where the month after is not observed).
    """
    from churnlab.snapshots import snapshot_labels

    months = month_range(first_month(dataset), last_month)
    return snapshot_labels(
        dataset, months, horizon=1, churn=churn, inactive_days=inactive_days
    ).reset_index(drop=True)


def _monthly_amount(dataset: Dataset, pairs: pd.DataFrame) -> pd.Series:
    """Each (customer_id, snapshot) pair's latest billed amount before the snapshot cutoff."""
    billing = dataset.table("billing")
    if billing is None or pairs.empty:
        return pd.Series(np.nan, index=pairs.index)
    left = pairs.assign(
        _cut=pairs["snapshot"].map(lambda m: month_cutoff(m) - pd.Timedelta(microseconds=1)),
        _row=np.arange(len(pairs)),
    ).sort_values("_cut", kind="stable")
    right = billing[["customer_id", "period_start", "amount"]].dropna(subset=["period_start"])
    right = right.sort_values(["period_start", "customer_id"], kind="stable")
    left["_cut"] = left["_cut"].astype(right["period_start"].dtype)
    left["customer_id"] = left["customer_id"].astype(right["customer_id"].dtype)
    merged = pd.merge_asof(
        left, right, left_on="_cut", right_on="period_start", by="customer_id"
    ).sort_values("_row")
    return pd.Series(merged["amount"].to_numpy(float), index=pairs.index)


def churn_history(dataset: Dataset, labels: pd.DataFrame) -> pd.DataFrame:
    """Churn per month from :func:`monthly_labels`: one row per month M after the first.

    Columns month, active_customers, churned, churn_rate, revenue_lost; ``churned`` and the
    rest are NaN for a month whose outcome is not observed.
    """
    frame = labels.assign(month=labels["snapshot"].map(lambda m: shift_month(m, 1)))
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
    has_billing = dataset.table("billing") is not None
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
    customers = dataset.customers[["customer_id", "signup_date"]].dropna()
    cohort = customers["signup_date"].map(month_of)
    cohort = cohort[cohort <= last_month]
    sizes = cohort.groupby(cohort.to_numpy()).size()
    if sizes.empty:
        return pd.DataFrame()
    member = pd.Series(cohort.to_numpy(), index=customers.loc[cohort.index, "customer_id"])
    pop = labels[labels["snapshot"] <= last_month]
    pop = pop.assign(cohort=pop["customer_id"].map(member)).dropna(subset=["cohort"])
    first = sizes.index.min()
    index = {m: i for i, m in enumerate(month_range(first, last_month))}
    age = pop["snapshot"].map(index) - pop["cohort"].map(index)
    counts = pop.assign(age=age).groupby(["cohort", "age"]).size().unstack("age")
    ages = range(len(index))
    counts = counts.reindex(index=sizes.index, columns=ages).fillna(0.0)
    table = counts.div(sizes, axis=0)
    for c in table.index:  # ages the data has not reached yet are unknown, not zero
        table.loc[c, [a for a in ages if a > index[last_month] - index[c]]] = np.nan
    table.index.name, table.columns.name = "cohort", "months_since_signup"
    return table.dropna(axis=1, how="all")


# --- drift ----------------------------------------------------------------------------------


def _shares(values: pd.Series, categories: list) -> np.ndarray:
    counts = values.value_counts().reindex(categories, fill_value=0).to_numpy(float)
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

        def binned(s: pd.Series) -> pd.Series:
            codes = np.searchsorted(edges, s.to_numpy(float), side="right").astype(object)
            codes[s.isna().to_numpy()] = "missing"
            return pd.Series(codes)

        categories = [*range(len(edges) + 1), "missing"]
        e, a = binned(expected), binned(actual)
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
    reference = table.at(list(reference_snapshots)).frame
    if len(reference) > max_rows:
        rows = np.random.default_rng(seed).choice(len(reference), max_rows, replace=False)
        reference = reference.iloc[np.sort(rows)]
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


# --- backtest quality -----------------------------------------------------------------------


def quality_warning(
    history: pd.DataFrame, current_auc: float | None, margin: float = AUC_DROP
) -> str | None:
    """A warning when this month's backtest ROC-AUC is ``margin`` below its recent average.

    ``history`` has a ``roc_auc`` column for earlier backtest windows (NaN/None ignored).
    Returns None when there is no drop, or nothing to compare.
    """
    past = pd.to_numeric(history.get("roc_auc", pd.Series(dtype=float)), errors="coerce").dropna()
    if current_auc is None or past.empty:
        return None
    average = float(past.mean())
    if current_auc < average - margin:
        return (
            f"Model quality dropped: this month's backtest ROC-AUC is {current_auc:.3f}, "
            f"{average - current_auc:.3f} below its average of {average:.3f} over the previous "
            f"{len(past)} backtest month(s). Check the drift table and the data-quality "
            "summary before acting on the scores."
        )
    return None


#: training rows of one earlier backtest window's model (the most recent snapshots first).
HISTORY_ROWS = 300_000


def _recent(table: FeatureTable, snapshots: list[str], budget: int) -> list[str]:
    """The latest snapshots whose labelled rows fit in ``budget`` (at least two)."""
    sizes = table.frame.loc[table.labelled, table.snapshot_col].value_counts()
    kept, total = [], 0
    for snap in reversed(snapshots):
        total += int(sizes.get(snap, 0))
        if len(kept) >= 2 and total > budget:
            break
        kept.append(snap)
    return kept[::-1]


def backtest_history(
    table: FeatureTable,
    month: str,
    horizon: int = 1,
    seed: int = 0,
    n: int = 3,
    max_rows: int = HISTORY_ROWS,
) -> pd.DataFrame:
    """Backtest ROC-AUC of the ``n`` closed windows before this month's backtest.

    For each earlier backtest snapshot B (M-h-1, M-h-2, ...), a model is trained as the
    report's backtest is (on snapshots labelled by B's cutoff, the last of them for
    validation) and scored on B. To keep a large report fast, each of these models learns from
    the most recent of those snapshots up to ``max_rows`` labelled rows (all of them on data
    of a few ten thousand customers). Windows without enough history or with one outcome only
    are left out. Columns snapshot, roc_auc, n, positives.
    """
    from churnlab import metrics as mx
    from churnlab.model import ChurnModel

    labelled = sorted(table.frame.loc[table.labelled, table.snapshot_col].unique().tolist())
    rows = []
    for k in range(1, n + 1):
        b = shift_month(month, -horizon - k)
        history = _recent(table, [s for s in labelled if s <= shift_month(b, -horizon)], max_rows)
        if b not in labelled or len(history) < 2:
            continue
        test = table.at(b)
        test = test.subset(test.labelled)
        y = test.frame[table.label_col].to_numpy(float)
        if y.min() == y.max():
            continue
        model = ChurnModel(seed=seed).fit(table.at(history[:-1]), table.at(history[-1:]))
        p = model.predict_proba(test)
        rows.append(
            {"snapshot": b, "roc_auc": mx.roc_auc(y, p), "n": len(y), "positives": int(y.sum())}
        )
    return pd.DataFrame(rows, columns=["snapshot", "roc_auc", "n", "positives"])


# --- data quality and at-risk list ----------------------------------------------------------


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


# --- presentation helpers for the notebook --------------------------------------------------

_KPI_ROWS = {
    "active_customers": "Active customers (start of month)",
    "churned": "Churned during the month",
    "churn_rate": "Churn rate",
    "revenue_lost": "Monthly revenue lost",
}


def _fmt(key: str, value, change: bool = False) -> str:
    if value is None:
        return "n/a"
    sign = "+" if change and value > 0 else ""
    if key == "churn_rate":
        return f"{sign}{value * 100:.2f} pp" if change else f"{value:.2%}"
    if key == "revenue_lost":
        return f"{sign}{value:,.2f}"
    return f"{sign}{value:,.0f}" if float(value).is_integer() else f"{sign}{value:,.1f}"


def kpi_table(k: dict) -> pd.DataFrame:
    """The headline KPIs of :func:`kpis` as a small table of formatted text, ready to show.

    Changes in the churn rate are in percentage points (pp).
    """
    columns = {
        k["month"]: ("current", False),
        "previous month": ("previous", False),
        "change": ("change_vs_previous", True),
        f"{k['months_in_average']}-month average": ("average_12m", False),
        "vs average": ("change_vs_average", True),
    }
    data = {
        title: [_fmt(key, k[block][key], change) for key in _KPI_ROWS]
        for title, (block, change) in columns.items()
    }
    return pd.DataFrame(data, index=list(_KPI_ROWS.values()))


def callout(text: str, kind: str = "warning") -> str:
    """An HTML box for a warning (red) or a note (blue) in the report; ``text`` is escaped."""
    import html

    colors = {"warning": ("#c0392b", "#fdecea"), "note": ("#2c7fb8", "#eaf3fb")}
    border, background = colors.get(kind, colors["note"])
    return (
        f'<div class="churnlab-{kind}" style="border-left:6px solid {border};'
        f'background:{background};padding:0.6em 1em;margin:0.5em 0">'
        f"{html.escape(text)}</div>"
    )


def training_snapshots(table: FeatureTable, month: str, horizon: int = 1) -> list[str]:
    """Snapshots the forward model of ``month`` learns from: labelled and at or before M-h."""
    last = shift_month(month, -horizon)
    labelled = table.frame.loc[table.labelled, table.snapshot_col].unique().tolist()
    return sorted(s for s in labelled if s <= last)


#: customers of last month explained for the driver-change chart (a seeded sample above it).
PREVIOUS_SAMPLE = 5_000


def previous_month_shares(
    model, table: FeatureTable, month: str, max_rows: int = PREVIOUS_SAMPLE, seed: int = 0
) -> dict[str, float]:
    """Family shares of the same forward model on last month's snapshot ({} without one).

    The report's "change vs previous month" holds the model fixed and explains the customers
    of M-1 with it: a difference then says that the customer base's drivers moved (more open
    tickets, more expired discounts), not that a retrained model weighs things differently.
    Above ``max_rows`` customers a seeded random sample of that size is explained (family
    shares of 5,000 customers are within about a percentage point of the full population's).
    """
    from churnlab.explain import explain, family_shares, feature_drivers

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


def backtest_table(backtest: dict) -> pd.DataFrame:
    """The backtest block of metrics.json as a table with a plain-words reading per metric."""
    meaning = {
        "roc_auc": "chance a churner is ranked above a stayer (0.5 = coin flip, 1 = perfect)",
        "pr_auc": "precision averaged over recall (compare with the churn rate)",
        "brier": "mean squared error of the probabilities (lower is better)",
        "lift_top_decile": "churn rate in the riskiest 10 % / overall churn rate",
        "n": "customers scored in the backtest month",
        "positives": "of whom churned",
    }
    rows = [
        {
            "metric": key,
            "value": "undefined" if backtest.get(key) is None else f"{backtest[key]:.4g}",
            "meaning": text,
        }
        for key, text in meaning.items()
    ]
    return pd.DataFrame(rows).set_index("metric")


def jsonable(obj):
    """A JSON-ready copy: numpy scalars as Python, floats to 6 significant digits, NaN as null.

    Rounding makes files byte-stable across platforms whose last float digits may differ.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else float(f"{obj:.6g}")
    return obj


def write_extras(out_dir, tables: dict[str, pd.DataFrame], documents: dict[str, dict]) -> None:
    """Write the report's own tables (CSV) and documents (JSON) to ``out_dir``, byte-stable.

    Floats are written with 6 significant digits and JSON keys sorted, as the result files
    are, so two runs of the same report give identical files.
    """
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", float_format="%.6g", lineterminator="\n")
    for name, doc in documents.items():
        text = json.dumps(jsonable(doc), sort_keys=True, indent=2, allow_nan=False)
        (out / f"{name}.json").write_text(text + "\n", encoding="utf-8")


def show(*figures) -> None:
    """Display figures in a notebook, each exactly once, and release them.

    Figures made through pyplot would otherwise be shown a second time when the cell ends
    (matplotlib's inline backend shows every open pyplot figure); closing them after display
    prevents that and frees their memory. Pyplot-free figures are simply displayed.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    for figure in figures:
        display(figure)
        plt.close(figure)


# --- exploration: churn by segment and by driver signals ------------------------------------


def churn_by_group(table: FeatureTable, column: str, bins: int = 5, last: int = 12) -> pd.DataFrame:
    """Observed churn rate per value of ``column`` over the last ``last`` labelled snapshots.

    Numbers are cut into ``bins`` quantile groups (fewer when values repeat; missing values
    form their own group), categories are taken as they are. Columns group, customers,
    churned, churn_rate; groups in their natural order.
    """
    snaps = sorted(table.frame.loc[table.labelled, table.snapshot_col].unique().tolist())[-last:]
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
