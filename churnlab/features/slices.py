"""Features a slice of customers at a time: DuckDB's working set is a slice's, not everyone's.

Every feature is a fact about one customer at one cutoff, except the few population-wide
parts a family compares a customer with (:attr:`~churnlab.features.sql.core.Family.shared`:
each plan's median price, the onboarding steps anyone has completed). On a population of more
than :func:`slice_customers` customers, :func:`slices` first computes, over everyone, the
population with its row numbers (``rid``) and those shared parts; it then writes every table
once more, as one Parquet folder per slice (customers by a hash of their id), in a folder of
its own under ``$CHURNLAB_TMP``, and points the engine at one slice after another, the shared
parts read from what was computed over everyone. Each family then runs on a slice's rows, and
its results keep the population's ``rid``: the feature table is the one a single pass gives
(tests/test_slices.py), while the windows and sorts of a slice fit in memory where those of
millions of customers spill to disk or fail.

A smaller population runs in one pass, as before: the extra write of the tables costs more
than it saves there (benchmarks/RESULTS.md, "Slices").
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from churnlab.contract.dataset import Dataset
from churnlab.core.engine import engine_limits, slice_customers, sql_literal, temp_root
from churnlab.core.progress import stage
from churnlab.features.sql import Family, Feature, Schema, quote

#: the column of the per-slice tables that holds the slice number
SLICE_COL = "_churnlab_slice"


def slice_of(column: str, count: int) -> str:
    """SQL: the slice (0 .. count-1) of the customer whose id is ``column``."""
    return f"CAST(hash({column}) % {int(count)} AS INTEGER)"


def slice_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many slices the population in ``pop`` is computed in (1: all at once)."""
    customers = con.execute("SELECT count(DISTINCT customer_id) FROM pop").fetchall()[0][0]
    return max(1, math.ceil(customers / slice_customers()))


@dataclass
class Slices:
    """What :func:`slices` yields: iterate it for ``(slice, schema)``; ``count`` slices, and
    ``folder`` (None for one slice) is a scratch folder of theirs, removed with them."""

    count: int
    folder: Path | None
    _each: Iterator[tuple[int, Schema]]

    def __iter__(self) -> Iterator[tuple[int, Schema]]:
        return self._each


@contextmanager
def slices(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    plan: Sequence[tuple[Family, list[Feature]]],
    schema: Schema,
) -> Iterator[Slices]:
    """The slices to compute the features in, as ``(slice, schema)``: while each is current,
    ``pop`` and the dataset's tables in ``con`` hold that slice's customers only (with their
    population ``rid``), and ``schema`` says which shared parts the engine holds
    precomputed. One slice (the whole population, ``con`` untouched) up to
    :func:`slice_customers` customers. The per-slice copies of the tables are removed on
    exit.
    """
    count = slice_count(con)
    if count == 1:
        yield Slices(1, None, iter([(0, schema)]))
        return
    folder = Path(tempfile.mkdtemp(prefix="churnlab-slices-", dir=temp_root()))
    try:
        with (
            stage(f"features: the tables in {count} slices of customers"),
            engine_limits("writing the tables in slices of customers", features=True),
        ):
            shared = _share(con, plan, schema)
            tables = _write_slices(con, dataset, count, folder / "tables")
        yield Slices(count, folder, _each_slice(con, tables, count, folder / "tables", shared))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _share(
    con: duckdb.DuckDBPyConnection, plan: Sequence[tuple[Family, list[Feature]]], schema: Schema
) -> Schema:
    """Compute every family's shared parts over the whole population; the schema that reads them."""
    names = []
    for family, features in plan:
        if not features:
            continue
        for table, cte in family.shared:
            con.execute(f"CREATE TEMP TABLE {table} AS {family.base(schema)}\nSELECT * FROM {cte}")
            names.append(table)
    return Schema(schema, names=schema.names, precomputed=frozenset(names))


def _write_slices(
    con: duckdb.DuckDBPyConnection, dataset: Dataset, count: int, folder: Path
) -> dict[str, int]:
    """Write each table with a customer id into ``folder`` by slice; keep the population whole
    (``pop_all``). Returns the tables written (name -> its subfolder ``folder/<i>``), whose
    names then no longer hold the whole table."""
    con.execute(
        f"CREATE TEMP TABLE pop_all AS SELECT *, {slice_of('customer_id', count)} AS {SLICE_COL} "
        "FROM pop"
    )
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for i, name in enumerate(dataset.tables):
        columns = [r[0] for r in con.execute(f"DESCRIBE {quote(name)}").fetchall()]
        if "customer_id" not in columns:
            continue  # not per customer: every slice reads it whole
        # an empty table of the same columns and types, for a slice without rows in it
        con.execute(f"CREATE TEMP TABLE _empty_{i} AS SELECT * FROM {quote(name)} LIMIT 0")
        target = sql_literal(folder / str(i))
        con.execute(
            f"COPY (SELECT *, {slice_of('customer_id', count)} AS {SLICE_COL} FROM {quote(name)}) "
            f"TO {target} (FORMAT parquet, PARTITION_BY ({SLICE_COL}))"
        )
        written[name] = i
    for name in written:
        if dataset.stored:
            con.execute(f"DROP VIEW {quote(name)}")
        else:
            con.unregister(name)
    return written


def _each_slice(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, int],
    count: int,
    folder: Path,
    schema: Schema,
) -> Iterator[tuple[int, Schema]]:
    for k in range(count):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE pop AS SELECT * EXCLUDE ({SLICE_COL}) FROM pop_all "
            f"WHERE {SLICE_COL} = {k}"
        )
        for name, i in tables.items():
            part = folder / str(i) / f"{SLICE_COL}={k}"
            source = (
                f"read_parquet({sql_literal(part / '*.parquet')}, hive_partitioning = false)"
                if part.is_dir()
                else f"_empty_{i}"
            )
            con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS SELECT * FROM {source}")
        yield k, schema
