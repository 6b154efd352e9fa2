"""One line per stage of long work on stderr, with its elapsed time.

A run on millions of customers spends minutes in reading, validation, features, training,
explanation and rendering; :func:`stage` says when each step starts and how long it took,
so that a long run is never silent::

    with stage("features: engagement"):
        ...

prints ``churnlab: features: engagement ...`` when the block starts and ``churnlab: features:
engagement ... done in 3.2 s`` when it ends (``... failed after 3.2 s`` when it raises). The
lines go to stderr, so stdout stays clean for what a command prints. ``CHURNLAB_QUIET=1``
silences them (tests, scripts that parse stderr).

The notebooks use the same lines (``with progress.stage("feature table"):``): in JupyterLab
they show under the cell, in report.html never (stderr is dropped when the page is rendered),
and ``churnlab report`` and ``papermill --engine churnlab`` forward these lines, and only these,
to the terminal or the scheduler's log (:mod:`churnlab.runs.engine`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import TextIO

#: every stage line starts with this, so that a reader of the kernel's stderr can pick them out
PREFIX = "churnlab: "


def _enabled() -> bool:
    return os.environ.get("CHURNLAB_QUIET", "") in ("", "0")


@contextlib.contextmanager
def stage(name: str, stream: TextIO | None = None) -> Iterator[None]:
    """Report the start and the elapsed time of the block ``name`` on stderr."""
    out = stream if stream is not None else sys.stderr
    show = stream is not None or _enabled()
    if show:
        print(f"{PREFIX}{name} ...", file=out, flush=True)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        if show:
            print(f"{PREFIX}{name} ... failed after {_seconds(started)}", file=out, flush=True)
        raise
    if show:
        print(f"{PREFIX}{name} ... done in {_seconds(started)}", file=out, flush=True)


def _seconds(started: float) -> str:
    elapsed = time.perf_counter() - started
    return f"{elapsed:.1f} s" if elapsed < 600 else f"{elapsed / 60:.1f} min"
