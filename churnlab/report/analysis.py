"""The shared analysis pipeline the notebooks call: train, backtest, score, explain, write.

Two entry points, one result type:

- :func:`analyze_table` (``churnlab explain``): with a ``snapshot`` column, temporal validation
  (train on older labelled snapshots, validate on the next, test on the latest labelled one,
  which is the backtest); the forward model then trains on every labelled snapshot but the
  last, validates on the last, and scores the latest snapshot. Without snapshots, stratified
  5-fold out-of-fold scores are the backtest, and a final model on all rows is explained.
- :func:`analyze_month` (the monthly report for month M, horizon h; docs/definitions.md). A
  snapshot S is labelled at the end of month T when its label window has closed, i.e.
  ``cutoff(S) + h months <= cutoff(T)``, i.e. ``S <= T - h``. The backtest scores snapshot
  B = M-h with a model trained only on snapshots labelled at B's cutoff (S <= M-2h; the latest
  of them is its validation period) and compares with what happened. The forward model uses
  every snapshot labelled by the end of M (S <= M-h; validation = M-h) and scores snapshot M;
  drivers, SHAP values and reasons come from it. Snapshots after M are ignored, so the report
  for M cannot see the future.

Every model comes from :mod:`churnlab.model.backtest` (the one backtest, under one row budget,
``max_train_rows``; None = all). Driver credit (:mod:`churnlab.model.credit`: what fixing each
actionable family would remove, with who the customer is held as it is) is computed once, for
every scored customer: the scores, driver shares, segment shares, reasons and actions come
from it. TreeSHAP values are computed once and reused for the plain-SHAP shares, mean |SHAP|
and directions; :func:`analyze_table` explains every scored row (the explanation notebook
plots single customers), :func:`analyze_month` a seeded sample of at most
:data:`SHAP_ROWS` scored customers, since the report uses plain SHAP only for population
figures.

When history is too short for a backtest, or the backtest month has one outcome only, the
backtest values are None and ``metrics['notes']`` says why in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.core.errors import ChurnlabError, examples
from churnlab.core.months import parse_month, shift_month
from churnlab.features.table import FeatureTable
from churnlab.model import ChurnModel, temporal_split
from churnlab.model import metrics as mx
from churnlab.model.backtest import (
    MAX_TRAIN_ROWS,
    MIN_BACKTEST_SNAPSHOTS,
    Backtest,
    backtest,
    fit_history,
    oof_backtest,
    side_by_side,
)
from churnlab.model.credit import DriverCredit, table_credit
from churnlab.model.explain import (
    ExplanationData,
    credit_shares,
    customer_reasons,
    explain,
    family_shares,
    feature_drivers,
    segment_shares,
)
from churnlab.model.leaks import leak_notes
from churnlab.report.outputs import write_csv, write_json
from churnlab.report.survival import SurvivalResult, survival_month, survival_table

#: scored customers whose TreeSHAP values a monthly report computes (a seeded sample above
#: it): plain SHAP feeds only population figures there (``shap_shares``, ``mean_abs_shap``,
#: ``shap_share``, directions), whose sampling error shrinks as 1/sqrt(rows)
#: (benchmarks/RESULTS.md, "SHAP"); every per-customer figure comes from every customer.
SHAP_ROWS = 10_000


@dataclass
class AnalysisResult:
    """Everything a report shows: metrics, drivers, scores, segment shares, SHAP, the model.

    ``metrics`` is what goes to metrics.json; ``drivers`` and ``scores`` go to drivers.csv and
    scores.csv. ``campaign`` is the expected profit of contacting the top-k scored customers
    (forward), ``calibration`` and ``gains`` are the backtest's tables (empty without one).
    ``credit`` is the scored customers' driver credit (None only for results built by hand).
    """

    metrics: dict
    drivers: pd.DataFrame
    scores: pd.DataFrame
    segment_shares: pd.DataFrame
    backtest_frame: pd.DataFrame
    shap: ExplanationData
    model: ChurnModel
    notes: list[str] = field(default_factory=list)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    gains: pd.DataFrame = field(default_factory=pd.DataFrame)
    campaign: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: time to churn (report/survival.py), None when not computed
    survival: SurvivalResult | None = None
    credit: DriverCredit | None = None


def _forward_model(
    table: FeatureTable,
    labelled: list[str],
    seed: int,
    notes: list[str],
    max_rows: int | None = MAX_TRAIN_ROWS,
    threads: int | None = None,
) -> ChurnModel:
    if len(labelled) >= 2:
        return fit_history(
            table,
            labelled[:-1],
            labelled[-1:],
            seed,
            max_rows,
            notes=notes,
            role="The forward",
            threads=threads,
        )
    notes.append(
        f"Only one labelled snapshot ({labelled[0]}): the model early-stops and calibrates on "
        "a random 20 % of it instead of a later month."
    )
    return fit_history(
        table, labelled, None, seed, max_rows, notes=notes, role="The forward", threads=threads
    )


def _backtest_block(bt: Backtest | None, notes: list[str]) -> tuple[dict, dict]:
    """metrics['backtest'] and the extra tables (calibration, gains, campaign best k)."""
    if bt is None:
        keys = ("roc_auc", "pr_auc", "brier", "lift_top_decile")
        return {**dict.fromkeys(keys), "n": 0, "positives": 0, "snapshot": None}, {}
    y, p = bt.frame["churned"].to_numpy(), bt.frame["churn_probability"].to_numpy()
    block = mx.backtest_metrics(y, p)
    reason = block.pop("reason")
    if reason:
        where = f" ({bt.snapshot})" if bt.snapshot else ""
        notes.append(f"Backtest{where}: ranking metrics are undefined because {reason}.")
    block["snapshot"] = bt.snapshot
    tables = {
        "calibration": mx.calibration_table(y, p),
        "gains": mx.gains_table(y, p),
    }
    return block, tables


def _realized_campaign(bt: Backtest | None) -> dict | None:
    """Best k of the campaign the backtest month would have run, with real outcomes."""
    if bt is None or not len(bt.frame):
        return None
    clv = mx.customer_value(bt.frame.get("value"), len(bt.frame))
    frame = mx.campaign_profit(bt.frame["churned"], bt.frame["churn_probability"], clv)
    return mx.best_k(frame)


def _scores(
    table: FeatureTable,
    credit: DriverCredit,
    reasons: pd.DataFrame,
    survival: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    # the model's own margin and probability of every scored row, as driver credit has them
    prob, margin = credit.probability, credit.margin
    frame = pd.DataFrame(
        {table.id_col: table.frame[table.id_col].to_numpy(), "churn_probability": prob}
    )
    if table.value_col and table.value_col in table.frame:
        value = pd.to_numeric(table.frame[table.value_col], errors="coerce").to_numpy(float)
    else:
        value = np.full(len(frame), np.nan)
    frame["value"] = value
    # expected monthly revenue lost if nothing is done: probability x monthly amount
    frame["expected_revenue_at_risk"] = prob * value
    frame = pd.concat([frame, reasons], axis=1)
    if survival is not None:  # retention ahead (report/survival.py), rows as in expl
        frame = pd.concat([frame, survival.reset_index(drop=True)], axis=1)
    frame["_margin"] = margin
    order = frame.sort_values(
        ["churn_probability", "_margin", table.id_col],
        ascending=[False, False, True],
        kind="stable",
    ).index
    frame = frame.drop(columns="_margin").loc[order].reset_index(drop=True)
    frame.insert(2, "risk_rank", np.arange(1, len(frame) + 1))
    keep = [table.id_col, "churn_probability", "risk_rank", "value", "expected_revenue_at_risk"]
    keep += ["reason_1", "reason_2", "reason_3", "feature_1", "family_1", "action"]
    keep += list(survival.columns) if survival is not None else []
    return frame[keep], value


@dataclass
class _Drivers:
    """The forward model's explanation of the scored rows, in the shapes the report uses."""

    shap: ExplanationData
    credit: DriverCredit
    drivers: pd.DataFrame
    #: driver-credit family shares (the default) and plain TreeSHAP ones
    shares: dict[str, float]
    shap_shares: dict[str, float]
    segment_shares: pd.DataFrame
    reasons: pd.DataFrame


