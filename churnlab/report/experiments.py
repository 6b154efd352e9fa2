"""Experiments: compare model runs over parameter sets and seeds, and ablate driver families.

An experiment trains the churn model several times on one feature table and measures each
run on the same held-out data: the latest labelled snapshot (trained on the older ones, the
one before it for early stopping and calibration) when the table has snapshots, otherwise
stratified 5-fold out-of-fold scores. Runs are

- one per parameter set x seed, on every feature ("full" runs), and
- with ``ablate``, one per driver family x seed with that family's features left out, using
  the first parameter set. The loss of ROC-AUC against the full run of the same seed is a
  model-agnostic measure of how much signal the family carries that others cannot replace.

Everything is deterministic: the same table, parameter sets and seeds give the same table to
the last digit, so an experiment can be rerun and diffed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable
from churnlab.model import metrics as mx
from churnlab.model.backtest import backtest, oof_backtest, outcomes
from churnlab.model.splits import temporal_split
from churnlab.report.outputs import write_csv, write_json

#: model parameters an experiment may vary (passed to XGBoost on top of the defaults).
TUNABLE = {
    "max_depth": int,
    "eta": float,
    "min_child_weight": float,
    "subsample": float,
    "colsample_bytree": float,
    "lambda": float,
    "alpha": float,
    "gamma": float,
    "max_bin": int,
}
METRICS = ("roc_auc", "pr_auc", "brier", "lift_top_decile")
#: what an experiment compares when not told: churnlab's model (trees of depth 4) against
#: shallower and deeper trees, the one choice that most changes what the model can learn
DEFAULT_PARAM_SETS: tuple[dict, ...] = ({}, {"max_depth": 2}, {"max_depth": 6})
#: seeds of an experiment when not told: enough to see the seed-to-seed spread
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2)


@dataclass(frozen=True)
class RunSpec:
    """One model run: its id, the XGBoost parameters, the seed and the family left out."""

    run_id: str
    params: dict = field(default_factory=dict)
    seed: int = 0
    dropped: str = ""


def _seeds(value: object) -> list[int]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    seeds = []
    for part in parts:
        if isinstance(part, bool) or not (
            isinstance(part, int) or (isinstance(part, str) and part.lstrip("-").isdigit())
        ):
            raise ChurnlabError(
                f"Parameter seeds must be whole numbers, e.g. [0, 1, 2] or '0,1,2'; got {value!r}."
            )
        seeds.append(int(part))
    if not seeds:
        raise ChurnlabError("Parameter seeds is empty: give at least one seed, e.g. [0].")
    return list(dict.fromkeys(seeds))


def _param_sets(value: object) -> list[dict]:
    sets = [{}] if value is None or value == [] else value
    if isinstance(sets, dict):
        sets = [sets]
    if not isinstance(sets, list | tuple) or not all(isinstance(s, dict) for s in sets):
        raise ChurnlabError(
            "Parameter param_sets must be a list of dicts, e.g. [{}, {'max_depth': 6}]; "
            f"got {value!r}."
        )
    clean = []
    for s in sets:
        unknown = sorted(set(s) - set(TUNABLE))
        if unknown:
            raise ChurnlabError(
                f"Unknown model parameter(s) {unknown} in param_sets; an experiment can vary "
                f"{', '.join(TUNABLE)}."
            )
        try:
            clean.append({k: TUNABLE[k](s[k]) for k in sorted(s)})
        except (TypeError, ValueError):
            raise ChurnlabError(
                f"param_sets entry {s!r} holds a value that is not a number."
            ) from None
    return clean


def check_experiment_params(seeds: object, param_sets: object, ablate: object) -> dict:
    """Validate an experiment's seeds, parameter sets and ablation switch; return them clean.

    ``seeds``: list of ints or '0,1,2'; ``param_sets``: list of dicts of :data:`TUNABLE`
    parameters (``[{}]`` = the defaults); ``ablate``: a bool (or 'true'/'false').
    """
    if isinstance(ablate, str) and ablate.strip().lower() in ("true", "false", "yes", "no"):
        ablate = ablate.strip().lower() in ("true", "yes")
    if not isinstance(ablate, bool):
        raise ChurnlabError(f"Parameter ablate must be True or False; got {ablate!r}.")
    return {"seeds": _seeds(seeds), "param_sets": _param_sets(param_sets), "ablate": ablate}


def plan(
    families: list[str], seeds: list[int], param_sets: list[dict], ablate: bool
) -> list[RunSpec]:
    """The runs of an experiment, in a fixed order: full runs first, then ablations.

    Run ids say what a run is: ``p0-s0`` (parameter set 0, seed 0), ``p0-s0-no-price``.
    """
    specs = [
        RunSpec(f"p{i}-s{seed}", params, seed)
        for i, params in enumerate(param_sets)
        for seed in seeds
    ]
    if ablate and len(families) > 1:  # without its only family a model has no feature
        specs += [
            RunSpec(f"p0-s{seed}-no-{family}", param_sets[0], seed, family)
            for family in families
            for seed in seeds
        ]
    return specs


def without_family(table: FeatureTable, family: str) -> FeatureTable:
    """The table with ``family``'s features no longer used as features (columns kept)."""
    if not family:
        return table
    kept = {f: fam for f, fam in table.families.items() if fam != family}
    return replace(table, families=kept)


