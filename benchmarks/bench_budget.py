"""Benchmark: the churn model's row budget (``model/backtest.py`` MAX_TRAIN_ROWS) against the
backtest's ROC-AUC and a fit's CPU time (prints figures; not a test).

On the ``bench_report.py`` world (100k customers x 24 months, seed 0; written there once and
reused), the report month is the latest complete one; for each of the three test months
before it, the report's backtest (trained on the snapshots labelled by the month before the
test, the last of them validating) is fitted on one thread under each budget given, the
newest snapshots first as the report does. Run it alone:

    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_budget.py \
        [--budgets 600000,500000,400000]
"""

from __future__ import annotations

import argparse
import time

from datadir import BENCH_DATA
from results import recorded

from churnlab.contract import read_dataset
from churnlab.core.churn import DEFAULT_CHURN
from churnlab.core.months import month_cutoff, shift_month
from churnlab.features import build_feature_table
from churnlab.model import metrics as mx
from churnlab.model.backtest import backtest
from churnlab.model.splits import recent_snapshots
from churnlab.report import kpis


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--budgets", default="600000,500000,400000")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    data = BENCH_DATA / f"report{args.customers // 1000}k"
    if not (data / "customers.parquet").exists():
        from churnlab.synth import synthesize

        synthesize(data, customers=args.customers, months=24, seed=0)
    full = read_dataset(data)
    month = kpis.resolve_month(full, "", 1)
    table = build_feature_table(full.as_of(month_cutoff(month)), definition=DEFAULT_CHURN)
    table = table.subset(table.frame[table.snapshot_col] <= month)
    labelled = table.labelled_snapshots
    print(f"world: {data.name}, report month {month}, {len(table.features)} features")
    print("test     budget   training rows   rounds  CPU s  ROC-AUC")
    mean: dict[int, list[float]] = {b: [] for b in budgets}
    for test in (shift_month(month, -k) for k in (1, 2, 3)):
        history = [s for s in labelled if s <= shift_month(test, -1)]
        for budget in budgets:
            start = time.process_time()
            bt = backtest(table, history, test, seed=0, max_rows=budget, threads=1)
            seconds = time.process_time() - start
            auc = mx.roc_auc(bt.frame["churned"].to_numpy(), bt.frame["churn_probability"])
            mean[budget].append(auc)
            kept = recent_snapshots(table, history[:-1], budget)
            rows = int(table.at(kept).labelled.sum())
            every = int(table.at(history[:-1]).labelled.sum())
            print(
                f"{test}  {budget:>9,}  {rows:>9,} of {every:>9,}  "
                f"{bt.model.best_iteration_ + 1:>5}  {seconds:5.1f}  {auc:.4f}"
            )
    for budget in budgets:
        print(f"mean ROC-AUC at {budget:,}: {sum(mean[budget]) / len(mean[budget]):.4f}")


if __name__ == "__main__":
    with recorded("bench_budget"):
        main()
