"""The in-memory form of a dataset in the data contract (docs/data-contract.md).

:class:`Dataset` holds one pandas DataFrame per table, already coerced to the contract's
types by :mod:`churnlab.contract`:

- ``customer_id``: pandas string dtype in every table (ids are labels, never numbers);
- dates and timestamps: naive ``datetime64[us]`` (values with a time zone are converted to UTC,
  finer digits such as pandas' nanoseconds are floored to the microsecond; an end date in 2099
  or later such as ``9999-12-31`` means "no end" and is missing);
- ``amount``, ``list_price``, ``discount``, ``csat``, ``score`` and usage activity columns:
  ``float64``; ``paid`` and ``escalated``: nullable ``boolean``; text columns: string dtype.

It is a plain value: functions downstream read it and never change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import pandas as pd

from churnlab.contract.schema import DATE_COLUMNS, EVENT_DATE
from churnlab.core.families import FAMILY_ORDER, TABLE_FAMILIES


@dataclass(frozen=True)
class Dataset:
    """Coerced, validated tables of one dataset folder (or made in memory)."""

    tables: dict[str, pd.DataFrame]
    source: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: how far the data is known to reach when that is more than its latest date (set by
    #: :meth:`as_of`: the full data went past the cutoff, even if nothing happened on the
    #: cutoff's last day)
    observed_until: pd.Timestamp | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name``, or ``None`` when the dataset does not have it."""
        return self.tables.get(name)

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
        usage = self.table("usage")
        if usage is None:
            return []
        return [
            c
            for c in usage.columns
            if c not in ("customer_id", "date") and pd.api.types.is_numeric_dtype(usage[c])
        ]

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
