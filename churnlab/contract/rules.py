"""The value rules of the data contract, checked on coerced tables (docs/data-contract.md).

Rules within one table (unique and non-empty ids, dates in order and within 1901..2098,
finite numbers of a sane size, amounts, scales) are in :func:`value_rules`; rules linking
tables to ``customers`` (orphans, ids stored in different forms, a table that loses most of
its rows, activity long after a churn date) are in :func:`link_rules`, which also drops
orphan rows. All work column-wise (pyarrow's hash lookup for ids, numpy for dates), so they scale to
the 100M-row usage tables the features are benchmarked on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churnlab.contract.findings import Finding, error, first_rows, plural, row_examples, warning
from churnlab.contract.schema import (
    DATE_COLUMNS,
    EARLIEST_DATE,
    EVENT_DATE,
    FAR_FUTURE,
    MAX_MAGNITUDE,
    NUMBER,
    SCHEMA,
    STR,
)

#: activity later than this after a customer's churn date suggests a wrong churn date
POST_CHURN_GRACE = pd.Timedelta(days=31)
ACTIVITY_TABLES = ("tickets", "onboarding", "usage", "feedback")
#: a table that loses more than this share of its rows as orphans is broken, not incomplete
MAX_ORPHAN_SHARE = 0.5
#: (table, column, low, high, what the scale is)
RANGES = (
    ("billing", "amount", 0.0, np.inf, "an amount charged cannot be negative"),
    ("tickets", "csat", 1.0, 5.0, "CSAT is on a 1-5 scale"),
    ("feedback", "score", 0.0, 10.0, "an NPS score is on a 0-10 scale"),
    ("actions", "cost", 0.0, np.inf, "the cost of an action cannot be negative"),
)
#: the groups of an action (docs/actions.md); compared without case and surrounding spaces,
#: an empty group is a treatment
ACTION_GROUPS = ("treatment", "control")


def value_rules(tables: dict[str, pd.DataFrame], broken: set[tuple[str, str]]) -> list[Finding]:
    """Errors for rules within single tables; ``broken`` columns (failed coercion) are skipped."""
    findings: list[Finding] = []
    customers = tables.get("customers")
    if customers is not None and "customer_id" in customers.columns:
        findings += _customer_ids(customers)
    for table, frame in tables.items():
        date_col = EVENT_DATE.get(table)
        if date_col in frame.columns and (table, date_col) not in broken:
            findings += _empty_event_dates(table, frame, date_col)
    pairs = (("customers", "signup_date", "churn_date"), ("tickets", "opened_at", "resolved_at"))
    for table, start, end in pairs:
        frame = tables.get(table)
        if frame is not None and {start, end} <= set(frame.columns):
            findings += _order(table, frame, start, end)
    for table, frame in tables.items():
        for col in DATE_COLUMNS.get(table, ()):
            if col in frame.columns and (table, col) not in broken:
                findings += _date_range(table, frame, col)
        for col in _number_columns(table, frame):
            if (table, col) not in broken:
                findings += _finite(table, frame, col)
    for table, col, low, high, scale in RANGES:
        frame = tables.get(table)
        if frame is not None and col in frame.columns and (table, col) not in broken:
            findings += _in_range(table, frame, col, low, high, scale)
    usage = tables.get("usage")
    if usage is not None:
        findings += _activity_columns(usage)
    actions = tables.get("actions")
    if actions is not None:
        findings += action_rules(actions, broken)
    return findings


def _number_columns(table: str, frame: pd.DataFrame) -> list[str]:
    """The contract's number columns present, and usage's numeric activity columns."""
    numbers = [c for c, (kind, _) in SCHEMA[table].items() if kind == NUMBER]
    if table == "usage":
        numbers += [
            c
            for c in frame.columns
            if c not in ("customer_id", "date") and pd.api.types.is_float_dtype(frame[c])
        ]
    return [c for c in numbers if c in frame.columns and pd.api.types.is_float_dtype(frame[c])]


def _date_range(table: str, frame: pd.DataFrame, col: str) -> list[Finding]:
    """Dates before 1901 or from 2099 on: placeholders (1900-01-01, 9999-12-31) or typos.

    End dates (churn_date, resolved_at) from 2099 on were already read as empty ("no end").
    """
    values = frame[col]
    early, late = values < EARLIEST_DATE, values >= FAR_FUTURE
    bad = early | late
    if not bad.any():
        return []
    examples = row_examples(frame, bad, ["customer_id", col])
    return [date_range_finding(table, col, int(early.sum()), int(late.sum()), examples)]


def date_range_finding(table: str, col: str, early: int, late: int, examples) -> Finding:
    """The error for ``early`` dates before 1901 and ``late`` ones from 2099 on (both paths)."""
    n = early + late
    parts = []
    if early:
        parts.append(f"{early:,} before {EARLIEST_DATE:%Y-%m-%d}")
    if late:
        parts.append(f"{late:,} on or after {FAR_FUTURE:%Y-%m-%d}")
    return error(
        table,
        col,
        n,
        f"{plural(n, 'date')} outside the years {EARLIEST_DATE.year}..{FAR_FUTURE.year - 1} "
        f"({', '.join(parts)}): placeholders such as 1900-01-01 or 9999-12-31, or typos",
        "Correct those dates, or leave the cell empty when there is no date",
        examples,
    )


def _finite(table: str, frame: pd.DataFrame, col: str) -> list[Finding]:
    """Infinite numbers and numbers beyond +-1e15: no real amount, count or score is that big."""
    values = frame[col].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = np.abs(values) > MAX_MAGNITUDE  # inf too; NaN compares False
    if not bad.any():
        return []
    examples = row_examples(frame, pd.Series(bad, index=frame.index), ["customer_id", col])
    return [finite_finding(table, col, int(bad.sum()), int(np.isinf(values).sum()), examples)]


def finite_finding(table: str, col: str, n: int, infinite: int, examples) -> Finding:
    """The error for ``n`` values beyond 1e15 in size, ``infinite`` of them infinite."""
    what = f"{infinite:,} infinite, " if infinite else ""
    return error(
        table,
        col,
        n,
        f"{plural(n, 'value')} {'is' if n == 1 else 'are'} not a usable number ({what}"
        f"{n - infinite:,} larger than 10^15 in size): a placeholder such as 1e300 or "
        "inf, an overflow or a unit error",
        f"Correct those {col} values, or leave the cell empty when unknown",
        examples,
    )


def _action_text(values: pd.Series) -> pd.Series:
    """Action names and groups as compared: surrounding spaces dropped, empty as missing."""
    text = values.astype(STR).str.strip()
    return text.mask(text == "")


def action_rules(actions: pd.DataFrame, broken: set[tuple[str, str]]) -> list[Finding]:
    """Errors for actions without a name and groups other than treatment or control."""
    findings: list[Finding] = []
    if "action" in actions.columns and ("actions", "action") not in broken:
        empty = _action_text(actions["action"]).isna()
        if empty.any():
            examples = row_examples(actions, empty, ["customer_id", "sent_at"])
            findings.append(no_action_finding(int(empty.sum()), examples))
    if "group" in actions.columns and ("actions", "group") not in broken:
        group = _action_text(actions["group"]).str.lower()
        bad = group.notna() & ~group.isin(ACTION_GROUPS)
        if bad.any():
            examples = row_examples(actions, bad, ["customer_id", "group"])
            findings.append(bad_group_finding(int(bad.sum()), examples))
    return findings


def no_action_finding(n: int, examples) -> Finding:
    return error(
        "actions",
        "action",
        n,
        f"{plural(n, 'row', 'have')} no action",
        "Name the action of every row (e.g. plan_review), or remove those rows",
        examples,
    )


def bad_group_finding(n: int, examples) -> Finding:
    return error(
        "actions",
        "group",
        n,
        f"{plural(n, 'value', 'are')} neither treatment nor control",
        "Write treatment for an action carried out and control for a customer held "
        "out on purpose (case and spaces do not matter; empty means treatment)",
        examples,
    )


def normalise_actions(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``actions`` with ``action`` trimmed and ``group`` as ``treatment``/``control``.

    Run after :func:`action_rules` found no error: an empty group becomes ``treatment`` (the
    action was carried out), and ``' Control'`` becomes ``control``. Other tables pass as they are.
    """
    actions = tables.get("actions")
    if actions is None:
        return tables
    out = actions.copy(deep=False)
    if "action" in out.columns:
        out["action"] = _action_text(out["action"])
    group = _action_text(out["group"]).str.lower() if "group" in out.columns else None
    out["group"] = (
        group.fillna(ACTION_GROUPS[0])
        if group is not None
        else pd.Series(ACTION_GROUPS[0], index=out.index, dtype=STR)
    )
    return {**tables, "actions": out}


