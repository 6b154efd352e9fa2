"""Generate synthetic worlds block by block and write them as dataset folders.

Randomness is organised in fixed blocks of customers (``BLOCK_SIZE``): block ``b`` draws
everything from a generator seeded by ``SeedSequence(seed, spawn_key=(b,))``, so the data
depends only on the seed and the arguments, never on how many blocks are held in memory at
once. :func:`synthesize` streams groups of blocks into one Parquet (or CSV) file per table,
which keeps a million customers well within memory, and writes into a temporary folder that
is renamed into place only when complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from churnlab.core.errors import ChurnlabError
from churnlab.core.months import parse_month
from churnlab.synth import actions as A
from churnlab.synth import params as P
from churnlab.synth.population import draw_customers
from churnlab.synth.simulate import simulate_block
from churnlab.synth.tables import TABLES, block_tables, customer_ids, id_width, schema_of

#: blocks written per group by synthesize (memory only: the data does not depend on it)
CHUNK_BLOCKS = 5
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9


@dataclass
class SynthWorld:
    """A synthetic dataset in memory: the contract ``tables`` and the ``truth`` per customer
    and snapshot (true churn probability and each family's contribution to its log-odds)."""

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame


def check_arguments(
    customers: int,
    months: int,
    start: str,
    dominant: str | None,
    dominance: float,
    seed: int = 0,
) -> str:
    """Raise ChurnlabError for arguments that cannot make a world; return the start month."""
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ChurnlabError(f"--seed must be a whole number >= 0, got {seed!r}.")
    if not isinstance(customers, int | np.integer) or customers < 1:
        raise ChurnlabError(f"--customers must be a whole number >= 1, got {customers!r}.")
    if not isinstance(months, int | np.integer) or months < 3:
        raise ChurnlabError(
            f"--months must be at least 3 (a snapshot, its label month and history), "
            f"got {months!r}."
        )
    if dominant is not None and dominant not in P.FAMILIES:
        raise ChurnlabError(
            f"unknown driver family {dominant!r} for --dominant: choose one of "
            f"{', '.join(P.FAMILIES)}."
        )
    if not dominance >= 1.0:
        raise ChurnlabError(f"dominance must be >= 1 (a scale factor), got {dominance!r}.")
    return parse_month(start)


def _blocks(
    customers: int,
    months: int,
    seed: int,
    start: str,
    dominant: str | None,
    dominance: float,
    block_size: int,
    actions: bool = False,
) -> Iterator[dict[str, pa.Table]]:
    """The Arrow tables of each block of customers, in customer order."""
    cal = P.Calendar.make(start, months)
    width = id_width(customers)
    scales = P.family_scales(dominant, dominance)
    base = P.base_logit(dominant, dominance)
    for b, first in enumerate(range(0, customers, block_size)):
        n = min(block_size, customers - first)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,)))
        action_rng = (
            np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b, A.STREAM)))
            if actions
            else None
        )
        people = draw_customers(rng, n, cal)
        state, events = simulate_block(rng, people, cal, scales, base, action_rng)
        yield block_tables(people, state, events, cal, customer_ids(first, n, width))


def _groups(blocks: Iterator[dict[str, pa.Table]], size: int) -> Iterator[dict[str, pa.Table]]:
    """Concatenate consecutive blocks ``size`` at a time."""
    batch: list[dict[str, pa.Table]] = []
    for block in blocks:
        batch.append(block)
        if len(batch) == size:
            yield {name: pa.concat_tables([b[name] for b in batch]) for name in batch[0]}
            batch = []
    if batch:
        yield {name: pa.concat_tables([b[name] for b in batch]) for name in batch[0]}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    # dates as datetime64 (not Python date objects) so the world matches what contract reads
    return table.to_pandas(date_as_object=False)


def generate(
    customers: int,
    months: int,
    seed: int = 0,
    start: str = "2024-11",
    dominant: str | None = None,
    dominance: float = 3.0,
    *,
    block_size: int = P.BLOCK_SIZE,
    actions: bool = False,
) -> SynthWorld:
    """Simulate a subscription business in memory: ``customers`` customers (some signed up
    in the year before ``start``, the rest arriving over the ``months`` reported months),
    their billing, tickets, onboarding, daily usage and NPS answers, and the truth for every
    customer in every snapshot from ``start`` to the last month. ``dominant`` scales that
    family's contributions by ``dominance`` and the others by ``1 / dominance``. With
    ``actions`` the business also runs retention actions with a random holdout
    (:mod:`churnlab.synth.actions`): an ``actions`` table, and the truth gains each targeted
    customer's action, group and true effect. The result depends only on the arguments
    (``block_size`` is part of the seed's meaning).
    """
    start = check_arguments(customers, months, start, dominant, dominance, seed)
    blocks = _blocks(customers, months, seed, start, dominant, dominance, block_size, actions)
    (whole,) = _groups(blocks, 10**9)
    tables = {name: _to_pandas(whole[name]) for name in TABLES if name in whole}
    return SynthWorld(tables, _to_pandas(whole["truth"]))


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ChurnlabError(f"output {out} is a file, not a folder: choose a new folder name.")
    if out.exists() and any(out.iterdir()):
        raise ChurnlabError(
            f"output folder {out} already exists and is not empty: choose a new folder "
            f"or remove it first (synth never overwrites data)."
        )


