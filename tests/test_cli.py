"""The command line: argument errors, exit codes and one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from churnlab import cli
from churnlab.core.errors import ChurnlabError
from churnlab.runs.resources import NOTEBOOKS


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
    for command in ("demo", "synth", "validate", "report", "explain", "experiment", "notebooks"):
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


def test_version(capsys):
    from importlib import metadata

    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out.strip() == f"churnlab {metadata.version('churnlab')}"


def _options(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {o}", a, sub) for o, a, sub in _options(sub))
        elif action.option_strings and action.dest not in ("help", "version"):
            yield action.option_strings[-1], action, parser


def test_every_option_has_help_and_shows_its_default():
    shown = 0
    for name, action, parser in _options(cli.build_parser()):
        assert action.help, f"{name} has no help text"
        text = parser.format_help()
        default = action.default
        if not (default is None or default is False or default == "" or action.required):
            assert f"(default: {default})" in " ".join(text.split()), name
            shown += 1
    assert shown >= 10  # seeds, horizons, --out of demo, --start, --format, ...


def test_synth_says_which_months_it_wrote_and_which_can_be_reported(capsys, monkeypatch):
    from churnlab import synth

    monkeypatch.setattr(synth, "synthesize", lambda out, **kw: out)
    code, out, _ = run_main(capsys, "synth", "--customers", "10", "--months", "18", "--out", "w")
    assert code == 0
    # 12 months of simulated history before 2024-11, then the 18 asked for
    assert "2023-11-01 to 2026-04-30: 30 months" in out
    assert "Reports can be made for months 2023-12 to 2026-04" in out


def test_notebooks_copies_and_names_the_jupyter_command(capsys, tmp_path):
    code, out, _ = run_main(capsys, "notebooks", str(tmp_path / "nb"))
    assert code == 0 and "lab " + str(tmp_path / "nb") in out
    assert len(list((tmp_path / "nb").glob("*.ipynb"))) == len(NOTEBOOKS)
    code, _, err = run_main(capsys, "notebooks", str(tmp_path / "nb"))
    assert code == 2 and "does not overwrite" in err
