"""Experiments in-process on a small feature table: plan, ablation, determinism, checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable
from churnlab.report import experiments as ex


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    """6 monthly snapshots x 600 customers; churn driven by 'price_up' only, 'noise' is noise."""
    rng = np.random.default_rng(7)
    rows = []
    for snap in ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]:
        price_up = rng.integers(0, 2, 600).astype(float)
        tickets = rng.poisson(1.0, 600).astype(float)
        logit = -3.0 + 2.5 * price_up + 0.1 * tickets
        churned = (rng.random(600) < 1 / (1 + np.exp(-logit))).astype(int)
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(600)],
                    "snapshot": snap,
                    "churned": churned,
                    "price_up": price_up,
                    "tickets": tickets,
                    "noise": rng.normal(size=600),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame["churned"] = frame["churned"].astype("Int8")
    return FeatureTable(frame, {"price_up": "price", "tickets": "support", "noise": "engagement"})


def test_plan_order_and_ids():
    specs = ex.plan(["price", "support"], [0, 1], [{}, {"max_depth": 3}], ablate=True)
    assert [s.run_id for s in specs] == [
        "p0-s0",
        "p0-s1",
        "p1-s0",
        "p1-s1",
        "p0-s0-no-price",
        "p0-s1-no-price",
        "p0-s0-no-support",
        "p0-s1-no-support",
    ]
    assert specs[2].params == {"max_depth": 3} and specs[4].dropped == "price"
    assert len(ex.plan(["price"], [0], [{}], ablate=True)) == 1  # nothing left to ablate


def test_without_family_keeps_columns(table):
    sub = ex.without_family(table, "price")
    assert "price_up" not in sub.features and "price_up" in sub.frame.columns
    assert set(sub.families.values()) == {"support", "engagement"}


@pytest.fixture(scope="module")
def compared(table):
    return ex.run_experiment_table(table, seeds=[0], param_sets=[{}, {"max_depth": 2}], ablate=True)


def test_comparison_table(compared):
    comparison, records = compared
    assert comparison["run_id"].tolist() == [
        "p0-s0",
        "p1-s0",
        "p0-s0-no-engagement",
        "p0-s0-no-price",
        "p0-s0-no-support",
    ]
    assert comparison.loc[0, "families"] == "engagement,price,support"
    assert comparison.loc[0, "delta_auc"] == 0 and comparison.loc[1, "delta_auc"] == 0
    assert comparison.loc[1, "params"] == json.dumps({"max_depth": 2})
    assert comparison["roc_auc"].between(0.5, 1).all()
    by_family = comparison.set_index("dropped")["delta_auc"]
    # the family that drives churn costs most when left out; noise costs about nothing
    assert by_family["price"] < -0.1
    assert by_family["price"] < by_family["support"] and abs(by_family["engagement"]) < 0.03
    assert records[3]["split"] == {
        "train": ["2025-01", "2025-02", "2025-03", "2025-04"],
        "validation": ["2025-05"],
        "test": ["2025-06"],
    }


def test_rerun_gives_identical_files(table, compared, tmp_path):
    comparison, records = compared
    again, again_records = ex.run_experiment_table(
        table, seeds=[0], param_sets=[{}, {"max_depth": 2}], ablate=True
    )
    pd.testing.assert_frame_equal(comparison, again)
    ex.write_experiment(comparison, records, tmp_path / "a", {"table": "t.csv"})
    ex.write_experiment(again, again_records, tmp_path / "b", {"table": "t.csv"})
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 1 + len(records)
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    manifest = json.loads(
        (tmp_path / "a" / "runs" / "p0-s0-no-price" / "manifest.json").read_text()
    )
    assert manifest["dropped"] == "price" and manifest["features"] == 2
    assert manifest["source"] == {"table": "t.csv"} and "roc_auc" in manifest


def test_summary_sorted_by_loss(compared):
    s = ex.summary(compared[0])
    assert s.index[0] == "price" and s["runs"].sum() == 5


def test_without_snapshots_uses_out_of_fold(table):
    flat = FeatureTable(
        table.at("2025-01").frame.drop(columns="snapshot"),
        table.families,
        snapshot_col=None,
    )
    comparison, records = ex.run_experiment_table(flat, seeds=[0], param_sets=[{}], ablate=False)
    assert len(comparison) == 1 and records[0]["split"] == {"out_of_fold": 5}
    assert comparison.loc[0, "roc_auc"] > 0.6


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"seeds": "a,b"}, "seeds must be whole numbers"),
        ({"seeds": []}, "seeds is empty"),
        ({"param_sets": [{"depth": 3}]}, "Unknown model parameter"),
        ({"param_sets": [{"max_depth": "deep"}]}, "not a number"),
        ({"param_sets": "max_depth=3"}, "list of dicts"),
        ({"ablate": "maybe"}, "ablate must be True or False"),
    ],
)
def test_bad_experiment_params(kwargs, words):
    base = {"seeds": [0], "param_sets": [{}], "ablate": True}
    with pytest.raises(ChurnlabError, match=words):
        ex.check_experiment_params(**{**base, **kwargs})


def test_experiment_params_normalised():
    got = ex.check_experiment_params("2, 1,2", {"eta": "0.1"}, "false")
    assert got == {"seeds": [2, 1], "param_sets": [{"eta": 0.1}], "ablate": False}
