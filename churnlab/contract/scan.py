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
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from churnlab.contract.coerce import unnamed_finding
from churnlab.contract.findings import Finding, error
from churnlab.contract.read import (
    _BLOCK,
    COMPRESSED,
    _check_header,
    _csv_problem,
    _encoding_problem,
    _parquet_problem,
    _short,
    folder_parts,
    parquet_parts,
)
from churnlab.contract.schema import (
    BOOL,
    DATE,
    FAR_FUTURE,
    ID,
    MISSING_WORDS,
    NUMBER,
    SCHEMA,
    TEXT,
)
from churnlab.core.engine import limit_error, sql_literal

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
    #: column -> DuckDB type, in file order (pandas index columns and unnamed ones left out)
    types: dict[str, str]
    #: the file's column names as written (duplicates kept, for the header check)
    header: tuple[str, ...]
    rows: int
    #: read from CSV text (every column text; pyarrow's type guesses are made in SQL)
    from_csv: bool = False


def open_raw(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, scratch: Path
) -> tuple[RawTable | None, list[Finding]]:
    """Open ``path`` (a file or a folder of parts, :mod:`churnlab.contract.read`) for scanning.

    CSV files (plain or compressed) are streamed into Parquet under ``scratch`` first, and so
    is a folder of parts, into one file whose rows are the parts' in order.
    """
    try:
        if path.is_dir():
            return _open_folder(con, table, path, scratch)
        if path.suffix == ".parquet":
            return _open_parquet(con, table, path)
        return _open_csv(con, table, [(path, path.name)], path, scratch)
    except OSError as exc:
        message = f"{path.name} cannot be read ({_short(exc)})"
        return None, [error(table, None, 0, message, "Check the file's permissions and path")]


def _open_csv(con, table: str, parts: list[tuple[Path, str]], source: Path, scratch: Path):
    out = scratch / f"{table}.raw.parquet"
    header, problems = _csv_to_parquet(table, parts, out)
    if header is None:
        return None, problems
    raw, more = _open_parquet(con, table, out, source=source, header=header)
    if raw is not None:
        raw = replace(raw, from_csv=True)
    return raw, problems + more


def _open_folder(con, table: str, folder: Path, scratch: Path):
    parts, is_parquet, findings = folder_parts(table, folder)
    if not parts:
        return None, findings
    if not is_parquet:
        labelled = [(p, f"{folder.name}/{p.relative_to(folder)}") for p in parts]
        raw, problems = _open_csv(con, table, labelled, folder, scratch)
        return raw, findings + problems
    data, problems = parquet_parts(table, folder, parts)
    if data is None:
        return None, findings + problems
    out = scratch / f"{table}.raw.parquet"
    try:  # the parts as one file, batch by batch (bounded memory), in the parts' order
        with pq.ParquetWriter(out, data.schema, compression="snappy") as writer:
            for batch in data.to_batches():
                writer.write_batch(batch)
    except (pa.ArrowException, ValueError) as exc:
        return None, findings + [_parquet_problem(table, f"{folder.name}/", exc)]
    raw, problems = _open_parquet(con, table, out, source=folder)
    return raw, findings + problems


def _open_parquet(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    source: Path | None = None,
    header: tuple[str, ...] | None = None,
) -> tuple[RawTable | None, list[Finding]]:
    label = _label(source or path)
    try:
        meta = pq.ParquetFile(path)
        names = tuple(meta.schema_arrow.names)
        rows = meta.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, [_parquet_problem(table, label, exc)]
    relation = f"read_parquet({sql_literal(path)}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error as exc:
        if limit_error(exc, "") is not None:  # the machine's limit, not a bad file
            raise
        return None, [_parquet_problem(table, label, exc)]
    described = [d for d in described if d[0] != "file_row_number"]
    # DuckDB renames a column without a name (C3, ...): the file's own names say which it was
    blank = {
        d[0]
        for d, written in zip(described, names, strict=False)
        if len(described) == len(names) and str(written).strip() == ""
    }
    types: dict[str, str] = {}
    for name, kind, *_ in described:
        if name not in blank and not name.startswith("__index_level_"):
            types.setdefault(name, kind)
    findings = []
    if blank:
        counts = con.execute(
            "SELECT " + ", ".join(f"count({quote(n)})" for n in sorted(blank)) + f" FROM {relation}"
        ).fetchone()
        filled = dict(zip(sorted(blank), counts, strict=True))
        findings = [
            unnamed_finding(table, i, len(names), filled[d[0]])
            for i, d in enumerate(described)
            if d[0] in blank and filled[d[0]]
        ]
        names = tuple(n for n in names if str(n).strip() != "")
    relation = f"(SELECT *, file_row_number AS {ROW} FROM {relation})"
    return RawTable(table, source or path, relation, types, header or names, rows), findings


