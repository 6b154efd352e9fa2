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


def write_csv(path: Path, frame: pd.DataFrame, index: bool = True) -> None:
    """Write ``frame`` as CSV with floats to 6 significant digits and ``\\n`` line ends."""
    frame.to_csv(path, index=index, float_format="%.6g", lineterminator="\n")


def write_extras(out_dir, tables: dict[str, pd.DataFrame], documents: dict[str, dict]) -> None:
    """Write the report's own tables (CSV) and documents (JSON) to ``out_dir``, byte-stable.

    Floats are written with 6 significant digits and JSON keys sorted, as the result files
    are, so two runs of the same report give identical files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_csv(out / f"{name}.csv", frame)
    for name, doc in documents.items():
        write_json(out / f"{name}.json", doc)