def _explain_scored(
    table: FeatureTable,
    scored: FeatureTable,
    model: ChurnModel,
    notes: list[str],
    shap_rows: int | None = None,
) -> _Drivers:
    """Driver credit of every scored customer and SHAP values of every one (``shap_rows``
    None) or of a seeded sample of ``shap_rows``, once, and what derives from them: drivers,
    shares (credit and plain SHAP), segment shares, reasons."""
    expl = explain(model, scored, max_rows=shap_rows, seed=model.seed)
    credit = table_credit(model, scored, seed=model.seed)
    drivers = feature_drivers(expl, credit)
    shap_shares = family_shares(drivers)
    shares = credit_shares(credit)
    if not shap_shares:
        notes.append("The model found no signal: every SHAP value is zero, so no driver shares.")
    elif not shares:
        notes.append(
            "No fixable driver raises any customer's risk above its healthy level, so there "
            "are no driver shares; metrics.json keeps the plain SHAP shares (shap_shares)."
        )
    if table.segment_col and table.segment_col in scored.frame:
        seg = segment_shares(credit, scored.frame[table.segment_col])
    else:
        seg = pd.DataFrame(columns=["segment", "family", "share"])
    reasons = customer_reasons(credit, scored.frame, specs=expl.specs)
    return _Drivers(expl, credit, drivers, shares, shap_shares, seg, reasons)