def _label(path: Path) -> str:
    """A file as messages name it; a folder of parts with a slash (``usage.parquet/``)."""
    return f"{path.name}/" if path.is_dir() else path.name


def _csv_to_parquet(
    table: str, parts: list[tuple[Path, str]], out: Path
) -> tuple[tuple[str, ...] | None, list[Finding]]:
    """Stream CSV files (a table's parts, in order) into one Parquet file of text columns.

    Every column is text, as it was written (only an empty cell is missing; the contract's
    coercion decides what parses, and which words mean missing). Columns without a name (a
    trailing comma on every line) are left out, with a warning when they hold values. Parts
    are stacked by column name. Returns the header (None when a file cannot be read).
    """
    headers: list[list[str]] = []
    for path, label in parts:
        problem = _empty_or_bad_header(table, path, label)
        if problem is not None:
            return None, [problem]
        try:
            headers.append(_header_names(path))
        except pa.ArrowInvalid as exc:
            return None, [_csv_problem(table, label, exc)]
        except UnicodeDecodeError as exc:
            return None, [_encoding_problem(table, label, exc)]
    names = list(dict.fromkeys(n for h in headers for n in h if str(n).strip() != ""))
    schema = pa.schema([(n, pa.string()) for n in names])
    filled: dict[int, int] = {}
    with pq.ParquetWriter(out, schema, compression="snappy") as writer:
        for (path, label), header in zip(parts, headers, strict=True):
            problem = _stream(table, path, label, header, schema, writer, filled)
            if problem is not None:
                return None, [problem]
    width = len(headers[0]) if headers else 0
    findings = [unnamed_finding(table, i, width, n) for i, n in sorted(filled.items()) if n]
    if len(parts) == 1:  # duplicated names kept: the header check reports them
        return tuple(n for n in headers[0] if str(n).strip() != ""), findings
    return tuple(names), findings


def _empty_or_bad_header(table: str, path: Path, label: str) -> Finding | None:
    if path.stat().st_size == 0:
        return error(
            table,
            None,
            0,
            f"{label} is empty (0 bytes)",
            "Re-export the table with a header line and its rows",
        )
    return _check_header(table, path, label)


def _header_names(path: Path) -> list[str]:
    with pa.input_stream(str(path), compression="detect") as handle:
        head = handle.read(1 << 20)
    first = head.split(b"\n", 1)[0]
    return pcsv.read_csv(io.BytesIO(first + b"\n")).column_names


def _stream(table, path, label, header, schema, writer, filled) -> Finding | None:
    """Append one CSV file's rows to ``writer`` in ``schema``'s columns; None when it worked.

    ``filled`` counts, per position of an unnamed column, its cells that hold a value.
    """
    # unnamed columns get a placeholder name so that pyarrow reads them, and repeated names
    # one that is not read (the first column of a name counts, as in coerce_table)
    names, seen = [], set()
    for i, n in enumerate(header):
        blank = str(n).strip() == ""
        names.append(f"__unnamed_{i}" if blank else n if n not in seen else f"__repeated_{i}")
        seen.add(n)
    convert = pcsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
    )
    limit = 2**31 - 1
    if path.suffix not in COMPRESSED:
        limit = min(path.stat().st_size + 1, limit)
    block = min(_BLOCK, limit)
    while True:
        read = pcsv.ReadOptions(block_size=block, column_names=names, skip_rows=1)
        try:
            reader = pcsv.open_csv(path, read_options=read, convert_options=convert)
            for batch in reader:
                columns = []
                for field in schema:
                    if field.name in names:
                        column = batch.column(field.name)
                        columns.append(pc.if_else(pc.equal(column, ""), None, column))
                    else:
                        columns.append(pa.nulls(batch.num_rows, pa.string()))
                for i, n in enumerate(names):
                    if n.startswith("__unnamed_"):
                        full = pc.sum(pc.not_equal(batch.column(n), "")).as_py() or 0
                        filled[i] = filled.get(i, 0) + int(full)
                writer.write_batch(pa.record_batch(columns, schema=schema))
            return None
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block < limit:
                block = min(block * 8, limit)  # a huge text field
                continue
            return _csv_problem(table, label, exc)
        except UnicodeDecodeError as exc:
            return _encoding_problem(table, label, exc)


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


