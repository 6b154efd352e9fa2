"""Findings of data-contract validation: one problem, where it is, how big, and what to do.

Every check of :mod:`churnlab.contract` reports through :class:`Finding` so that all messages
have one shape: ``table.column: what is wrong (count), e.g. examples. What to do.`` Errors
make a dataset invalid; warnings (orphans, activity after churn, ignored files) do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ERROR = "error"
WARNING = "warning"
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    """One validation problem: severity, place (table, column), size (rows), examples, fix."""

    severity: str
    table: str | None
    column: str | None
    rows: int
    examples: tuple[str, ...] = field(default_factory=tuple)
    message: str = ""
    action: str = ""

    @property
    def where(self) -> str:
        """``table.column``, ``table`` or ``dataset``: where the problem is."""
        if self.table and self.column:
            return f"{self.table}.{self.column}"
        return self.table or "dataset"

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        if self.examples:
            text += ", e.g. " + "; ".join(self.examples)
        text += "."
        if self.action:
            text += " " + self.action.rstrip(".") + "."
        return text


def error(table, column, rows, message, action="", examples=()) -> Finding:
    """An error finding (the dataset is not valid)."""
    return Finding(ERROR, table, column, int(rows), tuple(examples)[:MAX_EXAMPLES], message, action)


def warning(table, column, rows, message, action="", examples=()) -> Finding:
    """A warning finding (the dataset stays valid)."""
    return Finding(
        WARNING, table, column, int(rows), tuple(examples)[:MAX_EXAMPLES], message, action
    )


_SINGULAR = {"have": "has", "are": "is", "appear": "appears", "match": "matches"}


def plural(count: int, word: str, verb: str = "") -> str:
    """``'1 row'``, ``'3 rows'``; with a verb ``'1 row has'``, ``'3 rows have'``."""
    text = f"{count:,} {word}{'' if count == 1 else 's'}"
    if verb:
        text += " " + (_SINGULAR.get(verb, verb) if count == 1 else verb)
    return text


def show(value) -> str:
    """A value as it should read in a message: dates without midnight, text quoted."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "empty"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value.item() if hasattr(value, "item") else value)


def first_rows(mask: np.ndarray | pd.Series, limit: int = MAX_EXAMPLES) -> np.ndarray:
    """Positions (0-based) of the first ``limit`` True values of a boolean mask."""
    values = mask.to_numpy(dtype=bool, na_value=False) if isinstance(mask, pd.Series) else mask
    return np.flatnonzero(values)[:limit]


def row_examples(
    frame: pd.DataFrame, mask: np.ndarray | pd.Series, columns: Sequence[str]
) -> list[str]:
    """Up to five examples ``row 4 (customer_id 'C1', amount -3)`` of the rows in ``mask``.

    Row numbers count data rows from 1 (the header is not a row), as a spreadsheet user
    would find them after the header line.
    """
    out = []
    for pos in first_rows(mask):
        parts = [f"{c} {show(frame[c].iloc[pos])}" for c in columns if c in frame.columns]
        out.append(f"row {pos + 1} ({', '.join(parts)})")
    return out
