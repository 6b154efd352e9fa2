"""The feature table computed by Spark: the same SQL as DuckDB, translated by sqlglot.

For datasets that outgrow one machine (``--engine spark``; PySpark is the optional extra
``churnlab[spark]``). Validation stays DuckDB's (:mod:`churnlab.contract.checks`); its typed
tables are written as Parquet to the scratch folder (``$CHURNLAB_TMP``, which must be storage
the Spark cluster reads: a shared mount such as DBFS or NFS), together with the snapshot and
calendar tables. Spark reads them, runs the population and every family's query
(:func:`churnlab.features.portable.to_spark`) and writes the feature table as Parquet, a folder
of part files, where it runs. Nothing passes through pandas, so missing values stay nulls.

The Spark session is the user's (``spark-submit``, a notebook on a managed platform): the
active session, or one built from the environment's Spark configuration; without any, a local
session on every core (``local[*]``, or ``$CHURNLAB_SPARK_MASTER``). Sessions run in UTC. A
session churnlab starts itself gets churnlab's memory limit (:func:`churnlab.core.engine.memory_limit`)
as its driver memory unless the Spark configuration sets one: in local mode the driver is the
whole engine, and Spark's default of 1 GB cannot build the broadcast joins its planner picks
for a 100k-customer world.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from churnlab.contract.dataset import Dataset
from churnlab.core.churn import ChurnDefinition
from churnlab.core.engine import memory_limit, not_a_memory_size, sql_literal
from churnlab.core.errors import ChurnlabError
from churnlab.core.progress import stage
from churnlab.features.portable import to_spark
from churnlab.features.snapshots import calendar_frame, population_sql, snapshots_frame
from churnlab.features.sql import LOOKUPS, Family, Feature, family_query, quote


def spark_session():
    """The active Spark session, or one from the environment (``local[*]`` by default)."""
    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError:
        raise ChurnlabError(
            "--engine spark needs PySpark: pip install 'churnlab[spark]' (and Java 17 or "
            "newer), or run churnlab where Spark is installed (spark-submit, Databricks, EMR)."
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("churnlab")
    conf = SparkConf()
    if not conf.contains("spark.master"):
        builder = builder.master(os.environ.get("CHURNLAB_SPARK_MASTER", "local[*]"))
    if not conf.contains("spark.driver.memory"):
        builder = builder.config("spark.driver.memory", spark_memory(memory_limit()))
    return (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("CHURNLAB_SPARK_PARTITIONS", "8"))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def spark_memory(size: str) -> str:
    """A DuckDB memory size as a Spark one in MiB: ``4GB`` (10^9 bytes, as DuckDB reads it)
    is ``3814m``, ``2GiB`` is ``2048m``; a size this cannot read raises :class:`ChurnlabError`.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt])(i?)b?\s*", size, re.IGNORECASE)
    if match is None:
        raise not_a_memory_size(size)
    power = "kmgt".index(match.group(2).lower()) + 1
    scale = (1024 if match.group(3) else 1000) ** power
    return f"{max(int(float(match.group(1)) * scale) >> 20, 1)}m"


def _stage_inputs(dataset: Dataset, months: Sequence[str], definition, folder: Path) -> dict:
    """Write every table (typed, as of the dataset's cutoff), snaps and days as Parquet."""
    con = dataset.connect()
    paths = {}
    try:
        snaps = snapshots_frame(dataset, months, definition.horizon)
        con.register("snaps_frame", snaps)
        con.register("days_frame", calendar_frame(snaps))
        sources = {name: f'SELECT * FROM "{name}"' for name in dataset.tables}
        sources |= {"snaps": "SELECT * FROM snaps_frame", "days": "SELECT * FROM days_frame"}
        for name, frame in LOOKUPS.items():
            con.register(f"{name}_frame", frame())
            sources[name] = f"SELECT * FROM {name}_frame"
        for name, sql in sources.items():
            path = folder / f"{name}.parquet"
            con.execute(f"COPY ({sql}) TO {sql_literal(path)} (FORMAT parquet)")
            paths[name] = path
    finally:
        con.close()
    return paths


def write_with_spark(
    dataset: Dataset,
    out: Path,
    months: Sequence[str],
    definition: ChurnDefinition,
    plan: list[tuple[Family, list[Feature]]],
) -> Path:
    """Compute the feature table with Spark and write it to ``out`` (a folder of Parquet)."""
    from churnlab.features.build import MARKER_KEY, dataset_schema, feature_columns, key_columns

    schema = dataset_schema(dataset)
    queries = [(fam.name, to_spark(family_query(fam, schema, feats))) for fam, feats in plan]
    pop_sql = to_spark(population_sql(definition))
    with stage("features: starting Spark"):
        spark = spark_session()
    root = os.environ.get("CHURNLAB_TMP") or None
    staging = Path(tempfile.mkdtemp(prefix="churnlab-spark-", dir=root))
    try:
        with stage("features: typed tables for Spark"):
            paths = _stage_inputs(dataset, months, definition, staging)
        for name, path in paths.items():
            spark.read.parquet(str(path)).createOrReplaceTempView(name)
        with stage("features: population and labels (Spark)"):
            pop_path = str(staging / "pop")
            spark.sql(pop_sql).write.mode("overwrite").parquet(pop_path)
            spark.read.parquet(pop_path).createOrReplaceTempView("pop")
        keys = key_columns(definition)
        result = spark.table("pop").select("rid", *keys)
        for i, (name, sql) in enumerate(queries):
            with stage(f"features: {name} (Spark)"):
                part = str(staging / f"fam{i}")
                spark.sql(sql).write.mode("overwrite").parquet(part)
                result = result.join(spark.read.parquet(part), on="rid", how="left")
        columns = [*keys, *feature_columns(plan)]
        with stage(f"features: writing {out} (Spark)"):
            ordered = result.orderBy("rid").select(*[_col(c) for c in columns])
            ordered.write.mode("overwrite").parquet(str(out))
        if out.is_dir():  # a local or mounted folder: mark it as churnlab's
            (out / f"_{MARKER_KEY.upper()}").write_text("feature table\n", encoding="utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _col(name: str):
    from pyspark.sql import functions as F

    return F.col(quote(name).replace('"', "`"))
