"""Tables of a validated dataset that stay in their files: SQL views, never pandas frames.

A :class:`StoredTable` is what validation leaves of a table file: the relation holding the
coerced columns (the original Parquet file with a few casts, or a typed Parquet copy in a
scratch folder when the file needed parsing: CSV, dates stored as text), the contract kind
of each column, and, when the table had orphan rows, the filter that leaves them out. An
engine (DuckDB here; Spark through :mod:`churnlab.features.spark`) scans it where it lies.
:func:`view_sql` adds the point-in-time cut of :meth:`Dataset.as_of` in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from churnlab.contract.schema import BOOL, DATE, DATETIME, EVENT_DATE, ID, NUMBER, STR, TEXT
from churnlab.core.engine import sql_literal

#: DuckDB types of the columns a stored table keeps as they are (extra columns)
KEPT = "kept"


@dataclass(frozen=True)
class StoredTable:
    """One table of a dataset as SQL: ``SELECT <columns> FROM <relation> WHERE <keep>``."""

    name: str
    #: FROM-clause relation (a ``read_parquet(...)`` call or a subquery)
    relation: str
    #: column -> (SQL expression over the relation, contract kind: id/date/number/bool/text
    #: or 'kept' for an extra column kept with its stored type)
    columns: dict[str, tuple[str, str]]
    #: the expression that orders rows as in the file
    order: str
    #: a condition rows must meet (orphans left out), or ''
    keep: str = ""
    #: Parquet files the relation reads (what an engine other than DuckDB opens)
    files: tuple[Path, ...] = field(default_factory=tuple)

    def select(self, with_order: bool = False, renames: Mapping[str, str] | None = None) -> str:
        renames = renames or {}
        cols = ", ".join(
            f"{expr} AS {_quote(renames.get(name, name))}"
            for name, (expr, _) in self.columns.items()
        )
        if with_order:
            cols += f", {self.order} AS __order"
        where = f" WHERE {self.keep}" if self.keep else ""
        return f"SELECT {cols} FROM {self.relation}{where}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def view_sql(
    table: StoredTable,
    cutoff: pd.Timestamp | None,
    with_order: bool = False,
    renames: Mapping[str, str] | None = None,
) -> str:
    """The table as known just before ``cutoff`` (None: all of it); see :meth:`Dataset.as_of`.

    ``renames`` gives some columns another name in the result (the contract's columns, which
    the cut refers to, are never renamed).
    """
    base = table.select(with_order, renames)
    if cutoff is None:
        return base
    cut = f"TIMESTAMP {sql_literal(pd.Timestamp(cutoff).isoformat(sep=' '))}"
    cols = set(table.columns)
    replace = []
    if table.name == "customers" and "churn_date" in cols:
        replace.append(f"CASE WHEN churn_date >= {cut} THEN NULL ELSE churn_date END AS churn_date")
    if table.name == "tickets" and "resolved_at" in cols:
        late = f"resolved_at >= {cut}"
        replace.append(f"CASE WHEN {late} THEN NULL ELSE resolved_at END AS resolved_at")
        if "csat" in cols:
            # satisfaction is asked at resolution: unknown while the ticket is open
            replace.append(f"CASE WHEN {late} THEN NULL ELSE csat END AS csat")
    star = f"* REPLACE ({', '.join(replace)})" if replace else "*"
    date_col = EVENT_DATE.get(table.name)
    where = f" WHERE {_quote(date_col)} < {cut}" if date_col in cols else ""
    return f"SELECT {star} FROM ({base}) t{where}"


def to_frame(arrow: pa.Table, table: StoredTable) -> pd.DataFrame:
    """A materialised stored table in the contract's pandas dtypes."""
    frame = arrow.to_pandas(date_as_object=False, types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
    for name, (_, kind) in table.columns.items():
        if kind in (ID, TEXT):
            frame[name] = frame[name].astype(STR)
        elif kind == DATE:
            frame[name] = frame[name].astype(DATETIME)
        elif kind == NUMBER:
            frame[name] = frame[name].astype("float64")
        elif kind == BOOL:
            frame[name] = frame[name].astype("boolean")
        elif pd.api.types.is_object_dtype(frame[name]) or pd.api.types.is_string_dtype(frame[name]):
            frame[name] = frame[name].astype(STR)
    return frame
