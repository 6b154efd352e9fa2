"""The vectorised coercion of each contract column to its type (the schema is in schema.py).

:func:`coerce_table` turns a raw frame (read from CSV or Parquet, or made
in memory) into the contract's dtypes documented in :mod:`churnlab.contract.dataset`, reporting every
value it cannot convert as a :class:`~churnlab.contract.findings.Finding` instead of turning it
into an empty value. Columns that already have the right dtype (the usual case for Parquet)
are passed through without a copy, so a 100M-row usage table costs no extra memory here.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churnlab.contract.findings import Finding, error, plural, row_examples, warning
from churnlab.contract.schema import (
    BOOL,
    DATE,
    DATETIME,
    END_DATES,
    FAR_FUTURE,
    ID,
    MISSING_WORDS,
    NUMBER,
    SCHEMA,
    STR,
    TEXT,
)

DATE_FORMAT_HINT = "ISO 8601 such as 2025-03-01 or 2025-03-01T14:30:00"
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
_BOOL_WORDS = dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)
# a time of day followed by a UTC offset or Z: the value carries a time zone
_TZ_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?P<zone>Z|z|[+-]\d{2}(?::?\d{2})?)$"


def _normalised(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def drop_unnamed(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """Drop columns without a name (a trailing comma on every line of a CSV makes one).

    An unnamed column that holds values is dropped too, with a warning: churnlab cannot tell
    what it means.
    """
    blank = [i for i, c in enumerate(frame.columns) if str(c).strip() == ""]
    if not blank:
        return frame, []
    findings = []
    for i in blank:
        filled = int(frame.iloc[:, i].notna().sum())
        if filled:
            findings.append(unnamed_finding(table, i, len(frame.columns), filled))
    keep = [i for i in range(len(frame.columns)) if i not in set(blank)]
    return frame.iloc[:, keep], findings


def unnamed_finding(table: str, position: int, columns: int, filled: int) -> Finding:
    """The warning for the unnamed column at ``position`` (0-based) holding ``filled`` values."""
    return warning(
        table,
        None,
        filled,
        f"column {position + 1} of {columns} has no name but holds "
        f"{plural(filled, 'value')}; it is ignored",
        "Give the column a name in the header line if churnlab should read it",
    )


def check_columns(table: str, frame: pd.DataFrame) -> list[Finding]:
    """Errors for duplicated column names and for required contract columns that are absent.

    A missing column's message lists the columns found and suggests a close match (a case or
    whitespace difference such as ``'Customer_ID '``), the usual cause in hand-made exports.
    """
    found = [str(c) for c in frame.columns]
    findings = []
    dupes = sorted({c for c in found if found.count(c) > 1})
    if dupes:
        findings.append(
            error(
                table,
                dupes[0],
                len(frame),
                f"column names appear twice: {dupes}",
                "Give every column a distinct name",
            )
        )
    for col, (_, required) in SCHEMA[table].items():
        if not required or col in found:
            continue
        close = [c for c in found if _normalised(c) == col]
        close = close or difflib.get_close_matches(col, found, n=2, cutoff=0.75)
        hint = (
            f" Did you mean {' or '.join(repr(c) for c in close)}? Names are exact."
            if close
            else ""
        )
        action = f"Add or rename the column to exactly '{col}'.{hint}"
        if col == "churn_date":
            action += " If customers never cancel (a shop), add an empty churn_date column"
        findings.append(
            error(
                table,
                col,
                0,
                f"required column '{col}' is missing (columns found: {found})",
                action,
            )
        )
    return findings


def coerce_table(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding], str]:
    """Coerce every contract column of ``table`` present in ``frame`` to its contract dtype.

    Returns the coerced frame (same row order and count), the findings (values that cannot
    be converted, mixed time zones) and how ``customer_id`` was stored (``'integers'``,
    ``'text'``, ...), which explains id mismatches across tables. Extra columns are kept;
    usage's extra columns are its activity columns and become float64.
    """
    if frame.columns.duplicated().any():
        frame = frame.loc[:, ~frame.columns.duplicated()]  # reported by check_columns
    changed: dict[str, pd.Series] = {}
    findings: list[Finding] = []
    nested: list[str] = []
    id_kind = "missing"
    for col in frame.columns:
        series = frame[col]
        kind = SCHEMA[table].get(col, (None, False))[0]
        if _is_nested(series):
            if kind is None:
                nested.append(col)
            else:
                findings.append(_nested_contract_column(table, col, series))
            continue
        if kind == ID:
            id_kind = _id_kind(series)
            out, problems = coerce_id(series), []
        else:
            kind = kind or _extra_kind(table, series)
            out, problems = COERCERS[kind](series, table, col) if kind else (series, [])
            if kind == DATE and col in END_DATES.get(table, ()):
                out = _no_end(out)
        if out is not series:
            changed[col] = out
        findings += problems
    if nested:
        frame = frame.drop(columns=nested)
        if table in ("customers", "usage"):  # elsewhere extra columns are never read anyway
            findings.append(nested_extra_finding(table, nested, len(frame)))
    if not changed:
        return frame, findings, id_kind  # Parquet in contract dtypes: no copy at all
    result = frame.copy(deep=False)  # replacing a column leaves the others' memory shared
    for col, series in changed.items():
        result[col] = series
    return result, findings, id_kind


_NESTED = (list, tuple, dict, set, np.ndarray, bytes, bytearray)


def _is_nested(series: pd.Series) -> bool:
    """True for a column of lists, records, maps or bytes (Parquet list/struct/map/binary)."""
    if series.dtype != object:
        return False
    values = series.dropna()
    return bool(len(values)) and bool(values.map(lambda v: isinstance(v, _NESTED)).any())


_KIND_WORDS = {ID: "ids", DATE: "dates", NUMBER: "numbers", BOOL: "yes/no values", TEXT: "text"}


def _nested_contract_column(table: str, col: str, series: pd.Series) -> Finding:
    return nested_contract_finding(table, col, int(series.notna().sum()), series.dropna().iloc[0])


def nested_contract_finding(table: str, col: str, n: int, example) -> Finding:
    """The error for a contract column of ``n`` nested values such as ``example``."""
    words = _KIND_WORDS[SCHEMA[table][col][0]]
    return error(
        table,
        col,
        n,
        f"the column holds nested values (lists, records or bytes such as {str(example)[:40]!r}), "
        f"not {words}",
        f"Export {col} as a plain column of {words}",
    )


def nested_extra_finding(table: str, names: list[str], rows: int) -> Finding:
    """The warning for extra columns of nested values, which are ignored."""
    what = "static attributes" if table == "customers" else "activity measures"
    return warning(
        table,
        names[0],
        rows,
        f"{plural(len(names), 'column')} {names} hold nested values (lists, records, maps or "
        f"bytes), which are not {what}; they are ignored",
        "Flatten them into plain columns (one per value, e.g. tag_count or address_city) to "
        "use them",
    )


def _no_end(dates: pd.Series) -> pd.Series:
    """An end date far in the future (9999-12-31, 2999-12-31, 2099-12-31) as "no end yet"."""
    far = dates >= FAR_FUTURE
    return dates.mask(far) if far.any() else dates


def _extra_kind(table: str, series: pd.Series) -> str | None:
    """How an extra column is treated: usage activity is numeric, datetimes get normalised."""
    if table == "usage" and not pd.api.types.is_datetime64_any_dtype(series):
        if pd.api.types.is_numeric_dtype(series):
            return NUMBER
        text = _as_text(series)
        text = text.mask(text.str.lower().isin(MISSING_WORDS))
        parsed = pd.to_numeric(text, errors="coerce")
        # mostly numbers with a few bad cells: an activity column with broken values
        return NUMBER if parsed.notna().sum() * 2 > text.notna().sum() > 0 else None
    return DATE if pd.api.types.is_datetime64_any_dtype(series) else None


def _id_kind(series: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(series):
        return "integers"
    if pd.api.types.is_float_dtype(series):
        return "decimal numbers"
    return "text"


def _as_text(series: pd.Series) -> pd.Series:
    """String-dtype values, stripped, with empty strings as missing."""
    text = series if series.dtype == STR else series.astype(STR)
    text = text.str.strip()
    return text.mask(text == "")


def _unread(text: pd.Series, parsed: pd.Series) -> pd.Series:
    """Cells that hold text but did not parse, other than a missing word such as NA or null.

    Only the cells that failed are compared with the words, so a clean column costs nothing.
    """
    bad = text.notna() & parsed.isna()
    if bad.any():
        words = text[bad].str.lower().isin(MISSING_WORDS)
        bad[words[words].index] = False
    return bad


def _wrap_arrow(array: pa.Array | pa.ChunkedArray, like: pd.Series) -> pd.Series:
    return pd.Series(pd.array(array, dtype=STR), index=like.index, name=like.name)


def coerce_id(series: pd.Series) -> pd.Series:
    """``customer_id`` as string dtype: 42 -> '42', 42.0 -> '42', '00042' stays '00042'."""
    if series.dtype == STR:
        return series.mask(series == "") if (series == "").any() else series
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isnan(values) | (values == np.round(values))
        if whole.all():
            series = series.astype("Int64")  # 42.0 (ints with gaps, via pandas) is id 42
    if pd.api.types.is_integer_dtype(series):
        # arrow's cast is vectorised C++, far faster than Python str() per value
        return _wrap_arrow(pc.cast(pa.array(series), pa.large_string()), series)
    return coerce_id(series.astype(STR))


def coerce_date(series: pd.Series, table: str, col: str) -> tuple[pd.Series, list[Finding]]:
    """A date or timestamp column as naive datetime64[us]; time zones are converted to UTC.

    Non-empty values that do not parse as ISO 8601 are an error (never silently empty); so
    is a column mixing values with and without a time zone, or offsets of different zones
    (an offset and the same zone's daylight-saving offset, 1 hour apart, are one zone).
    """
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(series):
        return _microseconds(series), []
    if series.dtype == object and not series.map(type).isin([str, type(None)]).all():
        try:  # Timestamp / datetime / date objects made in memory
            return coerce_date(pd.to_datetime(series), table, col)
        except (ValueError, TypeError) as exc:
            if "zone" in str(exc) or "tz" in str(exc):
                return _fail_date(series), [mixed_zones(table, col, len(series), [str(exc)])]
            series = series.astype(STR)
    text = _as_text(series)
    zone = _time_zones(text)
    aware = zone.notna()
    if aware.any():
        naive = text.notna() & ~aware
        if naive.any():
            examples = [
                f"{text[aware].iloc[0]!r} has a time zone",
                f"{text[naive].iloc[0]!r} has none",
            ]
            message = f"{plural(int(naive.sum()), 'value')} without a time zone next to {int(aware.sum()):,} with one, so the instant they mean is unknown"
            return _fail_date(series), [
                mixed_zones(table, col, int(naive.sum()), examples, message)
            ]
        distinct = _offset_minutes(zone[aware]).value_counts()
        # one zone's standard and daylight-saving offsets (1 hour apart) are one time zone
        dst_pair = len(distinct) == 2 and abs(distinct.index[0] - distinct.index[1]) == 60
        if len(distinct) > 1 and not dst_pair:
            examples = [f"{plural(n, 'value')} at UTC{_fmt_offset(m)}" for m, n in distinct.items()]
            message = f"values in {len(distinct)} different UTC offsets (several sources?)"
            return _fail_date(series), [
                mixed_zones(table, col, int(aware.sum()), examples, message)
            ]
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        parsed = parsed.dt.tz_localize(None)
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    parsed = _microseconds(parsed)
    bad = _unread(text, parsed)
    if not bad.any():
        return parsed, []
    n_bad = int(bad.sum())
    frame = pd.DataFrame({col: text})
    finding = error(
        table,
        col,
        n_bad,
        f"{plural(n_bad, 'value')} cannot be read as a date (expected {DATE_FORMAT_HINT})",
        "Re-export the column in ISO 8601 format; leave the cell empty when there is no date",
        row_examples(frame, bad, [col]),
    )
    return parsed, [finding]


def _microseconds(stamps: pd.Series) -> pd.Series:
    """Naive datetimes as datetime64[us]; finer ones (nanoseconds) floored to the microsecond.

    Floored, not rounded, so that an instant never moves past a cutoff it was before, and the
    same as pyarrow's floor when the file is read (:mod:`churnlab.contract.read`).
    """
    if stamps.dtype == DATETIME:
        return stamps
    if stamps.dtype == np.dtype("datetime64[ns]"):
        stamps = stamps.dt.floor("us")
    return stamps.astype(DATETIME)


def _time_zones(text: pd.Series) -> pd.Series:
    """The time-zone suffix of each value ('Z', '+02:00'), missing when it has none.

    Arrow's regex kernels run in C++ over the whole column; pandas' ``str.extract`` would
    call Python's ``re`` once per row.
    """
    arrow = (
        text.array.__arrow_array__()
        if isinstance(text.array, pd.arrays.ArrowStringArray)
        else pa.array(text)
    )
    found = pc.struct_field(pc.extract_regex(arrow, _TZ_SUFFIX), [0])
    return pd.Series(pd.array(found, dtype=STR), index=text.index)


def _offset_minutes(zone: pd.Series) -> pd.Series:
    """UTC offsets ('Z', '+02', '+0530', '-03:00') as minutes east of UTC."""
    digits = zone.str.upper().str.replace(":", "", regex=False).replace("Z", "+0000")
    sign = np.where(digits.str[0] == "-", -1, 1)
    hours = digits.str[1:3].astype(int)
    minutes = digits.str[3:5].replace("", "0").fillna("0").astype(int)
    return pd.Series(sign * (hours * 60 + minutes), index=zone.index)


def _fmt_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _fail_date(series: pd.Series) -> pd.Series:
    return pd.Series(np.full(len(series), np.datetime64("NaT"), DATETIME), index=series.index)


def unreadable_numbers(table: str, col: str, n_bad: int, examples: list) -> Finding:
    """The error of number cells that cannot be read as numbers (both paths)."""
    return error(
        table,
        col,
        n_bad,
        f"{plural(n_bad, 'value')} cannot be read as a number",
        f"Make {col} numeric (plain digits with a dot for decimals, no currency signs or "
        "thousands separators); leave the cell empty when unknown",
        examples,
    )


def mixed_zones(table, col, rows, examples, message="values in different time zones") -> Finding:
    """The error of a date column whose values carry different time zones (both paths)."""
    return error(
        table,
        col,
        rows,
        f"the column mixes time zones: {message}",
        "Export the whole column in one time zone: all in UTC (ending in Z) or all without "
        "an offset",
        examples,
    )


def coerce_number(series: pd.Series, table: str, col: str) -> tuple[pd.Series, list[Finding]]:
    """A numeric column as float64; text that is not a number is an error with examples."""
    if series.dtype == np.float64:
        return series, []
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        return pd.Series(values, index=series.index, name=series.name), []
    text = _as_text(series)
    parsed = pd.to_numeric(text, errors="coerce")
    values = pd.Series(
        np.asarray(parsed.to_numpy(dtype="float64", na_value=np.nan)), index=series.index, name=col
    )
    bad = _unread(text, values)
    if not bad.any():
        return values, []
    n_bad = int(bad.sum())
    finding = unreadable_numbers(
        table, col, n_bad, row_examples(pd.DataFrame({col: text}), bad, [col])
    )
    return values, [finding]


def coerce_bool(series: pd.Series, table: str, col: str) -> tuple[pd.Series, list[Finding]]:
    """A yes/no column as nullable boolean, accepting true/false, 1/0 and yes/no."""
    if series.dtype == "boolean":
        return series, []
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean"), []
    # numbers become '1.0'/'0.0' text, which the accepted spellings include
    numeric = pd.api.types.is_numeric_dtype(series)
    text = _as_text(series.astype("float64") if numeric else series)
    mapped = text.str.lower().map(_BOOL_WORDS)
    values = pd.array(mapped.to_numpy(dtype=object), dtype="boolean")
    out = pd.Series(values, index=series.index, name=col)
    bad = _unread(text, out)
    if not bad.any():
        return out, []
    n_bad = int(bad.sum())
    finding = error(
        table,
        col,
        n_bad,
        f"{plural(n_bad, 'value')} cannot be read as yes/no",
        f"Use true/false, 1/0 or yes/no in {col}; leave the cell empty when unknown",
        row_examples(pd.DataFrame({col: text}), bad, [col]),
    )
    return out, [finding]


def coerce_text(series: pd.Series, table: str, col: str) -> tuple[pd.Series, list[Finding]]:
    """A text column as string dtype (numbers stored as text become their digits).

    An empty text is missing, as an empty CSV cell is; every other value is kept as it is
    (``NA`` is a value).
    """
    text = series if series.dtype == STR else series.astype(STR)
    return (text.mask(text == "") if (text == "").any() else text), []


COERCERS = {DATE: coerce_date, NUMBER: coerce_number, BOOL: coerce_bool, TEXT: coerce_text}
