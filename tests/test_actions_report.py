"""The actions in the monthly report's analysis: nothing changes without an actions table,
the other figures do not move with one, the result is deterministic whatever the row order,
and the scores and metrics gain what docs/actions.md says."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnlab.contract import dataset_from_frames
from churnlab.core.months import month_cutoff
from churnlab.features import build_feature_table
from churnlab.report import actions as A
from churnlab.report import analysis, monthly
from churnlab.synth import generate

MONTH = "2025-09"


@pytest.fixture(scope="module")
def world():
    return generate(1500, 12, seed=5, actions=True)


def _report(tables: dict[str, pd.DataFrame]):
    known = dataset_from_frames(tables).as_of(month_cutoff(MONTH))
    table = build_feature_table(known)
    result = analysis.analyze_month(table, MONTH)
    return known, table, result, A.analyze_actions(known, table, result, MONTH)


@pytest.fixture(scope="module")
def with_actions(world):
    return _report(world.tables)


@pytest.fixture(scope="module")
def without_actions(world):
    return _report({k: v for k, v in world.tables.items() if k != "actions"})


def _files(result, folder) -> dict[str, bytes]:
    analysis.write_results(result, folder)
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_report_without_actions_is_unchanged(without_actions, tmp_path):
    known, table, result, acts = without_actions
    assert acts is None
    before = _files(result, tmp_path / "before")
    after = A.with_actions(result, acts)
    assert after is result
    assert _files(after, tmp_path / "after") == before
    assert list(monthly.at_risk(after.scores).columns) == list(monthly.at_risk(result.scores))
    assert "best_action" not in monthly.at_risk(after.scores).columns
    assert A.extra_tables(acts) == {}


def test_the_actions_table_moves_no_other_figure(with_actions, without_actions, tmp_path):
    """Actions are not a driver family: features, models, drivers and scores stay the same."""
    _, table, result, acts = with_actions
    _, plain_table, plain, _ = without_actions
    pd.testing.assert_frame_equal(table.frame, plain_table.frame)
    full = A.with_actions(result, acts)
    mine, theirs = _files(full, tmp_path / "a"), _files(plain, tmp_path / "b")
    assert mine["drivers.csv"] == theirs["drivers.csv"]
    metrics = json.loads(mine["metrics.json"])
    assert metrics.pop("actions")["months"] == acts.months
    assert metrics == json.loads(theirs["metrics.json"])
    scores = pd.read_csv(tmp_path / "a" / "scores.csv")
    original = pd.read_csv(tmp_path / "b" / "scores.csv")
    assert list(scores.columns) == [*original.columns, *A.SCORE_COLUMNS]
    pd.testing.assert_frame_equal(scores[original.columns], original)


def test_metrics_and_scores_with_actions(with_actions):
    _, table, result, acts = with_actions
    assert acts.months == [f"2024-{m}" for m in ("12",)] + [f"2025-{m:02d}" for m in range(1, 9)]
    assert acts.last_month == "2025-08"
    full = A.with_actions(result, acts)
    block = full.metrics["actions"]
    assert block["last_month"] == "2025-08" and block["months"] == acts.months
    overall = [e for e in block["effects"] if e["breakdown"] == "overall"]
    assert {e["action_month"] for e in overall} == {*acts.months, "all"}
    # per family and per segment only for the last month and pooled (the csv has them all)
    rest = {e["action_month"] for e in block["effects"] if e["breakdown"] != "overall"}
    assert rest == {"2025-08", "all"}
    assert set(A.effects_of(acts, "2025-05", "family")["breakdown"]) == {"family"}
    recs = full.scores[list(A.SCORE_COLUMNS)]
    assert len(recs) == len(result.scores)
    chosen = recs["best_action"].fillna("")
    assert set(chosen) <= {"", *acts.proven}
    assert (recs["net_gain"].notna() == (chosen != "")).all()
    summary = A.recommendation_summary(acts)
    assert summary["customers"].sum() == block["uplift"]["worth_contacting"]
    assert set(monthly.at_risk(full.scores).columns) >= set(A.SCORE_COLUMNS)
    assert list(A.extra_tables(acts)) == ["action_effects"]


def test_actions_are_deterministic_whatever_the_row_order(world, with_actions):
    _, _, result, acts = with_actions
    shuffled = dict(world.tables)
    shuffled["actions"] = world.tables["actions"].sample(frac=1.0, random_state=3)
    again = _report(shuffled)[3]
    first = json.dumps(A.with_actions(result, acts).metrics["actions"], sort_keys=True, default=str)
    second = json.dumps(
        A.with_actions(result, again).metrics["actions"], sort_keys=True, default=str
    )
    assert first == second
    pd.testing.assert_frame_equal(acts.recommendations, again.recommendations)


def test_a_baseline_that_cannot_be_trained_leaves_the_effects_and_a_note(
    world, with_actions, monkeypatch
):
    from churnlab.core.errors import ChurnlabError

    known, table, result, acts = with_actions

    def refuse(*args, **kwargs):
        raise ChurnlabError("the 10 labelled training rows hold only one outcome")

    monkeypatch.setattr(A, "fit_baseline", refuse)
    fallback = A.analyze_actions(known, table, result, MONTH)
    overall = fallback.effects[fallback.effects["breakdown"] == "overall"].reset_index(drop=True)
    expected = acts.effects[acts.effects["breakdown"] == "overall"].reset_index(drop=True)
    pd.testing.assert_frame_equal(overall, expected)
    assert "family" not in set(fallback.effects["breakdown"])
    assert fallback.recommendations["best_action"].eq("").all()
    assert any("the untreated baseline failed" in n for n in fallback.notes)
    assert A.with_actions(result, fallback).metrics["actions"]["uplift"]["worth_contacting"] == 0
