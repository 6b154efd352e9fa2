"""``churnlab features``: the report's feature table as Parquet, written safely; and the
progress lines long stages print (churnlab.core.progress)."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from churnlab import cli
from churnlab.contract import read_dataset
from churnlab.core.progress import stage
from churnlab.features import build_feature_table

DEMO = "data/demo"


def run(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def test_features_command_writes_the_reports_table(tmp_path, capsys):
    out = tmp_path / "features.parquet"
    code, text = run(
        capsys, "features", "--data", DEMO, "--out", out, "--months", "2026-09,2026-10"
    )
    assert code == 0 and "Feature table written" in text
    written = pq.read_table(out).to_pandas()
    expected = build_feature_table(read_dataset(DEMO), ["2026-09", "2026-10"]).frame
    assert list(written.columns) == list(expected.columns)
    assert written["snapshot"].tolist() == expected["snapshot"].tolist()
    assert written["customer_id"].tolist() == expected["customer_id"].tolist()
    for col in expected.columns[3:]:
        left, right = written[col], expected[col]
        assert left.isna().tolist() == right.isna().tolist(), col
        assert left.dropna().astype(str).tolist() == right.dropna().astype(str).tolist(), col


def test_features_command_never_replaces_what_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "features.parquet"
    assert run(capsys, "features", "--data", DEMO, "--out", out, "--months", "2026-10")[0] == 0
    code, text = run(capsys, "features", "--data", DEMO, "--out", out, "--months", "2026-10")
    assert code == 2 and "already exists" in text
    before = out.stat().st_mtime_ns
    code, _ = run(
        capsys, "features", "--data", DEMO, "--out", out, "--months", "2026-10", "--force"
    )
    assert code == 0 and out.stat().st_mtime_ns != before
    mine = tmp_path / "mine.parquet"
    mine.write_text("my own file")
    code, text = run(capsys, "features", "--data", DEMO, "--out", mine, "--force")
    assert code == 2 and "only a feature table that churnlab wrote" in text
    assert mine.read_text() == "my own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.parquet", "mine.parquet"]


def test_features_command_refuses_an_output_inside_the_data(tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(DEMO, data)
    code, text = run(capsys, "features", "--data", data, "--out", data / "f.parquet")
    assert code == 2 and "inside the dataset folder" in text
    assert not (data / "f.parquet").exists()


def test_stage_prints_one_line_at_the_start_and_one_with_the_time():
    stream = io.StringIO()
    with stage("features: engagement", stream):
        pass
    start, end = stream.getvalue().splitlines()
    assert start == "churnlab: features: engagement ..."
    assert end.startswith("churnlab: features: engagement ... done in ") and end.endswith(" s")
    stream = io.StringIO()
    with pytest.raises(ValueError), stage("training", stream):
        raise ValueError("boom")
    assert stream.getvalue().splitlines()[-1].startswith("churnlab: training ... failed after ")


def test_stage_is_silent_when_asked(monkeypatch, capsys):
    monkeypatch.setenv("CHURNLAB_QUIET", "1")
    with stage("reading"):
        pass
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CHURNLAB_QUIET", "0")
    with stage("reading"):
        pass
    assert "churnlab: reading ... done in" in capsys.readouterr().err
