"""Load a dataset in the data contract and validate it (docs/data-contract.md).

Three ways in, one pipeline (read -> check columns -> coerce -> value rules -> link rules):

- :func:`read_dataset` reads a dataset folder and returns a :class:`~churnlab.contract.dataset.Dataset`,
  or raises one :class:`~churnlab.core.errors.ChurnlabError` listing every error found;
- :func:`dataset_from_frames` does the same for DataFrames made in memory (tests, notebooks);
- :func:`check_dataset` never raises for data problems: it returns a :class:`ValidationResult`
  whose :meth:`~ValidationResult.render` is what ``churnlab validate DIR`` prints.

Errors make a dataset unusable; warnings (orphan rows, which are dropped, activity long after
a churn date, ignored files) are carried in ``Dataset.warnings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churnlab.contract.checks import Scratch, check_files
from churnlab.contract.coerce import check_columns, coerce_table, drop_unnamed
from churnlab.contract.dataset import Dataset
from churnlab.contract.findings import ERROR, WARNING, Finding, plural, warning
from churnlab.contract.read import discover_files
from churnlab.contract.rules import link_rules, normalise_actions, value_rules
from churnlab.contract.schema import SCHEMA
from churnlab.core.engine import engine_limits
from churnlab.core.errors import ChurnlabError
from churnlab.core.progress import stage

__all__ = [
    "Finding",
    "ValidationResult",
    "check_dataset",
    "dataset_from_frames",
    "read_dataset",
]


@dataclass
class ValidationResult:
    """The outcome of validating a dataset: every error and warning, and the dataset if valid."""

    errors: list[Finding]
    warnings: list[Finding]
    dataset: Dataset | None
    source: Path | None = None
    formats: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed): ``validate`` then exits 0."""
        return not self.errors and self.dataset is not None

    def render(self) -> str:
        """The text ``churnlab validate`` prints: a summary when valid, every error when not."""
        where = str(self.source) if self.source else "the dataset"
        lines = []
        if self.ok:
            lines.append(f"{where}: valid" + _count_note(self.warnings, "warning"))
            lines += _summary(self.dataset, self.formats)
        else:
            lines.append(
                f"{where}: NOT valid, {plural(len(self.errors), 'error')}"
                + _count_note(self.warnings, "warning")
            )
            lines.append("Errors:")
            lines += [f"  {i}. {f}" for i, f in enumerate(self.errors, 1)]
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {f}" for f in self.warnings]
        return "\n".join(lines)


def _count_note(findings: list[Finding], word: str) -> str:
    return f" ({plural(len(findings), word)})" if findings else ""


def _summary(dataset: Dataset, formats: Mapping[str, str]) -> list[str]:
    lines = ["Tables:"]
    for name in SCHEMA:
        if name in dataset.tables:
            fmt = formats.get(name, "memory")
            lines.append(f"  {name:<11} {fmt:<8} {dataset.rows(name):>12,} rows")
    churn = "count(churn_date)" if "churn_date" in dataset.columns("customers") else "0"
    counts = dataset.query(f"SELECT count(*) AS n, {churn} AS churned FROM customers")
    n, churned = int(counts["n"].iloc[0]), int(counts["churned"].iloc[0])
    lines.append(f"Customers: {n:,} ({churned:,} with a churn_date)")
    try:
        start, end = dataset.data_start, dataset.data_end
        lines.append(f"Date range: {start:%Y-%m-%d} .. {end:%Y-%m-%d}")
    except ValueError:
        lines.append("Date range: no dates")
    lines.append(f"Families enabled: {', '.join(dataset.families)}")
    return lines


def check_dataset(path: str | Path) -> ValidationResult:
    """Validate the dataset folder ``path`` against the data contract; never raises for data.

    Reads every table file, coerces types and applies every rule of docs/data-contract.md,
    collecting all errors and warnings rather than stopping at the first. The result's
    ``dataset`` is the loaded :class:`Dataset` when there is no error, else ``None``.
    """
    folder = Path(path)
    files, findings = discover_files(folder)
    formats = {t: p.suffix.lstrip(".") for t, p in files.items()}
    scratch = Scratch(os.environ.get("CHURNLAB_TMP") or None)
    # even after a folder error: report everything at once
    with stage(f"validation of {folder}"), engine_limits(f"validating {folder}"):
        found, stored, _ = check_files(files, scratch)
    findings += found
    _missing_customers(findings, "customers" in stored)
    errors, warnings = _sorted(findings)
    dataset = None
    if not errors:
        dataset = Dataset.from_stored(
            stored,
            source=folder,
            files=files,
            warnings=tuple(str(w) for w in warnings),
            scratch=scratch,
        )
    return ValidationResult(errors, warnings, dataset, folder, formats)


