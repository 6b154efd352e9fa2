"""churnlab as a user installs it: the packaged files, and a wheel in a fresh environment.

The slow test builds a wheel from a copy of the source tree, installs it into a new virtual
environment and runs ``churnlab demo`` from an empty folder outside the source tree, where
nothing of the clone can be found by accident. The new environment sees the pinned stack of
the environment running the tests (installed through constraints.txt) through a ``.pth``
file, and ``pip check`` proves that it satisfies every requirement the wheel declares:
unpacking the whole stack again would take minutes and test pip rather than churnlab. The
editable churnlab of the test environment stays invisible there (a ``.pth`` file's paths are
not scanned for further ``.pth`` files), and the test checks that the demo ran on the files
of the installed wheel. The stack's data files (nbconvert's templates) are found through
``JUPYTER_PATH``, as they would be under the new environment's own prefix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

from churnlab.contract import read_dataset
from churnlab.core.errors import ChurnlabError
from churnlab.runs import copy_notebooks, demo_data_dir
from churnlab.runs.resources import NOTEBOOKS, notebook_dir, with_parameters

ROOT = Path(__file__).resolve().parent.parent
SITE = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


def test_packaged_notebooks_and_demo_are_the_projects_folders():
    assert notebook_dir() == (ROOT / "notebooks").resolve()
    assert demo_data_dir() == (ROOT / "data" / "demo").resolve()
    assert {p.stem for p in notebook_dir().glob("*.ipynb")} == set(NOTEBOOKS)


def test_copied_notebooks_point_at_the_demo_and_refuse_to_overwrite(tmp_path):
    written = copy_notebooks(tmp_path / "work")
    assert sorted(p.name for p in written) == sorted(f"{n}.ipynb" for n in NOTEBOOKS)
    for path in written:
        nb = nbformat.read(str(path), as_version=4)
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])][0]
        assert f"data = {str(demo_data_dir())!r}" in params.source.splitlines()
        assert "# " in params.source  # the comments that explain the parameters stay
        original = nbformat.read(str(notebook_dir() / path.name), as_version=4)
        assert len(nb.cells) == len(original.cells)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "report.ipynb").write_text("my edits")
    with pytest.raises(ChurnlabError, match="does not overwrite"):
        copy_notebooks(tmp_path / "mine")
    assert (tmp_path / "mine" / "report.ipynb").read_text() == "my edits"
    assert not (tmp_path / "mine" / "training.ipynb").exists()


def test_with_parameters_replaces_only_named_assignments():
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["data = 'not code'"]},
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": ["# where\n", "data = '../x'\n", "seed = 0"],
            },
        ]
    }
    out = with_parameters(nb, {"data": "/abs/it's", "missing": 1})
    assert out["cells"][1]["source"] == ["# where\n", 'data = "/abs/it\'s"\n', "seed = 0"]
    assert out["cells"][0] == nb["cells"][0] and nb["cells"][1]["source"][1] == "data = '../x'\n"


def _source_copy(dest: Path) -> Path:
    """The files git tracks or would track (symlinks kept), else the tree minus caches."""
    try:
        listed = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        listed = []
    names = [n.decode() for n in listed if n]
    if not names:
        skip = shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "runs")
        shutil.copytree(ROOT, dest, symlinks=True, ignore=skip)
        return dest
    for name in names:
        source, target = ROOT / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)
    return dest


def _run(args: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_a_wheel_in_a_fresh_venv_runs_the_demo_from_anywhere(tmp_path):
    source = _source_copy(tmp_path / "src")
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, source], tmp_path)
    (wheel,) = wheels.glob("churnlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"churnlab/notebooks/{n}.ipynb" for n in NOTEBOOKS} <= names
    assert {"churnlab/demo/customers.parquet", "churnlab/py.typed"} <= names
    assert "churnlab/runs/templates/churnlab/index.html.j2" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", SITE], tmp_path).stdout.strip())
    stack = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "pinned-stack.pth").write_text("".join(f"{p}\n" for p in stack))
    pip = [python, "-m", "pip", "install", "-q", "--no-deps", "-c", ROOT / "constraints.txt"]
    _run([*pip, wheel], tmp_path)
    _run([python, "-m", "pip", "check"], tmp_path)  # the stack satisfies the wheel's requirements
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _run([venv / "bin" / "churnlab", "demo", "--out", "demo"], elsewhere)
    assert "report.html" in done.stdout
    out = elsewhere / "demo"
    assert {"report.html", "metrics.json", "scores.csv", "manifest.json"} <= {
        p.name for p in out.iterdir()
    }
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["git"] == {"commit": None, "dirty": None}
    assert manifest["notebook"] == "notebooks/report.ipynb"
    installed = Path(manifest["parameters"]["data"])
    assert installed.is_relative_to(site) and read_dataset(installed).tables
    assert json.loads((out / "metrics.json").read_text())["month"] == "2026-10"
