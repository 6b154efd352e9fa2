"""The files churnlab ships inside its package: notebooks, demo data and the HTML template.

They are read with :mod:`importlib.resources` from the installed package, so a wheel, a
``pip install .`` and an editable install (``pip install -e .``) all find them, from any
working directory. In the source tree, ``churnlab/notebooks`` and ``churnlab/demo`` are
symbolic links to the project's top-level ``notebooks/`` and ``data/demo/`` (the folders a
reader of the repository opens); building a wheel or an sdist copies the files they point at
into the package (``[tool.setuptools.package-data]`` in pyproject.toml).

churnlab needs a package unpacked on disk (as pip installs it): papermill and the data
reader take file paths, not zip members.
"""

from __future__ import annotations

import ast
import json
from importlib.resources import files
from pathlib import Path

from churnlab.core.errors import ChurnlabError

#: the notebooks churnlab ships, in the order a reader meets them
NOTEBOOKS = ("exploration", "training", "explanation", "report", "experiments", "time_to_churn")


def _packaged(name: str) -> Path:
    """The on-disk path of the package folder ``churnlab/<name>`` (symlinks resolved)."""
    path = Path(str(files("churnlab").joinpath(name))).resolve()
    if not path.is_dir():
        raise ChurnlabError(
            f"churnlab's packaged folder {name!r} is missing ({path} does not exist): the "
            "installation is incomplete. Reinstall churnlab (pip install --force-reinstall "
            "churnlab, or pip install -e . in a clone)."
        )
    return path


def notebook_dir() -> Path:
    """The folder of churnlab's notebooks (``churnlab/notebooks`` inside the package)."""
    return _packaged("notebooks")


def notebook_path(name: str) -> Path:
    """The packaged notebook ``name`` (e.g. ``'report'``) as a file path."""
    path = notebook_dir() / f"{name}.ipynb"
    if not path.is_file():
        raise ChurnlabError(
            f"churnlab's notebook {path.name} is missing from {path.parent}: the installation "
            "is incomplete. Reinstall churnlab."
        )
    return path


def demo_data_dir() -> Path:
    """The demo dataset that ships with churnlab (``churnlab/demo``; ``data/demo`` in a clone)."""
    path = _packaged("demo")
    if not (path / "customers.parquet").is_file():
        raise ChurnlabError(
            f"The demo dataset is missing: {path} holds no customers.parquet. Reinstall "
            "churnlab, or regenerate the demo data as data/README.md explains."
        )
    return path


def template_dir() -> Path:
    """The folder of churnlab's nbconvert template (``churnlab/runs/templates``)."""
    return _packaged("runs/templates")


def with_parameters(notebook: dict, values: dict[str, object]) -> dict:
    """A copy of a notebook (as JSON) whose parameters cell assigns ``values`` instead.

    Only names the parameters cell already assigns are replaced, each on its own line, as a
    Python literal; comments and the other parameters stay as they are.
    """
    nb = json.loads(json.dumps(notebook))
    for cell in nb["cells"]:
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        lines = "".join(cell["source"]).splitlines()
        for node in ast.parse("\n".join(lines)).body:
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id in values:
                lines[node.lineno - 1] = f"{target.id} = {values[target.id]!r}"
        cell["source"] = [line + "\n" for line in lines[:-1]] + lines[-1:]
    return nb


def copy_notebooks(dest: Path) -> list[Path]:
    """Copy churnlab's notebooks into ``dest`` for JupyterLab, pointed at the demo data.

    Each copy's ``data`` parameter names the packaged demo dataset by its absolute path, so
    every notebook runs top to bottom from ``dest``. Refuses (ChurnlabError) to replace a file
    that exists already: ``dest`` may be a folder of the user's own. Returns the files written.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ChurnlabError(f"{dest} is a file; give a folder to copy the notebooks into.")
    targets = [dest / f"{name}.ipynb" for name in NOTEBOOKS]
    existing = [t.name for t in targets if t.exists()]
    if existing:
        raise ChurnlabError(
            f"{dest} already holds {', '.join(existing)}; churnlab does not overwrite "
            "notebooks (they may hold your edits). Choose another folder or move them away."
        )
    dest.mkdir(parents=True, exist_ok=True)
    demo = str(demo_data_dir())
    for name, target in zip(NOTEBOOKS, targets, strict=True):
        source = json.loads(notebook_path(name).read_text(encoding="utf-8"))
        copied = with_parameters(source, {"data": demo})
        target.write_text(json.dumps(copied, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return targets
