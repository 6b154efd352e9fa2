"""Finding and reading the files of a dataset folder (the I/O edge of the data contract).

A dataset folder holds one file per table, ``<table>.csv`` or ``<table>.parquet``
(docs/data-contract.md). :func:`discover_files` maps tables to files and reports folder-level
problems; :func:`read_table` reads one file with pyarrow (multi-threaded, no Python field-size
limits) into a raw DataFrame and turns every way a file can be unreadable (wrong delimiter or
encoding, corrupt Parquet, ragged rows, empty file) into a :class:`Finding` naming the file
and what to do. Type coercion happens afterwards in :mod:`churnlab.contract.coerce`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from churnlab.contract.findings import Finding, error, warning
from churnlab.contract.schema import DATE, NUMBER, SCHEMA

FORMATS = {".csv": "csv", ".parquet": "parquet"}
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
        stem, ext = os.path.splitext(name)
        if name.startswith(".") or name in IGNORED:
            continue
        if ext in FORMATS and stem in SCHEMA and path.is_file():
            found.setdefault(stem, []).append(path)
            continue
        findings.append(_unknown_file(name, stem, ext))
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
    """Read one table file into a raw DataFrame (or None and the findings saying why not)."""
    try:
        if path.suffix == ".parquet":
            return _read_parquet(table, path)
        return _read_csv(table, path)
    except OSError as exc:  # permissions, a file vanishing mid-read, a broken disk
        message = f"{path.name} cannot be read ({_short(exc)})"
        return None, [error(table, None, 0, message, "Check the file's permissions and path")]


def _read_parquet(table: str, path: Path) -> tuple[pd.DataFrame | None, list[Finding]]:
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, [
            error(
                table,
                None,
                0,
                f"{path.name} cannot be read as Parquet ({_short(exc)})",
                f"The file is damaged or not Parquet: re-export {path.name}",
            )
        ]
    owned = [arrow]
    del arrow  # _to_pandas holds the only reference, so Arrow memory is freed as it converts
    return _to_pandas(table, owned), []


def _read_csv(table: str, path: Path) -> tuple[pd.DataFrame | None, list[Finding]]:
    if path.stat().st_size == 0:
        return None, [
            error(
                table,
                None,
                0,
                f"{path.name} is empty (0 bytes)",
                "Re-export the table with a header line and its rows",
            )
        ]
    header_problem = _check_header(table, path)
    if header_problem:
        return None, [header_problem]
    # contract columns that are not numbers are read as text so that churnlab, not pyarrow's
    # type guessing, decides how they parse (ids keep leading zeros, bad dates are reported)
    text_cols = {c: pa.string() for c, (kind, _) in SCHEMA[table].items() if kind != NUMBER}
    convert = pcsv.ConvertOptions(column_types=text_cols, strings_can_be_null=True)
    block = _BLOCK
    while True:
        try:
            arrow = pcsv.read_csv(path, pcsv.ReadOptions(block_size=block), convert_options=convert)
            break
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block < path.stat().st_size + 1:
                block = min(path.stat().st_size + 1, 2**31 - 1)  # a huge text field
                continue
            return None, [_csv_problem(table, path, exc)]
        except UnicodeDecodeError as exc:
            return None, [_encoding_problem(table, path, exc)]
    binary = [
        f.name
        for f in arrow.schema
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
    ]
    if binary:
        return None, [_encoding_problem(table, path, f"column(s) {binary} hold non-UTF-8 text")]
    owned = [arrow]
    del arrow  # _to_pandas holds the only reference, so Arrow memory is freed as it converts
    return _to_pandas(table, owned), []


def _to_pandas(table: str, owned: list[pa.Table]) -> pd.DataFrame:
    """Convert to pandas with the contract's dtypes already set, using as little memory as can be.

    Casting in Arrow first (int ids to text, dates to timestamp[us], numbers to float64, time
    zones to UTC) lets :func:`~churnlab.contract.coerce.coerce_table` pass the columns through
    untouched; ``self_destruct`` frees each Arrow column once converted and ``split_blocks``
    avoids pandas' consolidation copy, so peak memory stays near the size of the result.
    """
    # pandas metadata would restore the writer's dtypes over our casts; a stored index is noise
    arrow = owned.pop().replace_schema_metadata(None)
    for i in reversed(range(arrow.num_columns)):
        name, column = arrow.schema.field(i).name, arrow.column(i)
        if name.startswith("__index_level_"):
            arrow = arrow.remove_column(i)
            continue
        target = _target_type(table, name, column.type)
        if target is not None and target != column.type:
            arrow = arrow.set_column(i, name, column.cast(target))
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
    return None


def _check_header(table: str, path: Path) -> Finding | None:
    """A wrong delimiter or encoding, detected from the first line before parsing."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16).split(b"\n", 1)[0]
    try:
        line = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _encoding_problem(table, path, exc)
    if "," in line:
        return None
    for sep, label in ((";", "';' (semicolon)"), ("\t", "a tab"), ("|", "'|' (pipe)")):
        if sep in line:
            return error(
                table,
                None,
                0,
                f"{path.name} has one column named {line.strip()[:80]!r}: its delimiter looks "
                f"like {label}, but churnlab expects comma-separated CSV",
                f"Re-export {path.name} with commas as delimiter (or save it as Parquet)",
            )
    return None


def _encoding_problem(table: str, path: Path, exc) -> Finding:
    return error(
        table,
        None,
        0,
        f"{path.name} is not UTF-8 text ({_short(exc)})",
        f"Re-export {path.name} as UTF-8 (in Excel: 'CSV UTF-8'); churnlab reads only UTF-8 CSV",
    )


def _csv_problem(table: str, path: Path, exc: Exception) -> Finding:
    text = str(exc)
    if "UTF8" in text or "utf8" in text.lower():
        return _encoding_problem(table, path, exc)
    return error(
        table,
        None,
        0,
        f"{path.name} cannot be parsed as CSV ({_short(exc)})",
        "Check that every line has as many comma-separated fields as the header "
        "and that text with commas or line breaks is quoted",
    )


def _short(exc) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
