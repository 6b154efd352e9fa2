"""Time to churn in the report: retention ahead, its backtest, and what shortens lifetimes.

:func:`survival_month` (the monthly report, docs/time-to-churn.md) fits the discrete-time
:class:`~churnlab.model.survival.SurvivalModel` on every snapshot up to month M with outcomes
censored at M's cutoff, and gives each customer of snapshot M ``p_retained_3m``,
``p_retained_6m``, ``p_retained_12m``, ``expected_months_12m`` (S(1) + ... + S(12): the
expected number of the next 12 months the customer completes) and ``expected_revenue_12m``
(that times the current monthly amount, when there is billing). Its backtest, like the churn
model's, is the model that would have been trained at snapshot B = M - 6 (outcomes censored at
B's cutoff, snapshots before B), scored at B and compared with the 6 months that followed.

:func:`survival_table` is the same question for a flat table with a duration
(``churnlab explain --duration``): XGBoost ``survival:cox`` validated out of fold, with
features that copy the duration left out and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from churnlab.core.churn import INACTIVITY
from churnlab.core.errors import ChurnlabError
from churnlab.core.months import shift_month
from churnlab.features.table import FeatureTable
from churnlab.model import survival_metrics as sm
from churnlab.model.explain import ExplanationData, explain, family_shares, feature_drivers
from churnlab.model.splits import rows_at, stratified_folds
from churnlab.model.survival import (
    HORIZONS,
    MAX_TRAIN_ROWS,
    LifetimeModel,
    SurvivalModel,
    censor_at,
    duration_leaks,
    lifetime_effects,
    outcome_arrays,
)

#: months between the survival backtest's snapshot and the report month
BACKTEST_MONTHS = 6
#: months at which the backtest measures the time-dependent AUC
AUC_MONTHS = (3, 6)
#: the scores.csv columns, in order
SCORE_COLUMNS = (
    "p_retained_3m",
    "p_retained_6m",
    "p_retained_12m",
    "expected_months_12m",
    "expected_revenue_12m",
)
#: customers whose lifetime effects are explained (a seeded sample above it)
EFFECT_ROWS = 2_000
CANCELLATION_ONLY = (
    "No time to churn: it is defined for cancellation churn only. With inactivity churn the "
    "label 'no usage in the next h months' gets rarer as h grows, so it is no time of churn, "
    "and a silence at the end of the data may still end (docs/time-to-churn.md)."
)


NO_DURATION = (
    "No time to churn: the feature table has no time-to-churn columns (a table built from a "
    "dataset with cancellation churn has them)."
)


@dataclass
class SurvivalResult:
    """What the report shows about time to churn (empty frames when it is unavailable).

    ``metrics`` goes to metrics.json under ``survival``; ``scores`` holds the
    :data:`SCORE_COLUMNS` of every scored row, in the scored table's order; ``curve`` the
    mean predicted retention per month ahead; ``segment_curves`` the same per segment;
    ``backtest_curve`` predicted against observed (Kaplan-Meier) retention of the backtest
    cohort; ``drivers`` the features' effects on the expected lifetime (``mean_abs_months``,
    positive direction = higher values shorten it) and ``shares`` per family.
    """

    metrics: dict
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment_curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    backtest_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    shares: dict[str, float] = field(default_factory=dict)
    model: SurvivalModel | LifetimeModel | None = None
    #: per segment (or one row "all"): customers, mean retention and expected months,
    #: expected revenue and revenue at risk over the next 12 months
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)


def unavailable(reason: str) -> SurvivalResult:
    return SurvivalResult(metrics={"available": False, "reason": reason})


def _rows(table: FeatureTable, mask: np.ndarray) -> FeatureTable:
    return table.subset(pd.Series(mask, index=table.frame.index))


def retention_columns(surv: np.ndarray, value: np.ndarray | None) -> pd.DataFrame:
    """The :data:`SCORE_COLUMNS` from predicted survival (rows x months modelled); months
    beyond the model's horizons are NaN, never extrapolated."""
    n, modelled = surv.shape

    def at(k: int) -> np.ndarray:
        return surv[:, k - 1] if modelled >= k else np.full(n, np.nan)

    months = surv[:, :HORIZONS].sum(axis=1) if modelled >= HORIZONS else np.full(n, np.nan)
    amount = np.full(n, np.nan) if value is None else np.asarray(value, dtype=float)
    return pd.DataFrame(
        {
            "p_retained_3m": at(3),
            "p_retained_6m": at(6),
            "p_retained_12m": at(12),
            "expected_months_12m": months,
            "expected_revenue_12m": months * amount,
        }
    )


