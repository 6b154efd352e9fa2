"""Finding and reading the files of a dataset folder (the I/O edge of the data contract).

A dataset folder holds one file per table, ``<table>.csv`` or ``<table>.parquet``
(docs/data-contract.md), a CSV may be compressed (``usage.csv.gz``, ``.bz2``, ``.zst``), and a
table may be a folder of parts as Spark writes it (``usage.parquet/part-*.parquet`` with
``_SUCCESS`` and hidden ``.crc`` files, ``usage.csv/part-*.csv``, also ``key=value``
sub-folders). :func:`discover_files` maps tables to files and reports folder-level problems;
:func:`read_table` reads one table with pyarrow (multi-threaded, no Python field-size limits)
into a raw DataFrame and turns every way a file can be unreadable (wrong delimiter or
encoding, corrupt Parquet, ragged rows, empty file) into a :class:`Finding` naming the file
and what to do. Type coercion happens afterwards in :mod:`churnlab.contract.coerce`.

In a CSV, only an empty cell is missing in a text column (``NA`` is a value, say a segment
North America); number, date and yes/no columns also read pyarrow's null words (``NA``,
``null``, ``NaN``, ...) as missing (:data:`~churnlab.contract.schema.MISSING_WORDS`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.dataset as pds
import pyarrow.parquet as pq

from churnlab.contract.findings import Finding, error, warning
from churnlab.contract.schema import DATE, NUMBER, SCHEMA

FORMATS = {".csv": "csv", ".parquet": "parquet"}
#: compressions of a CSV that pyarrow undoes while reading (chosen by the file name's suffix)
COMPRESSED = (".gz", ".bz2", ".zst")
#: names of files in a folder of parts that are not data (Spark's markers and checksums)
_NOT_PARTS = (".", "_")
#: files a dataset folder may hold besides its tables (synth's ground truth, notes)
IGNORED = ("truth.parquet", "truth.csv", "README.md", "README.txt", "README")
_BLOCK = 16 << 20  # CSV block size; a field longer than a block triggers a retry


def discover_files(folder: Path) -> tuple[dict[str, Path], list[Finding]]:
    """Map each table to its file in ``folder``; report missing/empty folders and odd files.

    Errors: the folder is missing, not a folder, holds no table file, has no customers table,
    or holds a table as both CSV and Parquet (ambiguous). Warnings: files that are not a
    table of the contract (they are ignored; a name differing only in case is pointed out).
    """
    if not folder.exists():
        return {}, [
            error(
                None,
                None,
                0,
                f"the dataset folder {folder} does not exist",
                "Check the path; a dataset is a folder with customers.csv or "
                "customers.parquet and optional other tables",
            )
        ]
    if not folder.is_dir():
        return {}, [
            error(
                None,
                None,
                0,
                f"{folder} is a file, not a dataset folder",
                "Pass the folder that holds customers.csv or customers.parquet",
            )
        ]
    findings: list[Finding] = []
    found: dict[str, list[Path]] = {}
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        message = f"the dataset folder {folder} cannot be listed ({_short(exc)})"
        return {}, [error(None, None, 0, message, "Check the folder's permissions")]
    for name in names:
        path = folder / name
        if name.startswith(".") or name in IGNORED:
            continue
        table = table_of(name, path.is_dir())
        if table:
            found.setdefault(table, []).append(path)
            continue
        findings.append(_unknown_file(name, *os.path.splitext(name)))
    for table, paths in found.items():
        if len(paths) > 1:
            findings.append(
                error(
                    table,
                    None,
                    0,
                    f"the table is present twice, as {' and '.join(p.name for p in paths)}; "
                    "churnlab cannot tell which one is current",
                    "Keep exactly one file per table and move the other out of the folder",
                )
            )
    files = {t: ps[0] for t, ps in found.items() if len(ps) == 1}
    if not found and not [f for f in findings if f.severity == "error"]:
        listing = f" (it holds {', '.join(names)})" if names else " (it is empty)"
        findings.append(
            error(
                None,
                None,
                0,
                f"no table files in {folder}{listing}",
                "Put customers.csv or customers.parquet (and optional billing, "
                "tickets, onboarding, usage, feedback) in the folder",
            )
        )
    elif "customers" not in found:
        findings.append(
            error(
                "customers",
                None,
                0,
                f"the required customers table is missing (found {', '.join(names)})",
                "Add customers.csv or customers.parquet with customer_id, signup_date, churn_date",
            )
        )
    return files, findings


def table_of(name: str, is_dir: bool) -> str | None:
    """The table a file or folder of a dataset folder holds, from its name, or None.

    Files: ``usage.csv``, ``usage.parquet``, ``usage.csv.gz`` (``.bz2``, ``.zst``). Folders of
    parts: ``usage.parquet``, ``usage.csv`` or plain ``usage``.
    """
    stem, ext = os.path.splitext(name)
    if not is_dir and ext in COMPRESSED:
        stem, ext = os.path.splitext(stem)
        return stem if ext == ".csv" and stem in SCHEMA else None
    if stem in SCHEMA and (ext in FORMATS or (is_dir and ext == "")):
        return stem
    return None


def _unknown_file(name: str, stem: str, ext: str) -> Finding:
    lower_stem, lower_ext = stem.lower().strip(), ext.lower()
    if lower_stem in SCHEMA and lower_ext in FORMATS:
        hint = f"Rename it to {lower_stem}{lower_ext} (file names are case-sensitive)"
    elif lower_stem in SCHEMA:
        hint = f"churnlab reads only .csv and .parquet files: export {lower_stem} as one of them"
    else:
        hint = "Tables are " + ", ".join(SCHEMA) + " as .csv or .parquet; other files are ignored"
    return warning(None, None, 0, f"ignored file {name}: not a table of the data contract", hint)


def read_table(table: str, path: Path) -> tuple[pd.DataFrame | None, list[Finding]]:
    """Read one table (a file or a folder of parts) into a raw DataFrame.

    Returns the frame, or None and the findings saying why not; a folder's stray files are
    warnings.
    """
    try:
        if path.is_dir():
            arrow, findings = _read_folder(table, path)
        elif path.suffix == ".parquet":
            arrow, findings = _read_parquet(table, path)
        else:
            arrow, findings = _read_csv(table, path)
    except OSError as exc:  # permissions, a file vanishing mid-read, a broken disk
        message = f"{path.name} cannot be read ({_short(exc)})"
        return None, [error(table, None, 0, message, "Check the file's permissions and path")]
    if arrow is None:
        return None, findings
    owned = [arrow]
    del arrow  # _to_pandas holds the only reference, so Arrow memory is freed as it converts
    return _to_pandas(table, owned), findings


def _parquet_problem(table: str, name: str, exc: Exception) -> Finding:
    return error(
        table,
        None,
        0,
        f"{name} cannot be read as Parquet ({_short(exc)})",
        f"The file is damaged or not Parquet: re-export {name}",
    )


def _read_parquet(table: str, path: Path) -> tuple[pa.Table | None, list[Finding]]:
    try:
        return pq.read_table(path), []
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, [_parquet_problem(table, path.name, exc)]


def _is_parquet_part(path: Path) -> bool:
    if path.suffix == ".parquet":
        return True
    if path.suffix:
        return False
    with open(path, "rb") as handle:  # Hive and some Spark versions write parts without suffix
        return handle.read(4) == b"PAR1"


def _is_csv_part(path: Path) -> bool:
    name = path.name[: -len(path.suffix)] if path.suffix in COMPRESSED else path.name
    return name.endswith(".csv")


def folder_parts(table: str, folder: Path) -> tuple[list[Path], bool, list[Finding]]:
    """The parts of a table written as a folder, whether they are Parquet, and findings.

    Files whose name starts with ``.`` or ``_`` (``_SUCCESS``, ``.crc``) are skipped; other
    files that are not parts are ignored with a warning. No parts (or a mix of Parquet and
    CSV parts) is an error, and the list of parts is then empty.
    """
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(s.startswith(_NOT_PARTS) for s in p.relative_to(folder).parts)
    )
    parquet = [p for p in files if _is_parquet_part(p)]
    csv = [p for p in files if _is_csv_part(p)]
    where = f"{folder.name}/"
    if parquet and csv:
        return (
            [],
            False,
            [
                error(
                    table,
                    None,
                    0,
                    f"the folder {where} mixes Parquet and CSV parts "
                    f"(e.g. {parquet[0].name} and {csv[0].name})",
                    "Keep the parts of one export in the folder, all Parquet or all CSV",
                )
            ],
        )
    parts = parquet or csv
    if not parts:
        return (
            [],
            False,
            [
                error(
                    table,
                    None,
                    0,
                    f"the folder {where} holds no Parquet or CSV parts"
                    + (f" (it holds {', '.join(p.name for p in files[:5])})" if files else ""),
                    f"Put the parts of the {table} export (part-*.parquet or part-*.csv) in it",
                )
            ],
        )
    findings = []
    stray = [p.relative_to(folder).as_posix() for p in files if p not in set(parts)]
    if stray:
        findings.append(
            warning(
                table,
                None,
                0,
                f"ignored {len(stray)} file(s) in {where} that are not "
                f"{'Parquet' if parquet else 'CSV'} parts: {', '.join(stray[:5])}",
                "Only the parts of the export belong in the folder",
            )
        )
    return parts, bool(parquet), findings


def _read_folder(table: str, folder: Path) -> tuple[pa.Table | None, list[Finding]]:
    """A table written as a folder of parts (:func:`folder_parts`): the parts stacked.

    Parquet parts are read as one pyarrow dataset (:func:`parquet_parts`); CSV parts one by
    one, their columns unified by name.
    """
    parts, is_parquet, findings = folder_parts(table, folder)
    if not parts:
        return None, findings
    if is_parquet:
        data, problems = parquet_parts(table, folder, parts)
        if data is None:
            return None, findings + problems
        try:
            return data.to_table(), findings
        except (pa.ArrowException, OSError, ValueError) as exc:
            return None, findings + [_parquet_problem(table, f"{folder.name}/", exc)]
    where = f"{folder.name}/"
    tables = []
    for part in parts:
        arrow, problems = _read_csv(table, part, label=f"{where}{part.relative_to(folder)}")
        findings += problems
        if arrow is None:
            return None, findings
        tables.append(arrow)
    try:
        return pa.concat_tables(tables, promote_options="permissive"), findings
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # parts whose columns were guessed as different types: read every column as text and
        # let coercion decide, as for one file
        tables = [_read_csv(table, part, all_text=True)[0] for part in parts]
        return pa.concat_tables(tables, promote_options="permissive"), findings


def parquet_parts(
    table: str, folder: Path, parts: list[Path]
) -> tuple[pds.Dataset | None, list[Finding]]:
    """Parquet parts as one pyarrow dataset: ``key=value`` sub-folders become columns, and the
    schemas are unified so that a part where a column is all null or int32 instead of int64
    still fits."""
    paths = [str(p) for p in parts]
    try:
        schemas = [pq.read_schema(p) for p in paths]
        probe = pds.dataset(
            paths, format="parquet", partitioning="hive", partition_base_dir=str(folder)
        )
        schema = pa.unify_schemas([*schemas, probe.schema], promote_options="permissive")
        data = pds.dataset(
            paths,
            schema=schema,
            format="parquet",
            partitioning="hive",
            partition_base_dir=str(folder),
        )
        return data, []
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, [_parquet_problem(table, f"{folder.name}/", exc)]


def _read_csv(
    table: str, path: Path, label: str | None = None, all_text: bool = False
) -> tuple[pa.Table | None, list[Finding]]:
    """One CSV file (plain or compressed) as Arrow; ``label`` names it in messages.

    Contract columns that are not numbers are read as text (``all_text``: every column) so
    that churnlab, not pyarrow's type guessing, decides how they parse: ids keep leading
    zeros, bad dates are reported. Text cells are never null words: only an empty cell is
    missing there (``NA`` stays a value); columns pyarrow reads as numbers, dates or booleans
    take its null words (``NA``, ``null``, ``NaN``, ...) as missing.
    """
    label = label or path.name
    if path.stat().st_size == 0:
        return None, [
            error(
                table,
                None,
                0,
                f"{label} is empty (0 bytes)",
                "Re-export the table with a header line and its rows",
            )
        ]
    header_problem = _check_header(table, path, label)
    if header_problem:
        return None, [header_problem]
    if all_text:
        names = pcsv.open_csv(path, pcsv.ReadOptions(block_size=_BLOCK)).schema.names
        text_cols = dict.fromkeys(names, pa.string())
    else:
        text_cols = {c: pa.string() for c, (kind, _) in SCHEMA[table].items() if kind != NUMBER}
    convert = pcsv.ConvertOptions(column_types=text_cols, strings_can_be_null=False)
    block, limit = _BLOCK, 2**31 - 1
    if path.suffix not in COMPRESSED:
        limit = min(path.stat().st_size + 1, limit)
    while True:
        try:
            arrow = pcsv.read_csv(path, pcsv.ReadOptions(block_size=block), convert_options=convert)
            break
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block < limit:
                block = min(block * 8, limit)  # a huge text field
                continue
            return None, [_csv_problem(table, label, exc)]
        except UnicodeDecodeError as exc:
            return None, [_encoding_problem(table, label, exc)]
    binary = [
        f.name
        for f in arrow.schema
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
    ]
    if binary:
        return None, [_encoding_problem(table, label, f"column(s) {binary} hold non-UTF-8 text")]
    return _empty_text_as_null(arrow), []


def _empty_text_as_null(arrow: pa.Table) -> pa.Table:
    """Empty text cells as missing values (the one null spelling of a CSV text column)."""
    for i, field in enumerate(arrow.schema):
        if pa.types.is_string(field.type):
            column = arrow.column(i)
            empty = pc.equal(column, "")
            if pc.any(empty).as_py():
                arrow = arrow.set_column(i, field, pc.if_else(empty, None, column))
    return arrow


def _to_pandas(table: str, owned: list[pa.Table]) -> pd.DataFrame:
    """Convert to pandas with the contract's dtypes already set, using as little memory as can be.

    Casting in Arrow first (int ids to text, dates to timestamp[us], numbers to float64, time
    zones to UTC, dictionary-encoded columns to their values) lets
    :func:`~churnlab.contract.coerce.coerce_table` pass the columns through untouched;
    ``self_destruct`` frees each Arrow column once converted and ``split_blocks`` avoids
    pandas' consolidation copy, so peak memory stays near the size of the result. Timestamps
    finer than a microsecond (pandas writes nanoseconds) are floored to the microsecond.
    """
    # pandas metadata would restore the writer's dtypes over our casts; a stored index is noise
    arrow = owned.pop().replace_schema_metadata(None)
    for i in reversed(range(arrow.num_columns)):
        name, column = arrow.schema.field(i).name, arrow.column(i)
        if name.startswith("__index_level_"):
            arrow = arrow.remove_column(i)
            continue
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        target = _target_type(table, name, column.type)
        if target is not None and target != column.type:
            if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
                column = pc.floor_temporal(column, unit="microsecond")
            column = column.cast(target)
        if column is not arrow.column(i):
            arrow = arrow.set_column(i, name, column)
    return arrow.to_pandas(
        date_as_object=False,
        self_destruct=True,
        split_blocks=True,
        types_mapper={pa.bool_(): pd.BooleanDtype()}.get,
    )


def _target_type(table: str, name: str, kind: pa.DataType) -> pa.DataType | None:
    """The Arrow type a column should have before conversion, or None to leave it as is."""
    spec = SCHEMA[table].get(name, (None,))[0]
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    is_time = pa.types.is_timestamp(kind) or pa.types.is_date(kind)
    if spec in (DATE, None) and is_time:
        return pa.timestamp("us")  # a time zone is dropped after conversion to UTC
    if spec == NUMBER and (numeric or pa.types.is_boolean(kind)):
        return pa.float64()
    if spec is None and table == "usage" and (numeric or pa.types.is_boolean(kind)):
        return pa.float64()  # usage's extra columns are its activity measures
    if spec is None and pa.types.is_decimal(kind):
        return pa.float64()  # an extra decimal column is a number (pandas would hold objects)
    return None


def _check_header(table: str, path: Path, label: str) -> Finding | None:
    """A wrong delimiter or encoding, detected from the first line before parsing."""
    try:
        with pa.input_stream(str(path), compression="detect") as handle:
            head = handle.read(1 << 16).split(b"\n", 1)[0]
    except (pa.ArrowException, OSError, EOFError) as exc:  # a damaged .gz
        return error(
            table,
            None,
            0,
            f"{label} cannot be read ({_short(exc)})",
            f"The file is damaged: re-export {label}",
        )
    try:
        line = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _encoding_problem(table, label, exc)
    if "," in line:
        return None
    for sep, what in ((";", "';' (semicolon)"), ("\t", "a tab"), ("|", "'|' (pipe)")):
        if sep in line:
            return error(
                table,
                None,
                0,
                f"{label} has one column named {line.strip()[:80]!r}: its delimiter looks "
                f"like {what}, but churnlab expects comma-separated CSV",
                f"Re-export {label} with commas as delimiter (or save it as Parquet)",
            )
    return None


def _encoding_problem(table: str, label: str, exc) -> Finding:
    return error(
        table,
        None,
        0,
        f"{label} is not UTF-8 text ({_short(exc)})",
        f"Re-export {label} as UTF-8 (in Excel: 'CSV UTF-8'); churnlab reads only UTF-8 CSV",
    )


def _csv_problem(table: str, label: str, exc: Exception) -> Finding:
    text = str(exc)
    if "UTF8" in text or "utf8" in text.lower():
        return _encoding_problem(table, label, exc)
    return error(
        table,
        None,
        0,
        f"{label} cannot be parsed as CSV ({_short(exc)})",
        "Check that every line has as many comma-separated fields as the header "
        "and that text with commas or line breaks is quoted",
    )


def _short(exc) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