class _Sink:
    """One output file per table, appended group by group (Parquet with zstd, or CSV)."""

    def __init__(self, folder: Path, fmt: str) -> None:
        self.folder, self.fmt = folder, fmt
        self.writers: dict[str, pq.ParquetWriter | pacsv.CSVWriter] = {}

    def write(self, name: str, table: pa.Table) -> None:
        if name not in self.writers:
            csv = self.fmt == "csv" and name != "truth"  # truth is always Parquet
            path = self.folder / f"{name}.{'csv' if csv else 'parquet'}"
            schema = table.schema.remove_metadata()  # no pandas metadata in the files
            self.writers[name] = (
                pacsv.CSVWriter(path, schema)
                if csv
                else pq.ParquetWriter(
                    path,
                    schema,
                    compression=COMPRESSION,
                    compression_level=COMPRESSION_LEVEL,
                )
            )
        self.writers[name].write_table(table)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def _write_groups(groups: Iterator[dict[str, pa.Table]], out: Path, fmt: str) -> Path:
    """Write table groups into a temporary sibling of ``out``, then rename it into place."""
    if fmt not in ("parquet", "csv"):
        raise ChurnlabError(f"unknown format {fmt!r}: use parquet or csv.")
    out = Path(out)
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    sink = _Sink(tmp, fmt)
    try:
        for group in groups:
            for name, table in group.items():
                sink.write(name, table)
        sink.close()
        if out.exists():
            out.rmdir()  # checked empty above
        tmp.rename(out)
    except BaseException:
        sink.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_world(world: SynthWorld, out: Path, fmt: str = "parquet") -> Path:
    """Write a world as a dataset folder: one ``<table>.parquet`` (or ``.csv``) per table
    plus ``truth.parquet``. Refuses an existing non-empty folder."""
    acted = "actions" in world.tables
    group = {
        name: pa.Table.from_pandas(frame, schema=schema_of(name, acted), preserve_index=False)
        for name, frame in [*world.tables.items(), ("truth", world.truth)]
    }
    return _write_groups(iter([group]), out, fmt)


def synthesize(
    out: Path,
    customers: int,
    months: int,
    seed: int = 0,
    start: str = "2024-11",
    dominant: str | None = None,
    fmt: str = "parquet",
    dominance: float = 3.0,
    *,
    block_size: int = P.BLOCK_SIZE,
    chunk_blocks: int = CHUNK_BLOCKS,
    actions: bool = False,
) -> Path:
    """Generate a world and write it to ``out`` in groups of ``chunk_blocks`` blocks, so
    memory stays bounded for any number of customers; same data as :func:`generate` with
    the same arguments, whatever ``chunk_blocks`` is. Returns the folder written."""
    start = check_arguments(customers, months, start, dominant, dominance, seed)
    blocks = _blocks(customers, months, seed, start, dominant, dominance, block_size, actions)
    return _write_groups(_groups(blocks, chunk_blocks), Path(out), fmt)


def span_text(start: str, months: int) -> str:
    """What a synthetic world covers, in words: its dates and the months a report can take.

    The world holds ``P.PRE_MONTHS`` months of simulated history before ``start`` (customers
    with tenure, billing and tickets before the first reported month), so a reader who asked
    for ``months`` months finds more in the files; the earliest month a report can take is the
    second month of the data (its first snapshot must be labelled), the latest is the last.
    """
    calendar = P.Calendar.make(parse_month(start), months)
    first, last = calendar.label(0), calendar.label(calendar.n_months - 1)
    end = np.datetime64(calendar.data_end_day - 1, "D")
    return (
        f"The data runs from {first}-01 to {end}: {calendar.n_months} months, the {months} "
        f"requested from {calendar.label(calendar.pre)} plus {calendar.pre} months of simulated "
        f"history before them. Reports can be made for months {calendar.label(1)} to {last}; "
        f"the latest is {last} (churnlab report --data DIR --month {last} --out OUT)."
    )