def missing_customer_ids(n: int, examples: list) -> Finding:
    """The error of customers without an id (the in-memory and the SQL checks)."""
    return error(
        "customers",
        "customer_id",
        n,
        f"{plural(n, 'customer', 'have')} no customer_id",
        "Every customer needs an id; fill it in or remove those rows",
        examples,
    )


def _customer_ids(customers: pd.DataFrame) -> list[Finding]:
    ids = customers["customer_id"]
    findings = []
    empty = ids.isna()
    if empty.any():
        n = int(empty.sum())
        findings.append(missing_customer_ids(n, row_examples(customers, empty, ["signup_date"])))
    dup = ids.duplicated(keep=False) & ~empty
    if dup.any():
        repeated = ids[dup]
        examples = []
        for value in repeated.drop_duplicates().iloc[:5]:
            rows = np.flatnonzero((ids == value).to_numpy(dtype=bool, na_value=False))[:4] + 1
            examples.append(f"{value!r} on rows {', '.join(map(str, rows))}")
        n_ids = repeated.nunique()
        findings.append(
            error(
                "customers",
                "customer_id",
                int(dup.sum()),
                f"{plural(n_ids, 'customer_id', 'appear')} more than once ({int(dup.sum()):,} rows); "
                "customers must have one row per customer",
                "Remove the duplicate rows, or give distinct customers distinct ids",
                examples,
            )
        )
    return findings