#: the characters Python's ``str.strip`` removes (``str.isspace``: tab, line breaks, no-break
#: and ideographic spaces, ...), which is what pandas and pyarrow trim on the in-memory path;
#: DuckDB's ``trim`` without a list keeps tabs and line breaks, and RE2's ``\s`` is ASCII only
SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


def trimmed(expr: str) -> str:
    """``expr`` (text) without the :data:`SPACES` at either end."""
    return f"trim({expr}, {sql_literal(SPACES)})"


def text_of(col: str) -> str:
    """A cell as the text that numbers, dates and yes/no values are parsed from: trimmed, NULL
    when empty or a missing word (``NA``, ``null``, ...; :data:`MISSING_WORDS`)."""
    text = trimmed(f"CAST({col} AS VARCHAR)")
    return f"CASE WHEN lower({text}) IN {MISSING_SQL} OR {text} = '' THEN NULL ELSE {text} END"


#: :data:`~churnlab.contract.schema.MISSING_WORDS` as an SQL list
MISSING_SQL = "(" + ", ".join(sql_literal(w) for w in sorted(MISSING_WORDS)) + ")"
#: what pyarrow's CSV reader takes for missing in a column it reads as numbers or flags
ARROW_NULLS = (
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null",
)  # fmt: skip
ARROW_NULLS_SQL = "(" + ", ".join(sql_literal(w) for w in ARROW_NULLS) + ")"


def floored(col: str) -> str:
    """A TIMESTAMP_NS as a microsecond TIMESTAMP, floored (never rounded past a cutoff)."""
    ns = f"epoch_ns({col})"
    return f"make_timestamp(({ns} - (({ns} % 1000) + 1000) % 1000) // 1000)"


def no_end(expr: str) -> str:
    """An end date from 2099 on (9999-12-31, ...) as missing: "no end yet"."""
    far = f"TIMESTAMP {sql_literal(FAR_FUTURE.isoformat(sep=' '))}"
    return f"CASE WHEN ({expr}) >= {far} THEN NULL ELSE ({expr}) END"


def is_nested(kind: str) -> bool:
    """Lists, arrays, records, maps and bytes: not a plain value (Parquet nested types)."""
    return kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "UNION")) or kind == "BLOB"


def date_plan(name: str, col: str, kind: str, aware: bool | None = None) -> ColumnPlan:
    """Dates: timestamps pass (time zones to UTC); text parses as ISO 8601."""
    if kind == "TIMESTAMP_NS":
        return ColumnPlan(name, DATE, floored(col))
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
    """Text as it is; an empty text is missing (``NA`` is a value)."""
    text = col if kind == "VARCHAR" else f"CAST({col} AS VARCHAR)"
    return ColumnPlan(name, TEXT, f"NULLIF({text}, '')")


def id_plan(name: str, col: str, kind: str, whole_floats: bool) -> ColumnPlan:
    """Ids as text: 42 -> '42', 42.0 -> '42' (when every id is whole), '00042' stays."""
    if kind == "VARCHAR":
        return ColumnPlan(name, ID, f"NULLIF({col}, '')")
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
    text = f"CASE WHEN {col} = '' OR {col} IN {ARROW_NULLS_SQL} THEN NULL ELSE {col} END"
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
