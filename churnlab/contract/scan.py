"""A table file as a DuckDB relation, and the SQL that coerces each column to its contract type.

The out-of-core reading of a dataset folder (docs/data-contract.md): DuckDB scans Parquet
files where they lie; a CSV file is first streamed, block by block, through pyarrow's CSV
reader into a Parquet file of text columns in a scratch folder (so it keeps pyarrow's
parsing and its messages for ragged rows, encodings and huge fields), and is then scanned the
same way. Nothing is loaded whole: memory stays bounded whatever the file's size.

:func:`plan_columns` decides, per column, the SQL expression that turns the stored value into
the contract's type (see :mod:`churnlab.contract.dataset`) and whether that conversion can
fail (text that must parse as a date, a number or a yes/no), which the checks in
:mod:`churnlab.contract.checks` count and show.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from churnlab.contract.findings import Finding, error
from churnlab.contract.read import (
    _BLOCK,
    _check_header,
    _csv_problem,
    _encoding_problem,
    _short,
)
from churnlab.contract.schema import BOOL, DATE, ID, NUMBER, SCHEMA, TEXT
from churnlab.core.engine import sql_literal

#: the 0-based position of a row in its file (the checks' "row N" is this + 1)
ROW = "_row"
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
_INTEGER += ("UINTEGER", "UBIGINT", "UHUGEINT")
_FLOAT = ("FLOAT", "DOUBLE", "REAL")
_TIME = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE")
_AWARE = ("TIMESTAMP WITH TIME ZONE",)
TRUE_WORDS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_WORDS = ("false", "f", "no", "n", "0", "0.0")
#: a time of day followed by a UTC offset or Z (group 1): the value carries a time zone
TZ_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)$"
#: the ISO 8601 shapes churnlab reads: a date, optionally a time, optionally a zone
ISO_DATE = (
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:[.,]\d+)?)?)?)?"
    r"\s*(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def is_integer(kind: str) -> bool:
    return kind in _INTEGER


def is_float(kind: str) -> bool:
    return kind in _FLOAT or kind.startswith("DECIMAL")


def is_numeric(kind: str) -> bool:
    return is_integer(kind) or is_float(kind)


def is_time(kind: str) -> bool:
    return kind in _TIME or kind in _AWARE


def quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


@dataclass(frozen=True)
class RawTable:
    """A table file as DuckDB sees it: the relation to scan and its columns' stored types."""

    name: str
    path: Path
    #: a FROM-clause relation that yields the file's columns and ROW
    relation: str
    #: column -> DuckDB type, in file order (pandas index columns left out)
    types: dict[str, str]
    #: the file's column names as written (duplicates kept, for the header check)
    header: tuple[str, ...]
    rows: int


def open_raw(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, scratch: Path
) -> tuple[RawTable | None, list[Finding]]:
    """Open ``path`` for scanning; CSV files are streamed into Parquet under ``scratch`` first."""
    try:
        if path.suffix == ".parquet":
            return _open_parquet(con, table, path)
        parquet, header, problems = _csv_to_parquet(table, path, scratch)
        if parquet is None:
            return None, problems
        return _open_parquet(con, table, parquet, source=path, header=header)
    except OSError as exc:
        message = f"{path.name} cannot be read ({_short(exc)})"
        return None, [error(table, None, 0, message, "Check the file's permissions and path")]


def _parquet_problem(table: str, path: Path, exc: Exception) -> Finding:
    return error(
        table,
        None,
        0,
        f"{path.name} cannot be read as Parquet ({_short(exc)})",
        f"The file is damaged or not Parquet: re-export {path.name}",
    )


def _open_parquet(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    source: Path | None = None,
    header: tuple[str, ...] | None = None,
) -> tuple[RawTable | None, list[Finding]]:
    try:
        meta = pq.ParquetFile(path)
        names = tuple(meta.schema_arrow.names)
        rows = meta.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, [_parquet_problem(table, source or path, exc)]
    relation = f"read_parquet({sql_literal(path)}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error as exc:
        return None, [_parquet_problem(table, source or path, exc)]
    types: dict[str, str] = {}
    for name, kind, *_ in described:
        if name == "file_row_number" or name.startswith("__index_level_"):
            continue
        types.setdefault(name, kind)
    relation = f"(SELECT *, file_row_number AS {ROW} FROM {relation})"
    return RawTable(table, source or path, relation, types, header or names, rows), []


