"""Benchmark: validation and the feature table of 12 monthly snapshots, out of core.

Prints figures (not a test). For a dataset folder: the time to read every input table once
with pyarrow, batch by batch (the yardstick), validation (``read_dataset``: DuckDB over
the files), then the feature table of the last 12 complete months two ways: written to
Parquet by the engine (``write_feature_table``, what ``churnlab features`` does: nothing
passes through pandas) and loaded as the in-memory ``FeatureTable`` the report trains on
(``build_feature_table``). Each step runs in a fresh process so that its peak resident memory
(``VmHWM``) is its own; ``--spark`` adds the Spark engine (local mode) for the Parquet path.
Issue #17's targets (2 cores / 24 GB): 1M customers, 12 snapshots: <= 3 GB and <= 5x one
read; 10M customers: < 30 minutes and < 16 GB; 100k: at least as fast as 5.8 s, <= 1.35 GB.

    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_features.py \
        $CHURNLAB_BENCH_DATA/synth-1m [--snapshots 12] [--spark] [--skip-frame]

With no folder it writes a small synthetic dataset (``churnlab.synth``) under
$CHURNLAB_BENCH_DATA (default benchmarks/_data/). Run it only under the heavy-job lock.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
from datadir import BENCH_DATA
from results import recorded

TABLES = ("customers", "billing", "tickets", "onboarding", "usage", "feedback")
GB = 1024**3

# one step, run in a child process: prints a JSON line with its seconds and peak RSS
STEP = r"""
import json, os, sys, time
os.environ.setdefault("CHURNLAB_QUIET", "1")
from churnlab.contract import read_dataset
from churnlab.features.build import build_feature_table
from churnlab.features.snapshots import default_months
step, folder, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
start = time.perf_counter()
dataset = read_dataset(folder)
validated = time.perf_counter() - start
months = default_months(dataset)[-n:]
start = time.perf_counter()
rows = features = 0
if step == "frame":
    table = build_feature_table(dataset, months)
    rows, features = len(table.frame), len(table.features)
elif step in ("duckdb", "spark"):
    from churnlab.features.build import write_feature_table
    write_feature_table(dataset, out, months, engine=step)
seconds = time.perf_counter() - start
def hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
def descendants(pid):
    kids = [c for t in os.listdir(f"/proc/{pid}/task")
            for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
    return kids + [d for k in kids for d in descendants(k)]
# Spark's local engine is a JVM child process (still running): its peak counts separately
jvm = sum(hwm(c) for c in descendants(os.getpid())) if step == "spark" else 0
# on a line of its own: DuckDB's progress bar may have left a line unfinished on stdout
print("\n" + json.dumps({"validate": validated, "seconds": seconds, "peak": hwm("self"), "jvm": jvm,
                  "months": months, "rows": rows, "features": features}))
"""


def read_inputs_once(folder: Path) -> tuple[float, int]:
    """Seconds to read every input table with pyarrow, and the number of rows read.

    Batch by batch (pyarrow's threaded scanner, as fast as ``read_table``), so that the
    yardstick itself fits in memory: a 10M-customer usage table read whole is about 30 GB.
    """
    start, rows = time.perf_counter(), 0
    for name in TABLES:
        path = folder / f"{name}.parquet"
        if path.exists():
            rows += sum(b.num_rows for b in pads.dataset(path, format="parquet").to_batches())
    return time.perf_counter() - start, rows


def run_step(
    step: str, folder: Path, snapshots: int, out: Path, source: Path | None = None
) -> dict:
    """One step in a fresh process; ``source``: run it on another churnlab source tree."""
    env = os.environ | {"CHURNLAB_QUIET": "1"}
    if source is not None:
        env |= {"PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", STEP, step, str(folder), str(snapshots), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=source or None,
    )
    if done.returncode != 0:
        sys.exit(f"step {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="dataset folder (Parquet)")
    parser.add_argument("--snapshots", type=int, default=12)
    parser.add_argument("--spark", action="store_true", help="also run the Spark engine")
    parser.add_argument("--skip-frame", action="store_true", help="skip build_feature_table")
    parser.add_argument(
        "--reference",
        type=Path,
        help="a churnlab source tree to compare with (e.g. `git archive` of the commit before "
        "out-of-core validation, which loads every table into pandas): its read_dataset and "
        "build_feature_table run as a last step",
    )
    args = parser.parse_args()
    folder = args.folder
    if folder is None:
        from churnlab.synth import synthesize

        folder = BENCH_DATA / "features-20k"
        if not folder.exists():
            synthesize(folder, customers=20_000, months=24, seed=0)

    folder = folder.resolve()  # the reference step runs in its source tree's folder
    read_s, rows = read_inputs_once(folder)
    size = sum(p.stat().st_size for p in folder.glob("*.parquet") if p.stem in TABLES)
    print(f"dataset           {folder}")
    print(f"input rows        {rows:,} ({size / 1e6:,.0f} MB of Parquet)")
    print(f"read inputs once  {read_s:8.2f} s   (pyarrow reads every table, batch by batch)")
    print(f"memory limit      {os.environ.get('CHURNLAB_MEMORY_LIMIT') or 'default'} (DuckDB)")
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        base = run_step("validate", folder, args.snapshots, Path(tmp) / "none")
        print(
            f"read_dataset      {base['validate']:8.2f} s   (validation in SQL over the files), "
            f"peak RSS {base['peak'] / GB:.2f} GB"
        )
        months = base["months"]
        print(f"snapshots         {len(months)} ({months[0]} .. {months[-1]})")
        steps = (
            ["duckdb"] + (["spark"] if args.spark else []) + ([] if args.skip_frame else ["frame"])
        )
        for step in steps:
            out = Path(tmp) / f"features-{step}.parquet"
            got = run_step(step, folder, args.snapshots, out)
            what = {
                "duckdb": "write_feature_table, DuckDB -> Parquet",
                "spark": "write_feature_table, Spark local -> Parquet",
                "frame": "build_feature_table -> pandas FeatureTable",
            }[step]
            extra = ""
            if step != "frame":
                meta = pq.read_metadata(out) if out.is_file() else None
                n = (
                    meta.num_rows
                    if meta
                    else sum(pq.read_metadata(f).num_rows for f in out.glob("*.parquet"))
                )
                extra = f", {n:,} rows"
            else:
                extra = f", {got['rows']:,} rows x {got['features']} features"
            jvm = f" + the JVM's {got['jvm'] / GB:.2f} GB" if got.get("jvm") else ""
            print(
                f"{step:<8} features {got['seconds']:8.2f} s   ({what}{extra}); "
                f"{got['seconds'] / read_s:5.2f}x one read; peak RSS {got['peak'] / GB:.2f} GB"
                f"{jvm} (whole process: validation + features)"
            )
        if args.reference is not None:
            got = run_step("frame", folder, args.snapshots, Path(tmp) / "none", args.reference)
            print(
                f"reference (pandas path: {args.reference.name}) read_dataset {got['validate']:.2f} s, "
                f"build_feature_table {got['seconds']:.2f} s "
                f"({got['rows']:,} rows x {got['features']} features); "
                f"{got['seconds'] / read_s:5.2f}x one read; peak RSS {got['peak'] / GB:.2f} GB"
            )


if __name__ == "__main__":
    with recorded(f"bench_features {Path(sys.argv[1]).name if len(sys.argv) > 1 else ''}".strip()):
        main()
