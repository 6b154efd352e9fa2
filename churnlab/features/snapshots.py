"""Monthly snapshots, their population and churn labels (docs/definitions.md).

A snapshot of month M has its cutoff at the first instant of M+1. Cancellation churn: the
population is every customer with ``signup_date < cutoff`` and no ``churn_date`` before the
cutoff; the label (horizon h) is a ``churn_date`` in ``[cutoff, cutoff + h months)``.
Inactivity churn (shops without cancellations): the population is every customer with a usage
row in ``[cutoff - N days, cutoff)``; the label is *no* usage row in ``[cutoff, cutoff + h
months)``. A label is known (the snapshot is *labelled*) only when the data reaches the last
day of its window (``data_end >= cutoff + h months - 1 day``); otherwise it is ``<NA>``.

Time to churn (cancellation churn only; docs/time-to-churn.md): the *closed months* of a
snapshot are the months k = 1, 2, ... after its cutoff whose last day the data reaches
(``data_end >= cutoff + k months - 1 day``). A customer who churns in month k (a ``churn_date`` in
``[cutoff + (k-1) months, cutoff + k months)``) of a closed month has ``months_to_churn = k`` and
``churn_event = 1``; everyone else is censored: ``months_to_churn`` = the closed months,
``churn_event = 0``, also when a churn date falls in the month the data only partly covers (that
month is not observed to its end, so it counts neither way). The label of horizon h is then
``churn_event = 1 and months_to_churn <= h``, known when ``closed >= h``.

Both are written as SQL over a ``snaps`` table (one row per snapshot) and run on DuckDB; the
same connection then serves the feature SQL (:mod:`churnlab.features`).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from churnlab.contract.dataset import Dataset
from churnlab.contract.schema import SCHEMA
from churnlab.core.churn import CANCELLATION, DEFAULT_CHURN, INACTIVITY, ChurnDefinition
from churnlab.core.errors import ChurnlabError, examples
from churnlab.core.months import (
    month_cutoff,
    month_of,
    month_range,
    months_between,
    parse_month,
    shift_month,
)
from churnlab.features.sql import LOOKUPS
from churnlab.features.sql.core import MONTHS_SINCE, engine_names

# the churn month k of a churn_date on or after the cutoff: cutoffs are month starts, so k - 1
# is the number of month boundaries between the cutoff and the churn date
_CHURN_MONTH = f"({MONTHS_SINCE.format(since='s.cutoff', until='c.churn_date')} + 1)"
_CANCELLATION_SQL = f"""
SELECT c.customer_id, s.sid, s.snapshot, s.cutoff,
  CAST(CASE WHEN s.labelled THEN
    CASE WHEN c.churn_date < s.window_end THEN 1 ELSE 0 END END AS TINYINT) AS churned,
  CAST(CASE WHEN {_CHURN_MONTH} <= s.closed THEN {_CHURN_MONTH} ELSE s.closed END
    AS SMALLINT) AS months_to_churn,
  CAST(CASE WHEN {_CHURN_MONTH} <= s.closed THEN 1 ELSE 0 END AS TINYINT) AS churn_event
FROM customers c JOIN snaps s ON c.signup_date < s.cutoff
WHERE c.churn_date IS NULL OR c.churn_date >= s.cutoff"""

_INACTIVITY_SQL = """
WITH active AS (
  SELECT DISTINCT u.customer_id, s.sid
  FROM usage u JOIN snaps s
    ON u.date >= s.cutoff - INTERVAL {days} DAY AND u.date < s.cutoff
), later AS (
  SELECT DISTINCT u.customer_id, s.sid
  FROM usage u JOIN snaps s ON u.date >= s.cutoff AND u.date < s.window_end
)
SELECT a.customer_id, s.sid, s.snapshot, s.cutoff,
  CAST(CASE WHEN s.labelled THEN
    CASE WHEN l.customer_id IS NULL THEN 1 ELSE 0 END END AS TINYINT) AS churned,
  CAST(NULL AS SMALLINT) AS months_to_churn, CAST(NULL AS TINYINT) AS churn_event