def _empty_event_dates(table: str, frame: pd.DataFrame, col: str) -> list[Finding]:
    empty = frame[col].isna()
    if not empty.any():
        return []
    n = int(empty.sum())
    return [
        error(
            table,
            col,
            n,
            f"{plural(n, 'row', 'have')} no {col}",
            f"Every {table} row needs its {col} to be placed in time; fill it in or "
            "remove those rows",
            row_examples(frame, empty, ["customer_id"]),
        )
    ]


def _order(table: str, frame: pd.DataFrame, start: str, end: str) -> list[Finding]:
    bad = frame[end] < frame[start]  # missing on either side compares False
    if not bad.any():
        return []
    n = int(bad.sum())
    action = (
        "Fix the export, or leave resolved_at empty for tickets still open"
        if end == "resolved_at"
        else "Fix the dates; leave churn_date empty for customers who have not churned"
    )
    return [
        error(
            table,
            end,
            n,
            f"{plural(n, 'row', 'have')} {end} before {start}",
            action,
            row_examples(frame, bad, ["customer_id", start, end]),
        )
    ]


def _in_range(table, frame, col, low, high, scale) -> list[Finding]:
    values = frame[col]
    # values beyond any size are reported by _finite, once
    bad = ((values < low) | (values > high)) & (values.abs() <= MAX_MAGNITUDE)
    if not bad.any():
        return []
    n = int(bad.sum())
    where = f"below {low:g}" if high == np.inf else f"outside {low:g}..{high:g}"
    return [
        error(
            table,
            col,
            n,
            f"{plural(n, 'value')} {where} ({scale})",
            f"Correct or blank those {col} values",
            row_examples(frame, bad, ["customer_id", col]),
        )
    ]


def _activity_columns(usage: pd.DataFrame) -> list[Finding]:
    numeric = [
        c
        for c in usage.columns
        if c not in ("customer_id", "date") and pd.api.types.is_numeric_dtype(usage[c])
    ]
    if numeric:
        return []
    return [
        error(
            "usage",
            None,
            len(usage),
            f"no numeric activity column (columns found: {list(map(str, usage.columns))})",
            "Add at least one numeric column such as sessions, events or minutes",
        )
    ]


