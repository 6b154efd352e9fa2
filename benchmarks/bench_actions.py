"""Benchmark of the retention-action analysis on synthetic worlds with known effects.

Usage (from the repository root):

    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_actions.py \
        [--customers 30000] [--months 24] [--seeds 0,1,2,3,4] [--share 0.05]

For each seed, a world made by ``churnlab synth --actions`` (random holdouts of 30 %, one
action that does nothing) is read as known at the end of its last month, and:

1. **Intervals**: every measured effect (per action month and pooled over the months;
   overall, per main-reason family, per segment) is compared with the true average effect
   of its customers (from ``truth.parquet``): the share of cells whose 95 % interval covers
   it, and whether the action without effect is reported as not distinguishable from zero.
2. **Uplift, out of time**: the uplift model is fitted as of 2026-03 (actions up to 2026-02,
   a baseline on snapshots labelled by then) and tested on the actions of 2026-04..2026-09:
   per action, the Qini coefficient of its ranking on the true effects (the targeted test
   customers, every one's true effect of that action) against the oracle's ranking by the
   true effect, and the realised Qini on the randomized rows.
3. **Whom to contact**: on every customer of the test snapshots, contacting the top
   ``share`` by expected churn prevented (each with the action the model picks) against the
   same number by churn risk (the churn model of 2026-03), each with: the business's usual
   mix (the actions at random, as in the history), the action with the best pooled measured
   effect, or the action the uplift model picks; and the oracle. Figures are the true churn
   prevented (sum of true effects), summed over the test snapshots.

Prints tables; asserts nothing. Results go to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from churnlab.contract import dataset_from_frames
from churnlab.core.churn import DEFAULT_CHURN
from churnlab.core.months import month_cutoff, shift_month
from churnlab.features import build_feature_table
from churnlab.model.backtest import fit_history
from churnlab.model.uplift import (
    UpliftModel,
    expected_qini_curve,
    fit_baseline,
    qini_coefficient,
    qini_curve,
)
from churnlab.report import actions as A
from churnlab.synth import generate
from churnlab.synth.actions import true_effects

TRAIN_END = "2026-02"  # last action month the out-of-time model learns from
TEST = [shift_month("2026-04", k) for k in range(6)]  # action months it is tested on


def _truth_keys(truth: pd.DataFrame) -> pd.DataFrame:
    out = truth.copy()
    out["action_month"] = [shift_month(s, 1) for s in out["snapshot"]]
    return out


def world_and_table(customers: int, months: int, seed: int):
    world = generate(customers, months, seed=seed, actions=True)
    data = dataset_from_frames(world.tables)
    last = shift_month("2024-11", months - 1)
    known = data.as_of(month_cutoff(last))
    table = build_feature_table(known, definition=DEFAULT_CHURN)
    return world, known, table, last


def coverage(world, known, table, last: str, seed: int) -> tuple[pd.DataFrame, dict]:
    """Every effect cell with its true average effect and whether the interval covers it."""
    out = A.action_outcomes(known, last, DEFAULT_CHURN).frame
    touched = A.touched_rows(table, known.table("actions"), 1)
    labelled = [s for s in table.labelled_snapshots if s <= shift_month(last, -1)]
    baseline = fit_baseline(table, labelled, touched, seed)
    families = A.main_reasons(baseline, table, out)
    truth = _truth_keys(world.truth)[["customer_id", "action_month", "action", "action_effect"]]
    rows = out.assign(family=families).merge(truth, how="left", validate="m:1")
    cells = []
    for by in (None, "family", "segment"):
        for frame in (rows, rows.assign(action_month="all")):
            keys = ["action_month", "action"] + ([by] if by else [])
            true = frame.groupby(keys)["action_effect"].mean().rename("true").reset_index()
            measured = A.effect_table(frame, by)
            if by:
                true = true.rename(columns={by: "level"}).astype({"level": str})
            else:
                true["level"] = "all"
            cells.append(measured.merge(true, on=["action_month", "action", "level"]))
    cells = pd.concat(cells, ignore_index=True).dropna(subset=["effect"])
    cells["covered"] = (cells["low"] <= cells["true"]) & (cells["true"] <= cells["high"])
    pooled = cells[(cells["action_month"] == "all") & (cells["breakdown"] == "overall")]
    return cells, {"outcomes": out, "pooled": pooled.set_index("action")}


def uplift_out_of_time(world, table, known, frame, seed: int, share: float) -> dict:
    """Qini against the oracle, and top-k contact strategies on the truth."""
    touched = A.touched_rows(table, known.table("actions"), 1)
    snaps = [s for s in table.labelled_snapshots if s <= TRAIN_END]
    baseline = fit_baseline(table, snaps, touched, seed)
    train = frame[frame["action_month"] <= TRAIN_END]
    model = UpliftModel(baseline, seed).fit(A.randomized(table, train))
    effects = A.measure(train)
    proven = A.proven_actions(effects)

    truth = _truth_keys(world.truth)
    effect_cols = true_effects(truth)
    truth = pd.concat([truth, -effect_cols], axis=1)  # churn prevented, >= 0
    names = [c.removeprefix("effect_") for c in effect_cols.columns]

    # 2. Qini per action on the targeted test customers
    test = frame[frame["action_month"].isin(TEST)]
    have, rows = A.feature_rows(table, test)
    test = test[have].reset_index(drop=True)
    test = test.merge(truth, on=["customer_id", "action_month"], how="left", suffixes=("", "_t"))
    prevented = model.prevented(rows)
    qini = []
    for name in model.actions:
        true = test[f"effect_{name}"].to_numpy()
        q_model = qini_coefficient(expected_qini_curve(true, prevented[name].to_numpy()))
        q_oracle = qini_coefficient(expected_qini_curve(true, true))
        mine = (test["action"] == name).to_numpy()
        realised = qini_coefficient(
            qini_curve(test["churned"][mine], test["treated"][mine], prevented[name][mine])
        )
        realised_oracle = qini_coefficient(
            qini_curve(test["churned"][mine], test["treated"][mine], true[mine])
        )
        qini.append(
            {
                "action": name,
                "qini_model": q_model,
                "qini_oracle": q_oracle,
                "ratio": q_model / q_oracle if q_oracle > 0 else np.nan,
                "realised_model": realised,
                "realised_oracle": realised_oracle,
            }
        )

    # 3. top k of all customers of the test snapshots
    risk_model = fit_history(table, snaps[:-1], snaps[-1:], seed)
    best_single = (
        effects[(effects["action_month"] == "all") & (effects["breakdown"] == "overall")]
        .set_index("action")["effect"]
        .idxmin()
    )
    totals = dict.fromkeys(
        ["uplift", "risk_usual_mix", "risk_best_single", "risk_uplift_action", "oracle"], 0.0
    )
    candidates = [a for a in model.actions if a in proven] or model.actions
    for action_month in TEST:
        snapshot = shift_month(action_month, -1)
        rows = table.at(snapshot)
        k = int(round(share * len(rows.frame)))
        here = truth[truth["snapshot"] == snapshot].set_index("customer_id")
        true = here.loc[rows.frame["customer_id"].to_numpy(), list(effect_cols.columns)].to_numpy()
        est = model.prevented(rows)[candidates].to_numpy()
        pick = np.array([names.index(a) for a in candidates])[est.argmax(axis=1)]
        score = est.max(axis=1)
        chosen = true[np.arange(len(true)), pick]
        by_uplift = np.argsort(-score, kind="stable")[:k]
        by_risk = np.argsort(-risk_model.predict_proba(rows), kind="stable")[:k]
        totals["uplift"] += chosen[by_uplift].sum()
        totals["risk_usual_mix"] += true[by_risk].mean(axis=1).sum()
        totals["risk_best_single"] += true[by_risk, names.index(best_single)].sum()
        totals["risk_uplift_action"] += chosen[by_risk].sum()
        totals["oracle"] += np.sort(true.max(axis=1))[::-1][:k].sum()
    return {"qini": pd.DataFrame(qini), "topk": totals, "proven": proven, "best": best_single}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--share", type=float, default=0.05)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    all_cells, qinis, topks = [], [], []
    for seed in seeds:
        t0 = time.perf_counter()
        world, known, table, last = world_and_table(args.customers, args.months, seed)
        cells, info = coverage(world, known, table, last, seed)
        all_cells.append(cells.assign(seed=seed))
        up = uplift_out_of_time(world, table, known, info["outcomes"], seed, args.share)
        qinis.append(up["qini"].assign(seed=seed))
        topks.append({"seed": seed, **up["topk"], "proven": ",".join(up["proven"])})
        null = info["pooled"].loc["newsletter"]
        print(
            f"seed {seed}: {len(cells)} cells, coverage {cells['covered'].mean():.3f}; "
            f"newsletter pooled {null['effect']:+.4f} [{null['low']:+.4f}, {null['high']:+.4f}] "
            f"{null['verdict']}; {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    cells = pd.concat(all_cells, ignore_index=True)
    print("\n## 1. Interval coverage (share of cells whose 95 % interval covers the true effect)")
    cells["months"] = np.where(cells["action_month"] == "all", "pooled", "per month")
    table = cells.groupby(["breakdown", "months"])["covered"].agg(["mean", "size"])
    print(table.round(3).to_string())
    print(f"all cells: {cells['covered'].mean():.3f} of {len(cells)}")
    null = cells[(cells["action"] == "newsletter") & (cells["breakdown"] == "overall")]
    unclear = (null["verdict"] == A.UNCLEAR).groupby(null["months"]).mean()
    print(
        "newsletter (no effect) reported 'not distinguishable from zero':",
        unclear.round(3).to_dict(),
    )
    verdicts = cells[(cells["months"] == "pooled") & (cells["breakdown"] == "overall")]
    print(
        verdicts.pivot_table(
            index="seed", columns="action", values="verdict", aggfunc="first"
        ).to_string()
    )

    q = pd.concat(qinis, ignore_index=True)
    print("\n## 2. Qini out of time (true effects; ratio = model / oracle)")
    print(
        q.groupby("action")[
            ["qini_model", "qini_oracle", "ratio", "realised_model", "realised_oracle"]
        ]
        .mean()
        .round(4)
        .to_string()
    )
    print(q.pivot_table(index="seed", columns="action", values="ratio").round(3).to_string())

    t = pd.DataFrame(topks).set_index("seed")
    print(
        f"\n## 3. True churn prevented by contacting the top {args.share:.0%} (sum over {len(TEST)} test months)"
    )
    print(t.round(1).to_string())
    for col in ("risk_usual_mix", "risk_best_single", "risk_uplift_action"):
        print(f"uplift / {col}: {(t['uplift'] / t[col]).round(2).tolist()}")
    print(f"oracle / uplift: {(t['oracle'] / t['uplift']).round(2).tolist()}")


if __name__ == "__main__":
    main()
