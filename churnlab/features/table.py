"""The feature table: the shape every model, explanation and report works on (docs/data-contract.md).

One row per customer (and per monthly snapshot when there is a ``snapshot`` column), an id
column, a label column and feature columns. It is made either by
:func:`churnlab.features.build_feature_table` from a dataset in the contract, or loaded from a
user's own CSV/Parquet file; downstream code cannot tell the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from churnlab.contract.coerce import coerce_id
from churnlab.contract.schema import MISSING_WORDS
from churnlab.core.churn import ChurnDefinition
from churnlab.core.errors import ChurnlabError, examples
from churnlab.features.families_file import assign_families, parse_families

#: the time-to-churn columns of a feature table built from a dataset (features/snapshots.py)
TIME_COL = "months_to_churn"
EVENT_COL = "churn_event"


@dataclass(frozen=True)
class FeatureTable:
    """A feature table and what its columns mean.

    ``frame`` holds the id column, the optional snapshot column (text ``YYYY-MM``), the label
    column (nullable ``Int8``: 1 churned, 0 stayed, missing = not yet known, scorable but
    never trained on) and one column per feature. ``families`` maps every feature column to
    its driver family, in column order. Numeric features are ``float64``; categorical
    features are string dtype.
    """

    frame: pd.DataFrame
    families: dict[str, str]
    id_col: str = "customer_id"
    label_col: str = "churned"
    snapshot_col: str | None = "snapshot"
    #: column with each customer's revenue per month (for revenue at risk), if known
    value_col: str | None = None
    #: column that splits customers into segments for per-segment drivers, if any
    segment_col: str | None = None
    #: time until churn or the end of observation (months after each snapshot's cutoff for a
    #: built table; the user's unit for a flat table), None when unknown
    duration_col: str | None = None
    #: 1 when the duration ends in churn, 0 when censored; None = the label column
    event_col: str | None = None
    #: how population and labels were made (None for a user's own feature table)
    definition: ChurnDefinition | None = None
    meta: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.families)

    @property
    def categorical(self) -> list[str]:
        """Feature columns that hold categories rather than numbers."""
        return [c for c in self.features if not pd.api.types.is_numeric_dtype(self.frame[c])]

    @property
    def snapshots(self) -> list[str]:
        """Sorted snapshot months, or ``[]`` when the table has no snapshot column."""
        if self.snapshot_col is None:
            return []
        return sorted(self.frame[self.snapshot_col].dropna().unique().tolist())

    @property
    def labelled(self) -> pd.Series:
        """Boolean mask of rows whose label is known."""
        return self.frame[self.label_col].notna()

    @property
    def labelled_snapshots(self) -> list[str]:
        """Sorted snapshot months that hold at least one labelled row ([] without snapshots)."""
        if self.snapshot_col is None or self.snapshot_col not in self.frame:
            return []
        return sorted(self.frame.loc[self.labelled, self.snapshot_col].dropna().unique().tolist())

    def subset(self, mask: pd.Series) -> FeatureTable:
        """The same table restricted to the rows where ``mask`` is true."""
        return replace(self, frame=self.frame.loc[mask].reset_index(drop=True))

    def at(self, snapshots: str | list[str]) -> FeatureTable:
        """Rows of one snapshot or a list of snapshots."""
        wanted = [snapshots] if isinstance(snapshots, str) else list(snapshots)
        return self.subset(self.frame[self.snapshot_col].isin(wanted))


# --------------------------------------------------------------------------------------------
# Loading a user's own feature table (docs/data-contract.md)

#: label spellings accepted for "churned" and "stayed" (compared lower-case, stripped).
_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "0.0", "false", "no", "n", "f"})
#: cell texts treated as "no value" in numeric and label columns, besides blanks: the same
#: words as in the data contract's number columns (in a text column only a blank is missing,
#: so a category called 'NA' stays a category).
_MISSING = frozenset({""}) | MISSING_WORDS
#: share of non-blank values that must parse as numbers for a text column to be numeric.
NUMERIC_SHARE = 0.95
_SNAPSHOT_RE = r"^\d{4}-(0[1-9]|1[0-2])$"


def _read_any(path: Path) -> pd.DataFrame:
    """Read a CSV (every cell as text, so we decide types) or Parquet file."""
    if not path.exists():
        raise ChurnlabError(f"Feature table {path} does not exist. Check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
    except UnicodeDecodeError:
        raise ChurnlabError(
            f"Feature table {path} is not UTF-8 text. Re-export it as UTF-8 CSV or as Parquet."
        ) from None
    except Exception as err:  # parser and Arrow errors come in many types
        raise ChurnlabError(
            f"Feature table {path} cannot be read ({type(err).__name__}: {err}). Check that it "
            "is a valid comma-separated CSV or Parquet file."
        ) from None
    raise ChurnlabError(
        f"Feature table {path} has suffix {suffix or '(none)'!r}; use .csv or .parquet."
    )


def _as_text(col: pd.Series) -> pd.Series:
    """Values as stripped text, missing values as ''."""
    return col.astype("string").fillna("").str.strip().astype(str)


def _parse_label(col: pd.Series, path: Path, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        return col.astype("Int8")
    text = _as_text(col).str.lower()
    text = text.where(~text.isin(_MISSING), "")
    good = text.isin(_TRUE | _FALSE) | (text == "")
    if not good.all():
        bad = col[~good]
        raise ChurnlabError(
            f"Feature table {path}, label column {name!r}: {len(bad)} row(s) hold values that "
            f"are not a churn flag: {examples(pd.unique(bad.astype(str)))}. Use 1/0, "
            "true/false or yes/no (any case); leave the cell blank when the outcome is unknown."
        )
    out = pd.Series(pd.NA, index=col.index, dtype="Int8")
    out[text.isin(_TRUE)] = 1
    out[text.isin(_FALSE)] = 0
    return out


def _parse_snapshot(col: pd.Series, path: Path) -> pd.Series:
    text = _as_text(col)
    bad = ~text.str.match(_SNAPSHOT_RE)
    if bad.any():
        raise ChurnlabError(
            f"Feature table {path}, column 'snapshot': {int(bad.sum())} row(s) are not a month "
            f"written YYYY-MM: {examples(pd.unique(col[bad].astype(str)))}. Write each "
            "snapshot as year-month, e.g. 2025-03, or drop the column to use k-fold validation."
        )
    return text.astype("string")


def _parse_feature(col: pd.Series) -> tuple[pd.Series, str | None]:
    """A feature column as float64 (numbers, also numbers stored as text) or string categories.

    Returns the column and a warning when some text in a numeric column did not parse.
    """
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.astype("float64"), None
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.astype("string"), None
    text = _as_text(col)
    blank = text.str.lower().isin(_MISSING)
    numbers = pd.to_numeric(text.where(~blank), errors="coerce")
    filled = int((~blank).sum())
    parsed = int(numbers.notna().sum())
    if filled and parsed / filled >= NUMERIC_SHARE:
        bad = text[~blank & numbers.isna()]
        warning = None
        if len(bad):
            warning = (
                f"column {col.name!r}: {len(bad)} value(s) that are not numbers were read as "
                f"missing: {examples(pd.unique(bad))}"
            )
        return numbers.astype("float64"), warning
    return text.where(~(text == ""), None).astype("string"), None


def _parse_duration(col: pd.Series, path: Path, name: str) -> pd.Series:
    """The duration column as float64 (blank = unknown); text or negative values are refused."""
    text = _as_text(col)
    blank = text.str.lower().isin(_MISSING)
    numbers = pd.to_numeric(text.where(~blank), errors="coerce")
    bad = ~blank & (numbers.isna() | (numbers < 0))
    if bad.any():
        raise ChurnlabError(
            f"Feature table {path}, duration column {name!r}: {int(bad.sum())} row(s) hold "
            f"values that are not a duration >= 0: {examples(pd.unique(col[bad].astype(str)))}. "
            "Give the time until churn or the end of observation as a plain number (e.g. "
            "months); leave it blank when unknown."
        )
    return numbers.astype("float64")


def _in_key_order(raw: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """The rows sorted by snapshot (if any) then id, as text.

    Training samples rows and k-fold assigns them by position, so the order of the file must
    not matter: the same rows in any order, with ids stored as numbers or as text, give the
    same results.
    """
    keys = pd.DataFrame({"id": _as_text(coerce_id(raw[id_col]))})
    by = ["id"]
    if "snapshot" in raw.columns and id_col != "snapshot":
        keys["snapshot"] = _as_text(raw["snapshot"])
        by = ["snapshot", "id"]
    order = keys.sort_values(by, kind="stable").index
    return raw.loc[order].reset_index(drop=True)


def load_feature_table(
    path: Path | str,
    id_col: str,
    label_col: str,
    families_file: Path | str | None = None,
    duration_col: str | None = None,
) -> FeatureTable:
    """Load a user's own feature table (CSV or Parquet) as a :class:`FeatureTable`.

    The label accepts 1/0, true/false, yes/no in any case, blanks meaning "not yet known".
    An optional ``snapshot`` column (YYYY-MM) turns on temporal validation. Every other column
    is a feature: numbers (also numbers stored as text, when at least 95% of the non-blank
    values parse; the rest become missing, with a warning in ``meta['warnings']``) or string
    categories. ``families_file`` (YAML ``family: [column or glob, ...]``) assigns families;
    unnamed columns go to ``other``. ``duration_col`` names the time until churn or the end
    of observation (a number >= 0, blank = unknown); the label is then the event flag, and
    the table may not have a snapshot column (docs/time-to-churn.md). churnlab's own
    time-to-churn columns (``months_to_churn``, ``churn_event``, in a feature table it
    built) are outcomes and never features. Every user mistake raises ChurnlabError naming
    the file, the column, how many rows and examples.
    """
    path = Path(path)
    raw = _read_any(path)
    raw.columns = [str(c).strip() for c in raw.columns]
    roles = [("id", id_col), ("label", label_col)] + (
        [("duration", duration_col)] if duration_col else []
    )
    for role, name in roles:
        if name not in raw.columns:
            raise ChurnlabError(
                f"Feature table {path} has no {role} column {name!r}. Its columns are: "
                f"{examples(list(raw.columns), 10)}."
            )
    if id_col == label_col:
        raise ChurnlabError(f"The id and the label column are both {id_col!r}; pick two columns.")
    if duration_col in (id_col, label_col):
        raise ChurnlabError(
            f"The duration column {duration_col!r} is also the id or the label; the duration is "
            "a column of its own (time until churn or the end of observation)."
        )
    if raw.empty:
        raise ChurnlabError(f"Feature table {path} has no rows.")
    raw = _in_key_order(raw, id_col)
    ids = _as_text(coerce_id(raw[id_col]))
    if (ids == "").any():
        raise ChurnlabError(
            f"Feature table {path}, id column {id_col!r}: {int((ids == '').sum())} row(s) have "
            "no id. Every row needs a customer id."
        )
    frame = pd.DataFrame({id_col: ids.astype("string")})
    snapshot_col = "snapshot" if "snapshot" in raw.columns and id_col != "snapshot" else None
    keys = [id_col]
    if snapshot_col:
        frame[snapshot_col] = _parse_snapshot(raw[snapshot_col], path)
        keys.append(snapshot_col)
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        per = " per snapshot" if snapshot_col else ""
        raise ChurnlabError(
            f"Feature table {path}, id column {id_col!r}: {int(dup.sum())} rows share an id"
            f"{per}: {examples(pd.unique(frame.loc[dup, id_col]))}. Keep one row per customer"
            f"{per}."
        )
    if duration_col and snapshot_col:
        raise ChurnlabError(
            f"Feature table {path} has a snapshot column and a duration: --duration is for one "
            "row per customer. Drop the snapshot column, or run churnlab report on the dataset "
            "for time to churn from monthly snapshots."
        )
    frame[label_col] = _parse_label(raw[label_col], path, label_col).array
    warnings: list[str] = []
    outcomes = [label_col]
    if duration_col:
        frame[duration_col] = _parse_duration(raw[duration_col], path, duration_col).to_numpy()
        outcomes.append(duration_col)
    for name in (TIME_COL, EVENT_COL):
        if name in raw.columns and name not in outcomes and name not in keys:
            warnings.append(
                f"{path}: column {name!r} is churnlab's time to churn (an outcome, known only "
                "after the snapshot), so it is not used as a feature"
            )
            outcomes.append(name)
    features: list[str] = []
    for name in raw.columns:
        if name in keys or name in outcomes:
            continue
        col, warning = _parse_feature(raw[name])
        if warning:
            warnings.append(f"{path}: {warning}")
        frame[name] = col.to_numpy() if col.dtype == "float64" else col.array
        features.append(name)
    if not features:
        raise ChurnlabError(
            f"Feature table {path} has no feature columns besides the id, label and snapshot."
        )
    if families_file is not None:
        families = assign_families(parse_families(Path(families_file)), features, families_file)
    else:
        families = dict.fromkeys(features, "other")
    return FeatureTable(
        frame=frame,
        families=families,
        id_col=id_col,
        label_col=label_col,
        snapshot_col=snapshot_col,
        duration_col=duration_col or None,
        meta={"source": str(path), "warnings": warnings},
    )
