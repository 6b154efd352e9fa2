"""One logical dataset written many ways gives the same features and byte-identical results.

A small synthetic world (ids made plain numbers, so that they can be written as integers) is
written as every export we know of: each timestamp unit (nanoseconds with sub-microsecond
digits too, which churnlab floors, so the reference is the floored value), time-zone-aware
columns in UTC and in an offset zone (the same instants), date32/date64 for day columns,
integer and text ids, plain, large and dictionary strings, CSV plain, with a byte-order mark,
CRLF line ends, every cell quoted and a trailing comma, gzip-compressed, Spark-style folders
of parts, and every table's rows shuffled. Most variants compare the feature table (exactly);
four run the whole ``churnlab report`` and compare metrics.json, drivers.csv and scores.csv
byte for byte.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnlab import runs
from churnlab.contract import read_dataset
from churnlab.contract.schema import DATE_COLUMNS
from churnlab.features import build_feature_table
from churnlab.synth import generate

pytestmark = pytest.mark.slow

MONTH = "2025-08"
RESULTS = ("metrics.json", "drivers.csv", "scores.csv")
TEXT = {
    "customers": ("plan", "segment", "channel"),
    "billing": ("plan",),
    "tickets": ("category",),
    "onboarding": ("step",),
    "feedback": ("comment",),
}
#: date columns that hold whole days in the synthetic world (the rest carry milliseconds)
DAYS = {
    "customers": ("signup_date", "churn_date"),
    "billing": ("period_start",),
    "usage": ("date",),
}

Tables = dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def base() -> Tables:
    """The world's tables with plain-number text ids ('17', not 'C0000017')."""
    world = generate(500, 12, seed=11)
    tables = {}
    for name, frame in world.tables.items():
        frame = frame.copy()
        frame["customer_id"] = frame["customer_id"].str.lstrip("C0").astype("str")
        tables[name] = frame
    return tables


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("encodings")


def _copy(tables: Tables) -> Tables:
    return {name: frame.copy() for name, frame in tables.items()}


def _dates(tables: Tables, convert: Callable[[pd.Series, str, str], pd.Series]) -> Tables:
    out = _copy(tables)
    for name, frame in out.items():
        for col in DATE_COLUMNS[name]:
            if col in frame:
                frame[col] = convert(frame[col], name, col)
    return out


def parquet(folder: Path, tables: Tables) -> Path:
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def arrow(folder: Path, tables: Tables, cast: Callable[[str, str, pa.Array], pa.Array]) -> Path:
    """Parquet files whose columns ``cast`` may retype (string kinds, date32, ...)."""
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for i, field in enumerate(table.schema):
            column = cast(name, field.name, table.column(i))
            table = table.set_column(i, field.name, column)
        pq.write_table(table, folder / f"{name}.parquet")
    return folder