FROM active a JOIN snaps s ON s.sid = a.sid
JOIN customers c ON c.customer_id = a.customer_id
LEFT JOIN later l ON l.customer_id = a.customer_id AND l.sid = a.sid"""


def default_months(dataset: Dataset) -> list[str]:
    """Every month from the first signup month to the last month complete in the data.

    A month is complete when its last day is on or before ``dataset.data_end``.
    """
    first = month_of(dataset.first_signup)
    last = shift_month(month_of(dataset.data_end.normalize() + pd.Timedelta(days=1)), -1)
    months = month_range(first, last)
    if not months:
        raise ChurnlabError(
            f"The data ends on {dataset.data_end.date()}, before the first signup month "
            f"{first} is complete: there is no complete month to take a snapshot of."
        )
    return months


def check_arguments(
    dataset: Dataset, months: Sequence[str] | None, definition: ChurnDefinition
) -> list[str]:
    """Validate the snapshot arguments; return the months normalised, sorted, deduplicated.

    ``months=None`` means :func:`default_months`. Raises :class:`ChurnlabError` for
    inactivity churn without a usage table, and months before the first signup month or
    after the data's last month (the definition checked its own values when it was made).
    """
    if definition.churn == INACTIVITY and "usage" not in dataset.tables:
        raise ChurnlabError(
            "Inactivity churn needs the usage table (one row per customer and active day), "
            "and this dataset has none. Add usage.csv/usage.parquet or use "
            "--churn cancellation."
        )
    if months is None:
        return default_months(dataset)
    wanted = sorted({parse_month(m) for m in months})
    if not wanted:
        raise ChurnlabError("No snapshot months were given; give at least one month (YYYY-MM).")
    first = month_of(dataset.first_signup)
    last = month_of(dataset.data_end)
    outside = [m for m in wanted if m < first or m > last]
    if outside:
        raise ChurnlabError(
            f"{len(outside)} snapshot month(s) lie outside the data, which runs from the first "
            f"signup month {first} to {last}: {examples(outside)}. Pick months in that range."
        )
    return wanted


def snapshots_frame(dataset: Dataset, months: Sequence[str], horizon: int) -> pd.DataFrame:
    """One row per snapshot: ``sid`` (its position), ``snapshot``, ``cutoff``,
    ``window_end`` (cutoff + horizon months), ``labelled`` (the data reaches the window's
    last day) and ``closed`` (how many months after the cutoff the data covers to their last
    day). ``months`` must be sorted."""
    data_end = dataset.data_end  # scans every date column: once, not once per month
    cutoffs = [month_cutoff(m) for m in months]
    # the month after data_end's day is the first one not reached to its end
    first_open = month_of(data_end.normalize() + pd.Timedelta(days=1))
    ends = [month_cutoff(shift_month(m, horizon)) for m in months]
    last_day = [e - pd.Timedelta(days=1) for e in ends]
    return pd.DataFrame(
        {
            "sid": pd.Series(range(len(months)), dtype="int32"),
            "snapshot": pd.Series(list(months), dtype="string"),
            "cutoff": pd.to_datetime(cutoffs).astype("datetime64[us]"),
            "window_end": pd.to_datetime(ends).astype("datetime64[us]"),
            "labelled": [data_end >= d for d in last_day],
            "closed": pd.Series([max(months_between(m, first_open) - 1, 0) for m in months])
            .astype("int32")
            .to_numpy(),
        }
    )


#: days before the first cutoff the calendar starts (the longest feature window); it then
#: starts on that day's month start
CALENDAR_LEAD_DAYS = 90


def calendar_frame(snaps: pd.DataFrame) -> pd.DataFrame:
    """The ``days`` table: every day from the month start 90 days before the first cutoff to
    the last cutoff.

    Feature SQL takes its calendars (days, month starts) from it instead of generating series,
    which engines spell and count differently (features.sql.core).
    """
    first = (snaps["cutoff"].min() - pd.Timedelta(days=CALENDAR_LEAD_DAYS)).to_period("M")
    days = pd.date_range(first.start_time, snaps["cutoff"].max(), freq="D")
    return pd.DataFrame({"day": days.astype("datetime64[us]")})


def population_sql(definition: ChurnDefinition) -> str:
    """The SQL of ``pop``: each snapshot's population and label, numbered by ``rid``."""
    sql = _CANCELLATION_SQL if definition.churn == CANCELLATION else _INACTIVITY_SQL
    return (
        "SELECT *, "
        "CAST(row_number() OVER (ORDER BY sid, customer_id) - 1 AS BIGINT) AS rid "
        f"FROM ({sql.format(days=int(definition.inactive_days))}) x"
    )


