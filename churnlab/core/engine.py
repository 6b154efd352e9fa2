"""The DuckDB connections churnlab computes with, bounded in memory on any input size.

Validation and features run as SQL over the dataset's files; DuckDB streams them, and when an
operator's state outgrows the memory limit it spills to a temporary folder instead of growing.
:func:`connect` makes every connection the same way:

- ``memory_limit``: ``$CHURNLAB_MEMORY_LIMIT`` (a DuckDB size such as ``4GB``), else a quarter
  of the machine's memory, at least 1 GB and at most 8 GB;
- ``temp_directory``: ``$CHURNLAB_TMP``, else a ``churnlab-spill`` folder in the system's
  temporary folder (removed when the connection is garbage-collected);
- ``threads``: ``$CHURNLAB_THREADS``, else every core;
- features of more than ``$CHURNLAB_SLICE_CUSTOMERS`` customers (:func:`slice_customers`)
  are computed a slice of customers at a time (:mod:`churnlab.features.slices`);
- ``preserve_insertion_order = false``: every result that needs an order says ``ORDER BY``.

When DuckDB still runs out of memory (an operator that cannot spill) or out of temporary disk,
:func:`engine_limits` turns its error into an :class:`EngineLimit` that names the work and
churnlab's knobs (DuckDB's own advice speaks of ``SET`` commands a churnlab user never types).
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from churnlab.core.errors import ChurnlabError

_GB = 1 << 30


def default_memory_limit() -> str:
    """A quarter of physical memory, clamped to 1..8 GB (a DuckDB size string)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * _GB
    limit = min(max(total // 4, _GB), 8 * _GB)
    return f"{limit // (1 << 20)}MB"


def memory_limit() -> str:
    """The memory limit every connection gets (``$CHURNLAB_MEMORY_LIMIT`` or the default)."""
    return os.environ.get("CHURNLAB_MEMORY_LIMIT", "").strip() or default_memory_limit()


def not_a_memory_size(limit: str) -> ChurnlabError:
    """The error for a ``$CHURNLAB_MEMORY_LIMIT`` that is not a memory size."""
    return ChurnlabError(
        f"CHURNLAB_MEMORY_LIMIT={limit!r} is not a memory size; use e.g. 4GB or 800MB."
    )


#: customers per slice when $CHURNLAB_SLICE_CUSTOMERS does not say (benchmarks/RESULTS.md,
#: "Slices": the peak memory and time of the features on a million customers;
#: churnlab.features.slices says what a slice is)
SLICE_CUSTOMERS = 125_000


def slice_customers() -> int:
    """Customers per slice: ``$CHURNLAB_SLICE_CUSTOMERS``, else :data:`SLICE_CUSTOMERS`."""
    given = os.environ.get("CHURNLAB_SLICE_CUSTOMERS", "").strip()
    if not given:
        return SLICE_CUSTOMERS
    if not given.isdigit() or int(given) < 1:
        raise ChurnlabError(
            f"CHURNLAB_SLICE_CUSTOMERS={given!r} must be a whole number >= 1 (customers "
            "whose features are computed together; fewer use less memory)."
        )
    return int(given)


def temp_root() -> str:
    """The folder churnlab's temporary files go under: ``$CHURNLAB_TMP``, else the system's."""
    return os.environ.get("CHURNLAB_TMP", "").strip() or tempfile.gettempdir()


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with churnlab's limits (see the module docstring)."""
    con = duckdb.connect()
    spill_root = temp_root()
    try:
        Path(spill_root).mkdir(parents=True, exist_ok=True)
        spill = tempfile.mkdtemp(prefix="churnlab-spill-", dir=spill_root)
    except OSError as exc:
        raise ChurnlabError(
            f"churnlab cannot create its temporary folder in {spill_root} ({exc}). Point "
            "CHURNLAB_TMP at a writable folder with free space."
        ) from None
    slice_customers()  # a bad setting fails here, before any work
    limit = memory_limit()
    try:
        con.execute(f"SET memory_limit = '{limit}'")
    except duckdb.Error:
        raise not_a_memory_size(limit) from None
    con.execute(f"SET temp_directory = '{_sql_text(spill)}'")
    threads = os.environ.get("CHURNLAB_THREADS", "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise ChurnlabError(f"CHURNLAB_THREADS={threads!r} must be a whole number >= 1.")
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    weakref.finalize(con, _remove_tree, spill)
    return con


class EngineLimit(ChurnlabError):
    """DuckDB ran out of memory or temporary disk: the machine's limits, not the input.

    Exit code 1, as for a failed run: the data may be fine, the environment needs changing.
    """

    exit_code = 1


def limit_error(exc: BaseException, doing: str, features: bool = False) -> EngineLimit | None:
    """The :class:`EngineLimit` for a DuckDB failure from memory or disk, else ``None``;
    ``features``: the work was feature computation, which Spark can take over."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if isinstance(exc, duckdb.OutOfMemoryException):
        return EngineLimit(
            f"DuckDB ran out of memory while {doing} (memory limit {memory_limit()}; "
            f"{first}). Give churnlab more with CHURNLAB_MEMORY_LIMIT (e.g. 8GB; the default "
            "is a quarter of this machine's memory, at most 8 GB), run one thread with "
            "CHURNLAB_THREADS=1 (each thread holds buffers of its own)"
            + (
                ", compute the features for fewer customers at a time with "
                "CHURNLAB_SLICE_CUSTOMERS (e.g. 50000), or on Spark (--engine spark)"
                if features
                else ""
            )
            + "."
        )
    if isinstance(exc, duckdb.Error | OSError) and "no space left" in text.lower():
        where = temp_root()
        return EngineLimit(
            f"The disk ran full while {doing} ({first}): DuckDB writes what does not fit in "
            f"memory to {where}. Point CHURNLAB_TMP at a folder with more free space, or "
            "raise CHURNLAB_MEMORY_LIMIT so that less is written."
        )
    return None


@contextmanager
def engine_limits(doing: str, features: bool = False) -> Iterator[None]:
    """Raise :class:`EngineLimit` for DuckDB's out-of-memory and disk-full errors inside;
    ``doing`` says what was running ("computing the price features"), ``features`` as in
    :func:`limit_error`."""
    try:
        yield
    except (duckdb.Error, OSError) as exc:
        error = limit_error(exc, doing, features)
        if error is None:
            raise
        raise error from None


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (file paths, values)."""
    return "'" + _sql_text(str(text)) + "'"


def _remove_tree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
