"""SHAP speed for 1M rows x ~50 features with the default model (prints figures; not a test).

Builds a feature table in memory (45 numeric features, 5 categorical ones with 3-12 levels,
a logistic churn label at about 4 %), trains the default :class:`ChurnModel` on it (timed;
validation = a further 20 % of rows), then explains every row two ways on the same booster:

- bare: ``DMatrix`` of the already encoded matrix + ``predict(pred_contribs=True)``;
- churnlab: :func:`churnlab.model.explain.explain` (encoding + the same call + summing one-hot
  columns back to their features);
- churnlab on one thread versus every core (TreeSHAP's rows are independent).

Both on the first 100,000 rows (``--ratio-rows``; TreeSHAP time is linear in rows, so the
rate holds for 1M rows: ``--full`` explains all of them too, about 15 minutes here). It
prints rows/second and the ratio churnlab/bare (target <= 1.1), the error of family shares
estimated from a 10 % sample, and the time of the steps after it (feature drivers,
per-customer reasons). Run it alone:

    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_shap.py
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb
from results import recorded

from churnlab.features.table import FeatureTable
from churnlab.model import ChurnModel
from churnlab.model.explain import explain, feature_drivers

N_NUMERIC = 45
LEVELS = (3, 4, 6, 8, 12)


def make_table(rows: int, seed: int) -> FeatureTable:
    """A table with 45 numeric and 5 categorical features; churn depends on a dozen of them."""
    rng = np.random.default_rng(seed)
    data = {"customer_id": pd.array([f"c{i:07d}" for i in range(rows)], dtype="string")}
    numeric = rng.normal(size=(rows, N_NUMERIC)).astype("float64")
    numeric[rng.random((rows, N_NUMERIC)) < 0.05] = np.nan  # some missing values
    logit = -3.3 + np.nan_to_num(numeric[:, :12]) @ rng.normal(0, 0.5, 12)
    logit += 0.6 * np.nan_to_num(numeric[:, 0]) * np.nan_to_num(numeric[:, 1])
    families = {}
    for j in range(N_NUMERIC):
        data[f"num_{j:02d}"] = numeric[:, j]
        families[f"num_{j:02d}"] = ("price", "support", "engagement", "onboarding")[j % 4]
    for j, k in enumerate(LEVELS):
        codes = rng.integers(0, k, rows)
        logit += rng.normal(0, 0.4, k)[codes]
        data[f"cat_{j}"] = pd.array([f"level_{c}" for c in codes], dtype="string")
        families[f"cat_{j}"] = "profile"
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int8")
    data["churned"] = pd.array(churned, dtype="Int8")
    return FeatureTable(pd.DataFrame(data), families, snapshot_col=None)


def timed(label: str, fn):
    started = time.perf_counter()
    out = fn()
    took = time.perf_counter() - started
    print(f"{label:52s} {took:8.2f} s", flush=True)
    return out, took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SHAP and training speed of churnlab")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ratio-rows", type=int, default=100_000, help="rows explained")
    parser.add_argument("--full", action="store_true", help="also explain all rows (~15 min)")
    args = parser.parse_args(argv)
    n = args.rows
    table, _ = timed(f"make a {n:,}-row table", lambda: make_table(n + n // 5, args.seed))
    train = table.subset(pd.Series(np.arange(len(table.frame)) < n))
    valid = table.subset(pd.Series(np.arange(len(table.frame)) >= n))
    print(f"features: {len(train.features)}, churn rate {train.frame['churned'].mean():.3f}")
    model, fit_s = timed(f"train ChurnModel on {n:,} rows", lambda: ChurnModel().fit(train, valid))
    print(
        f"  rounds: {model.best_iteration_ + 1}, encoded columns: {len(model.feature_names_)}, "
        f"threads: {model.nthread_}, {n / fit_s:,.0f} rows/s"
    )
    sub = train.subset(pd.Series(np.arange(n) < args.ratio_rows))
    x = model.encoder_.transform(sub.frame)

    def bare():
        dm = xgb.DMatrix(x, feature_names=model.booster_names_, nthread=model.nthread_)
        return model.booster_.predict(dm, pred_contribs=True, iteration_range=model.iteration_range)

    m = len(sub.frame)
    _, bare_s = timed(f"bare pred_contribs on {m:,} rows (DMatrix + predict)", bare)
    part, ours_s = timed(f"churnlab explain on {m:,} rows", lambda: explain(model, sub))
    _, bare2_s = timed(f"bare pred_contribs on {m:,} rows again", bare)
    print(
        f"ratio churnlab / bare pred_contribs: {ours_s / min(bare_s, bare2_s):.3f} (target <= 1.1)"
    )
    print(f"SHAP rows/second (churnlab, {m:,} rows): {m / ours_s:,.0f}")
    print(f"  trees kept after early stopping: {model.booster_.num_boosted_rounds()}")
    few = sub.subset(pd.Series(np.arange(m) < min(m, 20_000)))
    model.n_jobs = 1
    _, one_s = timed(f"SHAP on {len(few.frame):,} rows, one thread", lambda: explain(model, few))
    model.n_jobs = None
    _, all_s = timed(f"SHAP on {len(few.frame):,} rows, every core", lambda: explain(model, few))
    print(f"  speed-up from threads: {one_s / all_s:.2f}x (values identical)")
    expl = part
    if args.full:
        expl, full_s = timed(f"churnlab explain on all {n:,} rows", lambda: explain(model, train))
        print(f"SHAP rows/second (churnlab, {n:,} rows): {n / full_s:,.0f}")
    drivers, _ = timed("feature drivers (mean |SHAP|, direction)", lambda: feature_drivers(expl))
    k = len(expl.values) // 10
    sample = feature_drivers(_head(expl, k)).set_index("feature")["share"]
    error = (sample - drivers.set_index("feature")["share"]).abs().max()
    print(f"feature shares from {k:,} of {len(expl.values):,} rows: max abs error {error:.4f}")
    # the reasons in words come from driver credit, timed with it by bench_credit.py
    print(drivers.head(5).to_string(index=False))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak RSS: {peak:.1f} GB")
    return 0


def _head(expl, rows: int):
    from dataclasses import replace

    return replace(
        expl,
        values=expl.values[:rows],
        data=expl.data.iloc[:rows],
        ids=expl.ids[:rows],
        margin=expl.margin[:rows],
    )


if __name__ == "__main__":
    with recorded("bench_shap"):
        code = main()
    sys.exit(code)
