"""Turn a dataset in the contract into a feature table (docs/data-contract.md, docs/definitions.md).

One row per customer and monthly snapshot of the population (:mod:`churnlab.features.snapshots`), with
its label and one column per point-in-time feature. Every family is SQL
(:mod:`churnlab.features.sql`) run on DuckDB over the dataset's tables: events are joined to a small
``snaps`` table on the cutoff (by range, or by month where cutoffs being month starts allows
an equality join), never looped over in Python, so the same
definitions can move to a warehouse engine. A table the dataset does not have turns its
family off: the feature table then simply has no columns of that family.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from churnlab.contract.dataset import Dataset
from churnlab.core.churn import CANCELLATION, DEFAULT_CHURN, ChurnDefinition
from churnlab.core.engine import engine_limits
from churnlab.core.errors import ChurnlabError
from churnlab.core.progress import stage
from churnlab.features.registry import spec_of
from churnlab.features.slices import slices
from churnlab.features.snapshots import check_arguments, engine_columns, open_engine
from churnlab.features.sql import FAMILIES, Family, Feature, Schema, family_query
from churnlab.features.sql.profile import attribute_names
from churnlab.features.table import EVENT_COL, TIME_COL, FeatureTable

log = logging.getLogger(__name__)


def dataset_schema(dataset: Dataset) -> Schema:
    """Each table's columns and their kind ('number', 'text' or 'date').

    Flags (booleans) count as numbers. Usage keeps only its id, date and numeric activity
    columns, as the contract says other usage columns are ignored.
    """
    schema = Schema(names=engine_columns(dataset))
    for name in dataset.tables:
        kinds = dataset.columns(name)
        if name == "usage":
            keep = {"customer_id", "date", *dataset.usage_columns}
            kinds = {c: k for c, k in kinds.items() if c in keep}
        schema[name] = kinds
    return schema


def feature_plan(dataset: Dataset) -> list[tuple[Family, list[Feature]]]:
    """The families this dataset turns on and, for each, the features it can feed."""
    schema = dataset_schema(dataset)
    return [(family, family.available(schema)) for family in FAMILIES if family.table in schema]


#: the key of the Parquet metadata (or, for Spark's folder, the file) that marks a feature
#: table churnlab wrote: ``churnlab features --force`` replaces nothing else
MARKER_KEY = "churnlab"

#: population rows the slices' files are joined into the feature table at a time (memory:
#: this many rows of every feature, a few times over; benchmarks/RESULTS.md, "Session 24")
JOIN_ROWS = 250_000

#: rows per row group of a written feature table (DuckDB's default): a reader of some
#: snapshots reads only their groups
GROUP_ROWS = 122_880

#: the engines that compute features: DuckDB here, Spark through churnlab.features.spark
ENGINES = ("duckdb", "spark")


#: what the engine is doing while it builds the population (for EngineLimit's message)
POPULATION = "building each snapshot's population and labels"


def _computing(family: Family) -> str:
    return f"computing the {family.name} features"


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ChurnlabError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")


def build_feature_table(
    dataset: Dataset,
    months: Sequence[str] | None = None,
    definition: ChurnDefinition = DEFAULT_CHURN,
    engine: str = "duckdb",
) -> FeatureTable:
    """Point-in-time features of every snapshot's population, with labels.

    ``months`` defaults to every complete month of the data (:func:`default_months`);
    ``definition`` defines population and label as in
    :func:`churnlab.features.snapshots.snapshot_labels`. The frame holds ``customer_id``, ``snapshot``,
    ``churned``, with cancellation churn the time to churn ``months_to_churn`` and
    ``churn_event`` (:func:`churnlab.features.snapshots.snapshot_times`; never features), and
    the features (numbers as float64, categories as string dtype), sorted by snapshot then
    customer. ``value_col`` is ``price_amount`` when there is billing,
    ``segment_col`` is ``profile_segment`` when customers have a segment. Feature values use
    only rows dated before each snapshot's cutoff; a missing table turns its family off.
    ``engine='spark'`` computes the same SQL on Spark (:mod:`churnlab.features.spark`).
    """
    _check_engine(engine)
    months = check_arguments(dataset, months, definition)
    plan = feature_plan(dataset)
    if engine == "spark":
        with tempfile.TemporaryDirectory(prefix="churnlab-features-") as tmp:
            out = write_feature_table(
                dataset, Path(tmp) / "features.parquet", months, definition, engine
            )
            with stage("features: loading the Spark result"):
                arrow = pq.read_table(out)
            return _feature_table(dataset, plan, arrow, months, definition)
    schema = dataset_schema(dataset)
    with (
        stage("features: population and labels"),
        engine_limits(POPULATION, features=True),
    ):
        con = open_engine(dataset, months, definition)
    try:
        keys = _fetch_in_order(con, f"SELECT rid, {', '.join(key_columns(definition))} FROM pop")
        n = keys.num_rows
        numeric = [f for _, feats in plan for f in feats if f.unit != "category"]
        # numbers go straight into one column-major float64 block: the frame then holds
        # them as a single block, without a copy per column or a consolidation copy
        block = np.empty((n, len(numeric)), dtype="float64", order="F")
        position = {f.name: k for k, f in enumerate(numeric)}
        words = {
            f.name: np.full(n, None, dtype=object)
            for _, fs in plan
            for f in fs
            if f.unit == "category"
        }
        with slices(con, dataset, plan, schema) as parts:
            for part, part_schema in parts:
                for family, features in plan:
                    if not features:
                        continue
                    with (
                        stage(_stage_name(family, part, parts.count)),
                        engine_limits(_computing(family), features=True),
                    ):
                        result = con.sql(family_query(family, part_schema, features)).arrow()
                        result = result.read_all()
                        # each result row goes to its population row (rid), in any order
                        rid = result.column("rid").to_numpy()
                        for feature in features:
                            col = result.column(feature.name)
                            if feature.unit == "category":
                                words[feature.name][rid] = col.to_numpy(zero_copy_only=False)
                            else:
                                block[rid, position[feature.name]] = col.to_numpy()
                        del result  # free it before the next family's query runs (peak memory)
    finally:
        con.close()
    text = {name: pd.Series(v, dtype=object).astype("string") for name, v in words.items()}
    return _assemble(dataset, plan, keys, block, list(position), text, months, definition)


def _feature_table(dataset, plan, arrow: pa.Table, months, definition) -> FeatureTable:
    """A feature table from a written result (customer_id, snapshot, churned, features)."""
    numeric = [f.name for _, feats in plan for f in feats if f.unit != "category"]
    block = np.empty((arrow.num_rows, len(numeric)), dtype="float64", order="F")
    for k, name in enumerate(numeric):
        block[:, k] = arrow.column(name).to_numpy(zero_copy_only=False)
    text = {
        f.name: arrow.column(f.name).to_pandas().astype("string")
        for _, feats in plan
        for f in feats
        if f.unit == "category"
    }
    keys = arrow.select(key_columns(definition))
    return _assemble(dataset, plan, keys, block, numeric, text, months, definition)


def _assemble(dataset, plan, keys, block, numeric, text, months, definition) -> FeatureTable:
    head = {
        "customer_id": keys.column("customer_id").to_pandas().astype("string"),
        "snapshot": keys.column("snapshot").to_pandas().astype("string"),
        "churned": keys.column("churned").to_pandas().astype("Int8"),
    }
    timed = definition.churn == CANCELLATION  # time to churn is cancellation-only
    if timed:
        head[TIME_COL] = keys.column(TIME_COL).to_pandas().astype("Int16")
        head[EVENT_COL] = keys.column(EVENT_COL).to_pandas().astype("Int8")
    frame = pd.concat(
        [
            pd.DataFrame(head),
            pd.DataFrame(block, columns=numeric, copy=False),
            pd.DataFrame(text),
        ],
        axis=1,
    )
    # numeric features first, then categories: the frame's column order
    families = {f.name: fam.name for fam, feats in plan for f in feats if f.unit != "category"}
    families |= {f.name: fam.name for fam, feats in plan for f in feats if f.name in text}
    segment = "profile_" + attribute_names(dataset_schema(dataset)).get("segment", "")
    return FeatureTable(
        frame=frame,
        families=families,
        id_col="customer_id",
        label_col="churned",
        snapshot_col="snapshot",
        value_col="price_amount" if "price_amount" in families else None,
        segment_col=segment if segment in families else None,
        duration_col=TIME_COL if timed else None,
        event_col=EVENT_COL if timed else None,
        definition=definition,
        # what each feature means in words, with the data's own column names
        meta={
            "months": list(months),
            "specs": {f.name: spec_of(fam.name, f) for fam, feats in plan for f in feats},
        },
    )


def key_columns(definition: ChurnDefinition) -> list[str]:
    """The columns before the features: id, snapshot, label and, with cancellation churn, the
    time to churn (``months_to_churn``, ``churn_event``; never features)."""
    keys = ["customer_id", "snapshot", "churned"]
    return keys + [TIME_COL, EVENT_COL] if definition.churn == CANCELLATION else keys


def feature_columns(plan: list[tuple[Family, list[Feature]]]) -> list[str]:
    """The feature columns of a written feature table: numbers first, then categories."""
    numeric = [f.name for _, feats in plan for f in feats if f.unit != "category"]
    return numeric + [f.name for _, feats in plan for f in feats if f.unit == "category"]


def write_feature_table(
    dataset: Dataset,
    out: str | Path,
    months: Sequence[str] | None = None,
    definition: ChurnDefinition = DEFAULT_CHURN,
    engine: str = "duckdb",
) -> Path:
    """Write the feature table :func:`build_feature_table` would make to ``out`` as Parquet.

    Nothing passes through pandas: DuckDB (or Spark, ``engine='spark'``) computes every
    family; DuckDB's results are lined up as Arrow columns and written by pyarrow (Spark
    writes its own), sorted by snapshot then customer, with the columns
    ``customer_id, snapshot, churned`` (and the time to churn, :func:`key_columns`), the
    features (numbers as DOUBLE, categories as text, missing values as nulls). DuckDB's run
    writes one file; Spark writes a folder of part files, as Spark does. Returns ``out``.
    """
    _check_engine(engine)
    out = Path(out)
    months = check_arguments(dataset, months, definition)
    plan = [(fam, feats) for fam, feats in feature_plan(dataset) if feats]
    if engine == "spark":
        from churnlab.features.spark import write_with_spark

        return write_with_spark(dataset, out, months, definition, plan)
    schema = dataset_schema(dataset)
    with (
        stage("features: population and labels"),
        engine_limits(POPULATION, features=True),
    ):
        con = open_engine(dataset, months, definition)
    try:
        keys = key_columns(definition)
        features = feature_columns(plan)
        out.parent.mkdir(parents=True, exist_ok=True)
        with slices(con, dataset, plan, schema) as parts:
            for part, part_schema in parts:
                # one slice: the keys and features to ``out``; several: rid and features to
                # a file per slice, joined to the keys below
                head = ["rid", *keys] if parts.folder is None else ["rid"]
                columns = _columns_by_rid(con, f"SELECT {', '.join(head)} FROM pop")
                for family, family_features in plan:
                    with (
                        stage(_stage_name(family, part, parts.count)),
                        engine_limits(_computing(family), features=True),
                    ):
                        query = family_query(family, part_schema, family_features)
                        result = _columns_by_rid(con, query)
                    _check_lined_up(result["rid"], columns["rid"], f"the {family.name} features")
                    columns |= result
                named = [*head[1:], *features] if parts.folder is None else [*head, *features]
                table = pa.table({name: columns.pop(name) for name in named})
                if parts.folder is not None:
                    pq.write_table(
                        table,
                        parts.folder / f"features{part}.parquet",
                        row_group_size=GROUP_ROWS,
                    )
            with (
                stage(f"features: writing {out}"),
                engine_limits("writing the feature table", features=True),
            ):
                if parts.folder is None:
                    table = table.cast(_published(table.schema))
                    pq.write_table(table, out, compression="zstd", row_group_size=GROUP_ROWS)
                else:
                    _join_slices(con, parts.folder, keys, features, out)
    finally:
        con.close()
    return out


def _columns_by_rid(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, pa.ChunkedArray]:
    """The columns of ``sql``'s result (which has ``rid``), its rows sorted by ``rid``.

    A family's rows come back in any order; sorting each result by its row numbers lines the
    families up without a join (a join of every family and a sort in the engine held the
    whole table twice over).
    """
    result = con.sql(sql).arrow().read_all()
    order = np.argsort(result.column("rid").to_numpy(), kind="stable")
    return {name: result.column(name).take(order) for name in result.column_names}


def _join_slices(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    keys: list[str],
    features: list[str],
    out: Path,
) -> None:
    """The slices' feature files joined to the whole population (``pop_all``) into ``out``,
    in rid order, :data:`JOIN_ROWS` rows at a time.

    ``rid`` numbers the population 0..n-1 and every row's features are in exactly one slice's
    file, sorted by rid: a range of rids is that range of the population's keys next to the
    slices' rows of the range (their row groups' statistics let only those be read), sorted.
    No engine join: one range at a time holds memory, whatever the population's size.
    """
    files = pads.dataset(sorted(folder.glob("features*.parquet")), format="parquet")
    total = con.execute("SELECT count(*) FROM pop_all").fetchall()[0][0]
    select = ", ".join(["rid", *keys])
    writer = None
    try:
        for lo in range(0, max(total, 1), JOIN_ROWS):  # an empty population: one empty range
            hi = min(lo + JOIN_ROWS, total)
            head = _columns_by_rid(
                con, f"SELECT {select} FROM pop_all WHERE rid >= {lo} AND rid < {hi}"
            )
            rows = files.to_table(
                columns=["rid", *features],
                filter=(pc.field("rid") >= lo) & (pc.field("rid") < hi),
            )
            rows = rows.take(np.argsort(rows.column("rid").to_numpy(), kind="stable"))
            _check_lined_up(rows.column("rid"), head["rid"], f"the slices' rows {lo}..{hi - 1}")
            table = pa.table(
                {name: head[name] for name in keys} | {f: rows.column(f) for f in features}
            )
            if writer is None:
                schema = _published(table.schema)
                writer = pq.ParquetWriter(out, schema, compression="zstd")
            writer.write_table(table.cast(schema), row_group_size=GROUP_ROWS)
    finally:
        if writer is not None:
            writer.close()


def _check_lined_up(got: pa.ChunkedArray, population: pa.ChunkedArray, what: str) -> None:
    """Stop unless ``got`` (row numbers in order) holds each population row once."""
    if not got.equals(population):
        raise ChurnlabError(
            f"churnlab's {what} do not hold one row per population row: a bug in churnlab; "
            "please report it with the dataset's shape (tables, rows, customers)."
        )


#: the columns of a written feature table that are never missing (every other may be)
NEVER_MISSING = ("customer_id", "snapshot")


def _published(schema: pa.Schema) -> pa.Schema:
    """The schema a feature table is written with: the same on every path and every input
    (an engine's own nullability follows its statistics of the data), with the marker."""
    fields = [f.with_nullable(f.name not in NEVER_MISSING) for f in schema]
    return pa.schema(fields, metadata={MARKER_KEY: "feature table"})


def _stage_name(family: Family, part: int, count: int) -> str:
    return f"features: {family.name}" + (f" (slice {part + 1} of {count})" if count > 1 else "")


def _fetch_in_order(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run ``sql`` (which returns the population's ``rid``) and put its rows in ``rid`` order.

    Family results come back in any order (the engine runs in parallel); ``rid`` is a
    permutation of 0..n-1, so one inverse permutation lines every family up with the
    population without a join.
    """
    table = con.sql(sql).arrow().read_all()
    rid = table.column("rid").to_numpy()
    order = np.empty(len(rid), dtype=np.int64)
    order[rid] = np.arange(len(rid))
    return table.drop_columns(["rid"]).take(order)
