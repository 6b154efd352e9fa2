"""Run execution: checks before a kernel starts, atomic output folders, failures, HTML, manifest.

These tests execute tiny notebooks written on the fly (a kernel start each, no model), so
they exercise runs.py itself; the real notebooks are run by tests/test_notebooks.py.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from churnlab import runs
from churnlab.errors import ChurnlabError


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
        "from churnlab.errors import ChurnlabError\nraise ChurnlabError('bad column x in t')",
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
    html = runs.execute(nbdir / "ok.ipynb", {"value": 7}, tmp / "out", _inputs(tmp))
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
    assert names == ["manifest.json", "metrics.json", "report.html", "report.ipynb"]
    assert json.loads((out / "metrics.json").read_text()) == {"value": 7}
    # no temporary folder left beside OUT
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


def test_fingerprint_names_bytes_and_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    fp = runs.fingerprint([("a", a), ("b", b)])
    assert fp == runs.fingerprint([("b", b), ("a", a)])
    assert fp["sha256"] != runs.fingerprint([("a", a), ("c", b)])["sha256"]
    b.write_bytes(b"twO")
    assert fp["sha256"] != runs.fingerprint([("a", a), ("b", b)])["sha256"]


def test_existing_out_refused_without_force(ok_run: Path, nbdir, tmp_path):
    with pytest.raises(ChurnlabError, match="already exists.*--force"):
        runs.execute(nbdir / "ok.ipynb", {"value": 1}, ok_run.parent, _inputs(tmp_path))


def test_force_replaces_only_after_success(nbdir, tmp_path):
    out = tmp_path / "out"
    runs.execute(nbdir / "ok.ipynb", {"value": 1}, out, _inputs(tmp_path))
    with pytest.raises(runs.RunFailed):
        runs.execute(nbdir / "boom.ipynb", {"value": 2}, out, _inputs(tmp_path), force=True)
    # the old complete report is untouched; the failure sits beside it
    assert json.loads((out / "metrics.json").read_text()) == {"value": 1}
    assert (out / "report.html").exists()
    failed = tmp_path / "out.failed"
    assert sorted(p.name for p in failed.iterdir()) == ["error.txt", "report.ipynb"]
    runs.execute(nbdir / "ok.ipynb", {"value": 3}, out, _inputs(tmp_path), force=True)
    assert json.loads((out / "metrics.json").read_text()) == {"value": 3}


def test_failing_cell_leaves_partial_notebook_only(nbdir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(runs.RunFailed) as info:
        runs.execute(nbdir / "boom.ipynb", {"value": 1}, out, _inputs(tmp_path))
    assert info.value.exit_code == 1
    message = str(info.value)
    assert (
        "cell 4 of the executed notebook (In [4])" in message
        and "ValueError: boom in cell" in message
    )
    assert sorted(p.name for p in out.iterdir()) == ["error.txt", "report.ipynb"]
    assert "ValueError" in (out / "error.txt").read_text()
    nb = nbformat.read(str(out / "report.ipynb"), as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors and errors[0]["ename"] == "ValueError"
    assert not list(tmp_path.glob("out.partial-*"))


def test_user_error_in_kernel_is_exit_2(nbdir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ChurnlabError) as info:
        runs.execute(nbdir / "usererr.ipynb", {"value": 1}, out, _inputs(tmp_path))
    assert not isinstance(info.value, runs.RunFailed) and info.value.exit_code == 2
    assert "bad column x in t" in str(info.value)
    assert (out / "report.ipynb").exists() and not (out / "metrics.json").exists()


def test_dead_kernel_leaves_nothing_complete(nbdir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(runs.RunFailed, match="did not finish"):
        runs.execute(nbdir / "dies.ipynb", {"value": 1}, out, _inputs(tmp_path))
    assert not any((out / name).exists() for name in runs.RESULT_FILES)
    assert not list(tmp_path.glob("out.partial-*"))


def test_keyboard_interrupt_removes_partial(nbdir, tmp_path, monkeypatch):
    import papermill

    def interrupted(*args, **kwargs):
        Path(kwargs["cwd"], "metrics.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runs.execute(nbdir / "ok.ipynb", {"value": 1}, tmp_path / "out", _inputs(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"horizon": "two"}, "horizon must be a whole number"),
        ({"horizon": 0}, "horizon must be a whole number >= 1"),
        ({"seed": "x"}, "seed must be a whole number"),
        ({"seed": True}, "seed must be a whole number"),
        ({"month": "2026-13"}, "YYYY-MM"),
        ({"month": 202610}, "YYYY-MM"),
        ({"churn": "soon"}, "churn must be one of"),
        ({"inactive_days": "30d"}, "inactive_days must be a whole number"),
        ({"data": "/no/such/folder"}, "does not exist"),
    ],
)
def test_report_params_rejected(tmp_path, kwargs, words):
    base = {"data": str(tmp_path), "month": "2026-10"}
    with pytest.raises(ChurnlabError, match=words):
        runs.check_report_params(**{**base, **kwargs})


def test_report_params_normalised(tmp_path):
    p = runs.check_report_params(str(tmp_path), "2026-1", "2", 5, "inactivity", 45)
    assert p == {
        "data": str(tmp_path),
        "month": "2026-01",
        "horizon": 2,
        "seed": 5,
        "churn": "inactivity",
        "inactive_days": 45,
        "out_dir": "",
    }
    assert runs.check_report_params(str(tmp_path), "")["month"] == ""


def test_run_report_checks_before_kernel(tmp_path):
    with pytest.raises(ChurnlabError, match="does not exist"):
        runs.run_report(tmp_path / "missing", "2026-10", tmp_path / "out")
    with pytest.raises(ChurnlabError, match="YYYY-MM"):
        runs.run_report(tmp_path, "October", tmp_path / "out")
    (tmp_path / "out").mkdir()
    with pytest.raises(ChurnlabError, match="already exists"):
        runs.run_report(tmp_path, "2026-10", tmp_path / "out")
    with pytest.raises(ChurnlabError, match="table"):
        runs.run_explain(tmp_path / "t.csv", "id", "y", tmp_path / "out2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ChurnlabError, match="customers"):  # not a dataset: no kernel, no OUT
        runs.run_report(tmp_path / "empty", "2026-10", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_unwritable_parent(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # tests may run as root, who can write anywhere: pretend the folder is read-only
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    with pytest.raises(ChurnlabError, match="not writable"):
        runs.run_report(tmp_path, "2026-10", locked / "deeper" / "out")
    assert not (locked / "deeper").exists()


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    from churnlab import cli

    assert (
        cli.main(
            [
                "report",
                "--data",
                str(tmp_path / "nope"),
                "--month",
                "2026-10",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err

    def broken(*args, **kwargs):
        raise runs.RunFailed("The report notebook failed: cell 7 raised KeyError: 'x'.")

    monkeypatch.setattr(runs, "execute", broken)
    monkeypatch.setattr(runs, "_check_dataset", lambda params: None)  # tmp_path is no dataset
    assert (
        cli.main(
            ["report", "--data", str(tmp_path), "--month", "2026-10", "--out", str(tmp_path / "o")]
        )
        == 1
    )
    assert "cell 7 raised KeyError" in capsys.readouterr().err
