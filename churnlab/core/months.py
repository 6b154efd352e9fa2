"""Calendar months as 'YYYY-MM' strings: parsing, cutoffs and ranges.

A snapshot is taken at the end of a month M; its cutoff is the first instant of month M+1
(docs/definitions.md). Months travel through churnlab as normalised 'YYYY-MM' strings so that
they sort, print and compare the same everywhere (command line, notebooks, file names).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from churnlab.core.errors import ChurnlabError

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def _split(month: str) -> tuple[int, int]:
    """(year, month number) of a month string, or a ChurnlabError naming the expected format."""
    match = _MONTH.match(month) if isinstance(month, str) else None
    number = int(match.group(2)) if match else 0
    if not match or not 1 <= number <= 12:
        raise ChurnlabError(
            f"{month!r} is not a month: expected the format YYYY-MM, e.g. 2025-03 for March 2025."
        )
    return int(match.group(1)), number


def parse_month(text: str) -> str:
    """Normalise a month given as 'YYYY-MM' (or 'YYYY-M') to 'YYYY-MM'.

    Raises :class:`ChurnlabError` for anything else (a full date, a month 13, a non-string),
    with a message naming the expected format, so a mistyped ``--month`` ends in one clear
    line instead of a traceback.
    """
    year, number = _split(text)
    return f"{year:04d}-{number:02d}"


def shift_month(month: str, k: int) -> str:
    """The month ``k`` months after ``month`` (``k`` may be negative), as 'YYYY-MM'."""
    year, number = _split(month)
    index = year * 12 + (number - 1) + int(k)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_cutoff(month: str) -> pd.Timestamp:
    """The cutoff of the snapshot of ``month``: the first instant of the following month.

    Rows dated strictly before the cutoff are known at the snapshot; rows at or after it are
    the future. Example: ``month_cutoff('2025-03') == Timestamp('2025-04-01 00:00:00')``.
    """
    return pd.Timestamp(shift_month(month, 1) + "-01")


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included, in order ([] when last < first)."""
    first = parse_month(first)
    count = _index(parse_month(last)) - _index(first) + 1
    return [shift_month(first, k) for k in range(max(count, 0))]


def month_of(timestamp: pd.Timestamp | str) -> str:
    """The 'YYYY-MM' month a timestamp falls in (time zones are not interpreted)."""
    ts = pd.Timestamp(timestamp)
    return f"{ts.year:04d}-{ts.month:02d}"


def months_between(first: str, last: str) -> int:
    """How many months ``last`` lies after ``first`` (negative when before): 2025-01 to
    2025-04 is 3."""
    return _index(parse_month(last)) - _index(parse_month(first))


def _index(month: str) -> int:
    year, number = _split(month)
    return year * 12 + number - 1


def each_month(months: pd.Series | np.ndarray, fn: Callable[[Any], Any]) -> pd.Series:
    """``fn`` of every value of ``months`` (``Series.map``), called once per distinct value:
    a column of snapshots or dates holds millions of rows but only a few dozen months.
    Missing values stay missing (``fn`` never sees them); the index is ``months``' own."""
    codes, distinct = pd.factorize(months)
    values = np.array([fn(m) for m in distinct] + [None], dtype=object)
    index = months.index if isinstance(months, pd.Series) else None
    return pd.Series(values[codes], index=index)  # code -1 (missing) takes the None