def open_engine(
    dataset: Dataset, months: Sequence[str], definition: ChurnDefinition
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the dataset's tables, ``snaps`` and ``pop`` in it.

    ``pop`` holds ``customer_id, sid, snapshot, cutoff, churned, months_to_churn,
    churn_event`` and ``rid``: the population of every snapshot with its label and time to
    churn (NULL with inactivity churn), ``rid`` numbering the rows in snapshot-then-customer
    order. Arguments must have passed :func:`check_arguments`.
    """
    # memory-bounded, spilling (core.engine); every result is put in order at the end
    con = dataset.connect(engine_columns(dataset))
    snaps = snapshots_frame(dataset, months, definition.horizon)
    con.register("snaps_frame", snaps)
    con.execute("CREATE TEMP TABLE snaps AS SELECT * FROM snaps_frame")
    con.register("days_frame", calendar_frame(snaps))
    con.execute("CREATE TEMP TABLE days AS SELECT * FROM days_frame")
    for name, frame in LOOKUPS.items():
        con.register(f"{name}_frame", frame())
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_frame")
    con.execute(f"CREATE TEMP TABLE pop AS {population_sql(definition)}")
    return con


def engine_columns(dataset: Dataset) -> dict[str, dict[str, str]]:
    """table -> {column: its name in the engine} (:func:`~churnlab.features.sql.core.engine_names`)."""
    return {
        name: engine_names(list(dataset.columns(name)), SCHEMA.get(name, {}))
        for name in dataset.tables
    }


def snapshot_labels(
    dataset: Dataset, months: Sequence[str], definition: ChurnDefinition = DEFAULT_CHURN
) -> pd.DataFrame:
    """The population of each snapshot month and its churn label.

    Returns columns ``customer_id`` and ``snapshot`` (text ``YYYY-MM``) and ``churned``
    (nullable Int8: 1 churned within the definition's horizon after the cutoff, 0 stayed,
    ``<NA>`` when the data does not yet reach the end of the label window), sorted by snapshot
    and customer; see :class:`~churnlab.core.churn.ChurnDefinition` for the churn kinds. Bad
    arguments raise :class:`ChurnlabError`.
    """
    return _population(dataset, months, definition, {"churned": "Int8"})


def snapshot_times(
    dataset: Dataset, months: Sequence[str], definition: ChurnDefinition = DEFAULT_CHURN
) -> pd.DataFrame:
    """The population of each snapshot month and its time to churn (module docstring).

    Returns ``customer_id``, ``snapshot``, ``months_to_churn`` (nullable Int16: the churn
    month k >= 1, or the months observed without churn, 0 when not one month after the cutoff
    has closed) and ``churn_event`` (nullable Int8: 1 churned in month ``months_to_churn``,
    0 censored), sorted by snapshot and customer. With inactivity churn both are ``<NA>``:
    time to churn is defined for cancellations only (docs/time-to-churn.md says why).
    """
    return _population(
        dataset, months, definition, {"months_to_churn": "Int16", "churn_event": "Int8"}
    )


def _population(
    dataset: Dataset, months: Sequence[str], definition: ChurnDefinition, outcomes: dict[str, str]
) -> pd.DataFrame:
    """The population's ids and snapshots with the ``outcomes`` columns (name -> dtype)."""
    months = check_arguments(dataset, months, definition)
    con = open_engine(dataset, months, definition)
    try:
        columns = ", ".join(["customer_id", "snapshot", *outcomes])
        frame = con.sql(f"SELECT {columns} FROM pop ORDER BY rid").df()
    finally:
        con.close()
    types = {"customer_id": "string", "snapshot": "string", **outcomes}
    return pd.DataFrame({name: frame[name].astype(dtype) for name, dtype in types.items()})
