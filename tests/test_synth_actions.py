"""The synthetic world's retention actions (``synth --actions``): determinism per seed
whatever the chunking, the truth's effects recomputed from its contributions, the base world
untouched before the first action, point-in-time sending, and realised churn in line with the
treated and untreated probabilities."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnlab.contract import read_dataset
from churnlab.contract.dataset import Dataset
from churnlab.core.months import month_cutoff, shift_month
from churnlab.synth import generate, synthesize
from churnlab.synth import params as P
from churnlab.synth.actions import true_effects
from churnlab.synth.tables import TABLES


@pytest.fixture(scope="module")
def world():
    return generate(3000, 10, seed=21, actions=True)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _targeted(world) -> pd.DataFrame:
    truth = world.truth.dropna(subset=["action"]).copy()
    truth["action_month"] = [shift_month(s, 1) for s in truth["snapshot"]]
    return truth


def test_same_seed_same_files_and_chunking_does_not_matter(tmp_path):
    kwargs = dict(customers=900, months=5, seed=4, block_size=250, actions=True)
    one = synthesize(tmp_path / "one", chunk_blocks=1, **kwargs)
    again = synthesize(tmp_path / "again", chunk_blocks=1, **kwargs)
    many = synthesize(tmp_path / "many", chunk_blocks=3, **kwargs)
    assert _hashes(one) == _hashes(again)
    assert "actions.parquet" in _hashes(one)
    for name in _hashes(one):  # row groups differ with the chunking, the data does not
        pd.testing.assert_frame_equal(pd.read_parquet(one / name), pd.read_parquet(many / name))
    whole = generate(**kwargs)
    back = pd.read_parquet(one / "actions.parquet")
    pd.testing.assert_frame_equal(back, whole.tables["actions"], check_dtype=False)
    data = read_dataset(one)
    assert data.warnings == () and len(data.table("actions")) == len(back)


def test_without_actions_nothing_changes(tmp_path):
    plain = synthesize(tmp_path / "plain", customers=300, months=4, seed=2)
    assert "actions.parquet" not in _hashes(plain)
    assert "action" not in pd.read_parquet(plain / "truth.parquet").columns
    assert set(generate(300, 4, seed=2).tables) == set(TABLES) - {"actions"}


def test_the_base_world_is_the_same_until_the_first_actions_land():
    """Actions draw from their own stream: every row dated before the first month in which an
    action was sent is identical with and without actions."""
    on, off = generate(1500, 6, seed=8, actions=True), generate(1500, 6, seed=8)
    first = shift_month("2024-11", 1)  # actions of the first reported snapshot land here
    cut_on = Dataset(on.tables).as_of(pd.Timestamp(first + "-01"))
    cut_off = Dataset(off.tables).as_of(pd.Timestamp(first + "-01"))
    for name, frame in cut_off.tables.items():
        pd.testing.assert_frame_equal(cut_on.tables[name], frame, obj=name)
    assert on.tables["usage"].shape != off.tables["usage"].shape  # and later it differs


def test_truth_effects_match_the_relief_of_each_action(world):
    t = _targeted(world)
    effects = true_effects(t)
    assigned = effects.to_numpy()[
        np.arange(len(t)), [[a.name for a in P.ACTIONS].index(a) for a in t["action"]]
    ]
    np.testing.assert_allclose(t["action_effect"], assigned, atol=1e-12)
    assert (effects.to_numpy() <= 1e-15).all()  # an action never raises churn
    assert (effects["effect_newsletter"] == 0).all()  # and one does nothing
    # a plan review only helps customers whose price contribution raises their risk
    no_price_pain = t["contrib_price"] <= 0
    assert (effects.loc[no_price_pain, "effect_plan_review"] == 0).all()
    assert (effects.loc[~no_price_pain, "effect_plan_review"] < 0).all()
    by_hand = t.iloc[0]
    logit = by_hand["base_logit"] + by_hand[[f"contrib_{f}" for f in P.FAMILIES]].sum()
    relieved = logit - 0.8 * max(by_hand["contrib_price"], 0.0)
    expected = 1 / (1 + np.exp(-relieved)) - 1 / (1 + np.exp(-logit))
    assert effects.iloc[0]["effect_plan_review"] == pytest.approx(expected, abs=1e-12)


def test_targeting_holdout_and_sending_time(world):
    t = _targeted(world)
    actions = world.tables["actions"]
    assert len(actions) == len(t)
    pop = world.truth.groupby("snapshot").size()
    per_month = t.groupby("snapshot").size()
    # the riskiest ~12 % of each snapshot (up to the cooldown), none in the last snapshot
    assert (per_month / pop.loc[per_month.index]).between(0.09, 0.125).all()
    assert world.truth["snapshot"].max() not in per_month.index
    assert (
        t.groupby("snapshot")["churn_probability"]
        .mean()
        .gt(2 * world.truth.groupby("snapshot")["churn_probability"].mean().loc[per_month.index])
        .all()
    )
    assert (t["action_group"] == "control").mean() == pytest.approx(P.ACTION_HOLDOUT, abs=0.03)
    # sent during the first day after the snapshot's cutoff: invisible to that snapshot
    sent = actions.merge(
        t[["customer_id", "action", "snapshot", "action_month"]], on=["customer_id", "action"]
    )
    sent = sent[sent["sent_at"].dt.strftime("%Y-%m") == sent["action_month"]]
    cutoff = pd.to_datetime([month_cutoff(s) for s in sent["snapshot"]])
    assert len(sent) == len(actions)
    assert ((sent["sent_at"] >= cutoff) & (sent["sent_at"] < cutoff + pd.Timedelta(days=1))).all()
    assert actions.loc[actions["group"] == "control", "cost"].isna().all()
    assert set(actions["action"]) == {a.name for a in P.ACTIONS}
    # nobody is targeted twice within the cooldown
    gaps = (
        t.sort_values("snapshot")
        .groupby("customer_id")["snapshot"]
        .apply(lambda s: np.diff(pd.PeriodIndex(s, freq="M").asi8))
    )
    assert all((g >= P.ACTION_COOLDOWN).all() for g in gaps)


def test_realised_churn_follows_the_treated_probability(world):
    t = _targeted(world)
    t = t[t["snapshot"] < world.truth["snapshot"].max()]
    churn = world.tables["customers"].set_index("customer_id")["churn_date"]
    start = pd.to_datetime(t["action_month"] + "-01")
    when = t["customer_id"].map(churn)
    t["churned"] = (when >= start) & (when < start + pd.DateOffset(months=1))
    for group, expected in (
        ("treatment", t["churn_probability"] + t["action_effect"]),
        ("control", t["churn_probability"]),
    ):
        mine = t["action_group"] == group
        p = expected[mine]
        se = np.sqrt((p * (1 - p)).sum()) / mine.sum()
        assert abs(t.loc[mine, "churned"].mean() - p.mean()) < 4 * se, group


def test_cli_synth_with_actions_writes_a_valid_actions_table(tmp_path, capsys):
    from churnlab.cli import main

    out = tmp_path / "w"
    args = ["synth", "--customers", "300", "--months", "4", "--seed", "1", "--out", str(out)]
    assert main([*args, "--actions"]) == 0
    assert main(["validate", str(out)]) == 0
    assert "actions     parquet" in capsys.readouterr().out
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "actions.parquet"),
        generate(300, 4, seed=1, actions=True).tables["actions"],
        check_dtype=False,
    )


def test_measured_effects_cover_the_true_effects_of_synthetic_worlds():
    """On three worlds with known effects: the 95 % intervals of every action, month and
    segment cover the true average effect of their customers in >= 90 % of the cells, and
    the newsletter (no effect) is not distinguishable from zero when all months are pooled."""
    from churnlab.contract import dataset_from_frames
    from churnlab.report import actions as A

    covered, verdicts = [], []
    for seed in (1, 2, 3):
        world = generate(3000, 12, seed=seed, actions=True)
        known = dataset_from_frames(world.tables)
        out = A.action_outcomes(known, "2025-10").frame
        truth = _targeted(world)[["customer_id", "action_month", "action", "action_effect"]]
        rows = out.merge(truth, how="left", validate="m:1")
        assert rows["action_effect"].notna().all()
        for by in (None, "segment"):
            for frame in (rows, rows.assign(action_month="all")):
                keys = ["action_month", "action"] + ([by] if by else [])
                true = frame.groupby(keys)["action_effect"].mean().to_numpy()
                e = A.effect_table(frame, by)
                assert len(e) == len(true)
                ok = e["effect"].notna().to_numpy()
                covered += list((e["low"] <= true)[ok] & (true <= e["high"])[ok])
        pooled = A.measure(out)
        pooled = pooled[(pooled["action_month"] == "all") & (pooled["breakdown"] == "overall")]
        verdicts.append(pooled.set_index("action").loc["newsletter", "verdict"])
    assert len(covered) > 400 and np.mean(covered) >= 0.9, np.mean(covered)
    assert verdicts == [A.UNCLEAR] * 3