def _credit_summary(credit: DriverCredit) -> dict:
    """metrics.json's ``baseline_risk``: the mean churn probability as it is and with every
    fixable driver fixed (who the customers are held as it is), and what was held."""
    ref = credit.reference
    return {
        "mean_churn_probability": float(np.mean(credit.probability))
        if len(credit.margin)
        else None,
        "all_drivers_fixed": (
            float(np.mean(credit.baseline_probability)) if len(credit.margin) else None
        ),
        "context_families": list(ref.context),
        "held_features": list(ref.held),
    }


def _forward_campaign(scores: pd.DataFrame, table: FeatureTable) -> pd.DataFrame:
    """Expected profit of contacting the top-k scored customers, by the model's own risk."""
    clv = mx.customer_value(scores["value"] if table.value_col else None, len(scores))
    return mx.campaign_profit(scores["churn_probability"], scores["churn_probability"], clv)


def _model_summary(model: ChurnModel, expl: ExplanationData) -> dict:
    return {
        "best_iteration": model.best_iteration_,
        "calibration": model.calibrator_.kind,
        "features": len(expl.features),
        "encoded_columns": len(model.feature_names_),
        # scored customers behind the plain-SHAP figures (all, or a seeded sample)
        "shap_rows": len(expl.values),
        # what the search (model/tuning.py) changed from the defaults; {} = the defaults won
        "tuned": model.tuned_,
    }


