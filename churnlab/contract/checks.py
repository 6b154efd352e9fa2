"""Validation of a dataset folder in SQL, out of core (the rules of docs/data-contract.md).

The same rules and the same messages as the in-memory checks (:mod:`churnlab.contract.coerce`,
:mod:`churnlab.contract.rules`), computed by DuckDB over the files (:mod:`churnlab.contract.scan`):
each rule is a count and, when it is not zero, a query for the first five offending rows in
file order. Tables are never loaded into pandas; what validation leaves is a
:class:`~churnlab.contract.stored.StoredTable` per table, which the feature engines scan.
"""

from __future__ import annotations

import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from churnlab.contract.coerce import (
    DATE_FORMAT_HINT,
    _fmt_offset,
    check_columns,
    mixed_zones,
    nested_contract_finding,
    nested_extra_finding,
    unreadable_numbers,
)
from churnlab.contract.findings import (
    ERROR,
    MAX_EXAMPLES,
    Finding,
    error,
    plural,
    show,
    warning,
)
from churnlab.contract.rules import (
    ACTION_GROUPS,
    ACTIVITY_TABLES,
    POST_CHURN_GRACE,
    RANGES,
    bad_group_finding,
    date_range_finding,
    finite_finding,
    missing_customer_ids,
    no_action_finding,
    orphan_findings,
    show_id,
    spelling_finding,
)
from churnlab.contract.scan import (
    ARROW_NULLS_SQL,
    PLANS,
    ROW,
    ColumnPlan,
    RawTable,
    date_plan,
    extra_kind,
    id_kind,
    id_plan,
    is_float,
    is_nested,
    no_end,
    open_raw,
    quote,
    trimmed,
)
from churnlab.contract.schema import (
    DATE,
    DATE_COLUMNS,
    EARLIEST_DATE,
    END_DATES,
    EVENT_DATE,
    FAR_FUTURE,
    ID,
    MAX_MAGNITUDE,
    NUMBER,
    SCHEMA,
    TEXT,
)
from churnlab.contract.stored import StoredTable
from churnlab.core import engine
from churnlab.core.engine import sql_literal

__all__ = ["Scratch", "check_files"]


class _Header:
    """The column names and row count of a file: all that :func:`check_columns` looks at."""

    def __init__(self, columns, rows: int) -> None:
        self.columns, self._rows = list(columns), rows

    def __len__(self) -> int:
        return self._rows


@dataclass
class SqlTables:
    """What the SQL checks leave: each table's typed relation and how it stores its ids."""

    con: duckdb.DuckDBPyConnection
    scratch: Path
    typed: dict[str, StoredTable] = field(default_factory=dict)
    id_kinds: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


class Scratch:
    """A scratch folder removed when the dataset that uses it is garbage-collected."""

    def __init__(self, root: str | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="churnlab-data-", dir=root))
        self._finalizer = weakref.finalize(self, _remove, str(self.path))


