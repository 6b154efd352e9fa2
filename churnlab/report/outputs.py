"""Byte-stable result files: JSON-ready values and the report's extra CSV/JSON tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd


def jsonable(obj):
    """A JSON-ready copy: numpy scalars as Python, floats to 6 significant digits, NaN as null.

    Rounding makes files byte-stable across platforms whose last float digits may differ.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else float(f"{obj:.6g}")
    return obj


def write_json(path: Path, doc: dict) -> None:
    """Write ``doc`` as JSON with sorted keys and floats to 6 significant digits."""
    text = json.dumps(jsonable(doc), sort_keys=True, indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


#: a text cell starting with one of these is read as a formula by spreadsheets
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(values: pd.Series | pd.Index) -> pd.Series | pd.Index:
    """Text values that a spreadsheet would run as a formula, prefixed with ``'`` (OWASP).

    Numbers and missing values pass unchanged; only text starting with ``= + - @``, a tab or
    a carriage return changes (``'=HYPERLINK(...)`` is shown, not evaluated).
    """
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values

    def fix(v):
        return "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v

    return values.map(fix)


def write_csv(
    path: Path, frame: pd.DataFrame, index: bool = True, raw: tuple[str, ...] = ()
) -> None:
    """Write ``frame`` as CSV with floats to 6 significant digits and ``\\n`` line ends.

    Text that a spreadsheet would evaluate as a formula is neutralised
    (:func:`neutralise_formulas`) in every column and index level except those named in
    ``raw``: id columns, which must stay exactly as in the data to join back to it.
    """
    safe = frame.copy()
    for col in safe.columns:
        if col not in raw:
            safe[col] = neutralise_formulas(safe[col])
    if index and safe.index.name not in raw and not isinstance(safe.index, pd.MultiIndex):
        safe.index = neutralise_formulas(safe.index)
    safe.to_csv(path, index=index, float_format="%.6g", lineterminator="\n")


def write_extras(
    out_dir,
    tables: dict[str, pd.DataFrame],
    documents: dict[str, dict],
    raw: tuple[str, ...] = ("customer_id",),
) -> None:
    """Write the report's own tables (CSV) and documents (JSON) to ``out_dir``, byte-stable.

    Floats are written with 6 significant digits and JSON keys sorted, as the result files
    are, so two runs of the same report give identical files. Columns (or an index) named in
    ``raw`` are ids and are written as they are (see :func:`write_csv`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_csv(out / f"{name}.csv", frame, raw=raw)
    for name, doc in documents.items():
        write_json(out / f"{name}.json", doc)
