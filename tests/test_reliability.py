"""The catalogue of bad inputs (issue 7), seen from the command line.

Each case breaks a copy of a small valid dataset (or feature table) the way real exports
break, runs the ``churnlab`` command a user would run, and checks the exact expectation: the
exit code, the words of the one message (table or file, column, count, what to do), no
Python traceback and no output that could pass for a result. The rules themselves are tested
in depth next to their code (test_contract_bad_inputs, test_table, test_runs); this file
proves the user meets each of them as one clear message.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from churnlab import cli
from churnlab.synth import generate, write_world

MONTH = "2025-04"  # the last complete month of the fixture world (6 months from 2024-11)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good") / "data"
    write_world(generate(customers=300, months=6, seed=11), folder, fmt="csv")
    (folder / "truth.parquet").unlink()
    return folder


def run(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    text = out + err
    assert "Traceback" not in text
    return code, text


def edit_csv(folder: Path, table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def setter(column: str, rows: list[int], value: str):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[rows, column] = value
        return frame

    return change


def to_parquet(folder: Path, table: str, change=lambda f: f) -> None:
    frame = pd.read_csv(folder / f"{table}.csv")
    change(frame).to_parquet(folder / f"{table}.parquet")
    (folder / f"{table}.csv").unlink()


def zero_padded_ids(folder: Path) -> None:
    """customers stores ids as integers, tickets as zero-padded text: the classic CRM mix."""
    customers = pd.read_csv(folder / "customers.csv")
    number = {cid: i + 1 for i, cid in enumerate(customers["customer_id"])}
    customers["customer_id"] = customers["customer_id"].map(number)
    customers.to_parquet(folder / "customers.parquet")
    (folder / "customers.csv").unlink()
    for table in ("billing", "onboarding", "usage", "feedback", "tickets"):
        frame = pd.read_csv(folder / f"{table}.csv")
        ids = frame["customer_id"].map(number)
        frame["customer_id"] = ids.map(lambda i: f"{i:05d}") if table == "tickets" else ids
        frame.to_csv(folder / f"{table}.csv", index=False)


def late_usage(folder: Path) -> None:
    customers = pd.read_csv(folder / "customers.csv")
    churned = customers.dropna(subset=["churn_date"]).iloc[0]
    usage = pd.read_csv(folder / "usage.csv")
    late = pd.Timestamp(churned["churn_date"]) + pd.Timedelta(days=45)
    extra = usage.iloc[:3].copy()
    extra["customer_id"] = churned["customer_id"]
    extra["date"] = late.strftime("%Y-%m-%d")
    pd.concat([usage, extra]).to_csv(folder / "usage.csv", index=False)


def huge_comment(folder: Path) -> None:
    feedback = pd.read_csv(folder / "feedback.csv", dtype=str, keep_default_na=False)
    feedback.loc[0, "comment"] = "slow " * 400_000  # a 2 MB free-text answer
    feedback.to_csv(folder / "feedback.csv", index=False)


# (case, how to break the copy, expected exit code, words the message must contain)
DATASET_CASES = [
    ("no customers table", lambda d: (d / "customers.csv").unlink(), 2, ["customers table is missing"]),
    ("table in CSV and Parquet", lambda d: pd.read_csv(d / "tickets.csv").to_parquet(d / "tickets.parquet"), 2, ["tickets", "present twice", "tickets.csv", "tickets.parquet"]),
    ("unknown file", lambda d: (d / "notes.txt").write_text("hello"), 0, ["notes.txt", "ignored"]),
    ("required column missing", lambda d: edit_csv(d, "billing", lambda f: f.drop(columns=["amount"])), 2, ["billing.amount", "required column 'amount' is missing"]),
    ("text in amount", lambda d: edit_csv(d, "billing", setter("amount", [3, 5], "EUR 19")), 2, ["billing.amount", "2 values", "'EUR 19'", "numeric"]),
    ("dates that do not parse", lambda d: edit_csv(d, "customers", setter("signup_date", [2], "15/02/2025")), 2, ["customers.signup_date", "1 value", "ISO 8601", "'15/02/2025'"]),
    ("mixed time zones", lambda d: edit_csv(d, "tickets", setter("opened_at", [0], "2025-01-12T17:13:10+09:00")), 2, ["tickets.opened_at", "time zone"]),
    ("duplicate customer_id", lambda d: edit_csv(d, "customers", lambda f: pd.concat([f, f.iloc[:2]])), 2, ["customers.customer_id", "more than once", "Remove the duplicate"]),
    ("ids of different types across tables", zero_padded_ids, 2, ["tickets.customer_id", "written differently"]),
    ("orphan tickets", lambda d: edit_csv(d, "tickets", setter("customer_id", [0, 1], "X999")), 0, ["tickets", "2", "'X999'"]),
    ("churn_date before signup_date", lambda d: edit_csv(d, "customers", setter("churn_date", [0], "2000-01-01")), 2, ["customers.churn_date", "before signup_date"]),
    ("resolved_at before opened_at", lambda d: edit_csv(d, "tickets", setter("resolved_at", [0], "2000-01-01")), 2, ["tickets.resolved_at", "before opened_at"]),
    ("negative amount", lambda d: edit_csv(d, "billing", setter("amount", [1, 4, 9], "-5")), 2, ["billing.amount", "3 values below 0"]),
    ("csat outside 1-5", lambda d: edit_csv(d, "tickets", setter("csat", [0], "7")), 2, ["tickets.csat", "1 value outside 1..5"]),
    ("score outside 0-10", lambda d: edit_csv(d, "feedback", setter("score", [0, 1], "11")), 2, ["feedback.score", "2 values outside 0..10"]),
    ("usage long after churn", late_usage, 0, ["usage.date", "more than 31 days after", "wrong churn date"]),
    ("semicolon delimiter", lambda d: pd.read_csv(d / "feedback.csv").to_csv(d / "feedback.csv", sep=";", index=False), 2, ["feedback.csv", "delimiter looks like ';'"]),
    ("not UTF-8", lambda d: (d / "customers.csv").write_bytes((d / "customers.csv").read_text().replace("smb", "soci\u00e9t\u00e9", 1).encode("latin-1")), 2, ["customers.csv", "not UTF-8"]),
    ("corrupt Parquet", lambda d: (to_parquet(d, "usage"), (d / "usage.parquet").write_bytes((d / "usage.parquet").read_bytes()[:500])), 2, ["usage.parquet", "cannot be read as Parquet"]),
    ("very large text field", huge_comment, 0, ["valid"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("break_it", "code", "words"),
    [case[1:] for case in DATASET_CASES],
    ids=[case[0] for case in DATASET_CASES],
)
def test_validate_names_each_problem(good, tmp_path, capsys, break_it, code, words):
    broken = tmp_path / "data"
    shutil.copytree(good, broken)
    break_it(broken)
    got, text = run(capsys, "validate", broken)
    assert got == code, text
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"


@pytest.mark.parametrize(
    ("prepare", "words"),
    [
        (lambda root: root / "missing", ["does not exist"]),
        (lambda root: (root / "empty").mkdir() or root / "empty", ["empty"]),
    ],
    ids=["folder missing", "folder empty"],
)
def test_validate_missing_or_empty_folder(tmp_path, capsys, prepare, words):
    got, text = run(capsys, "validate", prepare(tmp_path))
    assert got == 2
    for word in words:
        assert word in text


def test_broken_dataset_stops_a_report_before_any_output(good, tmp_path, capsys):
    broken = tmp_path / "data"
    shutil.copytree(good, broken)
    edit_csv(broken, "billing", setter("amount", [1], "-5"))
    out = tmp_path / "report"
    got, text = run(capsys, "report", "--data", broken, "--month", MONTH, "--out", out)
    assert got == 2
    assert "billing.amount" in text
    assert not out.exists()
    assert not list(tmp_path.glob("report*"))


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--month", "2031-01"], ["2031-01", "outside the data", f"up to {MONTH}"]),
        (["--month", "Apr 2025"], ["YYYY-MM"]),
        (
            ["--month", MONTH, "--horizon", "40"],
            ["horizon of 40 months is longer than the data", "at most"],
        ),
    ],
    ids=["month after the data", "month in another format", "horizon longer than the data"],
)
def test_report_month_and_horizon_checked_before_the_kernel(good, tmp_path, capsys, extra, words):
    out = tmp_path / "report"
    got, text = run(capsys, "report", "--data", good, "--out", out, *extra)
    assert got == 2
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"
    assert not out.exists()


def test_existing_report_folder_is_not_overwritten(good, tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("last month's report")
    got, text = run(capsys, "report", "--data", good, "--month", MONTH, "--out", out)
    assert got == 2
    assert "--force" in text
    assert (out / "report.html").read_text() == "last month's report"


@pytest.fixture()
def feature_csv(tmp_path) -> Path:
    path = tmp_path / "crm.csv"
    pd.DataFrame(
        {
            "account": [f"A{i}" for i in range(8)],
            "left": ["yes", "no", "No", "YES", "no", "no", "yes", "no"],
            "tickets": [3, 0, 1, 5, 0, 0, 2, 1],
            "plan": ["basic", "pro"] * 4,
        }
    ).to_csv(path, index=False)
    return path


def explain(capsys, table: Path, out: Path, *extra) -> tuple[int, str]:
    return run(
        capsys, "explain", "--table", table, "--id", "account", "--label", "left", "--out", out,
        *extra,
    )  # fmt: skip


def test_label_with_other_values(feature_csv, tmp_path, capsys):
    frame = pd.read_csv(feature_csv)
    frame.loc[[2, 5], "left"] = ["maybe", "churned?"]
    frame.to_csv(feature_csv, index=False)
    got, text = explain(capsys, feature_csv, tmp_path / "out")
    assert got == 2
    for word in ("crm.csv", "left", "2", "'maybe'", "1/0, true/false or yes/no"):
        assert word in text, f"{word!r} not in:\n{text}"
    assert not (tmp_path / "out").exists()


def test_id_not_unique_per_snapshot(feature_csv, tmp_path, capsys):
    frame = pd.read_csv(feature_csv)
    frame["snapshot"] = "2025-03"
    frame.loc[1, "account"] = "A0"
    frame.to_csv(feature_csv, index=False)
    got, text = explain(capsys, feature_csv, tmp_path / "out")
    assert got == 2
    assert "'A0'" in text and "account" in text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("yaml_text", "words"),
    [
        ("support: [tickets, refunds]\n", ["families.yaml", "refunds"]),
        ("support: [tickets\nprice: plan\n", ["families.yaml", "YAML"]),
    ],
    ids=["families file names a missing column", "families file not valid YAML"],
)
def test_families_file_problems(feature_csv, tmp_path, capsys, yaml_text, words):
    families = tmp_path / "families.yaml"
    families.write_text(yaml_text)
    got, text = explain(capsys, feature_csv, tmp_path / "out", "--families", families)
    assert got == 2
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"
    assert not (tmp_path / "out").exists()


def test_out_of_memory_is_one_clear_message_and_keeps_the_old_output(good, tmp_path, capsys):
    # a limit far below what validation needs: DuckDB fails, churnlab says what to change
    out = tmp_path / "features.parquet"
    got, _ = run(capsys, "features", "--data", good, "--out", out)
    assert got == 0
    before = out.read_bytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHURNLAB_MEMORY_LIMIT", "4MB")
        got, text = run(capsys, "features", "--data", good, "--out", out, "--force")
    assert got == 1
    assert "ran out of memory while validating" in text
    assert "CHURNLAB_MEMORY_LIMIT" in text and "memory limit 4MB" in text
    assert out.read_bytes() == before  # the earlier table is still there, unchanged
    assert [p.name for p in tmp_path.iterdir()] == ["features.parquet"]  # no partial file


def test_a_bad_slice_size_is_one_clear_message_and_keeps_the_old_output(good, tmp_path, capsys):
    out = tmp_path / "features.parquet"
    got, _ = run(capsys, "features", "--data", good, "--out", out)
    before = out.read_bytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHURNLAB_SLICE_CUSTOMERS", "lots")
        got, text = run(capsys, "features", "--data", good, "--out", out, "--force")
    assert got == 2
    assert "CHURNLAB_SLICE_CUSTOMERS='lots' must be a whole number >= 1" in text
    assert "Traceback" not in text
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["features.parquet"]


def test_out_of_memory_while_computing_features_names_the_stage(good, monkeypatch):
    from churnlab.contract import read_dataset
    from churnlab.core.engine import EngineLimit
    from churnlab.features import build_feature_table

    dataset = read_dataset(good)  # validated with the default limit
    monkeypatch.setenv("CHURNLAB_MEMORY_LIMIT", "8MB")
    with pytest.raises(EngineLimit) as caught:
        build_feature_table(dataset)
    text = str(caught.value)
    assert "ran out of memory while" in text
    assert "population" in text or "features" in text
    assert "--engine spark" in text and "CHURNLAB_THREADS=1" in text
    assert "CHURNLAB_SLICE_CUSTOMERS" in text
    assert caught.value.exit_code == 1
