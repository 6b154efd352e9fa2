"""The feature SQL on other engines: DuckDB SQL translated by sqlglot, and what it must avoid.

The feature definitions have one source, DuckDB SQL (:mod:`churnlab.features.sql`);
:func:`to_spark` translates a query to Spark SQL with sqlglot. sqlglot translates the
spelling, not always the meaning, so :func:`portability_problems` rejects the constructs known
to give different values (or to fail) on Spark, each with the portable form to use instead:

- ``date_diff('month' | 'quarter' | 'year', ...)``: DuckDB counts calendar boundaries, Spark
  whole elapsed units; write :data:`~churnlab.features.sql.core.MONTHS_SINCE`;
- ``date_diff`` in days or finer on timestamps: Spark counts whole elapsed units, DuckDB
  boundaries; write :data:`~churnlab.features.sql.core.DAYS_SINCE` (dates) or microseconds
  (exact on both);
- ASOF joins: sqlglot passes them through, Spark has none;
- ``generate_series``, ``range``, ``unnest``: series over months are counted differently and
  the row-producing forms do not translate; take calendars from the ``days`` table;
- a division with a decimal literal operand (``x / 30.4375``): Spark divides decimals with
  a rounded decimal result, DuckDB in doubles; cast to DOUBLE first;
- a ``RANGE`` window frame with an offset bound (``RANGE BETWEEN 3 PRECEDING AND 1
  PRECEDING``): DuckDB gave a different total now and then on the same data (so did Spark's
  comparison with it); write running totals (``ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT
  ROW``) over an order that is unique, and take differences of them (engagement's lifetime
  signals);
- ``median``/``quantile`` of doubles: the two engines interpolate between the middle values
  with different roundings; take the median of whole numbers, or write the mean of the two
  middle values out (price's plan medians).

NULLs stay NULLs: the Spark engine writes its result with Spark, and the DuckDB engine with
DuckDB, so no missing value turns into NaN on the way (pandas would).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

_CALENDAR_UNITS = ("MONTH", "MONTHS", "QUARTER", "QUARTERS", "YEAR", "YEARS")
_EXACT_UNITS = ("MICROSECOND", "MICROSECONDS")
_SERIES = tuple(
    getattr(exp, name)
    for name in ("GenerateSeries", "GenerateDateArray", "GenerateTimestampArray", "Unnest")
    if hasattr(exp, name)
) + tuple(getattr(exp, n) for n in ("Explode",) if hasattr(exp, n))


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit")
    return (unit.name if unit is not None else "DAY").upper()


def _is_date_cast(node: exp.Expression) -> bool:
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)


def _integral(node: exp.Expression) -> bool:
    """Whether a median's argument is whole numbers (a count or a difference in microseconds)."""
    return isinstance(node, exp.DateDiff) and _unit(node) in _EXACT_UNITS


def _range_with_offset(frame: exp.WindowSpec) -> bool:
    bounds = (frame.args.get("start"), frame.args.get("end"))
    return str(frame.args.get("kind") or "").upper() == "RANGE" and any(
        isinstance(bound, exp.Expression) for bound in bounds
    )


def portability_problems(sql: str) -> list[str]:
    """Constructs in ``sql`` (DuckDB dialect) that Spark would compute differently."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    problems = []
    for node in tree.walk():
        text = node.sql("duckdb")[:80]
        if isinstance(node, exp.DateDiff):
            unit = _unit(node)
            if unit in _CALENDAR_UNITS:
                problems.append(f"date_diff in {unit.lower()}s counts differently: {text}")
            elif unit not in _EXACT_UNITS and not (
                unit in ("DAY", "DAYS")
                and _is_date_cast(node.this)
                and _is_date_cast(node.expression)
            ):
                problems.append(f"date_diff in {unit.lower()}s on timestamps: {text}")
        elif isinstance(node, exp.Join) and "ASOF" in str(node.args.get("method") or "").upper():
            problems.append(f"an ASOF join: {text}")
        elif isinstance(node, _SERIES) or (
            isinstance(node, exp.Anonymous) and node.name.lower() in ("range", "generate_series")
        ):
            problems.append(f"a generated series: {text}")
        elif isinstance(node, (exp.Median, exp.PercentileCont, exp.Quantile)) and not _integral(
            node.this
        ):
            problems.append(f"a median of values that may not be whole numbers: {text}")
        elif isinstance(node, exp.WindowSpec) and _range_with_offset(node):
            problems.append(f"a RANGE frame with an offset: {text}")
        elif isinstance(node, exp.Div):
            for side in (node.left, node.right):
                if isinstance(side, exp.Literal) and not side.is_string and "." in side.this:
                    problems.append(f"a division by a decimal literal: {text}")
    return problems


def to_spark(sql: str) -> str:
    """``sql`` (DuckDB) as Spark SQL; raises ValueError when it holds a non-portable construct."""
    problems = portability_problems(sql)
    if problems:
        raise ValueError("feature SQL that does not port to Spark: " + "; ".join(problems))
    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]
