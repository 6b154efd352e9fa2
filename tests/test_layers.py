"""The package's layers: imports point one way, every folder says what it holds, the public face.

Layers, from the bottom: core, contract, features, model, report, runs, then the command
line. A module may import its own layer and those below it; synth stands beside the chain and
may import only core. The README's module map lists exactly these folders.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import churnlab

PACKAGE = Path(churnlab.__file__).resolve().parent
README = PACKAGE.parent / "README.md"
LAYERS = ["core", "contract", "features", "model", "report", "runs", "cli"]
ALLOWED_BESIDE = {"synth": {"core", "synth"}}


def _layer(module: str) -> str:
    """'churnlab.report.plots.gains' -> 'report'; 'churnlab.cli' -> 'cli'."""
    return module.split(".")[1]


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        if name != "churnlab":  # the public facade re-exports every layer by design
            out.append((name, path))
    return out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "churnlab":
                found |= {f"churnlab.{a.name}" for a in node.names}
            elif node.module.startswith("churnlab."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("churnlab.")}
    return found


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda v: str(v))
def test_imports_point_down_the_layers(module: str, path: Path):
    mine = _layer(module)
    for target in _imports(path):
        theirs = _layer(target)
        if mine in ALLOWED_BESIDE:
            assert theirs in ALLOWED_BESIDE[mine], f"{module} imports {target}"
        elif theirs in ALLOWED_BESIDE:
            assert mine == "cli", f"{module} imports {target}: only the command line uses synth"
        else:
            assert LAYERS.index(theirs) <= LAYERS.index(mine), f"{module} imports {target}"


def test_every_folder_says_what_it_holds_and_may_import():
    folders = [p.parent for p in PACKAGE.glob("*/__init__.py")]
    assert {f.name for f in folders} == {*LAYERS[:-1], "synth"}
    for folder in folders:
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc and len(doc) > 80, folder.name
        if folder.name != "synth":
            assert "import" in doc, f"{folder.name}/__init__.py must say what it may import"


def test_readme_module_map_lists_the_folders():
    text = README.read_text(encoding="utf-8")
    mapped = set(re.findall(r"^\| `(\w+)/` \|", text, re.M))
    assert mapped == {*LAYERS[:-1], "synth"}


def test_public_names_resolve():
    for name in churnlab.__all__:
        assert getattr(churnlab, name) is not None
    assert churnlab.read_dataset is importlib.import_module("churnlab.contract").read_dataset
    with pytest.raises(AttributeError):
        churnlab.no_such_name  # noqa: B018


def test_the_public_example_runs_on_the_demo_data():
    dataset = churnlab.read_dataset(PACKAGE.parent / "data" / "demo")
    months = ["2026-07", "2026-08", "2026-09", "2026-10"]
    table = churnlab.build_feature_table(dataset, months)
    result = churnlab.analyze_month(table, "2026-10")
    assert result.metrics["month"] == "2026-10"
    assert result.metrics["backtest"]["snapshot"] == "2026-09"
    assert 0.5 < result.metrics["backtest"]["roc_auc"] <= 1
    assert len(result.scores) == result.metrics["scored_customers"]


def test_the_features_command_loads_no_notebook_or_model_machinery():
    """`churnlab features` imports churnlab.runs; papermill (seconds of imports through
    nbformat and jsonschema) and XGBoost load only for a command that needs them."""
    import subprocess
    import sys

    code = (
        "import sys, churnlab.runs, churnlab.features.build\n"
        "print(sorted(m for m in ('papermill', 'nbformat', 'xgboost') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