def _finish(
    table: FeatureTable,
    scored: FeatureTable,
    model: ChurnModel,
    bt: Backtest | None,
    head: dict,
    notes: list[str],
    survival: SurvivalResult | None = None,
    shap_rows: int | None = None,
) -> AnalysisResult:
    """Explain and score the scored rows, measure the backtest, and assemble the result."""
    found = _explain_scored(table, scored, model, notes, shap_rows)
    columns = survival.scores if survival is not None and len(survival.scores) else None
    scores, _ = _scores(scored, found.credit, found.reasons, columns)
    campaign = _forward_campaign(scores, table)
    block, tables = _backtest_block(bt, notes)
    metrics = {
        **head,
        "backtest": block,
        "driver_shares": found.shares,
        "shap_shares": found.shap_shares,
        "baseline_risk": _credit_summary(found.credit),
        "healthy_levels": found.credit.reference.levels(),
        "best_k": mx.best_k(campaign),
        "backtest_best_k": _realized_campaign(bt),
        "calibration": tables["calibration"].to_dict("records") if tables else [],
        "model": _model_summary(model, found.shap),
        "notes": notes,
    }
    if survival is not None:
        metrics["survival"] = survival.metrics
    empty = pd.DataFrame(columns=[table.id_col, "snapshot", "churn_probability", "churned"])
    return AnalysisResult(
        metrics=metrics,
        drivers=found.drivers,
        scores=scores,
        segment_shares=found.segment_shares,
        backtest_frame=bt.frame if bt else empty,
        shap=found.shap,
        model=model,
        notes=notes,
        calibration=tables.get("calibration", pd.DataFrame()),
        gains=tables.get("gains", pd.DataFrame()),
        campaign=campaign,
        survival=survival,
        credit=found.credit,
    )


def _outcome(rows: FeatureTable | None) -> dict:
    """``active_customers``, ``churned`` and ``churn_rate`` of one population, consistently.

    ``active_customers`` is the population the rate is computed on: the rows whose outcome is
    known (all rows when none is known yet, and then ``churned``/``churn_rate`` are None), so
    that ``churn_rate == churned / active_customers`` always holds.
    """
    if rows is None:
        return {"active_customers": 0, "churned": None, "churn_rate": None}
    lab = rows.frame[rows.label_col].dropna()
    if len(lab) == 0:
        return {"active_customers": len(rows.frame), "churned": None, "churn_rate": None}
    churned = int(lab.sum())
    return {"active_customers": len(lab), "churned": churned, "churn_rate": churned / len(lab)}


def analyze_table(
    table: FeatureTable, seed: int = 0, max_train_rows: int | None = MAX_TRAIN_ROWS
) -> AnalysisResult:
    """Train, validate, score and explain a feature table (the ``churnlab explain`` path).

    With a snapshot column: backtest on the latest labelled snapshot (trained on older ones,
    validated on the one before it), forward model on every labelled snapshot (validation =
    the latest labelled), scores and SHAP for the latest snapshot. Without: 5-fold stratified
    out-of-fold scores are the backtest, and a final model on all labelled rows scores and
    explains every row. ``max_train_rows`` bounds each temporal model's training rows (the
    most recent snapshots first). ``metrics['notes']`` starts with a warning for every feature
    that looks like a leak of the label or an id (:func:`~churnlab.model.leaks.leak_notes`).
    """
    notes: list[str] = leak_notes(table)
    survival = None
    if table.duration_col and not table.snapshot_col:
        survival = survival_table(table, seed, notes)
        # the churn model learns without the duration's copies too (notes say which)
        leaks = survival.metrics["leaks"]
        table = replace(table, families={f: v for f, v in table.families.items() if f not in leaks})
    if table.snapshot_col and table.snapshot_col in table.frame:
        labelled = table.labelled_snapshots
        if not labelled:
            raise ChurnlabError("The feature table has no labelled rows to train on.")
        bt = None
        if len(labelled) >= MIN_BACKTEST_SNAPSHOTS:
            train, valid, test = temporal_split(labelled)
            bt = backtest(table, train + valid, test[0], seed, max_train_rows, notes=notes)
        else:
            notes.append(
                f"No backtest: it needs {MIN_BACKTEST_SNAPSHOTS} labelled snapshots (train, "
                f"validation, test); the table has {len(labelled)}: {examples(labelled)}."
            )
        model = _forward_model(table, labelled, seed, notes, max_train_rows)
        latest = table.snapshots[-1]
        scored = table.at(latest)
        head = {"month": latest, **_outcome(scored)}
    else:
        bt = oof_backtest(table, seed=seed)
        notes.append(
            "No snapshot column: the backtest holds 5-fold out-of-fold metrics, and the scores "
            "come from a final model trained on all labelled rows."
        )
        model = ChurnModel(seed=seed).fit(table)
        scored = table
        head = {"month": None, **_outcome(table)}
    head["scored_customers"] = len(scored.frame)
    return _finish(table, scored, model, bt, head, notes, survival)


