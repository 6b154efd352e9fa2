"""Stage lines: a notebook says what it is doing, with the time each stage took, on stderr.

A cell wraps a slow step in ``with progress.stage("feature table"):``; when the step ends, one
line such as ``churnlab: feature table: 3.2 s`` goes to the kernel's stderr. In JupyterLab it
shows under the cell; in report.html it never does (stderr is dropped when the page is
rendered); ``churnlab report`` and ``papermill --engine churnlab`` forward these lines, and
only these, to the terminal or the scheduler's log (:mod:`churnlab.runs.engine`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: every stage line starts with this, so that a reader of the kernel's stderr can pick them out
PREFIX = "churnlab: "


def line(name: str, seconds: float) -> str:
    """The stage line of a stage ``name`` that took ``seconds``."""
    return f"{PREFIX}{name}: {seconds:.1f} s\n"


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the ``with`` block and write its stage line to stderr when it ends (also on error)."""
    clock = time.perf_counter()
    try:
        yield
    finally:
        sys.stderr.write(line(name, time.perf_counter() - clock))
        sys.stderr.flush()