def _value(table: FeatureTable) -> np.ndarray | None:
    if table.value_col and table.value_col in table.frame:
        return pd.to_numeric(table.frame[table.value_col], errors="coerce").to_numpy(float)
    return None


def _curve(surv: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"month": np.arange(1, surv.shape[1] + 1), "retained": surv.mean(axis=0)})


def _segment_curves(surv: np.ndarray, segments: pd.Series | None) -> pd.DataFrame:
    if segments is None or not surv.shape[1]:
        return pd.DataFrame(columns=["segment", "month", "retained", "customers"])
    seg = segments.astype("string").fillna("(missing)").to_numpy()
    frames = []
    for name in sorted(set(seg)):
        rows = surv[seg == name]
        curve = _curve(rows).assign(segment=name, customers=len(rows))
        frames.append(curve[["segment", "month", "retained", "customers"]])
    return pd.concat(frames, ignore_index=True)


def backtest_block(
    surv: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    baseline: np.ndarray,
    months: int = BACKTEST_MONTHS,
) -> tuple[dict, pd.DataFrame]:
    """Quality of predicted retention ``surv`` (rows x months ahead) against what happened.

    ``baseline`` is the no-feature prediction (Kaplan-Meier of the training rows) whose
    integrated Brier score is the reference. The window is the first ``months`` months (or
    fewer when the prediction or the outcomes stop earlier). Returns the metrics and the
    curve of predicted and observed (Kaplan-Meier) retention.
    """
    window = int(min(months, surv.shape[1], np.nanmax(time) if len(time) else 0))
    grid = np.arange(1, window + 1)
    observed = sm.kaplan_meier(time, event, grid)
    predicted = surv[:, :window].mean(axis=0)
    within = np.minimum(time, window)
    churned = np.where(time <= window, event, 0.0)
    risk = window - surv[:, :window].sum(axis=1)  # expected months lost in the window
    block = {
        "n": len(time),
        "churned": int(churned.sum()),
        "months": window,
        "concordance": sm.harrell_c(within, churned, risk) if window else None,
        "concordance_kind": "Harrell",
        "integrated_brier": sm.integrated_brier(time, event, surv[:, :window], grid)
        if window
        else None,
        "integrated_brier_km": sm.integrated_brier(
            time, event, np.tile(baseline[:window], (len(time), 1)), grid
        )
        if window
        else None,
        "max_gap_pp": float(np.nanmax(np.abs(predicted - observed)) * 100) if window else None,
    }
    for t in AUC_MONTHS:
        block[f"auc_{t}m"] = (
            sm.cumulative_auc(time, event, 1 - surv[:, t - 1], t) if window >= t else None
        )
    curve = pd.DataFrame({"month": grid, "predicted": predicted, "observed": observed})
    block["curve"] = curve.to_dict("records")
    return block, curve


