"""The differential test: Spark (local[2]) and DuckDB compute identical feature tables.

The same definitions (churnlab.features.sql, translated by sqlglot) on the demo data and on a
small synthetic world (CSV; inactivity churn, and cancellation churn as known at a cutoff):
same rows in the same order, same columns and types, and every value equal to the last bit
(Arrow equality; nulls where DuckDB has nulls). No tolerance is needed: the constructs whose
values differ between the engines are rewritten in portable forms (tests/test_portable.py).
One Spark session serves the module (starting one is slow).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")

from churnlab.contract import read_dataset  # noqa: E402
from churnlab.core.churn import ChurnDefinition  # noqa: E402
from churnlab.features.build import build_feature_table, write_feature_table  # noqa: E402
from churnlab.synth import generate, write_world  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("churnlab-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world") / "data"
    write_world(generate(customers=400, months=8, seed=5), folder, fmt="csv")
    (folder / "truth.parquet").unlink()
    return read_dataset(folder)


def assert_same_table(duck: pa.Table, spark: pa.Table) -> None:
    assert duck.num_rows == spark.num_rows > 0
    assert duck.schema.names == spark.schema.names
    for name in duck.schema.names:
        left, right = duck.column(name), spark.column(name)
        assert left.null_count == right.null_count, name
        assert left.equals(right.cast(left.type)), name


CANCELLATION = ChurnDefinition(1, "cancellation", 30)


def both(dataset, tmp_path, definition=CANCELLATION, months=None):
    duck = write_feature_table(dataset, tmp_path / "duck.parquet", months, definition)
    spark = write_feature_table(dataset, tmp_path / "spark", months, definition, engine="spark")
    return pq.read_table(duck), pq.read_table(spark)


def test_demo_features_are_identical_on_spark(spark, tmp_path):
    duck, other = both(read_dataset("data/demo"), tmp_path)
    assert_same_table(duck, other)
    assert duck.num_columns > 40  # every family is in the comparison


def test_synthetic_world_is_identical_on_spark(spark, world, tmp_path):
    duck, other = both(world, tmp_path, ChurnDefinition(1, "inactivity", 30))
    assert_same_table(duck, other)


def test_spark_feature_table_matches_duckdb_frame(spark, world):
    # the report's path: the world as known at a cutoff, cancellation churn over 2 months
    known = world.as_of(pd.Timestamp("2025-05-01"))
    months, definition = ["2025-02", "2025-03", "2025-04"], ChurnDefinition(2)
    duck = build_feature_table(known, months, definition)
    other = build_feature_table(known, months, definition, engine="spark")
    pd.testing.assert_frame_equal(duck.frame, other.frame)
    assert duck.families == other.families


@pytest.mark.parametrize(
    ("size", "spark"),
    [
        ("4GB", f"{4 * 10**9 >> 20}m"),  # DuckDB reads GB as 10^9 bytes
        ("2GiB", "2048m"),
        ("800 MB", f"{800 * 10**6 >> 20}m"),
        ("1.5gib", "1536m"),
        ("2T", f"{2 * 10**12 >> 20}m"),
    ],
)
def test_churnlab_memory_limit_as_spark_driver_memory(size, spark):
    from churnlab.features.spark import spark_memory

    assert spark_memory(size) == spark


@pytest.mark.parametrize("size", ["lots", "4", "4 XB", ""])
def test_a_size_spark_cannot_read_is_a_clear_error(size):
    from churnlab.core.errors import ChurnlabError
    from churnlab.features.spark import spark_memory

    with pytest.raises(ChurnlabError, match="CHURNLAB_MEMORY_LIMIT=.* is not a memory size"):
        spark_memory(size)