def _csv_to_parquet(
    table: str, path: Path, scratch: Path
) -> tuple[Path | None, tuple[str, ...], list[Finding]]:
    """Stream a CSV file into a Parquet file of text columns, block by block."""
    if path.stat().st_size == 0:
        return (
            None,
            (),
            [
                error(
                    table,
                    None,
                    0,
                    f"{path.name} is empty (0 bytes)",
                    "Re-export the table with a header line and its rows",
                )
            ],
        )
    problem = _check_header(table, path)
    if problem:
        return None, (), [problem]
    try:
        names = _header_names(path)
    except pa.ArrowInvalid as exc:
        return None, (), [_csv_problem(table, path, exc)]
    except UnicodeDecodeError as exc:
        return None, (), [_encoding_problem(table, path, exc)]
    out = scratch / f"{table}.raw.parquet"
    # every column as text: the contract's coercion (SQL) decides what parses, as it does
    # for text columns of a Parquet file
    convert = pcsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
    )
    block = _BLOCK
    size = path.stat().st_size
    while True:
        try:
            _stream(path, out, pcsv.ReadOptions(block_size=block), convert)
            return out, tuple(names), []
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block < size + 1:
                block = min(size + 1, 2**31 - 1)  # a huge text field: one block for all
                continue
            return None, (), [_csv_problem(table, path, exc)]
        except UnicodeDecodeError as exc:
            return None, (), [_encoding_problem(table, path, exc)]


