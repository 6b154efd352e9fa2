"""Run a notebook as a job: checks, papermill, an atomic output folder, HTML and a manifest.

This is the edge of churnlab that touches processes, files and clocks (DESIGN sections 4-6).
Each ``run_*`` function checks the cheap things first (folders, month format, parameter
types) so that a user mistake ends in one :class:`ChurnlabError` before a kernel starts, then
executes a notebook from ``notebooks/`` through papermill inside a temporary sibling folder
``OUT.partial-<pid>``. Only a run that finished is renamed to ``OUT`` (with ``force``, the old
folder is replaced after success), so ``OUT`` never looks complete when it is not:

- a cell that raises leaves ``OUT`` holding the partly executed ``report.ipynb`` and an
  ``error.txt`` (no ``report.html``, no result files); a ChurnlabError raised in the kernel
  becomes a ChurnlabError here (exit 2), anything else a :class:`RunFailed` (exit 1);
- Ctrl-C removes the partial folder; a dead kernel is a :class:`RunFailed` like a failed cell.

The ``check_*_params`` functions are shared with the notebooks, whose first code cell calls
them, so a wrong-typed ``-p`` parameter gets the same message under plain papermill.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from churnlab.errors import ChurnlabError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
NOTEBOOK_DIR = REPO_DIR / "notebooks"
TEMPLATE_DIR = PACKAGE_DIR / "templates"
CHURN_KINDS = ("cancellation", "inactivity")
#: files whose presence would make a folder look like a finished run
RESULT_FILES = ("report.html", "metrics.json", "drivers.csv", "scores.csv", "manifest.json")
#: distributions whose versions go into every manifest
VERSIONED = (
    "churnlab",
    "pandas",
    "numpy",
    "pyarrow",
    "xgboost",
    "shap",
    "duckdb",
    "scikit-learn",
    "matplotlib",
    "papermill",
    "nbconvert",
    "ipykernel",
)


class RunFailed(ChurnlabError):
    """A notebook cell failed with an error that is not a user mistake (or the kernel died).

    The CLI prints the message (which cell, which error, where the partial notebook is) and
    exits with code 1, which tells a scheduler "churnlab or its environment failed" rather
    than "your input is wrong" (exit 2).
    """

    exit_code = 1


# --- parameters -----------------------------------------------------------------------------


def _whole(name: str, value: object, minimum: int | None = None) -> int:
    """``value`` as an int: ints and digit strings (papermill ``-r`` passes text) are accepted."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        number = int(value)
    if number is None or (minimum is not None and number < minimum):
        floor = f" >= {minimum}" if minimum is not None else ""
        raise ChurnlabError(
            f"Parameter {name} must be a whole number{floor}; got {value!r} "
            f"({type(value).__name__}). Pass it as e.g. `-p {name} {max(minimum or 0, 1)}`."
        )
    return number


def _text(name: str, value: object, allow_empty: bool = False) -> str:
    if value is None and allow_empty:
        return ""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ChurnlabError(
            f"Parameter {name} must be {'a' if allow_empty else 'a non-empty'} text value; "
            f"got {value!r} ({type(value).__name__})."
        )
    return value.strip()


def _month_param(value: object) -> str:
    from churnlab.months import parse_month

    if value is None or (isinstance(value, str) and not value.strip()):
        return ""  # '' means: the latest complete month of the data
    if not isinstance(value, str):
        raise ChurnlabError(
            f"Parameter month must be text in the format YYYY-MM (e.g. '2026-10'), or '' for "
            f"the latest complete month; got {value!r} ({type(value).__name__})."
        )
    return parse_month(value)


def _existing(name: str, value: object, kind: str) -> Path:
    path = Path(_text(name, value))
    ok = path.is_dir() if kind == "folder" else path.is_file()
    if not ok:
        what = "dataset folder" if kind == "folder" else "file"
        raise ChurnlabError(
            f"{name}: {what} {str(path)!r} does not exist"
            + (" (it is a folder, not a file)" if kind == "file" and path.is_dir() else "")
            + f". Check the path (relative paths are taken from {os.getcwd()!r})."
        )
    return path


def check_report_params(
    data: object,
    month: object,
    horizon: object = 1,
    seed: object = 0,
    churn: object = "cancellation",
    inactive_days: object = 30,
    out_dir: object = "",
) -> dict:
    """Validate the monthly report's parameters and return them normalised.

    Raises :class:`ChurnlabError` naming the parameter, the value received and the expected
    form (a whole number, YYYY-MM, one of the churn kinds, an existing folder). Called before a
    kernel starts and again by the report notebook's first code cell.
    """
    churn_text = _text("churn", churn)
    if churn_text not in CHURN_KINDS:
        raise ChurnlabError(f"Parameter churn must be one of {CHURN_KINDS}; got {churn!r}.")
    return {
        "data": str(_existing("data", data, "folder")),
        "month": _month_param(month),
        "horizon": _whole("horizon", horizon, 1),
        "seed": _whole("seed", seed),
        "churn": churn_text,
        "inactive_days": _whole("inactive_days", inactive_days, 1),
        "out_dir": _text("out_dir", out_dir, allow_empty=True),
    }


