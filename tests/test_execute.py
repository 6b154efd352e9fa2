"""Notebook execution: atomic output folders, failures, HTML and manifest.

These tests execute tiny notebooks written on the fly (a kernel start each, no model), so
they exercise execute.py itself; the real notebooks are run by tests/test_notebooks.py.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from churnlab.core.errors import ChurnlabError
from churnlab.runs.execute import RESULT_FILES, RunFailed, execute


def _notebook(path: Path, *sources: str) -> Path:
    """A notebook with a parameters cell (``value``, ``out_dir``) and the given code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell("value = 1\nout_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny run"), params]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


WRITE = (
    "import json, pathlib\n"
    "pathlib.Path(out_dir, 'metrics.json').write_text(json.dumps({'value': value}))"
)
FIGURE = (
    "import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.show()"
)


@pytest.fixture(scope="module")
def nbdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("nbs")
    _notebook(d / "ok.ipynb", WRITE, FIGURE, "print('visible output')")
    _notebook(d / "boom.ipynb", WRITE, "raise ValueError('boom in cell')", "print('never')")
    _notebook(
        d / "usererr.ipynb",
        WRITE,
        "from churnlab.core.errors import ChurnlabError\nraise ChurnlabError('bad column x in t')",
    )
    _notebook(d / "dies.ipynb", WRITE, "import os\nos._exit(3)")
    return d


def _inputs(tmp: Path) -> list[tuple[str, Path]]:
    f = tmp / "input.csv"
    f.write_text("a,b\n1,2\n")
    return [("input.csv", f)]


@pytest.fixture(scope="module")
def ok_run(nbdir, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ok")
    html = execute(nbdir / "ok.ipynb", {"value": 7}, tmp / "out", _inputs(tmp))
    return html


class _Resources(HTMLParser):
    """Collects every URL the page would load: script/img src, link href, CSS @import/url()."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source") and a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            import re

            self.loads += re.findall(r"@import\s+(?:url\()?['\"]?([^'\")\s;]+)", data)
            self.loads += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)


def network_loads(html: str) -> list[str]:
    parser = _Resources()
    parser.feed(html)
    return [u for u in parser.loads if u.startswith(("http://", "https://", "//"))]


def test_success_leaves_complete_folder(ok_run: Path):
    out = ok_run.parent
    assert ok_run.name == "report.html"
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        ".churnlab-run",
        "manifest.json",
        "metrics.json",
        "report.html",
        "report.ipynb",
    ]
    assert json.loads((out / "metrics.json").read_text()) == {"value": 7}
    # the run folder lists what churnlab wrote (what --force may replace)
    listed = json.loads((out / ".churnlab-run").read_text())["files"]
    assert listed == ["manifest.json", "metrics.json", "report.html", "report.ipynb"]
    # no temporary folder or lock left beside OUT
    assert [p.name for p in out.parent.iterdir() if p.name != "input.csv"] == ["out"]


def test_html_self_contained_code_hidden(ok_run: Path):
    html = ok_run.read_text()
    assert network_loads(html) == []
    assert "<script src" not in html
    assert "data:image/png;base64," in html  # the figure is embedded
    assert "visible output" in html
    assert "pathlib.Path(out_dir" not in html  # code cells are hidden
    assert "jp-InputPrompt jp-InputArea-prompt" not in html
    assert "jp-OutputPrompt jp-OutputArea-prompt" not in html


def test_manifest_contents(ok_run: Path, tmp_path):
    m = json.loads((ok_run.parent / "manifest.json").read_text())
    assert m["parameters"]["value"] == 7 and m["parameters"]["out_dir"] == str(ok_run.parent)
    assert m["inputs"]["files"][0]["name"] == "input.csv"
    assert len(m["inputs"]["sha256"]) == 64
    for key in ("python", "churnlab", "pandas", "numpy", "xgboost", "shap", "duckdb"):
        assert m["versions"][key]
    assert {"papermill", "nbconvert", "scikit-learn"} <= set(m["versions"])
    assert set(m["git"]) == {"commit", "dirty"}
    assert m["started_at"].endswith("Z") and m["finished_at"] >= m["started_at"]
    assert m["duration_seconds"] > 0
    assert {o["name"] for o in m["outputs"]} == {"metrics.json", "report.html", "report.ipynb"}


def test_existing_out_refused_without_force(ok_run: Path, nbdir, tmp_path):
    with pytest.raises(ChurnlabError, match="already exists.*--force"):
        execute(nbdir / "ok.ipynb", {"value": 1}, ok_run.parent, _inputs(tmp_path))


def test_force_replaces_only_after_success(nbdir, tmp_path):
    out = tmp_path / "out"
    execute(nbdir / "ok.ipynb", {"value": 1}, out, _inputs(tmp_path))
    with pytest.raises(RunFailed):
        execute(nbdir / "boom.ipynb", {"value": 2}, out, _inputs(tmp_path), force=True)
    # the old complete report is untouched; the failure sits beside it
    assert json.loads((out / "metrics.json").read_text()) == {"value": 1}
    assert (out / "report.html").exists()
    failed = tmp_path / "out.failed"
    assert sorted(p.name for p in failed.iterdir()) == [
        ".churnlab-run",
        "error.txt",
        "report.ipynb",
    ]
    execute(nbdir / "ok.ipynb", {"value": 3}, out, _inputs(tmp_path), force=True)
    assert json.loads((out / "metrics.json").read_text()) == {"value": 3}


def test_failing_cell_leaves_partial_notebook_only(nbdir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RunFailed) as info:
        execute(nbdir / "boom.ipynb", {"value": 1}, out, _inputs(tmp_path))
    assert info.value.exit_code == 1
    message = str(info.value)
    assert (
        "cell 4 of the executed notebook (In [4])" in message
        and "ValueError: boom in cell" in message
    )
    assert sorted(p.name for p in out.iterdir()) == [".churnlab-run", "error.txt", "report.ipynb"]
    assert "ValueError" in (out / "error.txt").read_text()
    nb = nbformat.read(str(out / "report.ipynb"), as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors and errors[0]["ename"] == "ValueError"
    assert not list(tmp_path.glob(".out.partial-*"))


def test_user_error_in_kernel_is_exit_2(nbdir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ChurnlabError) as info:
        execute(nbdir / "usererr.ipynb", {"value": 1}, out, _inputs(tmp_path))
    assert not isinstance(info.value, RunFailed) and info.value.exit_code == 2
    assert "bad column x in t" in str(info.value)
    assert (out / "report.ipynb").exists() and not (out / "metrics.json").exists()


def test_dead_kernel_leaves_nothing_complete(nbdir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RunFailed, match="did not finish"):
        execute(nbdir / "dies.ipynb", {"value": 1}, out, _inputs(tmp_path))
    assert not any((out / name).exists() for name in RESULT_FILES)
    assert not list(tmp_path.glob(".out.partial-*"))


def test_keyboard_interrupt_removes_partial(nbdir, tmp_path, monkeypatch):
    import papermill

    def interrupted(*args, **kwargs):
        Path(kwargs["cwd"], "metrics.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        execute(nbdir / "ok.ipynb", {"value": 1}, tmp_path / "out", _inputs(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv"]