def csv_files(folder: Path, tables: Tables, excel: bool = False, gz: bool = False) -> Path:
    """CSV as pandas writes it, or as Excel does: BOM, CRLF, all quoted, a trailing comma."""
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        if excel:
            text = frame.to_csv(index=False, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            text = "".join(line + ",\r\n" for line in text.split("\r\n") if line)
            data = text.encode("utf-8-sig")
        else:
            data = frame.to_csv(index=False).encode("utf-8")
        if gz:
            (folder / f"{name}.csv.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / f"{name}.csv").write_bytes(data)
    return folder


def spark(folder: Path, tables: Tables) -> Path:
    """Every table as a Spark-style folder of three parts with a _SUCCESS marker."""
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        parts = folder / f"{name}.parquet"
        parts.mkdir()
        step = -(-len(frame) // 3)
        for k in range(3):
            chunk = frame.iloc[k * step : (k + 1) * step]
            chunk.to_parquet(parts / f"part-{k:05d}-x.snappy.parquet", index=False)
        (parts / "_SUCCESS").write_bytes(b"")
    return folder


def shuffled(tables: Tables, seed: int = 1) -> Tables:
    return {
        n: f.sample(frac=1.0, random_state=seed).reset_index(drop=True) for n, f in tables.items()
    }


def int_ids(tables: Tables) -> Tables:
    out = _copy(tables)
    for frame in out.values():
        frame["customer_id"] = frame["customer_id"].astype("int64")
    return out


def nanoseconds(tables: Tables) -> Tables:
    """Every timestamp in ns with 123 ns more: they floor back to the original microsecond."""
    return _dates(tables, lambda s, *_: s.astype("datetime64[ns]") + pd.Timedelta(nanoseconds=123))


def zoned(zone: str) -> Callable[[Tables], Tables]:
    def convert(tables: Tables) -> Tables:
        return _dates(tables, lambda s, *_: s.dt.tz_localize("UTC").dt.tz_convert(zone))

    return convert


def unit(kind: str) -> Callable[[Tables], Tables]:
    """Day columns in unit ``kind`` (s, ms, us, ns); the others, which carry ms, in ms or finer."""

    def convert(tables: Tables) -> Tables:
        def one(series: pd.Series, table: str, col: str) -> pd.Series:
            fine = kind if col in DAYS.get(table, ()) or kind in ("us", "ns") else "ms"
            return series.astype(f"datetime64[{fine}]")

        return _dates(tables, one)

    return convert


def day_type(kind: pa.DataType) -> Callable[[str, str, pa.Array], pa.Array]:
    def cast(table: str, col: str, column):
        return column.cast(kind) if col in DAYS.get(table, ()) else column

    return cast


def string_type(kind: pa.DataType) -> Callable[[str, str, pa.Array], pa.Array]:
    def cast(table: str, col: str, column):
        if col == "customer_id" or col in TEXT.get(table, ()):
            return column.cast(pa.string()).cast(kind)
        return column

    return cast


#: variant name -> how to write the base tables into a folder
VARIANTS: dict[str, Callable[[Path, Tables], Path]] = {
    "ns with sub-microsecond digits": lambda f, t: parquet(f, nanoseconds(t)),
    "unit s (days) and ms": lambda f, t: parquet(f, unit("s")(t)),
    "unit us": lambda f, t: parquet(f, unit("us")(t)),
    "unit ns": lambda f, t: parquet(f, unit("ns")(t)),
    "date32 days": lambda f, t: arrow(f, t, day_type(pa.date32())),
    "date64 days": lambda f, t: arrow(f, t, day_type(pa.date64())),
    "tz UTC": lambda f, t: parquet(f, zoned("UTC")(t)),
    "tz offset zone": lambda f, t: parquet(f, zoned("America/Sao_Paulo")(t)),
    "integer ids": lambda f, t: parquet(f, int_ids(t)),
    "large strings": lambda f, t: arrow(f, t, string_type(pa.large_string())),
    "dictionary strings": lambda f, t: arrow(
        f, t, string_type(pa.dictionary(pa.int16(), pa.string()))
    ),
    "view strings": lambda f, t: arrow(f, t, string_type(pa.string_view())),
    "csv": lambda f, t: csv_files(f, t),
    "csv excel (BOM, CRLF, quoted, trailing comma)": lambda f, t: csv_files(f, t, excel=True),
    "csv gzip": lambda f, t: csv_files(f, t, gz=True),
    "spark folders of parts": spark,
    "rows shuffled": lambda f, t: parquet(f, shuffled(t)),
}


@pytest.fixture(scope="module")
def reference(base, root) -> tuple[Path, pd.DataFrame]:
    folder = parquet(root / "reference", base)
    return folder, build_feature_table(read_dataset(folder)).frame


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_encoding_gives_the_same_feature_table(base, root, reference, name):
    folder = VARIANTS[name](root / name.replace(" ", "_"), base)
    dataset = read_dataset(folder)
    assert dataset.warnings == ()
    pd.testing.assert_frame_equal(
        build_feature_table(dataset).frame, reference[1], check_exact=True
    )


#: the variants that run the whole report (each some seconds)
REPORTS: dict[str, Callable[[Path, Tables], Path]] = {
    "shuffled integer ids": lambda f, t: parquet(f, shuffled(int_ids(t), seed=7)),
    "csv gzip excel": lambda f, t: csv_files(f, t, excel=True, gz=True),
    "ns in an offset zone": lambda f, t: parquet(f, zoned("Asia/Kolkata")(nanoseconds(t))),
}


@pytest.fixture(scope="module")
def reference_report(reference, root) -> Path:
    return runs.run_report(reference[0], MONTH, root / "out-reference").parent


@pytest.mark.parametrize("name", list(REPORTS))
def test_the_report_is_byte_identical_whatever_the_encoding(base, root, reference_report, name):
    folder = REPORTS[name](root / f"report-{name.replace(' ', '_')}", base)
    out = runs.run_report(folder, MONTH, root / f"out-{name.replace(' ', '_')}").parent
    for result in RESULTS:
        assert (out / result).read_bytes() == (reference_report / result).read_bytes(), result
