"""The run commands: check the input, then execute a notebook from ``notebooks/`` as a job.

This is the top of churnlab below the CLI (README, docs/outputs.md). Each ``run_*`` function
checks the cheap things first (folders, month format, parameter types, then the dataset or
feature table itself) so that a user mistake ends in one :class:`ChurnlabError` before a
kernel starts, then hands the notebook to :func:`churnlab.runs.execute.execute`, which runs it
into an atomic output folder with report.html and manifest.json. Notebooks are known here by
path only.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from churnlab.contract import read_dataset
from churnlab.core.errors import ChurnlabError
from churnlab.features.snapshots import check_arguments
from churnlab.report.kpis import latest_complete_month as month_of_dataset
from churnlab.report.kpis import resolve_month
from churnlab.runs.execute import execute
from churnlab.runs.manifest import input_files
from churnlab.runs.outdir import check_out, refuse_unsafe
from churnlab.runs.params import (
    check_explain_params,
    check_report_params,
    definition_of,
    load_table_or_dataset,
)
from churnlab.runs.resources import notebook_path


def _check_dataset(params: dict) -> None:
    """Read and validate the dataset and check the month and churn options against it.

    The notebook does the same; doing it first means a bad dataset or a month outside the
    data ends in one message (exit 2) before a kernel starts and without an output folder.
    """
    dataset = read_dataset(Path(params["data"]))
    resolve_month(dataset, params["month"], params["horizon"])
    check_arguments(dataset, None, definition_of(params))


def latest_complete_month(data: Path) -> str:
    """The latest calendar month that the dataset at ``data`` covers completely (YYYY-MM)."""
    return month_of_dataset(read_dataset(Path(data)))


def run_report(
    data: Path,
    month: str,
    out: Path,
    horizon: int = 1,
    seed: int = 0,
    churn: str = "cancellation",
    inactive_days: int = 30,
    force: bool = False,
    currency: str = "",
    engine: str = "duckdb",
) -> Path:
    """Run the monthly report for ``month`` on the dataset ``data`` into ``out``.

    ``currency`` names the billing amounts' currency in every money figure ('' = no unit).
    Executes notebooks/report.ipynb through papermill and leaves in ``out`` the files of
    docs/outputs.md: report.ipynb, report.html, metrics.json, drivers.csv, scores.csv,
    manifest.json (plus the report's own tables). ``month=''`` means the latest complete month.
    Returns the path of report.html. Raises :class:`ChurnlabError` for bad input (before any
    kernel starts when it can tell) and :class:`RunFailed` when the notebook breaks.
    """
    params = check_report_params(
        data, month, horizon, seed, churn, inactive_days, engine=engine, currency=currency
    )
    data_dir = Path(params["data"]).absolute()
    params["data"] = str(data_dir)
    check_out(out, force, [data_dir])  # the cheap checks first: a bad OUT is refused at once
    _check_dataset(params)
    inputs = [(p.relative_to(data_dir).as_posix(), p) for p in input_files(data_dir)]
    return execute(notebook_path("report"), params, out, inputs, force, "report", [data_dir])


def run_features(
    data: Path,
    out: Path,
    months: list[str] | None = None,
    horizon: int = 1,
    churn: str = "cancellation",
    inactive_days: int = 30,
    engine: str = "duckdb",
    force: bool = False,
) -> Path:
    """Write the feature table of the dataset ``data`` (the one a report uses) to ``out``.

    Parquet: one file with DuckDB, a folder of part files with Spark. ``months`` defaults to
    every complete month. ``out`` may not be or lie inside the data; an existing ``out`` is
    replaced only with ``force`` and only when churnlab wrote it, and only once the new table
    is complete (it is written beside ``out`` first). Returns ``out``.
    """
    from churnlab.features.build import ENGINES, write_feature_table

    params = check_report_params(data, "", horizon, 0, churn, inactive_days)
    if engine not in ENGINES:
        raise ChurnlabError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}.")
    data_dir = Path(params["data"]).absolute()
    out = Path(out).absolute()
    refuse_unsafe(out, [data_dir])
    if out.exists() or out.is_symlink():
        if not force:
            raise ChurnlabError(
                f"{str(out)!r} already exists; churnlab does not overwrite it. Choose another "
                "--out, or pass --force to replace a feature table churnlab wrote."
            )
        if not is_feature_output(out):
            raise ChurnlabError(
                f"--force replaces only a feature table that churnlab wrote, and {str(out)!r} "
                "is not one. Choose another --out, or move that file away yourself."
            )
    dataset = read_dataset(data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        write_feature_table(dataset, partial, months, definition_of(params), engine)
        if out.exists():
            _remove_output(out)
        partial.rename(out)
    finally:
        if partial.exists():
            _remove_output(partial)
    return out


def is_feature_output(path: Path) -> bool:
    """Whether ``path`` is a feature table churnlab wrote (a marked file or Spark folder)."""
    from churnlab.features.build import MARKER_KEY

    if path.is_symlink():
        return False
    if path.is_dir():
        return (path / f"_{MARKER_KEY.upper()}").is_file()
    try:
        meta = pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return MARKER_KEY.encode() in meta


def _remove_output(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def run_explain(
    table: Path,
    id_col: str,
    label_col: str,
    out: Path,
    families: Path | None = None,
    seed: int = 0,
    force: bool = False,
    duration_col: str | None = None,
) -> Path:
    """Train and explain on a feature table through notebooks/explanation.ipynb.

    Leaves the same files as a report run in ``out`` (the ``backtest`` block of metrics.json
    holds the validation metrics) and returns the path of report.html. With
    ``duration_col`` (time until churn or the end of observation; the label is the event) a
    survival model is validated out of fold too (metrics.json ``survival``).
    """
    params = check_explain_params(
        table, id_col, label_col, str(families or ""), seed, duration_col=duration_col or ""
    )
    if not params["duration_col"]:
        del params["duration_col"]  # a run without a duration passes what it always did
    del params["data"]  # a command-line run always explains a table file
    protected = [Path(params["table"])] + ([Path(params["families"])] if params["families"] else [])
    check_out(out, force, protected)
    # a label, id or families problem is reported now, before a kernel starts
    load_table_or_dataset(params)
    params["table"] = str(Path(params["table"]).absolute())
    inputs = [("table/" + Path(params["table"]).name, Path(params["table"]))]
    if params["families"]:
        params["families"] = str(Path(params["families"]).absolute())
        inputs.append(("families/" + Path(params["families"]).name, Path(params["families"])))
    return execute(notebook_path("explanation"), params, out, inputs, force, "explain", protected)


def run_experiment(
    out: Path,
    data: Path | None = None,
    table: Path | None = None,
    id_col: str | None = None,
    label_col: str | None = None,
    families: Path | None = None,
    seeds: list[int] | None = None,
    ablate: bool = True,
    force: bool = False,
    param_sets: list[dict] | None = None,
) -> Path:
    """Compare model runs (parameter sets x seeds, and family ablations) via the notebook.

    Without ``param_sets``, churnlab's model is compared with shallower and deeper trees
    (:data:`~churnlab.report.experiments.DEFAULT_PARAM_SETS`); without ``seeds``, over
    three seeds (:data:`~churnlab.report.experiments.DEFAULT_SEEDS`).
    Give either a dataset folder ``data`` (its feature table is built) or a feature table
    file ``table`` with ``id_col`` and ``label_col``. Leaves in ``out`` report.ipynb,
    report.html, comparison.csv, runs/<run_id>/manifest.json and manifest.json; returns the
    path of report.html.
    """
    # the model (XGBoost) loads only for a command that trains one
    from churnlab.report.experiments import (
        DEFAULT_PARAM_SETS,
        DEFAULT_SEEDS,
        check_experiment_params,
    )

    if (data is None) == (table is None):
        raise ChurnlabError("An experiment needs exactly one of --data DIR or --table FILE.")
    params = check_explain_params(
        str(table or ""),
        id_col or "customer_id",
        label_col or "churned",
        str(families or ""),
        0,
        data=str(data or ""),
    )
    del params["seed"]
    params.update(
        check_experiment_params(
            list(DEFAULT_SEEDS if seeds is None else seeds),
            param_sets or list(DEFAULT_PARAM_SETS),
            ablate,
        )
    )
    source = Path(params["table"] or params["data"]).absolute()
    params["table" if params["table"] else "data"] = str(source)
    inputs = [
        (p.relative_to(source).as_posix() if source.is_dir() else p.name, p)
        for p in input_files(source)
    ]
    protected = [source]
    if params["families"]:
        params["families"] = str(Path(params["families"]).absolute())
        inputs.append(("families/" + Path(params["families"]).name, Path(params["families"])))
        protected.append(Path(params["families"]))
    check_out(out, force, protected)
    return execute(
        notebook_path("experiments"), params, out, inputs, force, "experiment", protected
    )