def survival_month(
    table: FeatureTable,
    month: str,
    seed: int = 0,
    max_rows: int | None = MAX_TRAIN_ROWS,
    notes: list[str] | None = None,
) -> SurvivalResult:
    """Retention ahead for the customers of snapshot ``month``, and its backtest (module
    docstring). Rows after ``month`` are ignored and every outcome is censored at its cutoff,
    so the result cannot see the future. Notes (horizons too short for the data, no backtest)
    go to ``notes``."""
    notes = notes if notes is not None else []
    if not table.duration_col or table.duration_col not in table.frame:
        inactivity = table.definition is not None and table.definition.churn == INACTIVITY
        return unavailable(CANCELLATION_ONLY if inactivity else NO_DURATION)
    table = table.subset(table.frame[table.snapshot_col] <= month)
    snaps = table.frame[table.snapshot_col].to_numpy()
    time, event = censor_at(*outcome_arrays(table), snaps, month)
    model = SurvivalModel(seed=seed, max_rows=max_rows).fit(table, time, event)
    notes.extend(model.notes_)
    if model.horizons_ == 0:
        notes.extend(
            ["No retention forecast: no month after a snapshot has closed with enough churns."]
        )
        return unavailable(" ".join(model.notes_) or "Too little history.")
    scored = _rows(table, snaps == month)
    surv = model.survival(scored)
    scores = retention_columns(surv, _value(scored))
    back, back_curve = _backtest(table, month, time, event, seed, max_rows, notes)
    effects, pos, _ = lifetime_effects(model, scored, EFFECT_ROWS, seed)
    expl = _as_explanation(effects, scored, pos)
    drivers = feature_drivers(expl).rename(columns={"mean_abs_shap": "mean_abs_months"})
    shares = family_shares(drivers.rename(columns={"mean_abs_months": "mean_abs_shap"}))
    value = _value(scored)
    revenue = scores["expected_revenue_12m"]
    metrics = {
        "available": True,
        "horizons": model.horizons_,
        "model": {
            "kind": "pooled" if model.pooled else "one model per month ahead",
            "train_rows": model.train_rows_,
            "best_iterations": model.best_iterations_,
        },
        "scored": {
            "customers": len(scores),
            **{c: _mean(scores[c]) for c in SCORE_COLUMNS[:4]},
            "expected_revenue_12m": float(revenue.sum())
            if value is not None and revenue.notna().any()
            else None,
            "revenue_at_risk_12m": float(np.nansum(value * 12) - revenue.sum())
            if value is not None and revenue.notna().any()
            else None,
        },
        "backtest": back,
        "lifetime_shares": shares,
    }
    segment = scored.frame[table.segment_col] if table.segment_col else None
    return SurvivalResult(
        segments=segment_summary(scores, value, segment),
        metrics=metrics,
        scores=scores,
        curve=_curve(surv),
        segment_curves=_segment_curves(surv, segment),
        backtest_curve=back_curve,
        drivers=drivers,
        shares=shares,
        model=model,
    )


def segment_summary(
    scores: pd.DataFrame, value: np.ndarray | None, segments: pd.Series | None
) -> pd.DataFrame:
    """Per segment, then ``(all)``: customers, mean ``p_retained_12m`` and
    ``expected_months_12m``, total ``expected_revenue_12m`` and ``revenue_at_risk_12m``
    (12 x the monthly amount - the expected revenue: what churn is expected to cost)."""
    frame = scores.assign(
        segment="(all)"
        if segments is None
        else segments.astype("string").fillna("(missing)").to_numpy(),
        revenue_at_risk_12m=(np.nan if value is None else value * 12)
        - scores["expected_revenue_12m"],
    )
    parts = [frame] if segments is None else [frame, frame.assign(segment="(all)")]
    both = pd.concat(parts, ignore_index=True)
    out = both.groupby("segment", sort=True).agg(
        customers=("p_retained_12m", "size"),
        p_retained_12m=("p_retained_12m", "mean"),
        expected_months_12m=("expected_months_12m", "mean"),
        expected_revenue_12m=("expected_revenue_12m", lambda v: v.sum(min_count=1)),
        revenue_at_risk_12m=("revenue_at_risk_12m", lambda v: v.sum(min_count=1)),
    )
    return out.reset_index()


