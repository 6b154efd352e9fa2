"""Output-folder safety: --force never destroys what churnlab did not write; runs don't collide.

Each case of the issue "--force deletes whatever folder --out names" has a test here: the
data folder, a folder above it, the working directory and the home folder are refused with
or without --force; a folder churnlab did not write, or one holding a file added by hand, is
never replaced; two runs on one OUT do not both succeed; SIGTERM leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from churnlab.core.errors import ChurnlabError
from churnlab.runs.execute import execute
from churnlab.runs.outdir import RUN_MARKER, RunLock, check_out, written_by_churnlab


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("value = 1\nout_dir = ''\npid_file = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


WRITE = "import json, pathlib\npathlib.Path(out_dir, 'metrics.json').write_text(json.dumps(value))"


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "project" / "data"
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text("customer_id,signup_date,churn_date\n1,2025-01-01,\n")
    return folder


@pytest.fixture(scope="module")
def ok_nb(tmp_path_factory) -> Path:
    return _notebook(tmp_path_factory.mktemp("nb") / "ok.ipynb", WRITE)


def _run(nb: Path, out: Path, data: Path, force: bool = False) -> Path:
    inputs = [("customers.csv", data / "customers.csv")]
    return execute(nb, {"value": 1}, out, inputs, force=force, protected=[data])


@pytest.mark.parametrize("where", ["data", "parent_of_data", "grandparent_of_data"])
def test_force_never_replaces_the_data_or_a_folder_holding_it(data, where):
    out = {"data": data, "parent_of_data": data.parent, "grandparent_of_data": data.parent.parent}[
        where
    ]
    for force in (False, True):
        with pytest.raises(ChurnlabError, match="is or contains the input"):
            check_out(out, force, [data])
    assert (data / "customers.csv").exists()


def test_out_inside_the_data_folder_is_refused(data):
    with pytest.raises(ChurnlabError, match="inside the dataset folder"):
        check_out(data / "report", False, [data])
    assert not (data / "report").exists()


def test_force_never_replaces_cwd_or_home(tmp_path, monkeypatch, data):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    for out in (Path("."), work):
        with pytest.raises(ChurnlabError, match="working directory"):
            check_out(out, True, [data])
    with pytest.raises(ChurnlabError, match="working directory|is or contains the input"):
        check_out(tmp_path, True, [data])  # holds both
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(data.parent)
    with pytest.raises(ChurnlabError, match="home folder"):
        check_out(home, True, [data])
    assert (work / "notes.txt").read_text() == "mine"


def test_force_refuses_a_folder_churnlab_did_not_write(tmp_path, data, ok_nb):
    out = tmp_path / "someone_elses"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    with pytest.raises(ChurnlabError, match="not one"):
        _run(ok_nb, out, data, force=True)
    assert (out / "thesis.docx").read_text() == "years of work"


def test_force_refuses_a_run_folder_with_a_file_added_by_hand(tmp_path, data, ok_nb):
    out = tmp_path / "run"
    _run(ok_nb, out, data)
    assert written_by_churnlab(out) == (True, [])
    (out / "my_notes.txt").write_text("keep me")
    with pytest.raises(ChurnlabError, match="did not write: 'my_notes.txt'"):
        _run(ok_nb, out, data, force=True)
    assert (out / "my_notes.txt").read_text() == "keep me"
    (out / "my_notes.txt").unlink()
    _run(ok_nb, out, data, force=True)  # its own files only: replaced
    assert json.loads((out / RUN_MARKER).read_text())["written_by"] == "churnlab"


def test_symlinked_out_is_refused(tmp_path, data):
    link = tmp_path / "link"
    link.symlink_to(data, target_is_directory=True)
    with pytest.raises(ChurnlabError, match="symbolic link"):
        check_out(link, True, [])


def test_failure_never_removes_a_foreign_out_failed(tmp_path, data, ok_nb):
    boom = _notebook(tmp_path / "boom.ipynb", WRITE, "raise ValueError('boom')")
    out = tmp_path / "run"
    _run(ok_nb, out, data)
    foreign = tmp_path / "run.failed"
    foreign.mkdir()
    (foreign / "important.csv").write_text("x")
    with pytest.raises(ChurnlabError, match="boom"):
        _run(boom, out, data, force=True)
    assert (foreign / "important.csv").read_text() == "x"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.failed-")]
    assert len(kept) == 1 and (kept[0] / "error.txt").exists()


def test_second_run_on_the_same_out_fails_while_the_first_holds_it(tmp_path, data, ok_nb):
    out = tmp_path / "run"
    with RunLock(out.absolute()), pytest.raises(ChurnlabError, match="Another churnlab run"):
        _run(ok_nb, out, data)
    assert not out.exists()
    _run(ok_nb, out, data)  # the lock is released with the first run
    assert (out / "metrics.json").exists()
    assert not (tmp_path / ".run.lock").exists()


def test_a_stale_partial_folder_of_a_killed_run_is_removed(tmp_path, data, ok_nb):
    stale = tmp_path / ".run.partial-999999999"
    stale.mkdir()
    (stale / ".churnlab-partial").write_text("process 999999999")
    (stale / "metrics.json").write_text("{}")
    _run(ok_nb, tmp_path / "run", data)
    assert not stale.exists()


@pytest.mark.slow
def test_sigterm_removes_the_partial_folder_and_the_kernel(tmp_path, data):
    pid_file = tmp_path / "kernel.pid"
    slow = _notebook(
        tmp_path / "slow.ipynb",
        WRITE,
        "import os, time, pathlib\npathlib.Path(pid_file).write_text(str(os.getpid()))\n"
        "time.sleep(120)",
    )
    script = (
        "import sys\nfrom pathlib import Path\nfrom churnlab.runs.execute import execute\n"
        "from churnlab.cli import main\n"
        "try:\n"
        f"    execute(Path({str(slow)!r}), {{'value': 1, 'pid_file': {str(pid_file)!r}}}, "
        f"Path({str(tmp_path / 'run')!r}), [], protected=[Path({str(data)!r})])\n"
        "except KeyboardInterrupt as err:\n"
        "    sys.exit(128 + err.signum)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert pid_file.exists(), "the kernel never reached the slow cell"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["data", "kernel.pid", "project", "slow.ipynb"] or left == [
        "kernel.pid",
        "project",
        "slow.ipynb",
    ]
    kernel = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(kernel, signal.SIGKILL)
        pytest.fail("the kernel outlived the interrupted run")
