"""The run commands: checks before a kernel starts (no output folder on bad input), exit codes.

The execution itself is tested by tests/test_execute.py; the real notebooks are run by
tests/test_notebooks.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from churnlab import runs
from churnlab.core.errors import ChurnlabError
from churnlab.runs.execute import RunFailed


def test_run_report_checks_before_kernel(tmp_path):
    with pytest.raises(ChurnlabError, match="does not exist"):
        runs.run_report(tmp_path / "missing", "2026-10", tmp_path / "out")
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(ChurnlabError, match="YYYY-MM"):
        runs.run_report(data, "October", tmp_path / "out")
    (tmp_path / "out").mkdir()
    with pytest.raises(ChurnlabError, match="already exists"):
        runs.run_report(data, "2026-10", tmp_path / "out")
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
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(ChurnlabError, match="not writable"):
        runs.run_report(data, "2026-10", locked / "deeper" / "out")
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
        raise RunFailed("The report notebook failed: cell 7 raised KeyError: 'x'.")

    monkeypatch.setattr(runs.commands, "execute", broken)
    monkeypatch.setattr(runs.commands, "_check_dataset", lambda params: None)  # data is no dataset
    data = tmp_path / "data"
    data.mkdir()
    assert (
        cli.main(
            ["report", "--data", str(data), "--month", "2026-10", "--out", str(tmp_path / "o")]
        )
        == 1
    )
    assert "cell 7 raised KeyError" in capsys.readouterr().err
