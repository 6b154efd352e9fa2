"""Benchmark: the feature table of 12 monthly snapshots on a large synthetic dataset.

Prints figures (not a test): the time to read every input table once with
``pyarrow.parquet.read_table`` (the yardstick), the time to load and validate the dataset
(``churnlab.contract.read_dataset``), the wall time of ``build_feature_table`` for the last
12 complete months, its ratio to one read of the inputs, and peak resident memory (of the
whole process, and the highest sampled while the features were built). Targets (issue 4, on
2 cores / 24 GB): under 10 minutes, under 12 GB, within 10x one read of the inputs.

    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_features.py \
        $CHURNLAB_BENCH_DATA/synth-1m [--snapshots 12]

With no folder it writes a small synthetic dataset (``churnlab.synth``) under
$CHURNLAB_BENCH_DATA (default benchmarks/_data/). Run it only under the heavy-job lock: it uses both cores and several GB.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

import pyarrow.parquet as pq
from datadir import BENCH_DATA
from results import recorded

from churnlab.contract import read_dataset
from churnlab.features import build_feature_table
from churnlab.features.snapshots import default_months

TABLES = ("customers", "billing", "tickets", "onboarding", "usage", "feedback")
GB = 1024**3


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process's RSS (Linux: clear_refs 5).

    A sampling thread would do too, but a Python thread polling while DuckDB scans pandas
    frames slows the scans down many times over, so the kernel keeps the peak for us.
    """
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss() -> int:
    """Peak resident memory (bytes) since start or the last :func:`reset_peak_rss`."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def read_inputs_once(folder: Path) -> tuple[float, int]:
    """Seconds to read every input table with pyarrow, and the number of rows read."""
    start, rows = time.perf_counter(), 0
    for name in TABLES:
        path = folder / f"{name}.parquet"
        if path.exists():
            rows += pq.read_table(path).num_rows
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="dataset folder (Parquet)")
    parser.add_argument("--snapshots", type=int, default=12)
    args = parser.parse_args()
    # per-family timings from build_feature_table
    logging.basicConfig(format="  %(name)s: %(message)s")
    logging.getLogger("churnlab.features").setLevel(logging.DEBUG)
    folder = args.folder
    if folder is None:
        from churnlab.synth import synthesize

        folder = BENCH_DATA / "features-20k"
        if not folder.exists():
            synthesize(folder, customers=20_000, months=24, seed=0)

    read_s, rows = read_inputs_once(folder)
    print(f"dataset           {folder}")
    print(f"input rows        {rows:,}")
    print(f"read inputs once  {read_s:8.2f} s   (pyarrow.parquet.read_table of every table)")

    start = time.perf_counter()
    dataset = read_dataset(folder)
    load_s = time.perf_counter() - start
    print(f"read_dataset      {load_s:8.2f} s   (load, coerce and validate)")

    months = default_months(dataset)[-args.snapshots :]
    peak_all = peak_rss()
    reset_peak_rss()
    start = time.perf_counter()
    table = build_feature_table(dataset, months)
    build_s = time.perf_counter() - start
    peak_build = peak_rss()
    frame = table.frame
    print(f"snapshots         {len(months)} ({months[0]} .. {months[-1]})")
    print(f"feature table     {len(frame):,} rows x {len(table.features)} features")
    print(f"build features    {build_s:8.2f} s   (build_feature_table)")
    print(f"ratio             {build_s / read_s:8.2f} x one read of the inputs")
    print(f"peak RSS (load)   {peak_all / GB:8.2f} GB  (after read_dataset)")
    print(f"peak RSS (build)  {peak_build / GB:8.2f} GB  (from the start of build_feature_table)")


if __name__ == "__main__":
    with recorded("bench_features"):
        main()