def _header_names(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    first = head.split(b"\n", 1)[0]
    return pcsv.read_csv(io.BytesIO(first + b"\n")).column_names


def _stream(path: Path, out: Path, read: pcsv.ReadOptions, convert: pcsv.ConvertOptions) -> None:
    reader = pcsv.open_csv(path, read_options=read, convert_options=convert)
    writer = None
    try:
        for batch in reader:
            if writer is None:
                writer = pq.ParquetWriter(out, batch.schema, compression="snappy")
            writer.write_batch(batch)
        if writer is None:  # a header without rows
            writer = pq.ParquetWriter(out, reader.schema, compression="snappy")
    finally:
        if writer is not None:
            writer.close()


# ---- per-column coercion -------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnPlan:
    """How one column becomes its contract type.

    ``kind`` is the contract kind (id, date, number, bool, text) or, for extra columns, the
    kind they are kept as; ``sql`` the expression over the raw relation; ``text`` the trimmed
    text (NULL when empty) when the value is parsed from text and may fail to, else None.
    """

    name: str
    kind: str
    sql: str
    text: str | None = None
    #: for text dates: the expression of the value's time-zone suffix ('' when none)
    zone: str | None = None


def text_of(col: str) -> str:
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


def date_plan(name: str, col: str, kind: str, aware: bool | None = None) -> ColumnPlan:
    """Dates: timestamps pass (time zones to UTC); text parses as ISO 8601."""
    if kind in _TIME:
        return ColumnPlan(name, DATE, f"CAST({col} AS TIMESTAMP)")
    if kind in _AWARE:
        return ColumnPlan(name, DATE, f"timezone('UTC', {col})")
    text = text_of(col)
    zone = f"regexp_extract({text}, {sql_literal(TZ_SUFFIX)}, 1)"
    iso = f"regexp_matches({text}, {sql_literal(ISO_DATE)})"
    if aware:
        parsed = f"timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ))"
    else:
        parsed = f"TRY_CAST({text} AS TIMESTAMP)"
    return ColumnPlan(name, DATE, f"CASE WHEN {iso} THEN {parsed} END", text=text, zone=zone)


def number_plan(name: str, col: str, kind: str) -> ColumnPlan:
    if is_numeric(kind) or kind == "BOOLEAN":
        return ColumnPlan(name, NUMBER, f"CAST({col} AS DOUBLE)")
    text = text_of(col)
    # DuckDB reads '1_000' and 'nan' as numbers; pandas, the contract's reference, does not
    parsed = (
        f"CASE WHEN NOT contains({text}, '_') AND NOT isnan(TRY_CAST({text} AS DOUBLE)) "
        f"THEN TRY_CAST({text} AS DOUBLE) END"
    )
    return ColumnPlan(name, NUMBER, parsed, text=text)


def bool_plan(name: str, col: str, kind: str) -> ColumnPlan:
    if kind == "BOOLEAN":
        return ColumnPlan(name, BOOL, col)
    text = f"CAST(CAST({col} AS DOUBLE) AS VARCHAR)" if is_numeric(kind) else text_of(col)
    words = " ".join(
        f"WHEN lower({text}) = {sql_literal(w)} THEN {v}"
        for ws, v in ((TRUE_WORDS, "TRUE"), (FALSE_WORDS, "FALSE"))
        for w in ws
    )
    return ColumnPlan(name, BOOL, f"CASE {words} END", text=text)


def text_plan(name: str, col: str, kind: str) -> ColumnPlan:
    return ColumnPlan(name, TEXT, col if kind == "VARCHAR" else f"CAST({col} AS VARCHAR)")


def id_plan(name: str, col: str, kind: str, whole_floats: bool) -> ColumnPlan:
    """Ids as text: 42 -> '42', 42.0 -> '42' (when every id is whole), '00042' stays."""
    if kind == "VARCHAR":
        return ColumnPlan(name, ID, col)
    if is_float(kind) and whole_floats:
        return ColumnPlan(name, ID, f"CAST(CAST({col} AS HUGEINT) AS VARCHAR)")
    return ColumnPlan(name, ID, f"CAST({col} AS VARCHAR)")


def id_kind(kind: str) -> str:
    """How a table stores its ids, as the zero-padding message says it."""
    if is_integer(kind):
        return "integers"
    if is_float(kind):
        return "decimal numbers"
    return "text"


PLANS = {DATE: date_plan, NUMBER: number_plan, BOOL: bool_plan, TEXT: text_plan}


def extra_kind(
    con: duckdb.DuckDBPyConnection, raw: RawTable, name: str, from_csv: bool
) -> tuple[str | None, str | None]:
    """How a column outside the contract is read: (contract kind to coerce it with, or None
    to keep it; the DuckDB type to keep it as, for CSV text that holds numbers or flags)."""
    kind = raw.types[name]
    col = quote(name)
    if raw.name == "usage" and not is_time(kind):
        if is_numeric(kind) or kind == "BOOLEAN":
            return NUMBER, None
        text = text_of(col)
        parsed, nonnull = con.execute(
            f"SELECT count(TRY_CAST({text} AS DOUBLE)), count({text}) FROM {raw.relation}"
        ).fetchone()
        # mostly numbers with a few bad cells: an activity column with broken values
        return (NUMBER, None) if parsed * 2 > nonnull > 0 else (None, None)
    if is_time(kind):
        return DATE, None
    if from_csv and kind == "VARCHAR":
        return None, _csv_type(con, raw, col)
    return None, None


def _csv_type(con: duckdb.DuckDBPyConnection, raw: RawTable, col: str) -> str | None:
    """The type a CSV reader infers for a column of text: whole numbers, numbers, flags,
    timestamps, or text (None) when a value fits none of them."""
    text = f"NULLIF({col}, '')"
    flags = "('true', 'false', 'True', 'False', 'TRUE', 'FALSE')"
    row = con.execute(
        f"SELECT count({text}), "
        f"count(CASE WHEN regexp_matches({text}, '^[+-]?[0-9]+$') THEN TRY_CAST({text} AS BIGINT) END), "
        f"count(TRY_CAST({text} AS DOUBLE)), count(CASE WHEN {text} IN {flags} THEN 1 END), "
        f"count(CASE WHEN regexp_matches({text}, {sql_literal(ISO_DATE)}) "
        f"THEN TRY_CAST({text} AS TIMESTAMP) END) FROM {raw.relation}"
    ).fetchone()
    nonnull, ints, floats, flags_n, times = row
    if nonnull == 0:
        return None
    for count, kind in ((ints, "BIGINT"), (floats, "DOUBLE"), (flags_n, "BOOLEAN")):
        if count == nonnull:
            return kind
    if times == nonnull:
        return "TIMESTAMP"
    return None


def contract_kind(table: str, name: str) -> str | None:
    return SCHEMA[table].get(name, (None,))[0]