def segment_view(segments: pd.DataFrame) -> pd.DataFrame:
    """:func:`segment_summary` with words for columns; format with :data:`SEGMENT_FORMATS`
    (money columns in the report's currency)."""
    return segments.rename(
        columns={
            "segment": "segment",
            "customers": "customers",
            "p_retained_12m": "still customers after 12 months",
            "expected_months_12m": "expected months of the next 12",
            "expected_revenue_12m": "expected revenue over 12 months",
            "revenue_at_risk_12m": "revenue at risk over 12 months",
        }
    )


#: formats of :func:`segment_view`'s columns for ``views.table``
SEGMENT_FORMATS = {
    "customers": "count",
    "still customers after 12 months": "share",
    "expected months of the next 12": "{:.1f}",
    "expected revenue over 12 months": "money",
    "revenue at risk over 12 months": "money",
}


def extra_tables(result: SurvivalResult | None) -> dict[str, pd.DataFrame]:
    """The extra files about time to churn (``retention_curve.csv``, ``retention_segments.csv``,
    ``lifetime_drivers.csv``); none when there is no time to churn."""
    if result is None or not result.metrics.get("available"):
        return {}
    return {
        "retention_curve": result.curve.set_index("month"),
        "retention_segments": result.segments.set_index("segment"),
        "lifetime_drivers": result.drivers.set_index("feature"),
    }


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if values.notna().any() else None


def _backtest(
    table: FeatureTable,
    month: str,
    time: np.ndarray,
    event: np.ndarray,
    seed: int,
    max_rows: int | None,
    notes: list[str],
) -> tuple[dict | None, pd.DataFrame]:
    """The survival model trained at B = M - 6, scored at B, against the months since."""
    b = shift_month(month, -BACKTEST_MONTHS)
    snaps = table.frame[table.snapshot_col].to_numpy()
    before = snaps < b
    if not (snaps == b).any() or not before.any():
        notes.append(
            f"No time-to-churn backtest: it scores snapshot {b} ({BACKTEST_MONTHS} months "
            "before the report month) with a model trained on the snapshots before it, and "
            "the data has no such snapshots."
        )
        return None, pd.DataFrame()
    t_b, e_b = censor_at(time, event, snaps, b)
    model = SurvivalModel(seed=seed, max_rows=max_rows).fit(
        _rows(table, before), t_b[before], e_b[before]
    )
    if model.horizons_ == 0:
        notes.append(f"No time-to-churn backtest at {b}: {' '.join(model.notes_)}")
        return None, pd.DataFrame()
    for note in model.notes_:
        notes.append(f"Time-to-churn backtest ({b}): {note}")
    at_b = snaps == b
    grid = np.arange(1, model.horizons_ + 1)
    baseline = sm.kaplan_meier(t_b[before], e_b[before], grid)
    surv = model.survival(_rows(table, at_b))
    block, curve = backtest_block(surv, time[at_b], event[at_b], baseline)
    block["snapshot"] = b
    return block, curve


def _as_explanation(effects: pd.DataFrame, rows: FeatureTable, pos: np.ndarray) -> ExplanationData:
    """Lifetime effects in the shape of SHAP explanations, for the shared driver summaries."""
    features = list(effects.columns)
    data = rows.frame[features].iloc[pos].reset_index(drop=True)
    return ExplanationData(
        values=effects.to_numpy(),
        data=data,
        features=features,
        families={f: rows.families.get(f, "other") for f in features},
        base_value=0.0,
        ids=rows.frame[rows.id_col].to_numpy()[pos],
        margin=effects.to_numpy().sum(axis=1),
        categorical=[f for f in features if f in rows.categorical],
    )


# --------------------------------------------------------------------------- flat tables
#: folds of the out-of-fold concordance (as :func:`churnlab.model.oof_scores` draws them)
FOLDS = 5


