"""Benchmark: the monthly report end to end (``churnlab demo``, and a 100k-customer world).

Prints wall time, peak memory (RSS of the command and its kernel, from ``/usr/bin/time -v``)
and where the time goes: inside the notebook's cells (the computation) versus outside them
(starting Python and the kernel, papermill, rendering the HTML, the manifest). A trivial
notebook run through papermill gives the bare cost of a kernel start.

Run it alone, under the shared lock, from the repository root:

    flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/bench_report.py [--customers N]

The synthetic world is written once to $CHURNLAB_BENCH_DATA/report<N>/ (default benchmarks/_data/) (outside git) and reused.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from datadir import BENCH_DATA
from results import recorded

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "churnlab"


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a command, which must succeed."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=REPO
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return wall, peak / 1024


def cell_seconds(notebook: Path) -> list[tuple[float, str]]:
    nb = nbformat.read(str(notebook), as_version=4)
    return [
        (c.metadata.get("papermill", {}).get("duration") or 0.0, c.source.splitlines()[0][:60])
        for c in nb.cells
        if c.cell_type == "code" and c.source.strip()
    ]


def kernel_start_seconds(tmp: Path) -> float:
    """Wall time of papermill executing a notebook with one empty cell."""
    import papermill

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(tmp / "empty.ipynb"))
    start = time.perf_counter()
    papermill.execute_notebook(
        str(tmp / "empty.ipynb"),
        str(tmp / "empty.out.ipynb"),
        kernel_name="python3",
        progress_bar=False,
    )
    return time.perf_counter() - start


def report_figures(name: str, command: list[str], out: Path) -> None:
    wall, peak = timed(command)
    manifest = json.loads((out / "manifest.json").read_text())
    cells = cell_seconds(out / "report.ipynb")
    inside = sum(s for s, _ in cells)
    print(f"\n== {name}: {manifest['parameters'].get('month')} ==")
    print(f"wall time          {wall:8.1f} s")
    print(f"peak RSS           {peak:8.0f} MB (command + kernel)")
    print(f"inside cells       {inside:8.1f} s ({inside / wall:.0%})")
    print(
        f"outside cells      {wall - inside:8.1f} s ({(wall - inside) / wall:.0%}): "
        f"kernel start, papermill, HTML {manifest['timings_seconds']['html']:.1f} s, manifest"
    )
    print("slowest cells:")
    for seconds, first_line in sorted(cells, reverse=True)[:5]:
        print(f"  {seconds:6.1f} s  {first_line}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    data = BENCH_DATA / f"report{args.customers // 1000}k"
    if not (data / "customers.parquet").exists():
        from churnlab.synth import synthesize

        start = time.perf_counter()
        synthesize(data, customers=args.customers, months=args.months, seed=0)
        print(
            f"synthesized {args.customers:,} customers x {args.months} months in "
            f"{time.perf_counter() - start:.1f} s -> {data}"
        )
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        print(f"kernel start (empty notebook via papermill): {kernel_start_seconds(tmp):.1f} s")
        demo = tmp / "demo"
        report_figures("churnlab demo", [str(BIN), "demo", "--out", str(demo)], demo)
        big = tmp / "big"
        command = [str(BIN), "report", "--data", str(data), "--month", "", "--out", str(big)]
        report_figures(f"report, {args.customers:,} customers", command, big)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    with recorded("bench_report"):
        main()
