"""Benchmark of ``churnlab synth``: wall time, peak memory and rows written.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_synth.py          # 100k customers x 24 months
    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_synth.py 1m

The first writes into a temporary folder that is removed afterwards. ``1m`` writes 1M
customers x 24 months to $CHURNLAB_BENCH_DATA/synth-1m (kept: the feature benchmark reads it)
and marks it complete with a READY file. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from datadir import BENCH_DATA
from results import recorded

from churnlab.synth import synthesize

BIG_OUT = BENCH_DATA / "synth-1m"


def _rows(folder: Path) -> dict[str, int]:
    return {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(folder.glob("*.parquet"))}


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir()) / 1e6


def run(customers: int, months: int, out: Path, seed: int = 0) -> None:
    """Synthesize one world into ``out`` and print time, peak RSS, rows and size."""
    t0 = time.perf_counter()
    synthesize(out, customers=customers, months=months, seed=seed)
    wall = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"synth {customers:,} customers x {months} months (seed {seed})")
    print(f"  wall time  {wall:8.1f} s")
    print(f"  peak RSS   {peak_gb:8.2f} GB")
    print(f"  on disk    {_size_mb(out):8.1f} MB  ({out})")
    for name, rows in _rows(out).items():
        print(f"  {name:<11}{rows:>13,} rows")


def main(argv: list[str]) -> None:
    if argv and argv[0] == "1m":
        # build beside the old copy and swap, so a reader never sees a half-written folder
        new, old = BIG_OUT.with_name("synth-1m.new"), BIG_OUT.with_name("synth-1m.old")
        shutil.rmtree(new, ignore_errors=True)
        run(1_000_000, 24, new)
        (new / "READY").write_text("complete: 1,000,000 customers x 24 months, seed 0\n")
        if BIG_OUT.exists():
            BIG_OUT.rename(old)
        new.rename(BIG_OUT)
        shutil.rmtree(old, ignore_errors=True)
        return
    with tempfile.TemporaryDirectory(dir=BENCH_DATA if BENCH_DATA.is_dir() else None) as tmp:
        run(100_000, 24, Path(tmp) / "synth-100k")


if __name__ == "__main__":
    with recorded("bench_synth"):
        main(sys.argv[1:])