def link_rules(
    tables: dict[str, pd.DataFrame], id_kinds: dict[str, str]
) -> tuple[dict[str, pd.DataFrame], list[Finding]]:
    """Check every table's ``customer_id`` against ``customers``; drop orphans with a warning.

    Also an error when orphans would match after stripping leading zeros (ids stored as
    integers in one table and zero-padded text in another), and a warning for activity rows
    more than 31 days after the customer's churn date. Returns the tables without orphans.
    """
    customers = tables["customers"]
    known = _arrow_ids(customers["customer_id"]).combine_chunks()
    churn = customers["churn_date"].to_numpy() if "churn_date" in customers.columns else None
    out = {"customers": customers}
    findings: list[Finding] = []
    for table, frame in tables.items():
        if table == "customers" or "customer_id" not in frame.columns:
            out[table] = frame
            continue
        event_col = EVENT_DATE[table] if table in ACTIVITY_TABLES else None
        event_col = event_col if event_col in frame.columns else None
        orphan, late, churned = _lookup(frame, known, churn, event_col)
        if late is not None and late.any():
            findings.append(_after_churn(table, frame, late, churned))
        if orphan.any():
            findings += _orphans(table, frame, orphan, known, id_kinds)
            frame = frame.loc[~orphan].reset_index(drop=True)
        out[table] = frame
    return out, findings


def _lookup(frame: pd.DataFrame, known: pa.Array, churn, event_col: str | None, step=1 << 23):
    """Masks of orphan rows and of rows dated > 31 days after their customer's churn date.

    Works through the ids in slices so that the temporary per-row lookups (customer index,
    churn date) never exist for a whole 100M-row table at once; only the boolean masks do.
    Also returns the churn dates of the late rows (for the examples).
    """
    ids = _arrow_ids(frame["customer_id"])
    n = len(frame)
    orphan = np.zeros(n, dtype=bool)
    check = churn is not None and event_col is not None
    late = np.zeros(n, dtype=bool) if check else None
    deadline = churn + POST_CHURN_GRACE.to_timedelta64() if check else None
    event = frame[event_col].to_numpy() if check else None
    for start in range(0, n, step):
        codes = pc.fill_null(pc.index_in(ids.slice(start, step), value_set=known), -1)
        codes = codes.to_numpy()
        stop = start + len(codes)
        orphan[start:stop] = codes < 0
        if check:
            # an orphan's code -1 picks the last customer; masked out by codes >= 0
            late[start:stop] = (event[start:stop] > deadline[codes]) & (codes >= 0)
    churned = None
    if check and late.any():
        late_ids = ids.filter(pa.array(late))  # stays in Arrow: no Python string per row
        codes = pc.index_in(late_ids, value_set=known).to_numpy()
        churned = churn[codes.astype(np.int64)]
    return orphan, late, churned


def _arrow_ids(ids: pd.Series) -> pa.ChunkedArray:
    """The ids as Arrow data without a copy (pandas' str dtype is Arrow inside)."""
    ids = ids if isinstance(ids.array, pd.arrays.ArrowStringArray) else ids.astype(STR)
    return ids.array.__arrow_array__().cast(pa.large_string())


def _strip_zeros(ids: pa.Array) -> pa.Array:
    stripped = pc.utf8_ltrim(ids, characters="0")
    return pc.if_else(pc.equal(stripped, ""), "0", stripped)


#: ways one id gets written differently by two exports, each undone by a normalisation:
#: (what to say, the normalisation)
_SPELLINGS: tuple[tuple[str, object], ...] = (
    ("surrounding spaces", pc.utf8_trim_whitespace),
    ("a '.0' ending", lambda ids: pc.replace_substring_regex(ids, r"\.0+$", "")),
    ("leading zeros", _strip_zeros),
    ("letter case", pc.utf8_lower),
)


def _normalise(ids: pa.Array) -> pa.Array:
    """Ids with every spelling difference of :data:`_SPELLINGS` undone."""
    for _, undo in _SPELLINGS:
        ids = undo(ids)
    return ids