def analyze_month(
    table: FeatureTable,
    month: str,
    horizon: int | None = None,
    seed: int = 0,
    max_train_rows: int | None = MAX_TRAIN_ROWS,
) -> AnalysisResult:
    """The monthly report's analysis for ``month`` (see the module docstring for the rules).

    ``active_customers``, ``churned`` and ``churn_rate`` describe snapshot M-h: the customers
    active at its cutoff (for h = 1: at the start of M), how many of them churned in the h
    months after it, and their ratio; ``scored_customers`` counts the rows of snapshot M that
    get scores and reasons; with time-to-churn columns (cancellation churn) they also get
    the retention columns of :func:`churnlab.report.survival.survival_month`, whose backtest
    goes to ``metrics['survival']``. ``max_train_rows`` bounds each model's training rows (the most
    recent snapshots first; None = all). Raises
    ChurnlabError when the month is not in the table or no snapshot is labelled by its end.
    """
    if not table.snapshot_col or table.snapshot_col not in table.frame:
        raise ChurnlabError("A monthly report needs a feature table with a snapshot column.")
    if horizon is None:  # the horizon the table's labels were made with
        horizon = table.definition.horizon if table.definition else 1
    m = parse_month(month)
    snaps = table.snapshots
    if m not in snaps:
        raise ChurnlabError(
            f"Month {m} has no snapshot in the data, which covers {snaps[0] if snaps else '-'} "
            f"to {snaps[-1] if snaps else '-'}. Choose a month in that range."
        )
    notes: list[str] = []
    table = table.subset(table.frame[table.snapshot_col] <= m)  # never look past M
    labelled = table.labelled_snapshots
    b = shift_month(m, -horizon)
    known_at_end = [s for s in labelled if s <= b]
    if not known_at_end:
        first = shift_month(labelled[0], horizon) if labelled else shift_month(snaps[0], horizon)
        raise ChurnlabError(
            f"Month {m} is too early for horizon {horizon}: no snapshot's label window has "
            f"closed by its end. The earliest month that can be reported is {first}."
        )
    # the backtest and the forward model are independent fits: side by side, their notes in
    # this order
    bt_notes: list[str] = []
    forward_notes: list[str] = []

    def fit_backtest(threads: int | None) -> Backtest | None:
        history = [s for s in labelled if s <= shift_month(b, -horizon)]
        return backtest(table, history, b, seed, max_train_rows, notes=bt_notes, threads=threads)

    def fit_forward(threads: int | None) -> ChurnModel:
        return _forward_model(table, known_at_end, seed, forward_notes, max_train_rows, threads)

    if b in known_at_end:
        bt, model = side_by_side([fit_backtest, fit_forward])
    else:
        bt_notes.append(f"No backtest: snapshot {b} (M-{horizon}) has no labelled rows.")
        bt, model = None, fit_forward(None)
    notes += bt_notes + forward_notes
    scored = table.at(m)
    head = {
        "month": m,
        "horizon": horizon,
        **_outcome(table.at(b) if b in snaps else None),
        "scored_customers": len(scored.frame),
    }
    survival = survival_month(table, m, seed, notes=notes)
    return _finish(table, scored, model, bt, head, notes, survival, SHAP_ROWS)


# ----------------------------------------------------------------------------------- output
def write_results(result: AnalysisResult, out_dir: Path) -> None:
    """Write metrics.json, drivers.csv and scores.csv to ``out_dir`` (byte-stable).

    Floats are rounded to 6 significant digits, keys sorted, rows in a fixed order, so the
    same inputs and seed give byte-identical files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "metrics.json", result.metrics)
    write_csv(out_dir / "drivers.csv", result.drivers, index=False)
    # the first column of scores is the id: written as in the data, to join back to it
    write_csv(out_dir / "scores.csv", result.scores, index=False, raw=(result.scores.columns[0],))
