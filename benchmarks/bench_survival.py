"""Benchmark: the time-to-churn backtest against Kaplan-Meier, Cox and XGBoost survival:cox.

On ``churnlab synth`` worlds, exactly as the monthly report does it (report/survival.py): the
report month M is the latest complete month, the backtest snapshot B = M - 6; every model
learns from the snapshots before B with outcomes censored at B's cutoff and predicts the
retention of B's customers, which is compared with the 6 months that followed:

- churnlab: the discrete-time model, one XGBoost per month ahead (the default) and pooled
  (one model, the month ahead as an input), each under the default row budget;
- Kaplan-Meier of the training rows (no features: one curve for everyone);
- Cox proportional hazards (lifelines ``CoxPHFitter(penalizer=0.01)``, Efron ties) on the
  same features one-hot encoded, standardised, missing values as the training mean, one row
  per training snapshot and customer (all of them: no budget);
- XGBoost ``survival:cox`` (300 trees, depth 3, learning rate 0.03) on those rows, its
  survival from a Breslow baseline hazard.

Printed per world: Harrell's concordance (risk = expected months lost within the 6), the
cumulative/dynamic AUC of churn by months 3 and 6, the integrated Brier score over months
1..6, the largest gap between the mean predicted and the Kaplan-Meier retention (percentage
points) and the fit time.

lifelines is benchmark-only (it declares ``pandas<3`` but runs with pandas 3); install it
without its pandas pin: ``.venv/bin/pip install -c constraints.txt autograd==1.9.1
autograd-gamma==0.5.0 formulaic==1.2.2 && .venv/bin/pip install --no-deps lifelines==0.30.3``.
Without it the Cox row is left out.

    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_survival.py \\
        [--customers 20000] [--months 24] [--seeds 1,2] [--data DIR ...]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from churnlab.contract import read_dataset
from churnlab.core.months import month_cutoff, shift_month
from churnlab.features import build_feature_table
from churnlab.model import survival_metrics as sm
from churnlab.model.encoding import Encoder
from churnlab.model.survival import SurvivalModel, censor_at, outcome_arrays
from churnlab.report.kpis import latest_complete_month
from churnlab.report.survival import BACKTEST_MONTHS, backtest_block

sys.dont_write_bytecode = True
from datadir import BENCH_DATA  # noqa: E402

GRID = np.arange(1, BACKTEST_MONTHS + 1)


def world(customers: int, months: int, seed: int) -> Path:
    folder = BENCH_DATA / f"survival{customers // 1000}k_m{months}_s{seed}"
    if not (folder / "customers.parquet").exists():
        from churnlab.synth import synthesize

        synthesize(folder, customers=customers, months=months, seed=seed)
    return folder


def design(table, train: np.ndarray) -> np.ndarray:
    """One-hot features, missing values as the training mean, standardised on training rows."""
    enc = Encoder.fit(table.frame.loc[train], table.features)
    x = enc.transform(table.frame).astype(float)
    mean = np.nanmean(x[train], axis=0)
    x = np.where(np.isnan(x), mean, x)
    sd = x[train].std(axis=0)
    keep = sd > 0
    return (x[:, keep] - x[train][:, keep].mean(axis=0)) / sd[keep]


def breslow(eta: np.ndarray, t: np.ndarray, e: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Baseline cumulative hazard at ``grid`` from risk scores ``eta`` (Breslow)."""
    risk = np.exp(eta - eta.max())
    out, total = [], 0.0
    for u in range(1, int(grid.max()) + 1):
        at_risk = risk[t >= u].sum()
        total += e[(t == u)].sum() / at_risk if at_risk > 0 else 0.0
        out.append(total)
    return np.array(out)[grid.astype(int) - 1] * np.exp(-eta.max())


def run(folder: Path) -> list[dict]:
    data = read_dataset(folder)
    month = latest_complete_month(data)
    table = build_feature_table(data.as_of(month_cutoff(month)))
    b = shift_month(month, -BACKTEST_MONTHS)
    snaps = table.frame["snapshot"].to_numpy()
    time_, event = censor_at(*outcome_arrays(table), snaps, month)
    t_b, e_b = censor_at(time_, event, snaps, b)
    before, at_b = snaps < b, snaps == b
    cohort_t, cohort_e = time_[at_b], event[at_b]
    baseline = sm.kaplan_meier(t_b[before], e_b[before], GRID)
    rows = []

    def record(name: str, surv: np.ndarray, seconds: float) -> None:
        block, _ = backtest_block(surv, cohort_t, cohort_e, baseline)
        rows.append({"world": folder.name, "model": name, **block, "fit_s": seconds})

    for name, pooled in (("churnlab, one model per month", False), ("churnlab, pooled", True)):
        started = time.perf_counter()
        train = table.subset(pd.Series(before))
        model = SurvivalModel(pooled=pooled).fit(train, t_b[before], e_b[before])
        seconds = time.perf_counter() - started
        record(name, model.survival(table.subset(pd.Series(at_b))), seconds)
    record("Kaplan-Meier (no features)", np.tile(baseline, (int(at_b.sum()), 1)), 0.0)
    fit = before & (t_b > 0)
    x = design(table, fit)
    try:
        from lifelines import CoxPHFitter
    except ImportError:
        print("lifelines is not installed: no Cox row", file=sys.stderr)
    else:
        started = time.perf_counter()
        cols = [f"x{i}" for i in range(x.shape[1])]
        frame = pd.DataFrame(x[fit], columns=cols).assign(_t=t_b[fit], _e=e_b[fit])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # collinear one-hot levels: penalised
            cox = CoxPHFitter(penalizer=0.01).fit(frame, "_t", "_e")
        test = pd.DataFrame(x[at_b], columns=cols)
        surv = cox.predict_survival_function(test, times=GRID).to_numpy().T
        record("Cox PH (lifelines)", surv, time.perf_counter() - started)
    started = time.perf_counter()
    label = np.where(e_b[fit] == 1, t_b[fit], -t_b[fit])
    params = {"objective": "survival:cox", "max_depth": 3, "eta": 0.03, "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(x[fit], label=label), num_boost_round=300)
    eta_fit = booster.predict(xgb.DMatrix(x[fit]), output_margin=True)
    h0 = breslow(eta_fit, t_b[fit], e_b[fit], GRID)
    eta_b = booster.predict(xgb.DMatrix(x[at_b]), output_margin=True)
    surv = np.exp(-np.outer(np.exp(eta_b), h0))
    record("XGBoost survival:cox", surv, time.perf_counter() - started)
    return rows


def cell(value) -> str:
    return "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--data", type=Path, nargs="*", help="existing worlds instead")
    args = parser.parse_args()
    folders = args.data or [
        world(args.customers, args.months, int(s)) for s in args.seeds.split(",") if s.strip()
    ]
    columns = ["world", "model", "n", "churned", "concordance", "auc_3m", "auc_6m"]
    columns += ["integrated_brier", "max_gap_pp", "fit_s"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for folder in folders:
        for row in run(folder):
            print("| " + " | ".join(cell(row[c]) for c in columns) + " |", flush=True)
            if row["model"].startswith("churnlab, one"):
                curve = " ".join(
                    f"{r['month']}: {r['predicted']:.4f}/{r['observed']:.4f}" for r in row["curve"]
                )
                print(f"<!-- {folder.name} predicted/observed retention: {curve} -->", flush=True)


if __name__ == "__main__":
    main()