def _differences(here: str, there: str) -> str:
    """What separates two spellings of one id, e.g. 'surrounding spaces and leading zeros'."""
    words = []
    for what, undo in _SPELLINGS:
        if here == there:
            break
        a, b = undo(pa.array([here, there], pa.large_string())).to_pylist()
        if a != here or b != there:
            words.append(what)
        here, there = a, b
    return " and ".join(words) or "normalising"


def _orphans(table, frame, orphan, known, id_kinds) -> list[Finding]:
    n = int(orphan.sum())
    positions = np.flatnonzero(orphan)
    bad_ids = frame["customer_id"].iloc[positions]
    examples = []
    for value in bad_ids.drop_duplicates().iloc[:5]:
        same = bad_ids.isna() if pd.isna(value) else (bad_ids == value)
        rows = positions[same.to_numpy(dtype=bool, na_value=False)][:3] + 1
        more = ", ..." if int(same.sum()) > 3 else ""
        word = "row" if len(rows) == 1 else "rows"
        examples.append(f"{show_id(value)} on {word} {', '.join(map(str, rows))}{more}")
    findings = []
    distinct = pa.array(bad_ids.dropna().unique().astype(str), type=pa.large_string())
    normal_known = _normalise(known)
    matches = pc.is_in(_normalise(distinct), value_set=normal_known)
    n_match = int(pc.sum(matches).as_py() or 0)
    if n_match:
        hit = pc.filter(distinct, matches)[0].as_py()
        normal = _normalise(pa.array([hit], pa.large_string()))[0].as_py()
        twin = pc.filter(known, pc.equal(normal_known, normal))[0].as_py()
        findings.append(spelling_finding(table, n, n_match, hit, twin, id_kinds))
    return findings + orphan_findings(table, n, len(frame), examples)


def spelling_finding(
    table: str, n: int, n_match: int, hit: str, twin: str, id_kinds: dict[str, str]
) -> Finding:
    """The error for orphan ids that match a customer once normalised (:data:`_SPELLINGS`)."""
    return error(
        table,
        "customer_id",
        n,
        f"ids are written differently than in customers: {plural(n_match, 'id', 'match')} a "
        f"customer only after removing {_differences(hit, twin)} (e.g. {hit!r} here, "
        f"{twin!r} in customers; customers stores ids as "
        f"{id_kinds.get('customers', 'text')}, {table} as {id_kinds.get(table, 'text')})",
        "Export customer_id identically in every table, e.g. as text with the same "
        "zero padding, without spaces around it",
    )


def orphan_findings(table: str, n: int, rows: int, examples: list[str]) -> list[Finding]:
    """``n`` orphans of ``rows``: a warning (they are left out), or an error for most rows."""
    if n > MAX_ORPHAN_SHARE * rows:
        return [
            error(
                table,
                "customer_id",
                n,
                f"{n:,} of {plural(rows, 'row')} ({n / rows:.0%}) have a customer_id "
                "not in customers: a table that loses most of its rows this way is almost "
                "certainly a broken export",
                "Check that customers is complete and that both tables come from the same "
                "system and export",
                examples,
            )
        ]
    return [
        warning(
            table,
            "customer_id",
            n,
            f"{n:,} of {plural(rows, 'row')} have a customer_id not in customers "
            "(or none); they are left out",
            "Check that customers is complete, or remove those rows from the export",
            examples,
        )
    ]


def show_id(value) -> str:
    return "empty id" if pd.isna(value) else repr(value)


def _after_churn(table: str, frame: pd.DataFrame, late: np.ndarray, churned) -> Finding:
    col = EVENT_DATE[table]
    n = int(late.sum())
    n_customers = frame["customer_id"][late].nunique()
    examples = [
        f"row {p + 1}: customer {frame['customer_id'].iloc[p]!r} churned "
        f"{pd.Timestamp(churned[i]):%Y-%m-%d}, {col} {pd.Timestamp(frame[col].iloc[p]):%Y-%m-%d}"
        for i, p in enumerate(first_rows(late))
    ]
    return warning(
        table,
        col,
        n,
        f"{plural(n, 'row', 'are')} dated more than 31 days after the customer's churn_date "
        f"({plural(n_customers, 'customer')}; likely a wrong churn date)",
        "Check those customers' churn_date in customers (or whether they came back)",
        examples,
    )
