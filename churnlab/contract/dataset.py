"""The in-memory form of a dataset in the data contract (docs/data-contract.md).

:class:`Dataset` holds one pandas DataFrame per table, already coerced to the contract's
types by :mod:`churnlab.contract`:

- ``customer_id``: pandas string dtype in every table (ids are labels, never numbers);
- dates and timestamps: naive ``datetime64[us]`` (values with a time zone are converted to UTC,
  finer digits such as pandas' nanoseconds are floored to the microsecond; an end date in 2099
  or later such as ``9999-12-31`` means "no end" and is missing);
- ``amount``, ``list_price``, ``discount``, ``csat``, ``score`` and usage activity columns:
  ``float64``; ``paid`` and ``escalated``: nullable ``boolean``; text columns: string dtype.

A dataset read from a folder keeps its tables in their files (:mod:`churnlab.contract.stored`):
engines scan them with SQL (:meth:`Dataset.register`), and ``tables`` loads a table into
pandas only when something asks for the frame (tests, notebooks, small data). A dataset made
in memory holds its frames. Either way it is a plain value: functions downstream read it and
never change it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from churnlab.contract.schema import BOOL, DATE, DATE_COLUMNS, EVENT_DATE, ID, NUMBER, TEXT
from churnlab.contract.stored import StoredTable, to_frame, view_sql
from churnlab.core import engine
from churnlab.core.families import FAMILY_ORDER, TABLE_FAMILIES

#: contract kind -> the kind feature SQL sees ('number', 'text' or 'date'; flags are numbers)
SQL_KINDS = {ID: "text", TEXT: "text", DATE: "date", NUMBER: "number", BOOL: "number"}


class StoredFrames(Mapping):
    """The tables of a stored dataset as pandas frames, each loaded on first access."""

    def __init__(self, stored: Mapping[str, StoredTable], cutoff: pd.Timestamp | None) -> None:
        self._stored, self._cutoff, self._frames = dict(stored), cutoff, {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            table = self._stored[name]  # KeyError for a table the dataset does not have
            con = engine.connect()
            try:
                sql = f"SELECT * EXCLUDE (__order) FROM ({view_sql(table, self._cutoff, True)}) x"
                arrow = con.sql(f"{sql} ORDER BY __order").arrow().read_all()
            finally:
                con.close()
            self._frames[name] = to_frame(arrow, table)
        return self._frames[name]

    def __contains__(self, name: object) -> bool:
        # Mapping's own test looks the table up, which would load it into pandas: asking
        # whether the dataset has usage loaded every usage row (gigabytes for 1M customers)
        return name in self._stored

    def __iter__(self) -> Iterator[str]:
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)


@dataclass(frozen=True)
class Dataset:
    """Coerced, validated tables of one dataset folder (or made in memory)."""

    tables: Mapping[str, pd.DataFrame]
    source: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: for a dataset read from a folder: each table as SQL over its file
    stored: Mapping[str, StoredTable] = field(default_factory=dict)
    #: the point in time of :meth:`as_of` (stored tables are cut in SQL)
    cutoff: pd.Timestamp | None = None
    #: keeps the scratch folder of typed copies alive as long as the dataset
    scratch: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_stored(
        cls,
        stored: Mapping[str, StoredTable],
        source: Path | None = None,
        files: Mapping[str, Path] | None = None,
        warnings: tuple[str, ...] = (),
        scratch: Any = None,
    ) -> Dataset:
        """A dataset whose tables stay in their files (what :func:`read_dataset` returns)."""
        return cls(
            tables=StoredFrames(stored, None),
            source=source,
            files=dict(files or {}),
            warnings=warnings,
            stored=dict(stored),
            scratch=scratch,
        )

    #: how far the data is known to reach when that is more than its latest date (set by
    #: :meth:`as_of`: the full data went past the cutoff, even if nothing happened on the
    #: cutoff's last day)
    observed_until: pd.Timestamp | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name`` as a pandas frame, or ``None`` when the dataset does not have it.

        For a dataset read from a folder this loads the table into memory; code that must
        scale works on :meth:`register`'s SQL views instead.
        """
        return self.tables.get(name, None)

    def register(
        self, con: duckdb.DuckDBPyConnection, names: Mapping[str, Mapping[str, str]] | None = None
    ) -> None:
        """Make every table a view (or a registered frame) named after it in ``con``.

        ``names`` renames columns (table -> {column: name in the engine}), e.g. so that two
        columns differing only in case stay distinct (DuckDB resolves names without case).
        """
        names = names or {}
        if self.stored:
            for name, table in self.stored.items():
                sql = view_sql(table, self.cutoff, renames=names.get(name))
                con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
            return
        for name, frame in self.tables.items():
            renamed = {c: n for c, n in names.get(name, {}).items() if c != n}
            con.register(name, frame.rename(columns=renamed) if renamed else frame)

    def connect(
        self, names: Mapping[str, Mapping[str, str]] | None = None
    ) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection (:func:`churnlab.core.engine.connect`) holding the tables
        (columns renamed by ``names``, see :meth:`register`)."""
        con = engine.connect()
        self.register(con, names)
        return con

    def query(self, sql: str) -> pd.DataFrame:
        """The result of one SQL query over the tables, as a (small) pandas frame."""
        con = self.connect()
        try:
            return con.sql(sql).df()
        finally:
            con.close()

    def columns(self, name: str) -> dict[str, str]:
        """Column -> kind ('number', 'text' or 'date') of table ``name``, without loading it."""
        if self.stored:
            table = self.stored[name]
            return {c: SQL_KINDS.get(kind, kind) for c, (_, kind) in table.columns.items()}
        kinds = {}
        for col, series in self.tables[name].items():
            if pd.api.types.is_datetime64_any_dtype(series):
                kinds[col] = "date"
            elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                kinds[col] = "number"
            else:
                kinds[col] = "text"
        return kinds

    def rows(self, name: str) -> int:
        """The number of rows of table ``name`` (as of the dataset's cutoff)."""
        if not self.stored:
            return len(self.tables[name])
        return int(self.query(f'SELECT count(*) AS n FROM "{name}"')["n"].iloc[0])

    @property
    def customers(self) -> pd.DataFrame:
        return self.tables["customers"]

    @property
    def families(self) -> list[str]:
        """Driver families this dataset can feed, in :data:`FAMILY_ORDER`."""
        present = {TABLE_FAMILIES[t] for t in self.tables if t in TABLE_FAMILIES}
        return [f for f in FAMILY_ORDER if f in present]

    @property
    def usage_columns(self) -> list[str]:
        """The numeric activity columns of ``usage`` (everything but id and date)."""
        if "usage" not in self.tables:
            return []
        return [
            c
            for c, kind in self.columns("usage").items()
            if c not in ("customer_id", "date") and kind == "number"
        ]

    @cached_property
    def first_signup(self) -> pd.Timestamp:
        """The earliest ``signup_date`` (NaT when there is none)."""
        if not self.stored:
            return pd.Timestamp(self.customers["signup_date"].min())
        value = self.query("SELECT min(signup_date) AS v FROM customers")["v"].iloc[0]
        return pd.Timestamp(value) if pd.notna(value) else pd.NaT

    @cached_property
    def data_start(self) -> pd.Timestamp:
        """The earliest date in any date column."""
        return min(self._date_bounds("min"))

    @cached_property
    def data_end(self) -> pd.Timestamp:
        """How far the data reaches: the latest date in any date column.

        A month is complete, and a label window [cutoff, cutoff + h months) counts as observed
        (the snapshot is *labelled*), when ``data_end`` falls on or after its last day. For a
        dataset cut with :meth:`as_of` it is the last instant before the cutoff whenever the
        full data went past the cutoff: the cut knows the month before the cutoff was
        complete even on a day nothing happened. Computed once per Dataset (the tables never
        change; :meth:`as_of` makes a new Dataset).
        """
        if self.observed_until is not None:
            return self.observed_until
        return max(self._date_bounds("max"))

    def _date_bounds(self, how: str) -> list[pd.Timestamp]:
        if self.stored:
            return self._stored_bounds(how)
        bounds = []
        for name, frame in self.tables.items():
            for col in DATE_COLUMNS.get(name, ()):
                if col in frame.columns:
                    value = getattr(frame[col], how)()  # vectorised; skips missing values
                    if pd.notna(value):
                        bounds.append(pd.Timestamp(value))
        if not bounds:
            raise ValueError("dataset has no dates")
        return bounds

    def _stored_bounds(self, how: str) -> list[pd.Timestamp]:
        parts = [
            f'SELECT {how}("{col}") AS v FROM "{name}"'
            for name in self.stored
            for col in DATE_COLUMNS.get(name, ())
            if col in self.stored[name].columns
        ]
        values = self.query(" UNION ALL ".join(parts))["v"].dropna() if parts else []
        if not len(values):
            raise ValueError("dataset has no dates")
        return [pd.Timestamp(v) for v in values]

    def as_of(self, cutoff: pd.Timestamp) -> Dataset:
        """The dataset as it was known just before ``cutoff``.

        Rows dated at or after the cutoff are dropped (customers who signed up later,
        billing periods, tickets, steps, usage and answers from then on); facts that were not
        yet known become missing (a churn date or a resolution at or after the cutoff). A
        report for month M works on ``as_of(cutoff of M)``, so it cannot see the future.
        """
        cutoff = pd.Timestamp(cutoff)
        try:
            seen = min(self.data_end, cutoff - pd.Timedelta(microseconds=1))
        except ValueError:  # a dataset without any date
            seen = None
        if self.stored:
            cut = cutoff if self.cutoff is None else min(cutoff, self.cutoff)
            return replace(
                self, tables=StoredFrames(self.stored, cut), cutoff=cut, observed_until=seen
            )
        kept: dict[str, pd.DataFrame] = {}
        for name, frame in self.tables.items():
            date_col = EVENT_DATE.get(name)
            out = frame[frame[date_col] < cutoff] if date_col in frame.columns else frame
            out = out.copy()
            if name == "customers" and "churn_date" in out.columns:
                out.loc[out["churn_date"] >= cutoff, "churn_date"] = pd.NaT
            if name == "tickets" and "resolved_at" in out.columns:
                late = out["resolved_at"] >= cutoff
                out.loc[late, "resolved_at"] = pd.NaT
                # satisfaction is asked at resolution: unknown while the ticket is open
                if "csat" in out.columns:
                    out.loc[late, "csat"] = float("nan")
            kept[name] = out.reset_index(drop=True)
        return replace(self, tables=kept, observed_until=seen)
