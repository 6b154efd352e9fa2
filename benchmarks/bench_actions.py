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
   effect, or the action the uplift model picks; and the oracle. The uplift ranking is run
   with three sets of candidate actions: the proven ones (the report's rule), every modelled
   one, and every modelled one with its estimates scaled by the evidence of its pooled
   effect (``_shrinkage``). Figures are the true churn
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


def coverage(world, known, table, last: str, baseline) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every effect cell with its true average effect and whether the interval covers it.

    The main reasons come from ``baseline`` (the untreated baseline as of TRAIN_END: it has
    seen no outcome of any action, as the report's own baseline has not)."""
    out = A.action_outcomes(known, last, DEFAULT_CHURN).frame
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
    return cells, out


def uplift_out_of_time(world, table, frame, baseline, seed: int, shares) -> dict:
    """Qini against the oracle, and top-k contact strategies on the truth."""
    snaps = [s for s in table.labelled_snapshots if s <= TRAIN_END]
    train = frame[frame["action_month"] <= TRAIN_END]
    model = UpliftModel(baseline, seed).fit(A.randomized(table, train))
    effects = A.measure(train)
    proven = A.proven_actions(effects)

    truth = _truth_keys(world.truth)
    effect_cols = true_effects(truth)
    truth = pd.concat([truth, -effect_cols], axis=1)  # churn prevented, >= 0
    names = [c.removeprefix("effect_") for c in effect_cols.columns]

    # 2. Qini on the targeted test customers: per action (everyone's true effect of that
    # action), and pooled over the actions as assigned (each row's own action)
    test = frame[frame["action_month"].isin(TEST)]
    have, rows = A.feature_rows(table, test)
    test = test[have].reset_index(drop=True)
    test = test.merge(truth, on=["customer_id", "action_month"], how="left", suffixes=("", "_t"))
    prevented = model.prevented(rows)
    qini = []
    own = np.arange(len(test)), [names.index(a) for a in test["action"]]
    pairs = {
        name: (test[f"effect_{name}"].to_numpy(), prevented[name].to_numpy())
        for name in model.actions
    }
    pairs["(as assigned)"] = (
        test[list(effect_cols.columns)].to_numpy()[own],
        prevented[names].to_numpy()[own],
    )
    for name, (true, est) in pairs.items():
        q_model = qini_coefficient(expected_qini_curve(true, est))
        q_oracle = qini_coefficient(expected_qini_curve(true, true))
        mine = (test["action"] == name).to_numpy() if name in names else np.ones(len(test), bool)
        y, t = test["churned"][mine], test["treated"][mine]
        qini.append(
            {
                "action": name,
                "qini_model": q_model,
                "qini_oracle": q_oracle,
                "ratio": q_model / q_oracle if q_oracle > 0 else np.nan,
                "realised_model": qini_coefficient(qini_curve(y, t, est[mine])),
                "realised_oracle": qini_coefficient(qini_curve(y, t, true[mine])),
            }
        )

    # 3. top k of all customers of the test snapshots
    risk_model = fit_history(table, snaps[:-1], snaps[-1:], seed)
    pooled = effects[(effects["action_month"] == "all") & (effects["breakdown"] == "overall")]
    best_single = pooled.set_index("action")["effect"].idxmin()
    shrink = _shrinkage(pooled.set_index("action"), model.actions)
    topk = []
    for share in shares:
        totals = dict.fromkeys(STRATEGIES, 0.0)
        for action_month in TEST:
            rows = table.at(shift_month(action_month, -1))
            here = truth[truth["snapshot"] == shift_month(action_month, -1)]
            true = here.set_index("customer_id").loc[rows.frame["customer_id"].to_numpy()]
            true = true[list(effect_cols.columns)].to_numpy()
            k = int(round(share * len(true)))
            est = model.prevented(rows)
            by_risk = np.argsort(-risk_model.predict_proba(rows), kind="stable")[:k]
            for label, candidates in (
                ("uplift", proven),
                ("uplift_any_action", model.actions),
                ("uplift_shrunk", model.actions),
            ):
                scaled = est * shrink if label == "uplift_shrunk" else est
                chosen, score = _choose(scaled, candidates, names, true)
                by_score = np.argsort(-score, kind="stable")[:k]
                totals[label] += chosen[by_score].sum()
                if label == "uplift":
                    totals["risk_uplift_action"] += chosen[by_risk].sum()
            totals["risk_usual_mix"] += true[by_risk].mean(axis=1).sum()
            totals["risk_best_single"] += true[by_risk, names.index(best_single)].sum()
            totals["oracle"] += np.sort(true.max(axis=1))[::-1][:k].sum()
        topk.append({"share": share, **totals})
    return {
        "qini": pd.DataFrame(qini),
        "topk": pd.DataFrame(topk),
        "proven": proven,
        "best": best_single,
    }


STRATEGIES = (
    "uplift",
    "uplift_any_action",
    "uplift_shrunk",
    "risk_usual_mix",
    "risk_best_single",
    "risk_uplift_action",
    "oracle",
)


def _shrinkage(pooled: pd.DataFrame, actions) -> pd.Series:
    """Per action, a factor on its estimated churn prevented for the strategy that weighs the
    evidence instead of requiring proof: positive-part James-Stein on the pooled effect d
    with standard error s (from its 95 % interval), max(0, 1 - s^2 / d^2) when d < 0, else 0
    (an action whose measured mean is within one standard error of zero counts for nothing)."""
    d = pooled["effect"].reindex(actions)
    s = (pooled["high"] - pooled["low"]).reindex(actions) / (2 * A.Z95)
    return ((1 - (s / d) ** 2).clip(lower=0) * (d < 0)).fillna(0.0)


def _choose(est: pd.DataFrame, candidates, names, true) -> tuple[np.ndarray, np.ndarray]:
    """Each row's chosen action's true churn prevented, and its expected one (the score)."""
    if not candidates:
        return np.zeros(len(true)), np.zeros(len(true))
    values = est[candidates].to_numpy()
    pick = np.array([names.index(a) for a in candidates])[values.argmax(axis=1)]
    return true[np.arange(len(true)), pick], values.max(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--shares", default="0.02,0.05,0.1")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    shares = [float(s) for s in args.shares.split(",")]
    all_cells, qinis, topks, proven = [], [], [], {}
    for seed in seeds:
        t0 = time.perf_counter()
        world, known, table, last = world_and_table(args.customers, args.months, seed)
        touched = A.touched_rows(table, known.table("actions"), 1)
        snaps = [s for s in table.labelled_snapshots if s <= TRAIN_END]
        baseline = fit_baseline(table, snaps, touched, seed)
        cells, outcomes = coverage(world, known, table, last, baseline)
        all_cells.append(cells.assign(seed=seed))
        up = uplift_out_of_time(world, table, outcomes, baseline, seed, shares)
        qinis.append(up["qini"].assign(seed=seed))
        topks.append(up["topk"].assign(seed=seed))
        proven[seed] = ", ".join(up["proven"]) or "(none)"
        print(
            f"seed {seed}: {len(cells)} cells, coverage {cells['covered'].mean():.3f}, "
            f"proven by {TRAIN_END}: {proven[seed]}; {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    print(f"\n{args.customers:,} customers x {args.months} months, seeds {args.seeds}")
    cells = pd.concat(all_cells, ignore_index=True)
    print("\n## 1. Interval coverage (cells whose 95 % interval covers the true average effect)")
    cells["months"] = np.where(cells["action_month"] == "all", "pooled", "per month")
    print(
        cells.groupby(["breakdown", "months"])["covered"].agg(["mean", "size"]).round(3).to_string()
    )
    fam = cells[cells["breakdown"] == "family"]
    print(f"per action and family: {fam['covered'].mean():.3f} of {len(fam)} cells")
    print(f"all cells: {cells['covered'].mean():.3f} of {len(cells)}")
    null = cells[cells["action"] == "newsletter"]
    unclear = (null["verdict"] == A.UNCLEAR).groupby([null["breakdown"], null["months"]]).mean()
    print("newsletter (no effect) cells reported not distinguishable from zero:")
    print(unclear.round(3).to_string())
    pooled = cells[(cells["months"] == "pooled") & (cells["breakdown"] == "overall")]
    print(
        pooled.pivot_table(
            index="seed", columns="action", values="verdict", aggfunc="first"
        ).to_string()
    )

    q = pd.concat(qinis, ignore_index=True)
    print(
        f"\n## 2. Qini out of time (learns from actions up to {TRAIN_END}, tested on "
        f"{TEST[0]}..{TEST[-1]}); ratio = model / oracle"
    )
    cols = ["qini_model", "qini_oracle", "ratio", "realised_model", "realised_oracle"]
    print(q.groupby("action")[cols].mean().round(4).to_string())
    print(q.pivot_table(index="seed", columns="action", values="ratio").round(3).to_string())

    t = pd.concat(topks, ignore_index=True)
    print(
        f"\n## 3. True churn prevented by contacting the top share of all customers ({len(TEST)} test months)"
    )
    summed = t.groupby("share")[list(STRATEGIES)].sum()
    print(summed.round(1).to_string())
    for rule in ("uplift", "uplift_any_action", "uplift_shrunk", "oracle"):
        for col in ("risk_usual_mix", "risk_best_single", "risk_uplift_action"):
            ratio = t[rule] / t[col]
            print(
                f"{rule} / {col} per seed and share: min {ratio.min():.2f}, "
                f"mean {ratio.mean():.2f}, max {ratio.max():.2f}"
            )
    indexed = t.set_index(["share", "seed"])
    for rule in ("uplift", "uplift_any_action", "uplift_shrunk"):
        print(f"{rule} / risk_usual_mix:")
        print((indexed[rule] / indexed["risk_usual_mix"]).round(2).unstack().to_string())


if __name__ == "__main__":
    main()
