"""DuckDB connections with churnlab's limits, and the errors when a limit is reached."""

from __future__ import annotations

import duckdb
import pytest

from churnlab.core.engine import EngineLimit, engine_limits, limit_error


def test_disk_full_names_the_spill_folder_and_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("CHURNLAB_TMP", str(tmp_path))
    full = duckdb.IOException('IO Error: Could not write file "x.tmp": No space left on device')
    error = limit_error(full, "computing the price features", features=True)
    assert isinstance(error, EngineLimit) and error.exit_code == 1
    text = str(error)
    assert "disk ran full while computing the price features" in text
    assert str(tmp_path) in text and "CHURNLAB_TMP" in text


def test_out_of_memory_message_without_spark_outside_features(monkeypatch):
    monkeypatch.setenv("CHURNLAB_MEMORY_LIMIT", "3GB")
    oom = duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block\n\nPossible...")
    text = str(limit_error(oom, "validating data"))
    assert text.startswith("DuckDB ran out of memory while validating data (memory limit 3GB;")
    assert "failed to pin block" in text and "Possible" not in text  # DuckDB's SET advice
    assert "--engine spark" not in text


@pytest.mark.parametrize(
    "other",
    [duckdb.BinderException("Binder Error: column x not found"), OSError("permission denied")],
)
def test_other_errors_pass_through_unchanged(other):
    assert limit_error(other, "anything") is None
    with pytest.raises(type(other)) as caught, engine_limits("anything"):
        raise other
    assert caught.value is other