def _remove(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def check_files(
    files: dict[str, Path], scratch: Scratch
) -> tuple[list[Finding], dict[str, StoredTable], dict[str, str]]:
    """Every rule of the contract over the table files; returns the findings (in the order
    they were found), the stored tables (orphans filtered) and each table's id kind."""
    con = engine.connect()
    state = SqlTables(con, scratch.path)
    findings: list[Finding] = []
    broken: set[tuple[str, str]] = set()
    try:
        for name in SCHEMA:
            if name not in files:
                continue
            raw, problems = open_raw(con, name, files[name], scratch.path)
            findings += problems
            if raw is None:
                continue
            header = _Header(raw.header, raw.rows)
            findings += check_columns(name, header)
            coercion = _coerce(state, raw, raw.from_csv)
            broken |= {(f.table, f.column) for f in coercion if f.severity == ERROR}
            findings += coercion
        findings += _value_rules(state, broken)
        _normalise_actions(state)
        stored = dict(state.typed)
        customers = stored.get("customers")
        if customers is not None and "customer_id" in customers.columns:
            links, stored = _link_rules(state)
            findings += links
        return findings, stored, state.id_kinds
    finally:
        con.close()


# ---- coercion -------------------------------------------------------------------------------


def _coerce(state: SqlTables, raw: RawTable, from_csv: bool) -> list[Finding]:
    """Plan each column's conversion, report what does not convert, keep the typed table."""
    con, table = state.con, raw.name
    plans: list[ColumnPlan] = []
    kept: dict[str, str] = {}
    nested: list[str] = []
    findings: list[Finding] = []
    state.id_kinds[table] = "missing"
    for name, kind in raw.types.items():
        col = quote(name)
        spec = SCHEMA[table].get(name, (None,))[0]
        if is_nested(kind):
            n, example = _first_value(con, raw, col)
            if spec is not None and n:
                findings.append(nested_contract_finding(table, name, n, example))
            elif n:
                nested.append(name)
            continue
        if spec == ID:
            state.id_kinds[table] = id_kind(kind)
            whole = is_float(kind) and _whole(con, raw, col)
            plans.append(id_plan(name, col, kind, whole))
            continue
        if spec is None:
            spec, csv_type = extra_kind(con, raw, name, from_csv)
            if csv_type == "TIMESTAMP":
                spec = DATE
            elif spec is None:
                kept[name] = csv_type or kind
                plans.append(_kept_plan(name, col, csv_type or kind, from_csv))
                continue
        if spec == DATE:
            plans.append(_date(con, raw, name, col, kind))
        else:
            plans.append(PLANS[spec](name, col, kind))
    if nested and table in ("customers", "usage"):  # elsewhere extra columns are never read
        findings.append(nested_extra_finding(table, nested, raw.rows))
    for plan in plans:
        findings += _conversion_findings(con, raw, plan)
    typed = _keep_typed(state, raw, plans, from_csv, findings)
    state.typed[table] = typed
    state.rows[table] = raw.rows
    return findings


def _kept_plan(name: str, col: str, kind: str, from_csv: bool = False) -> ColumnPlan:
    """An extra column kept as the type it is stored as (or a CSV reader would infer: then
    its empty cells and pyarrow's null words are missing)."""
    from churnlab.contract.schema import BOOL

    value = col
    if from_csv and kind != "VARCHAR":
        value = f"CASE WHEN {col} = '' OR {col} IN {ARROW_NULLS_SQL} THEN NULL ELSE {col} END"
    if kind == "BOOLEAN":
        return ColumnPlan(name, BOOL, f"CAST({value} AS BOOLEAN)")
    if kind in ("BIGINT",) or kind.endswith("INT") or kind == "INTEGER":
        return ColumnPlan(name, "integer", f"CAST({value} AS BIGINT)")
    if kind in ("DOUBLE", "FLOAT", "REAL") or kind.startswith("DECIMAL"):
        return ColumnPlan(name, NUMBER, f"CAST({value} AS DOUBLE)")
    text = col if kind == "VARCHAR" else f"CAST({col} AS VARCHAR)"
    return ColumnPlan(name, TEXT, f"NULLIF({text}, '')" if from_csv else text)


def _first_value(con, raw: RawTable, col: str):
    """How many values a column holds, and the first of them in file order."""
    n = con.execute(f"SELECT count({col}) FROM {raw.relation}").fetchone()[0]
    if not n:
        return 0, None
    first = con.execute(
        f"SELECT {col} FROM {raw.relation} WHERE {col} IS NOT NULL ORDER BY {ROW} LIMIT 1"
    ).fetchone()[0]
    return int(n), first


def _whole(con, raw: RawTable, col: str) -> bool:
    bad = con.execute(
        f"SELECT count(*) FROM {raw.relation} WHERE {col} IS NOT NULL AND NOT isnan({col}) "
        f"AND {col} <> round({col})"
    ).fetchone()[0]
    return bad == 0


_MIXED = "mixed"


def _date(con, raw: RawTable, name: str, col: str, kind: str) -> ColumnPlan:
    """A date column's plan; text with time zones is parsed as UTC when they agree."""
    plan = date_plan(name, col, kind)
    if plan.text is None:
        return plan
    aware, naive = con.execute(
        f"SELECT count(CASE WHEN {plan.zone} <> '' THEN 1 END), "
        f"count(CASE WHEN {plan.zone} = '' THEN 1 END) FROM {raw.relation} "
        f"WHERE {plan.text} IS NOT NULL"
    ).fetchone()
    if not aware:
        return plan
    return date_plan(name, col, kind, aware=True) if not naive else plan


def _conversion_findings(con, raw: RawTable, plan: ColumnPlan) -> list[Finding]:
    if plan.text is None:
        return []
    table, col = raw.name, plan.name
    if plan.zone is not None:
        zone_problem = _zone_findings(con, raw, plan)
        if zone_problem:
            return [zone_problem]
    n_bad, examples = _bad_values(con, raw, plan)
    if not n_bad:
        return []
    if plan.kind == DATE:
        return [
            error(
                table,
                col,
                n_bad,
                f"{plural(n_bad, 'value')} cannot be read as a date (expected {DATE_FORMAT_HINT})",
                "Re-export the column in ISO 8601 format; leave the cell empty when there is no date",
                examples,
            )
        ]
    if plan.kind == NUMBER:
        return [unreadable_numbers(table, col, n_bad, examples)]
    return [
        error(
            table,
            col,
            n_bad,
            f"{plural(n_bad, 'value')} cannot be read as yes/no",
            f"Use true/false, 1/0 or yes/no in {col}; leave the cell empty when unknown",
            examples,
        )
    ]


def _bad_values(con, raw: RawTable, plan: ColumnPlan) -> tuple[int, list[str]]:
    bad = f"{plan.text} IS NOT NULL AND ({plan.sql}) IS NULL"
    n = con.execute(f"SELECT count(*) FROM {raw.relation} WHERE {bad}").fetchone()[0]
    if not n:
        return 0, []
    rows = con.execute(
        f"SELECT {ROW}, {plan.text} FROM {raw.relation} WHERE {bad} ORDER BY {ROW} "
        f"LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    return int(n), [f"row {r + 1} ({plan.name} {show(v)})" for r, v in rows]


def _zone_findings(con, raw: RawTable, plan: ColumnPlan) -> Finding | None:
    """Mixed time zones: values with and without one, or offsets of several zones."""
    rel, zone, text = raw.relation, plan.zone, plan.text
    aware, naive = con.execute(
        f"SELECT count(CASE WHEN {zone} <> '' THEN 1 END), "
        f"count(CASE WHEN {zone} = '' THEN 1 END) FROM {rel} WHERE {text} IS NOT NULL"
    ).fetchone()
    if not aware:
        return None
    table, col = raw.name, plan.name
    if naive:
        first = {}
        for label, cond in (("aware", f"{zone} <> ''"), ("naive", f"{zone} = ''")):
            first[label] = con.execute(
                f"SELECT {text} FROM {rel} WHERE {text} IS NOT NULL AND {cond} "
                f"ORDER BY {ROW} LIMIT 1"
            ).fetchone()[0]
        examples = [f"{first['aware']!r} has a time zone", f"{first['naive']!r} has none"]
        message = (
            f"{plural(int(naive), 'value')} without a time zone next to {int(aware):,} with "
            "one, so the instant they mean is unknown"
        )
        return mixed_zones(table, col, int(naive), examples, message)
    # offsets in minutes east of UTC, most frequent first (ties: first seen first)
    rows = con.execute(
        f"SELECT {_offset_sql(zone)} AS m, count(*) AS n, min({ROW}) AS first FROM {rel} "
        f"WHERE {text} IS NOT NULL AND {zone} <> '' GROUP BY m ORDER BY n DESC, first"
    ).fetchall()
    distinct = [(int(m), int(n)) for m, n, _ in rows]
    dst_pair = len(distinct) == 2 and abs(distinct[0][0] - distinct[1][0]) == 60
    if len(distinct) > 1 and not dst_pair:
        examples = [f"{plural(n, 'value')} at UTC{_fmt_offset(m)}" for m, n in distinct]
        message = f"values in {len(distinct)} different UTC offsets (several sources?)"
        return mixed_zones(table, col, int(aware), examples, message)
    return None


def _offset_sql(zone: str) -> str:
    digits = f"replace(upper({zone}), ':', '')"
    digits = f"CASE WHEN {digits} = 'Z' THEN '+0000' ELSE {digits} END"
    sign = f"CASE WHEN left({digits}, 1) = '-' THEN -1 ELSE 1 END"
    hours = f"CAST(substr({digits}, 2, 2) AS INTEGER)"
    minutes = f"coalesce(TRY_CAST(NULLIF(substr({digits}, 4, 2), '') AS INTEGER), 0)"
    return f"{sign} * ({hours} * 60 + {minutes})"


def _keep_typed(
    state: SqlTables,
    raw: RawTable,
    plans: list[ColumnPlan],
    from_csv: bool,
    findings: list[Finding],
) -> StoredTable:
    """The typed table: casts over the file, or a typed copy when values had to be parsed."""
    failed = {f.column for f in findings}
    exprs = {}
    for plan in plans:
        # a column whose time zones clash is unusable as a whole (as in coerce_date)
        zone_clash = plan.zone is not None and any(
            f.column == plan.name and "time zones" in f.message for f in findings
        )
        expr = "CAST(NULL AS TIMESTAMP)" if zone_clash and plan.name in failed else plan.sql
        if plan.name in END_DATES.get(raw.name, ()):
            expr = no_end(expr)
        exprs[plan.name] = expr
    kinds = {plan.name: plan.kind for plan in plans}
    parsed = from_csv or any(plan.text is not None for plan in plans)
    if not parsed:
        columns = {n: (e, kinds[n]) for n, e in exprs.items()}
        return StoredTable(raw.name, raw.relation, columns, ROW, files=(raw.path,))
    out = state.scratch / f"{raw.name}.parquet"
    select = ", ".join([f"{ROW}"] + [f"{e} AS {quote(n)}" for n, e in exprs.items()])
    state.con.execute(
        f"COPY (SELECT {select} FROM {raw.relation}) TO {sql_literal(out)} "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    relation = f"read_parquet({sql_literal(out)})"
    columns = {n: (quote(n), kinds[n]) for n in exprs}
    return StoredTable(raw.name, relation, columns, ROW, files=(out,))


# ---- value rules ----------------------------------------------------------------------------


def _rel(state: SqlTables, table: str) -> str:
    typed = state.typed[table]
    cols = ", ".join(
        [f"{typed.order} AS {ROW}"] + [f"{e} AS {quote(n)}" for n, (e, _) in typed.columns.items()]
    )
    return f"(SELECT {cols} FROM {typed.relation})"


def _count(state: SqlTables, table: str, condition: str) -> int:
    sql = f"SELECT count(*) FROM {_rel(state, table)} t WHERE {condition}"
    return int(state.con.execute(sql).fetchone()[0])


def _examples(state: SqlTables, table: str, condition: str, columns: list[str]) -> list[str]:
    """``row 4 (customer_id 'C1', amount -3)`` for the first offending rows in file order."""
    present = [c for c in columns if c in state.typed[table].columns]
    cols = "".join(f", {quote(c)}" for c in present)
    rows = state.con.execute(
        f"SELECT {ROW}{cols} FROM {_rel(state, table)} t WHERE {condition} "
        f"ORDER BY {ROW} LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    out = []
    for row in rows:
        parts = [f"{c} {show(_value(v))}" for c, v in zip(present, row[1:], strict=True)]
        out.append(f"row {row[0] + 1} ({', '.join(parts)})")
    return out


def _value(value):
    """A value fetched from DuckDB as the in-memory checks see it (dates as Timestamps)."""
    import datetime

    if isinstance(value, datetime.datetime | datetime.date):
        return pd.Timestamp(value)
    return value


def _value_rules(state: SqlTables, broken: set[tuple[str, str]]) -> list[Finding]:
    findings: list[Finding] = []
    typed = state.typed
    if "customers" in typed and "customer_id" in typed["customers"].columns:
        findings += _customer_ids(state)
    for table in typed:
        date_col = EVENT_DATE.get(table)
        if date_col in typed[table].columns and (table, date_col) not in broken:
            condition = f"{quote(date_col)} IS NULL"
            n = _count(state, table, condition)
            if n:
                findings.append(
                    error(
                        table,
                        date_col,
                        n,
                        f"{plural(n, 'row', 'have')} no {date_col}",
                        f"Every {table} row needs its {date_col} to be placed in time; fill it "
                        "in or remove those rows",
                        _examples(state, table, condition, ["customer_id"]),
                    )
                )
    pairs = (("customers", "signup_date", "churn_date"), ("tickets", "opened_at", "resolved_at"))
    for table, start, end in pairs:
        if table in typed and {start, end} <= set(typed[table].columns):
            condition = f"{quote(end)} < {quote(start)}"
            n = _count(state, table, condition)
            if n:
                action = (
                    "Fix the export, or leave resolved_at empty for tickets still open"
                    if end == "resolved_at"
                    else "Fix the dates; leave churn_date empty for customers who have not churned"
                )
                findings.append(
                    error(
                        table,
                        end,
                        n,
                        f"{plural(n, 'row', 'have')} {end} before {start}",
                        action,
                        _examples(state, table, condition, ["customer_id", start, end]),
                    )
                )
    for table in typed:
        for col in DATE_COLUMNS.get(table, ()):
            if col in typed[table].columns and (table, col) not in broken:
                findings += _date_range(state, table, col)
        for col in _number_columns(state, table):
            if (table, col) not in broken:
                findings += _finite(state, table, col)
    for table, col, low, high, scale in RANGES:
        if table in typed and col in typed[table].columns and (table, col) not in broken:
            upper = "" if high == float("inf") else f" OR {quote(col)} > {high!r}"
            # values beyond any size are reported by _finite, once
            condition = (
                f"({quote(col)} < {low!r}{upper}) AND abs({quote(col)}) <= {MAX_MAGNITUDE!r}"
            )
            n = _count(state, table, condition)
            if n:
                where = f"below {low:g}" if high == float("inf") else f"outside {low:g}..{high:g}"
                findings.append(
                    error(
                        table,
                        col,
                        n,
                        f"{plural(n, 'value')} {where} ({scale})",
                        f"Correct or blank those {col} values",
                        _examples(state, table, condition, ["customer_id", col]),
                    )
                )
    if "actions" in typed:
        findings += _action_rules(state, broken)
    if "usage" in typed:
        usage = typed["usage"]
        numeric = [
            c
            for c, (_, kind) in usage.columns.items()
            if c not in ("customer_id", "date") and kind in (NUMBER, "integer", "bool")
        ]
        if not numeric:
            findings.append(
                error(
                    "usage",
                    None,
                    state.rows["usage"],
                    f"no numeric activity column (columns found: {list(usage.columns)})",
                    "Add at least one numeric column such as sessions, events or minutes",
                )
            )
    return findings


def _timestamp(value: pd.Timestamp) -> str:
    return f"TIMESTAMP {sql_literal(value.isoformat(sep=' '))}"


def _date_range(state: SqlTables, table: str, col: str) -> list[Finding]:
    """Dates before 1901 or from 2099 on (rules._date_range, in SQL)."""
    c = quote(col)
    early, late = f"{c} < {_timestamp(EARLIEST_DATE)}", f"{c} >= {_timestamp(FAR_FUTURE)}"
    n_early, n_late = state.con.execute(
        f"SELECT count(CASE WHEN {early} THEN 1 END), count(CASE WHEN {late} THEN 1 END) "
        f"FROM {_rel(state, table)} t"
    ).fetchone()
    if not n_early and not n_late:
        return []
    examples = _examples(state, table, f"({early} OR {late})", ["customer_id", col])
    return [date_range_finding(table, col, int(n_early), int(n_late), examples)]


def _number_columns(state: SqlTables, table: str) -> list[str]:
    """The contract's number columns present, and usage's numeric activity columns."""
    columns = state.typed[table].columns
    numbers = [c for c, (kind, _) in SCHEMA[table].items() if kind == NUMBER and c in columns]
    if table == "usage":
        numbers += [
            c
            for c, (_, kind) in columns.items()
            if c not in ("customer_id", "date") and kind == NUMBER and c not in numbers
        ]
    return [c for c in numbers if columns[c][1] == NUMBER]


def _finite(state: SqlTables, table: str, col: str) -> list[Finding]:
    """Infinite numbers and numbers beyond +-1e15 (rules._finite, in SQL)."""
    c = quote(col)
    bad = f"(NOT isnan({c}) AND abs({c}) > {MAX_MAGNITUDE!r})"
    n, infinite = state.con.execute(
        f"SELECT count(CASE WHEN {bad} THEN 1 END), count(CASE WHEN isinf({c}) THEN 1 END) "
        f"FROM {_rel(state, table)} t"
    ).fetchone()
    if not n:
        return []
    examples = _examples(state, table, bad, ["customer_id", col])
    return [finite_finding(table, col, int(n), int(infinite), examples)]


def _action_text(expr: str) -> str:
    """Action names and groups as compared: surrounding spaces dropped, empty as missing."""
    return f"NULLIF({trimmed(expr)}, '')"


def _action_rules(state: SqlTables, broken: set[tuple[str, str]]) -> list[Finding]:
    """Actions without a name, groups other than treatment or control (rules.action_rules)."""
    columns = state.typed["actions"].columns
    findings: list[Finding] = []
    if "action" in columns and ("actions", "action") not in broken:
        empty = f"{_action_text(quote('action'))} IS NULL"
        n = _count(state, "actions", empty)
        if n:
            examples = _examples(state, "actions", empty, ["customer_id", "sent_at"])
            findings.append(no_action_finding(n, examples))
    if "group" in columns and ("actions", "group") not in broken:
        group = f"lower({_action_text(quote('group'))})"
        known = ", ".join(sql_literal(g) for g in ACTION_GROUPS)
        bad = f"({group} IS NOT NULL AND {group} NOT IN ({known}))"
        n = _count(state, "actions", bad)
        if n:
            findings.append(
                bad_group_finding(n, _examples(state, "actions", bad, ["customer_id", "group"]))
            )
    return findings


def _normalise_actions(state: SqlTables) -> None:
    """``actions`` with ``action`` trimmed and ``group`` as treatment/control (an empty group
    is a treatment; rules.normalise_actions)."""
    typed = state.typed.get("actions")
    if typed is None:
        return
    columns = dict(typed.columns)
    if "action" in columns:
        columns["action"] = (_action_text(columns["action"][0]), TEXT)
    default = sql_literal(ACTION_GROUPS[0])
    if "group" in columns:
        group = f"lower({_action_text(columns['group'][0])})"
        columns["group"] = (f"coalesce({group}, {default})", TEXT)
    else:
        columns["group"] = (default, TEXT)
    state.typed["actions"] = StoredTable(
        typed.name, typed.relation, columns, typed.order, typed.keep, typed.files
    )


def _customer_ids(state: SqlTables) -> list[Finding]:
    findings = []
    n = _count(state, "customers", "customer_id IS NULL")
    if n:
        findings.append(
            missing_customer_ids(
                n, _examples(state, "customers", "customer_id IS NULL", ["signup_date"])
            )
        )
    rel = _rel(state, "customers")
    rows, ids = state.con.execute(
        f"SELECT coalesce(sum(n), 0), count(*) FROM (SELECT count(*) AS n FROM {rel} t "
        "WHERE customer_id IS NOT NULL GROUP BY customer_id HAVING count(*) > 1)"
    ).fetchone()
    if ids:
        repeated = state.con.execute(
            f"SELECT customer_id, list({ROW} + 1 ORDER BY {ROW})[1:4] FROM {rel} t "
            "WHERE customer_id IS NOT NULL GROUP BY customer_id HAVING count(*) > 1 "
            f"ORDER BY min({ROW}) LIMIT {MAX_EXAMPLES}"
        ).fetchall()
        examples = [f"{v!r} on rows {', '.join(map(str, r))}" for v, r in repeated]
        findings.append(
            error(
                "customers",
                "customer_id",
                int(rows),
                f"{plural(int(ids), 'customer_id', 'appear')} more than once ({int(rows):,} rows); "
                "customers must have one row per customer",
                "Remove the duplicate rows, or give distinct customers distinct ids",
                examples,
            )
        )
    return findings


# ---- link rules -----------------------------------------------------------------------------


def _normalise(expr: str) -> str:
    """Ids with every spelling difference of rules._SPELLINGS undone, in the same order:
    surrounding spaces, a '.0' ending, leading zeros, letter case."""
    whole = f"regexp_replace({trimmed(expr)}, '\\.0+$', '')"
    stripped = f"CASE WHEN ltrim({whole}, '0') = '' THEN '0' ELSE ltrim({whole}, '0') END"
    return f"lower({stripped})"


def _link_rules(state: SqlTables) -> tuple[list[Finding], dict[str, StoredTable]]:
    """Orphans (dropped, with a warning), ids that differ only in zero padding (an error),
    activity long after the churn date (a warning); returns the tables without orphans."""
    con = state.con
    customers = _rel(state, "customers")
    known = f"(SELECT customer_id FROM {customers} k WHERE customer_id IS NOT NULL)"
    has_churn = "churn_date" in state.typed["customers"].columns
    grace = int(POST_CHURN_GRACE / pd.Timedelta(days=1))
    findings: list[Finding] = []
    stored = {"customers": state.typed["customers"]}
    for table, typed in state.typed.items():
        if table == "customers":
            continue
        if "customer_id" not in typed.columns:
            stored[table] = typed
            continue
        rel = _rel(state, table)
        # an empty id in customers makes an empty id elsewhere known (as the in-memory lookup)
        null_known = con.execute(
            f"SELECT count(*) FROM {customers} k WHERE customer_id IS NULL"
        ).fetchone()[0]
        orphan = f"(t.customer_id IS NOT NULL AND t.customer_id NOT IN {known})"
        if not null_known:
            orphan = f"({orphan} OR t.customer_id IS NULL)"
        event = EVENT_DATE[table] if table in ACTIVITY_TABLES else None
        if has_churn and event in typed.columns:
            late = _after_churn(state, table, rel, customers, event, grace)
            if late is not None:
                findings.append(late)
        n = int(con.execute(f"SELECT count(*) FROM {rel} t WHERE {orphan}").fetchone()[0])
        if n:
            findings += _orphans(state, table, rel, orphan, n)
            keep = f"customer_id IN (SELECT customer_id FROM {customers} k)"
            stored[table] = StoredTable(
                typed.name, typed.relation, typed.columns, typed.order, keep, typed.files
            )
        else:
            stored[table] = typed
    return findings, stored


def _after_churn(state, table, rel, customers, event, grace) -> Finding | None:
    con = state.con
    joined = (
        f"(SELECT t.{ROW}, t.customer_id, t.{quote(event)} AS ev, k.churn_date FROM {rel} t "
        f"JOIN {customers} k ON k.customer_id = t.customer_id "
        f"WHERE t.{quote(event)} > k.churn_date + INTERVAL {grace} DAY)"
    )
    n, n_customers = con.execute(
        f"SELECT count(*), count(DISTINCT customer_id) FROM {joined} j"
    ).fetchone()
    if not n:
        return None
    rows = con.execute(
        f"SELECT {ROW}, customer_id, churn_date, ev FROM {joined} j ORDER BY {ROW} "
        f"LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    examples = [
        f"row {r + 1}: customer {cid!r} churned {pd.Timestamp(churn):%Y-%m-%d}, "
        f"{event} {pd.Timestamp(ev):%Y-%m-%d}"
        for r, cid, churn, ev in rows
    ]
    return warning(
        table,
        event,
        int(n),
        f"{plural(int(n), 'row', 'are')} dated more than 31 days after the customer's churn_date "
        f"({plural(int(n_customers), 'customer')}; likely a wrong churn date)",
        "Check those customers' churn_date in customers (or whether they came back)",
        examples,
    )


def _orphans(state: SqlTables, table: str, rel: str, orphan: str, n: int) -> list[Finding]:
    con = state.con
    groups = con.execute(
        f"SELECT customer_id, list({ROW} + 1 ORDER BY {ROW})[1:3], count(*) FROM {rel} t "
        f"WHERE {orphan} GROUP BY customer_id ORDER BY min({ROW}) LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    examples = []
    for value, rows, count in groups:
        more = ", ..." if count > 3 else ""
        word = "row" if len(rows) == 1 else "rows"
        examples.append(f"{show_id(value)} on {word} {', '.join(map(str, rows))}{more}")
    findings = []
    customers = _rel(state, "customers")
    # distinct orphan ids that match a customer once their spelling is normalised
    match = con.execute(
        f"WITH bad AS (SELECT customer_id, min({ROW}) AS first FROM {rel} t "
        f"WHERE {orphan} AND customer_id IS NOT NULL GROUP BY customer_id), "
        f"k AS (SELECT {_normalise('customer_id')} AS s "
        f"FROM {customers} c WHERE customer_id IS NOT NULL) "
        f"SELECT count(*), arg_min(b.customer_id, b.first) FROM bad b "
        f"WHERE {_normalise('b.customer_id')} IN (SELECT s FROM k)"
    ).fetchone()
    n_match, hit = int(match[0]), match[1]
    if n_match:
        twin = con.execute(
            f"SELECT customer_id FROM {customers} c WHERE customer_id IS NOT NULL AND "
            f"{_normalise('customer_id')} = {_normalise(sql_literal(hit))} "
            f"ORDER BY {ROW} LIMIT 1"
        ).fetchone()[0]
        findings.append(spelling_finding(table, n, n_match, hit, twin, state.id_kinds))
    return findings + orphan_findings(table, n, state.rows[table], examples)