def check_explain_params(
    table: object,
    id_col: object,
    label_col: object,
    families: object = "",
    seed: object = 0,
    out_dir: object = "",
    data: object = "",
) -> dict:
    """Validate the explanation notebook's parameters (see :func:`check_report_params`).

    ``table`` may be empty when ``data`` names a dataset folder: the notebook then builds the
    feature table from it (its interactive default, on the demo data).
    """
    fam = _text("families", families, allow_empty=True)
    table_text = _text("table", table, allow_empty=True)
    if not table_text and not _text("data", data, allow_empty=True):
        raise ChurnlabError("Give a feature table file (parameter table) to explain.")
    return {
        "table": str(_existing("table", table_text, "file")) if table_text else "",
        "id_col": _text("id_col", id_col),
        "label_col": _text("label_col", label_col),
        "families": str(_existing("families", fam, "file")) if fam else "",
        "seed": _whole("seed", seed),
        "out_dir": _text("out_dir", out_dir, allow_empty=True),
        "data": "" if table_text else str(_existing("data", data, "folder")),
    }


def _check_dataset(params: dict) -> None:
    """Read and validate the dataset and check the month and churn options against it.

    The notebook does the same; doing it first means a bad dataset or a month outside the
    data ends in one message (exit 2) before a kernel starts and without an output folder.
    """
    from churnlab.contract import read_dataset
    from churnlab.report import resolve_month
    from churnlab.snapshots import check_arguments

    dataset = read_dataset(Path(params["data"]))
    resolve_month(dataset, params["month"], params["horizon"])
    check_arguments(dataset, None, params["horizon"], params["churn"], params["inactive_days"])


def load_table_or_dataset(params: dict):
    """The FeatureTable the explanation notebook works on, from :func:`check_explain_params`.

    A feature table file when ``params['table']`` is set, else the feature table built from
    the dataset folder ``params['data']``.
    """
    if params["table"]:
        from churnlab.table import load_feature_table

        return load_feature_table(
            params["table"], params["id_col"], params["label_col"], params["families"] or None
        )
    from churnlab.contract import read_dataset
    from churnlab.features import build_feature_table

    return build_feature_table(read_dataset(params["data"]))


# --- small public helpers -------------------------------------------------------------------


def demo_data_dir() -> Path:
    """The repository's embedded demo dataset, ``data/demo`` (the project installs editable)."""
    path = REPO_DIR / "data" / "demo"
    if not path.is_dir():
        raise ChurnlabError(
            f"The demo dataset is missing: {path} does not exist. Run churnlab from a clone of "
            "the repository (pip install -e .), or regenerate it as data/README.md explains."
        )
    return path


def latest_complete_month(data: Path) -> str:
    """The latest calendar month that the dataset at ``data`` covers completely (YYYY-MM)."""
    from churnlab.contract import read_dataset
    from churnlab.report import latest_complete_month as from_dataset

    return from_dataset(read_dataset(Path(data)))