def read_dataset(path: str | Path) -> Dataset:
    """Read and validate the dataset folder ``path``; return it as a coerced :class:`Dataset`.

    One file per table (``<table>.csv`` or ``<table>.parquet``, a compressed CSV or a folder of
    parts, see :mod:`churnlab.contract.read`), ``customers`` required. Types
    are coerced as documented in :mod:`churnlab.contract.dataset`; orphan rows are dropped with a
    warning in ``Dataset.warnings``. Raises one :class:`ChurnlabError` listing every error.
    """
    return _dataset_or_raise(check_dataset(path))


def dataset_from_frames(
    tables: Mapping[str, pd.DataFrame], source: str | Path | None = None
) -> Dataset:
    """Coerce and validate in-memory tables exactly as :func:`read_dataset` does a folder.

    Meant for hand-made datasets in tests and notebooks: dates may be strings, Timestamps or
    datetime64 (time zones converted to UTC), ids ints or strings. Unknown table names are
    ignored with a warning. Raises one :class:`ChurnlabError` listing every error.
    """
    findings = [
        warning(
            name,
            None,
            0,
            f"ignored table {name!r}: not a table of the data contract",
            "Tables are " + ", ".join(SCHEMA),
        )
        for name in tables
        if name not in SCHEMA
    ]
    raw = {name: frame for name, frame in tables.items() if name in SCHEMA}
    result = _validate(raw, findings, Path(source) if source else None, {}, {})
    return _dataset_or_raise(result)


def _validate(raw, findings, source, files, formats) -> ValidationResult:
    """Columns, coercion and rules on raw frames -> ValidationResult (the shared pipeline)."""
    _missing_customers(findings, "customers" in raw)
    tables: dict[str, pd.DataFrame] = {}
    id_kinds: dict[str, str] = {}
    broken: set[tuple[str, str]] = set()
    for name in SCHEMA:
        if name not in raw:
            continue
        named, unnamed = drop_unnamed(name, raw[name])
        problems = unnamed + check_columns(name, named)
        frame, coercion, id_kinds[name] = coerce_table(name, named)
        broken |= {(f.table, f.column) for f in coercion if f.severity == ERROR}
        findings += problems + coercion
        tables[name] = frame
    findings += value_rules(tables, broken)
    tables = normalise_actions(tables)
    if "customers" in tables and "customer_id" in tables["customers"].columns:
        tables, links = link_rules(tables, id_kinds)
        findings += links
    errors, warnings = _sorted(findings)
    dataset = None
    if not errors:
        dataset = Dataset(
            tables=tables,
            source=source,
            files=dict(files),
            warnings=tuple(str(w) for w in warnings),
        )
    return ValidationResult(errors, warnings, dataset, source, formats)


def _missing_customers(findings: list[Finding], present: bool) -> None:
    # the folder, the file or the missing table may already have been reported
    told = any(f.severity == ERROR and f.table in ("customers", None) for f in findings)
    if not present and not told:
        findings.append(
            Finding(
                ERROR,
                "customers",
                None,
                0,
                (),
                "the required customers table is missing",
                "Add a customers table with customer_id, signup_date, churn_date",
            )
        )


def _sorted(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """Errors and warnings in table order (customers first), then column order."""
    order = {name: i for i, name in enumerate(SCHEMA)}
    findings = sorted(findings, key=lambda f: (order.get(f.table, -1), _column_rank(f)))
    return _errors(findings), _warnings(findings)


def _column_rank(finding: Finding) -> int:
    columns = list(SCHEMA.get(finding.table or "", {}))
    return columns.index(finding.column) if finding.column in columns else len(columns)


def _dataset_or_raise(result: ValidationResult) -> Dataset:
    if result.ok:
        return result.dataset
    where = f"The dataset {result.source}" if result.source else "The dataset"
    lines = [f"{where} does not follow the data contract ({plural(len(result.errors), 'error')}):"]
    lines += [f"- {f}" for f in result.errors]
    raise ChurnlabError("\n".join(lines))


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]


def _warnings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == WARNING]
