"""The command line: argument errors, exit codes and one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from churnlab import cli
from churnlab.core.errors import ChurnlabError


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse exits on usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["report", "--data", "d", "--month", "2025-01", "--out", "o", "--horizon", "two"], "two"),
        (["report", "--data", "d", "--month", "2025-01", "--out", "o", "--horizon", "0"], ">= 1"),
        (["report", "--data", "d", "--month", "2025-01", "--out", "o", "--churn", "x"], "choice"),
        (["synth", "--customers", "many", "--months", "3", "--out", "o"], "many"),
        (["explain", "--table", "t.csv", "--id", "id"], "--label"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_the_offending_value(capsys, argv, words):
    code, _, err = run_main(capsys, *argv)
    assert code == 2
    assert words in err
    assert "Traceback" not in err


def test_user_error_becomes_exit_code_and_one_message(capsys, monkeypatch):
    def broken(args):
        raise ChurnlabError("customers.csv: column 'signup_date' is missing.")

    monkeypatch.setitem(cli.COMMANDS, "validate", broken)
    code, out, err = run_main(capsys, "validate", "somewhere")
    assert code == 2
    assert err.strip() == "churnlab validate: customers.csv: column 'signup_date' is missing."
    assert out == ""


def test_permission_error_is_reported_without_traceback(capsys, monkeypatch):
    def denied(args):
        raise PermissionError(13, "Permission denied", "/root/locked/report")

    monkeypatch.setitem(cli.COMMANDS, "report", denied)
    code, _, err = run_main(
        capsys, "report", "--data", "d", "--month", "2025-01", "--out", "/root/locked/report"
    )
    assert code == 2
    assert "/root/locked/report" in err and "permission denied" in err


def test_experiment_with_table_needs_id_and_label(capsys):
    code, _, err = run_main(capsys, "experiment", "--table", "t.csv", "--out", "o")
    assert code == 2
    assert "--id COL and --label COL" in err


def test_seeds_must_be_numbers(capsys):
    code, _, err = run_main(capsys, "experiment", "--data", "d", "--out", "o", "--seeds", "1,x")
    assert code == 2
    assert "'1,x'" in err


def test_console_script_is_installed():
    done = subprocess.run(
        [sys.executable, "-m", "churnlab.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for command in ("demo", "synth", "validate", "report", "explain", "experiment"):
        assert command in done.stdout


@pytest.mark.parametrize("text", ["[{max_depth: 3}]", '{"max_depth": 3}', "[1, 2]"])
def test_experiment_params_must_be_a_json_list_of_objects(capsys, text):
    code, _, err = run_main(capsys, "experiment", "--data", "d", "--out", "o", "--params", text)
    assert code == 2
    assert "--params must be a JSON list" in err
    assert "Traceback" not in err


def test_experiment_params_reach_the_run(capsys, monkeypatch):
    from churnlab import runs

    seen = {}

    def fake_run_experiment(**kwargs):
        seen.update(kwargs)
        return "x.html"

    monkeypatch.setattr(runs, "run_experiment", fake_run_experiment)
    code, out, _ = run_main(
        capsys,
        "experiment", "--data", "d", "--out", "o", "--seeds", "3,4",
        "--params", '[{}, {"max_depth": 6}]', "--no-ablation",
    )  # fmt: skip
    assert code == 0
    assert seen["param_sets"] == [{}, {"max_depth": 6}]
    assert seen["seeds"] == [3, 4] and seen["ablate"] is False
