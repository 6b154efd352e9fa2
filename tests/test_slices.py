"""Features a slice of customers at a time (churnlab.features.slices) equal the one-pass ones.

The population-wide parts (each plan's median price, the onboarding steps anyone has done)
are computed over everyone, so a slice's customers are compared with the whole population,
as in one pass; everything else is per customer. Checked on the demo data (both churn
definitions, the pandas table and the written Parquet file) and on random small worlds cut
into slices of two customers (slices without a row in some table included).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_features_property import worlds

from churnlab.contract import dataset_from_frames, read_dataset
from churnlab.core.churn import ChurnDefinition
from churnlab.core.engine import slice_customers
from churnlab.core.errors import ChurnlabError
from churnlab.core.months import month_of, month_range
from churnlab.features import build, build_feature_table
from churnlab.features.build import write_feature_table

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


@pytest.fixture(scope="module")
def demo():
    return read_dataset(DEMO)


def _sliced(monkeypatch, size: int, tmp: Path) -> None:
    monkeypatch.setenv("CHURNLAB_SLICE_CUSTOMERS", str(size))
    monkeypatch.setenv("CHURNLAB_TMP", str(tmp))


@pytest.mark.parametrize("churn", ["cancellation", "inactivity"])
def test_demo_features_in_slices_equal_one_pass(demo, churn, monkeypatch, tmp_path):
    definition = ChurnDefinition(churn=churn)
    whole = build_feature_table(demo, definition=definition)
    _sliced(monkeypatch, 700, tmp_path / "tmp")  # the demo's customers in several slices
    sliced = build_feature_table(demo, definition=definition)
    pd.testing.assert_frame_equal(sliced.frame, whole.frame, check_exact=True)
    assert sliced.families == whole.families
    # the per-slice copies of the tables are gone; nothing else was written there
    assert list((tmp_path / "tmp").glob("churnlab-slices-*")) == []


@pytest.mark.parametrize("join_rows", [build.JOIN_ROWS, 9973])
def test_written_feature_table_in_slices_is_the_one_pass_file(
    demo, join_rows, monkeypatch, tmp_path
):
    """Also when the slices are joined a few rows at a time (ranges that end inside a
    snapshot)."""
    one = write_feature_table(demo, tmp_path / "one.parquet")
    _sliced(monkeypatch, 700, tmp_path / "tmp")
    monkeypatch.setattr(build, "JOIN_ROWS", join_rows)
    sliced = write_feature_table(demo, tmp_path / "sliced.parquet")
    a, b = pq.read_table(one), pq.read_table(sliced)
    assert b.schema == a.schema  # types and nullability too
    assert b.equals(a)
    assert pq.read_metadata(sliced).metadata[b"churnlab"] == b"feature table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.parquet", "sliced.parquet", "tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_slice_is_compared_with_the_whole_population(demo, monkeypatch, tmp_path):
    """The plan medians are the population's: a slice's own medians would differ."""
    whole = build_feature_table(demo, definition=ChurnDefinition()).frame
    _sliced(monkeypatch, 700, tmp_path)
    import churnlab.features.slices as slices_module

    real = slices_module.Schema

    def forgetful(kinds=(), names=None, precomputed=frozenset()):
        return real(kinds, names=names)  # as if nothing were shared

    monkeypatch.setattr(slices_module, "Schema", forgetful)
    own = build_feature_table(demo, definition=ChurnDefinition()).frame
    # so the demo data tells a slice's medians from the population's (the tests above)
    assert not own["price_amount_vs_plan"].equals(whole["price_amount_vs_plan"])


def test_odd_and_hostile_column_names_in_slices(demo, monkeypatch, tmp_path):
    """Columns that differ only in case and a name full of SQL survive the per-slice copies."""
    tables = {name: demo.tables[name].copy() for name in demo.tables}
    usage = tables["usage"]
    metric = next(c for c in usage.columns if c not in ("customer_id", "date"))
    usage['Se"ss; DROP TABLE x--'] = usage[metric] * 2
    usage[metric.upper()] = usage[metric] + 1
    dataset = dataset_from_frames(tables)
    whole = build_feature_table(dataset)
    _sliced(monkeypatch, 900, tmp_path)
    sliced = build_feature_table(dataset)
    assert "engagement_se_ss_drop_table_x_30d" in sliced.features
    assert f"engagement_{metric.lower()}_2_30d" in sliced.features
    pd.testing.assert_frame_equal(sliced.frame, whole.frame, check_exact=True)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_random_worlds_in_slices_of_two_customers(data):
    tables, churn = data.draw(worlds())
    dataset = dataset_from_frames(tables)
    definition = ChurnDefinition(churn=churn)
    months = month_range(
        month_of(dataset.customers["signup_date"].min()), month_of(dataset.data_end)
    )
    whole = build_feature_table(dataset, months, definition)
    os.environ["CHURNLAB_SLICE_CUSTOMERS"] = "2"
    try:
        sliced = build_feature_table(dataset, months, definition)
    finally:
        del os.environ["CHURNLAB_SLICE_CUSTOMERS"]
    pd.testing.assert_frame_equal(sliced.frame, whole.frame, check_exact=True)


@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
def test_a_bad_slice_size_is_a_clear_error(value, monkeypatch):
    monkeypatch.setenv("CHURNLAB_SLICE_CUSTOMERS", value)
    with pytest.raises(ChurnlabError, match="CHURNLAB_SLICE_CUSTOMERS=.* whole number >= 1"):
        slice_customers()
