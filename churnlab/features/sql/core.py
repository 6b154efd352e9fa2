"""Point-in-time feature definitions as SQL, one block per driver family (docs/definitions.md).

Every family is a :class:`Family` (one module per family): the table it reads, a ``base``
function that writes the family's SQL (common table expressions ending in one aggregate
``agg`` keyed by ``customer_id, sid``) and its :class:`Feature` list. A feature is one SQL
expression over ``agg`` (alias ``a``) and the population (alias ``p``: ``customer_id, sid,
cutoff, rid``), next to its registry entry (family, unit, description, reason template).
Adding a feature is one :class:`Feature` entry in its family's module (plus an aggregate
column in ``base`` when it needs a new one); :mod:`churnlab.features.registry` picks it up.

Snapshots are keyed by ``sid``, their position in month order. Point in time: an event
reaches a snapshot only when ``event_ts < cutoff`` (and after a lower bound for windowed
features), so nothing dated at or after a snapshot's cutoff can reach that snapshot.
The big tables avoid joining all history to every snapshot: "state as of the cutoff" (the
current billing period, the last active day) uses each row's validity interval ``[ts,
next_ts)``, computed once with window functions; usage is summed once into buckets between
window edges (a day -> bucket calendar, joined by equality); onboarding steps are grouped by
the first snapshot that knows them and summed forward. Cutoffs are month starts, which is
what lets these lookups be equality joins on months. The SQL sticks to joins, window
functions, CASE and plain aggregates, so that sqlglot transpiles it to Spark SQL and both
engines give the same values (:mod:`churnlab.features.portable` lists the constructs that do
not translate faithfully, and a test rejects them): calendars come from the ``days`` table
(every day from 90 days before the first cutoff to the last cutoff), never from
``generate_series``, and constant tables from ``LOOKUPS`` (:mod:`churnlab.features.sql`),
which every engine is given next to ``days``; whole months between two instants are written with ``year``/``month``
arithmetic (:data:`MONTHS_SINCE`), days between dates (:data:`DAYS_SINCE`); a division has no
decimal operand (a decimal quotient is rounded differently): decimals are cast to DOUBLE;
a median is of whole numbers, or the mean of the two middle values written out (engines
interpolate a median of doubles with different roundings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from churnlab.core.families import family

#: a date far in the future: the end of the validity interval of each customer's last row.
FOREVER = "TIMESTAMP '9999-12-31 00:00:00'"

#: A common table expression ``grid(m, k)``: for every month start ``m`` from the first to the
#: last cutoff, ``k`` = how many cutoffs fall on or before it. Cutoffs are month starts, so a
#: fact dated ``t`` is known to snapshots ``k(month of t)`` onwards (``k`` = 0 before the first
#: cutoff; facts dated at or after the last cutoff reach none). Families whose facts only
#: accumulate group them by ``k`` and carry the totals forward, instead of joining every fact
#: to every later snapshot.
SNAPSHOT_GRID = """grid AS (
  SELECT g.m, count(s.sid) AS k
  FROM (SELECT day AS m FROM days WHERE day = date_trunc('month', day)
          AND day >= (SELECT min(cutoff) FROM snaps)) g
  JOIN snaps s ON s.cutoff <= g.m
  GROUP BY g.m
)"""
#: A common table expression ``keys(customer_id, ck)``: a whole-number key for each customer
#: of the population (the first ``rid`` of the customer). The big per-customer windows and
#: groupings sort by it rather than by the text id, which is several times cheaper; joining
#: an event table to it also leaves out the customers no snapshot holds.
CUSTOMER_KEYS = """keys AS (
  SELECT customer_id, min(rid) AS ck FROM pop GROUP BY customer_id
)"""
#: calendar months from ``since`` to ``until`` (month boundaries crossed), the same on every
#: engine (``date_diff('month', ...)`` counts boundaries in DuckDB, whole months in Spark)
MONTHS_SINCE = "((year({until}) * 12 + month({until})) - (year({since}) * 12 + month({since})))"
#: calendar days from ``since`` to ``until`` (midnights crossed), the same on every engine
#: (on timestamps Spark's day difference counts whole 24-hour days, DuckDB's midnights)
DAYS_SINCE = "date_diff('day', CAST({since} AS DATE), CAST({until} AS DATE))"
#: ``next_k`` of a customer's last group: beyond every snapshot
NO_LATER_K = 2147483647


@dataclass(frozen=True)
class Feature:
    """One feature: its SQL expression and what the registry says about it."""

    name: str
    sql: str
    unit: str
    description: str
    template: str
    #: optional table columns it needs (the feature is left out when one is missing)
    requires: tuple[str, ...] = ()
    #: for flags: the phrase when the flag is 0 (``template`` says the flag is 1)
    template_no: str = ""
    #: driver credit keeps it at the customer's value although its family is actionable: it
    #: mostly stands for who the customer is (docs/definitions.md, "Driver credit")
    held: bool = False


class Schema(dict):
    """table name -> {column name: kind}, kind one of 'number', 'text', 'date', for the tables
    the dataset has (flags count as numbers: SQL sees them as 0/1).

    ``names`` maps a table's columns to the names the engine knows them by (see
    :func:`engine_names`): the column's own name unless two columns differ only in case.
    ``precomputed`` names the population-wide tables (:attr:`Family.shared`) the engine
    already holds, computed over every customer: features computed a slice of customers at
    a time (:mod:`churnlab.features.slices`) read them instead of their slice's own.
    """

    def __init__(
        self,
        kinds=(),
        names: dict[str, dict[str, str]] | None = None,
        precomputed: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(kinds)
        self.names = names or {}
        self.precomputed = precomputed


def shared_cte(schema: Schema, table: str, sql: str) -> str:
    """The body of a population-wide common table expression (one of :attr:`Family.shared`):
    ``sql``, or a read of ``table`` when the engine holds it precomputed."""
    return f"SELECT * FROM {table}" if table in schema.precomputed else sql


def column_sql(schema: dict, table: str, col: str) -> str:
    """The quoted identifier of a data column in the engine (``schema`` may be a plain dict)."""
    names = getattr(schema, "names", {})
    return quote(names.get(table, {}).get(col, col))


def engine_names(columns: Sequence[str], keep: Iterable[str] = ()) -> dict[str, str]:
    """column -> a name no other column of the table shares, ignoring letter case.

    DuckDB resolves identifiers case-insensitively, even quoted ones, so ``sessions`` and
    ``Sessions`` in one table would both read the first. The columns in ``keep`` (the
    contract's, which the SQL names literally) and then the others in table order keep their
    name when it is free; a later one that differs only in case becomes ``Sessions_2`` (or
    ``_3``, ... whichever is free). Same columns, same names, every run.
    """
    keep = set(keep)
    taken: set[str] = set()
    out: dict[str, str] = {}
    for col in [c for c in columns if c in keep] + [c for c in columns if c not in keep]:
        name, k = str(col), 2
        while name.lower() in taken:
            name, k = f"{col}_{k}", k + 1
        taken.add(name.lower())
        out[col] = name
    return {c: out[c] for c in columns}


@dataclass(frozen=True)
class Family:
    """A driver family: the table that turns it on, its base SQL and its features.

    ``base(schema)`` returns the SQL up to the ``agg`` expression. ``patterns`` are features
    repeated for each data column that ``columns(schema)`` names (each usage column, each
    customer attribute): their fields hold ``{col}`` (the column; its snake_case form in the
    name), their SQL ``{i}`` (the column's position) and ``{q}`` (the quoted column name).

    Every feature is a fact about one customer, except where a family compares a customer
    with everyone at the same cutoff: ``shared`` pairs the table name of each such
    population-wide part with the common table expression of ``base`` that computes it (whose
    body is written with :func:`shared_cte`), so that features computed a slice of customers
    at a time can compute it once over everyone.
    """

    name: str
    base: Callable[[Schema], str]
    features: tuple[Feature, ...] = ()
    patterns: tuple[Feature, ...] = ()
    columns: Callable[[Schema], dict[str, str]] | None = None
    shared: tuple[tuple[str, str], ...] = ()

    @property
    def table(self) -> str:
        """The contract table that turns the family on (from the family registry)."""
        return family(self.name).table

    def available(self, schema: Schema) -> list[Feature]:
        """The features this dataset can feed: ``requires`` entries are ``col`` or ``a|b``."""
        cols = set(schema.get(self.table, ()))
        fixed = [
            f
            for f in self.features
            if all(any(alt in cols for alt in need.split("|")) for need in f.requires)
        ]
        repeated = []
        if self.columns is not None:
            # columns(schema): data column -> its snake_case name part
            for i, (col, part) in enumerate(self.columns(schema).items()):
                kind = schema[self.table].get(col, "number")
                ident = column_sql(schema, self.table, col)
                repeated += [_expand(p, col, part, i, kind, ident) for p in self.patterns]
        return fixed + repeated


def _expand(pattern: Feature, col: str, part: str, index: int, kind: str, ident: str) -> Feature:
    """A pattern feature for one data column; unit ``{kind}`` means category for text.

    ``ident`` is the column's quoted name in the engine (``{q}`` in the pattern's SQL).
    """
    unit = pattern.unit
    if unit == "{kind}":
        unit = "category" if kind == "text" else "value"
    return Feature(
        name=pattern.name.format(col=part),
        sql=pattern.sql.format(i=index, q=ident),
        unit=unit.format(col=col),
        description=pattern.description.format(col=col),
        template=pattern.template.format(col=col),
        requires=pattern.requires,
        held=pattern.held,
    )


def distinct_parts(
    columns: Iterable[str], patterns: Sequence[Feature], fixed: Iterable[str] = ()
) -> dict[str, str]:
    """Data column -> the name part of its pattern features, so that no two names clash.

    The part is the column's snake_case form, or that form with ``_2``, ``_3``, ... when one
    of its features' names is taken: by a fixed feature of the family (a usage column called
    ``active_days`` next to ``engagement_active_days_30d``), or by an earlier column that
    snake-cases alike (``sessions`` and ``Sessions``). Columns are taken in table order, so
    the names are the same on every run.
    """
    taken = set(fixed)
    parts: dict[str, str] = {}
    for col in columns:
        base = snake(col)
        part, k = base, 2
        while any(p.name.format(col=part) in taken for p in patterns):
            part, k = f"{base}_{k}", k + 1
        taken |= {p.name.format(col=part) for p in patterns}
        parts[col] = part
    return parts


def snake(name: str) -> str:
    """A column name as a snake_case feature-name part: 'Sessions (web)' -> 'sessions_web'."""
    out = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return out or "column"


def quote(name: str) -> str:
    """A SQL identifier in double quotes (names from the user's data may hold anything)."""
    return '"' + name.replace('"', '""') + '"'


def family_query(family: Family, schema: Schema, features: list[Feature]) -> str:
    """The full query of one family: one row per population row, one column per feature.

    Rows are identified by the population's row number ``rid`` (its position in the
    snapshot-then-customer order), so the families' results line up without another join.

    Features whose unit is ``category`` stay text; every other feature is a DOUBLE.
    """
    select = ",\n  ".join(
        f"CAST({f.sql} AS {'VARCHAR' if f.unit == 'category' else 'DOUBLE'}) AS {quote(f.name)}"
        for f in features
    )
    return (
        f"{family.base(schema)}\n"
        f"SELECT p.rid,\n  {select}\n"
        "FROM pop p LEFT JOIN agg a ON a.customer_id = p.customer_id AND a.sid = p.sid"
    )