def _evaluate(table: FeatureTable, spec: RunSpec) -> dict:
    """Train one run and measure it on the held-out data; returns the metrics and the split.

    The held-out data and the model are the report's backtest
    (:func:`churnlab.model.backtest.backtest`, under the same row budget), so an experiment
    measures what the report would show.
    """
    params = spec.params or None
    if table.snapshot_col and table.snapshot_col in table.frame:
        train, valid, test = temporal_split(table.labelled_snapshots)
        notes: list[str] = []
        bt = backtest(table, train + valid, test[0], spec.seed, params=params, notes=notes)
        if bt is None:
            raise ChurnlabError(f"Experiment run {spec.run_id}: {' '.join(notes)}")
        split = {"train": train, "validation": valid, "test": test}
        best = bt.model.best_iteration_
    else:
        bt = oof_backtest(table, seed=spec.seed, params=params)
        split = {"out_of_fold": 5}
        best = None
    y, p = outcomes(bt)
    block = mx.backtest_metrics(y, p)
    return {
        **{k: block[k] for k in METRICS},
        "n": block["n"],
        "best_iteration": best,
        "split": split,
    }


def run_experiment_table(
    table: FeatureTable,
    seeds: list[int] = (0,),
    param_sets: list[dict] = ({},),
    ablate: bool = True,
) -> tuple[pd.DataFrame, list[dict]]:
    """Run every planned model and return (comparison table, one record per run).

    The comparison has one row per run: run_id, params (JSON), seed, dropped (the family left
    out, '' for full runs), families (those used), features, roc_auc, pr_auc, brier,
    lift_top_decile, best_iteration, delta_auc (ROC-AUC minus the full run with the same
    parameter set and seed; for ablations, the first parameter set).
    """
    families = sorted(set(table.families.values()))
    records = []
    for spec in plan(families, list(seeds), list(param_sets), ablate):
        sub = without_family(table, spec.dropped)
        result = _evaluate(sub, spec)
        records.append(
            {
                "run_id": spec.run_id,
                "params": spec.params,
                "seed": spec.seed,
                "dropped": spec.dropped,
                "families": sorted(set(sub.families.values())),
                "features": len(sub.features),
                **result,
            }
        )
    frame = pd.DataFrame(
        [
            {
                **{k: r[k] for k in ("run_id", "seed", "dropped", "features", "best_iteration")},
                "params": json.dumps(r["params"], sort_keys=True),
                "families": ",".join(r["families"]),
                **{k: r[k] for k in METRICS},
            }
            for r in records
        ]
    )
    full = {(r["params_key"], r["seed"]): r["roc_auc"] for r in _keyed(records) if not r["dropped"]}
    frame["delta_auc"] = [
        _minus(r["roc_auc"], full.get((r["params_key"], r["seed"]))) for r in _keyed(records)
    ]
    cols = ["run_id", "params", "seed", "dropped", "families", "features", *METRICS]
    return frame[[*cols, "best_iteration", "delta_auc"]], records


def _keyed(records: list[dict]) -> list[dict]:
    return [{**r, "params_key": json.dumps(r["params"], sort_keys=True)} for r in records]


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def write_experiment(
    comparison: pd.DataFrame, records: list[dict], out_dir: Path, source: dict
) -> None:
    """Write comparison.csv and one ``runs/<run_id>/manifest.json`` per run (byte-stable).

    A run's manifest holds its parameters, seed, the families and number of features used,
    the split and its metrics, plus ``source`` (what table the experiment ran on). No times
    are written, so rerunning gives identical files.
    """
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    write_csv(out / "comparison.csv", comparison, index=False)
    for record in records:
        folder = out / "runs" / record["run_id"]
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "manifest.json", {**record, "source": source})


def summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds: one row per parameter set (full runs) or dropped family."""
    key = comparison["dropped"].where(
        comparison["dropped"] != "", "(none: " + comparison["params"] + ")"
    )
    grouped = comparison.assign(variant=key).groupby("variant", sort=False)
    out = grouped.agg(
        runs=("run_id", "size"),
        roc_auc=("roc_auc", "mean"),
        roc_auc_sd=("roc_auc", "std"),
        pr_auc=("pr_auc", "mean"),
        brier=("brier", "mean"),
        delta_auc=("delta_auc", "mean"),
    )
    return out.sort_values("delta_auc", kind="stable")