def input_files(path: Path) -> list[Path]:
    """Every regular file under ``path`` (or ``[path]`` for a file), sorted, hidden ones skipped."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(files: Iterable[tuple[str, Path]]) -> dict:
    """sha256 over the inputs: each file's name (as given) and bytes, sorted by name.

    Returns ``{"sha256": <hex>, "files": [{"name", "bytes", "sha256"}, ...]}``; the combined
    hash changes when any byte or any name changes, and not when files are listed in another
    order.
    """
    total = hashlib.sha256()
    rows = []
    for name, path in sorted(files, key=lambda item: item[0]):
        file_hash = _sha256(path)
        size = path.stat().st_size
        total.update(f"{name}\0{size}\0{file_hash}\n".encode())
        rows.append({"name": name, "bytes": size, "sha256": file_hash})
    return {"sha256": total.hexdigest(), "files": rows}


def data_fingerprint(path: Path) -> dict:
    """:func:`fingerprint` of a dataset folder (names relative to it) or of a single file."""
    path = Path(path)
    root = path if path.is_dir() else path.parent
    return fingerprint((p.relative_to(root).as_posix(), p) for p in input_files(path))


def package_versions() -> dict[str, str | None]:
    """Python's version and the installed versions of the packages a result depends on."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict:
    """The repository's commit and whether its tracked files had changes (nulls outside git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO_DIR), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


# --- output folders -------------------------------------------------------------------------


def _check_out(out: Path, force: bool) -> Path:
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise ChurnlabError(f"--out {str(out)!r} is a file; give a folder path for the results.")
    if out.exists() and not force:
        raise ChurnlabError(
            f"The output folder {str(out)!r} already exists; churnlab does not overwrite a "
            "report. Choose another --out, or pass --force to replace it (the old folder is "
            "replaced only when the new run succeeds)."
        )
    anchor = out.parent
    while not anchor.exists():
        anchor = anchor.parent
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise ChurnlabError(
            f"Cannot write the output folder {str(out)!r}: {str(anchor)!r} is not writable. "
            "Choose an --out in a folder you can write to."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _replace_dir(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``; an existing ``target`` is removed only once this works."""
    if not target.exists():
        source.rename(target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    target.rename(old)
    source.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _keep_failure(partial: Path, out: Path, notebook_name: str, message: str) -> Path:
    """Strip a failed run to its notebook plus error.txt and move it where the user looks."""
    for child in partial.iterdir():
        if child.name == notebook_name:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    (partial / "error.txt").write_text(message + "\n", encoding="utf-8")
    # an existing complete report (--force) is kept: a failure never replaces a success
    target = out if not out.exists() else out.with_name(out.name + ".failed")
    if target != out:
        shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _error_message(err: Exception) -> tuple[str, str]:
    """(ename, one-paragraph description) of a papermill execution error."""
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    cell = getattr(err, "cell_index", None)
    count = getattr(err, "exec_count", None)
    source = (getattr(err, "source", "") or "").strip().splitlines()
    where = f"cell {cell} of the executed notebook" if cell is not None else "a cell"
    if count is not None:
        where += f" (In [{count}])"
    first = f", starting `{source[0][:80]}`" if source else ""
    return ename, f"{where}{first} raised {ename}: {evalue}"


# --- execution ------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (stable across clones)."""
    try:
        return path.resolve().relative_to(REPO_DIR).as_posix()
    except ValueError:
        return str(path)


def _say(text: str) -> None:
    print(f"churnlab: {text}", file=sys.stderr, flush=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_html(notebook: Path, html: Path) -> None:
    """Render an executed notebook to a self-contained HTML page with the code hidden.

    Uses churnlab's template (JupyterLab's look with every CDN script removed), drops input
    cells, prompts and stderr streams (warnings are not part of a report); figures are
    already embedded as base64 PNG in the notebook.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    quiet = logging.getLogger("churnlab.html")
    quiet.setLevel(logging.ERROR)  # nbconvert warns that figures have no alt text
    exporter = HTMLExporter(
        log=quiet,
        template_name="churnlab",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )
    body, _ = exporter.from_notebook_node(nb)
    html.write_text(body, encoding="utf-8")


def execute(
    notebook: Path,
    parameters: dict,
    out: Path,
    inputs: list[tuple[str, Path]],
    force: bool = False,
    command: str = "report",
) -> Path:
    """Execute ``notebook`` with ``parameters`` into the folder ``out``; return report.html.

    The run happens in ``OUT.partial-<pid>`` (the kernel's working directory, and the
    notebook's ``out_dir`` is ``'.'``), then report.html and manifest.json are written and the
    folder is renamed to ``out``. See the module docstring for failures and interruptions.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = _check_out(out, force)
    partial = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    executed = partial / "report.ipynb"
    params = {**parameters, "out_dir": "."}
    started, clock = _now(), time.perf_counter()
    _say(f"executing {_shown(notebook)} into {out} ...")
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=params,
            kernel_name="python3",
            cwd=str(partial),
            progress_bar=False,
            log_output=False,
        )
    except PapermillExecutionError as err:
        ename, text = _error_message(err)
        if ename == "KeyboardInterrupt":
            shutil.rmtree(partial, ignore_errors=True)
            raise KeyboardInterrupt from None
        where = _keep_failure(partial, out, executed.name, text)
        if ename == "ChurnlabError":
            raise ChurnlabError(
                f"{err.evalue}\n(The partly executed notebook is {where / executed.name}.)"
            ) from None
        raise RunFailed(
            f"The {command} notebook failed: {text}.\nThe partly executed notebook is "
            f"{where / executed.name}; error.txt there says the same."
        ) from None
    except KeyboardInterrupt:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except Exception as err:  # the kernel died or could not start: not the user's input
        text = f"the kernel stopped: {type(err).__name__}: {err}"
        if executed.exists():
            where = _keep_failure(partial, out, executed.name, text)
            detail = f"The partly executed notebook is {where / executed.name}."
        else:
            shutil.rmtree(partial, ignore_errors=True)
            detail = "No notebook was written."
        raise RunFailed(f"The {command} notebook did not finish: {text}. {detail}") from None
    executed_s = time.perf_counter() - clock
    try:
        _say("rendering report.html ...")
        html_clock = time.perf_counter()
        render_html(executed, partial / "report.html")
        html_s = time.perf_counter() - html_clock
        manifest = {
            "command": command,
            "notebook": _shown(notebook),
            "parameters": {**parameters, "out_dir": str(out)},
            "inputs": fingerprint(inputs),
            "versions": package_versions(),
            "git": git_commit(),
            "started_at": started,
            "finished_at": _now(),
            "duration_seconds": round(time.perf_counter() - clock, 3),
            "timings_seconds": {"execute": round(executed_s, 3), "html": round(html_s, 3)},
            "outputs": fingerprint(
                (p.relative_to(partial).as_posix(), p) for p in input_files(partial)
            )["files"],
        }
        (partial / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
        )
        _replace_dir(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _say(f"done in {time.perf_counter() - clock:.1f} s: {out / 'report.html'}")
    return out / "report.html"


def run_report(
    data: Path,
    month: str,
    out: Path,
    horizon: int = 1,
    seed: int = 0,
    churn: str = "cancellation",
    inactive_days: int = 30,
    force: bool = False,
) -> Path:
    """Run the monthly report for ``month`` on the dataset ``data`` into ``out``.

    Executes notebooks/report.ipynb through papermill and leaves in ``out`` the files of
    DESIGN section 5: report.ipynb, report.html, metrics.json, drivers.csv, scores.csv,
    manifest.json (plus the report's own tables). ``month=''`` means the latest complete month.
    Returns the path of report.html. Raises :class:`ChurnlabError` for bad input (before any
    kernel starts when it can tell) and :class:`RunFailed` when the notebook breaks.
    """
    params = check_report_params(data, month, horizon, seed, churn, inactive_days)
    data_dir = Path(params["data"]).absolute()
    params["data"] = str(data_dir)
    _check_out(out, force)  # the cheap checks first: an existing OUT is refused at once
    _check_dataset(params)
    inputs = [(p.relative_to(data_dir).as_posix(), p) for p in input_files(data_dir)]
    return execute(NOTEBOOK_DIR / "report.ipynb", params, out, inputs, force, "report")


def run_explain(
    table: Path,
    id_col: str,
    label_col: str,
    out: Path,
    families: Path | None = None,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Train and explain on a feature table through notebooks/explanation.ipynb.

    Leaves the same files as a report run in ``out`` (the ``backtest`` block of metrics.json
    holds the validation metrics) and returns the path of report.html.
    """
    params = check_explain_params(table, id_col, label_col, str(families or ""), seed)
    del params["data"]  # a command-line run always explains a table file
    _check_out(out, force)
    # a label, id or families problem is reported now, before a kernel starts
    load_table_or_dataset(params)
    params["table"] = str(Path(params["table"]).absolute())
    inputs = [("table/" + Path(params["table"]).name, Path(params["table"]))]
    if params["families"]:
        params["families"] = str(Path(params["families"]).absolute())
        inputs.append(("families/" + Path(params["families"]).name, Path(params["families"])))
    return execute(NOTEBOOK_DIR / "explanation.ipynb", params, out, inputs, force, "explain")


def run_experiment(
    out: Path,
    data: Path | None = None,
    table: Path | None = None,
    id_col: str | None = None,
    label_col: str | None = None,
    families: Path | None = None,
    seeds: list[int] = (0,),
    ablate: bool = True,
    force: bool = False,
    param_sets: list[dict] | None = None,
) -> Path:
    """Compare model runs (parameter sets x seeds, and family ablations) via the notebook.

    Give either a dataset folder ``data`` (its feature table is built) or a feature table
    file ``table`` with ``id_col`` and ``label_col``. Leaves in ``out`` report.ipynb,
    report.html, comparison.csv, runs/<run_id>/manifest.json and manifest.json; returns the
    path of report.html.
    """
    from churnlab.experiments import check_experiment_params

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
    params.update(check_experiment_params(list(seeds), param_sets or [{}], ablate))
    source = Path(params["table"] or params["data"]).absolute()
    params["table" if params["table"] else "data"] = str(source)
    inputs = [
        (p.relative_to(source).as_posix() if source.is_dir() else p.name, p)
        for p in input_files(source)
    ]
    if params["families"]:
        params["families"] = str(Path(params["families"]).absolute())
        inputs.append(("families/" + Path(params["families"]).name, Path(params["families"])))
    return execute(NOTEBOOK_DIR / "experiments.ipynb", params, out, inputs, force, "experiment")
