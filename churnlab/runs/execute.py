"""Execute a notebook into an atomic output folder and write its report.html and manifest.json.

The notebook runs through papermill inside a hidden sibling folder ``.OUT.partial-<pid>``.
Only a run that finished is moved to ``OUT`` (with ``force``, an old run folder is replaced
after success; :mod:`churnlab.runs.outdir` says which folders may be replaced), so ``OUT`` never
looks complete when it is not:

- a cell that raises leaves ``OUT`` holding the partly executed ``report.ipynb`` and an
  ``error.txt`` (no ``report.html``, no result files); a ChurnlabError raised in the kernel
  becomes a ChurnlabError here (exit 2), anything else a :class:`RunFailed` (exit 1);
- Ctrl-C, SIGTERM and SIGHUP remove the partial folder; a dead kernel is a
  :class:`RunFailed` like a failed cell.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from churnlab.core.errors import ChurnlabError
from churnlab.core.progress import PREFIX
from churnlab.runs.manifest import write_manifest
from churnlab.runs.outdir import (
    RunLock,
    check_out,
    keep_failure,
    new_partial,
    publish,
    seal,
    signals_as_interrupts,
)
from churnlab.runs.rendering import render_html, title_notebook
from churnlab.runs.resources import notebook_dir

#: files whose presence would make a folder look like a finished run
RESULT_FILES = ("report.html", "metrics.json", "drivers.csv", "scores.csv", "manifest.json")


class RunFailed(ChurnlabError):
    """A notebook cell failed with an error that is not a user mistake (or the kernel died).

    The CLI prints the message (which cell, which error, where the partial notebook is) and
    exits with code 1, which tells a scheduler "churnlab or its environment failed" rather
    than "your input is wrong" (exit 2).
    """

    exit_code = 1


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
    """A packaged notebook as ``notebooks/<name>`` (the same for every install), else its path."""
    try:
        return "notebooks/" + path.resolve().relative_to(notebook_dir()).as_posix()
    except (ValueError, ChurnlabError):
        return str(path)


def _say(text: str) -> None:
    print(f"{PREFIX}{text}", file=sys.stderr, flush=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def execute(
    notebook: Path,
    parameters: dict,
    out: Path,
    inputs: list[tuple[str, Path]],
    force: bool = False,
    command: str = "report",
    protected: list[Path] = (),
) -> Path:
    """Execute ``notebook`` with ``parameters`` into the folder ``out``; return report.html.

    The run happens in a hidden sibling ``.OUT.partial-<pid>`` (the kernel's working
    directory; the notebook's ``out_dir`` is ``'.'``), under a lock on ``OUT``; then
    report.html and manifest.json are written and the folder is moved to ``out``.
    ``protected`` are the run's inputs, which ``out`` may never be, contain or lie in (see
    :mod:`churnlab.runs.outdir`). See the module docstring for failures and interruptions.
    """
    out = check_out(out, force, protected)
    with RunLock(out):
        check_out(out, force, protected)  # again, now that no other run can change it
        partial = new_partial(out)
        try:
            with signals_as_interrupts():
                return _run(notebook, parameters, out, partial, inputs, force, command)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)  # gone already unless interrupted
            raise


def _run(notebook, parameters, out, partial, inputs, force, command) -> Path:
    """Execute, render, record and publish one run (inside the lock and the partial folder)."""
    executed = partial / "report.ipynb"
    started, clock = _now(), time.perf_counter()
    _say(f"running {_shown(notebook)} into {out}; one line per stage follows")
    run_notebook(notebook, executed, parameters, partial, out, command)
    executed_s = time.perf_counter() - clock
    html_clock = time.perf_counter()
    title_notebook(executed)  # the month's title in report.ipynb too, for JupyterLab
    render_html(executed, partial / "report.html")
    timings = {"execute": executed_s, "html": time.perf_counter() - html_clock}
    _say(f"report.html: {timings['html']:.1f} s")
    write_manifest(
        partial,
        command=command,
        notebook=_shown(notebook),
        parameters={**parameters, "out_dir": str(out)},
        inputs=inputs,
        started_at=started,
        finished_at=_now(),
        duration=time.perf_counter() - clock,
        timings=timings,
    )
    seal(partial, command)
    publish(partial, out, force)
    _say(f"done in {time.perf_counter() - clock:.1f} s: {out / 'report.html'}")
    return out / "report.html"


def run_notebook(
    notebook: Path, executed: Path, parameters: dict, workdir: Path, out: Path, command: str
) -> None:
    """Run ``notebook`` through papermill into ``executed`` with ``workdir`` as its folder.

    The notebook's ``out_dir`` parameter is ``'.'``: its result files land in ``workdir``. A
    failing cell or a dead kernel leaves the partly executed notebook and error.txt where the
    user looks (:func:`~churnlab.runs.outdir.keep_failure`) and raises ChurnlabError (a user
    mistake raised in the kernel, exit 2) or :class:`RunFailed` (anything else, exit 1).
    """
    # papermill (through nbformat and jsonschema) takes seconds to import: only a command
    # that runs a notebook pays for it, not `churnlab features`
    import papermill
    from papermill.engines import papermill_engines
    from papermill.exceptions import PapermillExecutionError

    from churnlab.runs.engine import ChurnlabEngine

    papermill_engines.register("churnlab", ChurnlabEngine)  # also without the entry point
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters={**parameters, "out_dir": "."},
            kernel_name="python3",
            engine_name="churnlab",  # a quiet kernel; the notebook's stage lines to stderr
            cwd=str(workdir),
            progress_bar=False,
            log_output=False,
        )
    except PapermillExecutionError as err:
        ename, text = _error_message(err)
        if ename == "KeyboardInterrupt":
            raise KeyboardInterrupt from None
        where = keep_failure(workdir, out, executed.name, text, command)
        if ename == "ChurnlabError":
            raise ChurnlabError(
                f"{err.evalue}\n(The partly executed notebook is {where / executed.name}.)"
            ) from None
        raise RunFailed(
            f"The {command} notebook failed: {text}.\nThe partly executed notebook is "
            f"{where / executed.name}; error.txt there says the same."
        ) from None
    except KeyboardInterrupt:
        raise
    except Exception as err:  # the kernel died or could not start: not the user's input
        text = f"the kernel stopped: {type(err).__name__}: {err}"
        if executed.exists():
            where = keep_failure(workdir, out, executed.name, text, command)
            detail = f"The partly executed notebook is {where / executed.name}."
        else:
            detail = "No notebook was written."
        raise RunFailed(f"The {command} notebook did not finish: {text}. {detail}") from None