def survival_table(
    table: FeatureTable, seed: int = 0, notes: list[str] | None = None
) -> SurvivalResult:
    """A flat table with a duration: out-of-fold Harrell concordance of XGBoost
    ``survival:cox``, then a model on every row explained with TreeSHAP (a positive value
    shortens the expected lifetime). Features that copy the duration are left out and named
    in ``notes`` and ``metrics['leaks']``."""
    notes = notes if notes is not None else []
    time, event = outcome_arrays(table)
    leaks = duration_leaks(table, time)
    for col, why in leaks.items():
        notes.append(
            f"Feature {col!r} looks like a copy of the duration {table.duration_col!r} ({why}): "
            "it tells the model how long the customer stayed, which is the answer, not a "
            "driver. It was left out of the survival model."
        )
    kept = {f: fam for f, fam in table.families.items() if f not in leaks}
    if not kept:
        raise ChurnlabError("Every feature of the table is a copy of the duration; none is left.")
    model_table = replace(table, families=kept)
    known = ~(np.isnan(time) | np.isnan(event))
    lab = _rows(model_table, known)
    t, e = time[known], event[known]
    folds = stratified_folds(
        e,
        FOLDS,
        seed,
        "A survival model needs at least 2 churned and 2 censored rows; the table has "
        "{events} churned among {rows} rows with a duration.",
    )
    risk = np.full(len(e), np.nan)
    per_fold = []
    for train, test in folds:
        fold = LifetimeModel(seed=seed).fit(rows_at(lab, train), t[train], e[train])
        risk[test] = fold.margin(lab.frame.iloc[test])
        per_fold.append(sm.harrell_c(t[test], e[test], risk[test]))
    model = LifetimeModel(seed=seed).fit(lab, t, e)
    expl = explain(model, lab)
    drivers = feature_drivers(expl)
    shares = family_shares(drivers)
    metrics = {
        "available": True,
        "kind": "flat table, XGBoost survival:cox",
        "duration": table.duration_col,
        "n": len(e),
        "churned": int(e.sum()),
        "folds": len(per_fold),
        "concordance": sm.harrell_c(t, e, risk),
        "concordance_fold_mean": float(np.mean(per_fold)),
        "concordance_kind": "Harrell, out of fold",
        "leaks": leaks,
        "lifetime_shares": shares,
    }
    return SurvivalResult(metrics=metrics, drivers=drivers, shares=shares, model=model)


def summary(metrics: dict) -> str:
    """One sentence on the survival block of metrics.json, for the report's notes."""
    if not metrics.get("available"):
        return metrics.get("reason", "No time to churn.")
    if "concordance_fold_mean" in metrics:
        return (
            f"Survival model on the duration {metrics['duration']!r}: out-of-fold Harrell "
            f"concordance {metrics['concordance']:.3f} (mean of {metrics['folds']} folds "
            f"{metrics['concordance_fold_mean']:.3f}) on {metrics['n']:,} customers, "
            f"{metrics['churned']:,} of whom churned (0.5 = chance, 1 = perfect order)."
        )
    bt = metrics.get("backtest")
    if not bt:
        return "No time-to-churn backtest (see the notes)."

    def fmt(value: float | None) -> str:
        return "undefined" if value is None else f"{value:.3f}"

    return (
        f"Time-to-churn backtest: the model trained at {bt['snapshot']} ranked who left first "
        f"in the {bt['months']} months since with Harrell concordance {fmt(bt['concordance'])}; "
        f"AUC of churn by month 3 {fmt(bt.get('auc_3m'))}, by month 6 {fmt(bt.get('auc_6m'))}; "
        f"integrated Brier score {fmt(bt['integrated_brier'])} against "
        f"{fmt(bt['integrated_brier_km'])} without features; its predicted retention was at "
        f"most {bt['max_gap_pp']:.1f} percentage points off the observed one."
    )
