"""Driver credit on a real XGBoost model: the tree-subset evaluation (churnlab.model.trees)
against the straightforward one, where every coalition and every state is the margin of the
whole model.

The straightforward reference is driver credit's own generic path (any booster with
``inplace_predict``), given a booster that evaluates the dumped trees with plain numpy in
float64 (XGBoost itself adds leaf values in float32, which would hide differences below
1e-5). Both must agree to 1e-9 log-odds: only the order of float64 sums differs.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from churnlab.contract import dataset_from_frames
from churnlab.features import build_feature_table
from churnlab.model import ChurnModel
from churnlab.model import trees as model_trees
from churnlab.model.credit import driver_credit, fixed_rows, healthy_reference
from churnlab.synth import generate

TOL = 1e-9
#: rows explained and rows of the PD sample (the numpy reference is slow)
ROWS, PD_ROWS = 400, 300


class NumpyTrees:
    """A booster whose margin is the dumped trees evaluated with numpy, one tree at a time,
    leaf values added in float64 in tree order."""

    def __init__(self, booster, iteration_range):
        raw = json.loads(bytes(booster.save_raw("json")))
        learner = raw["learner"]
        base = float(np.float32(learner["learner_model_param"]["base_score"].strip("[]")))
        self.offset = np.log(base / (1 - base))
        self.trees = learner["gradient_booster"]["model"]["trees"][: iteration_range[1]]

    def inplace_predict(self, x, predict_type="margin", iteration_range=None, missing=np.nan):
        x = np.asarray(x, dtype=np.float32)
        out = np.full(len(x), self.offset)
        rows = np.arange(len(x))
        for t in self.trees:
            lc, rc = np.array(t["left_children"]), np.array(t["right_children"])
            col, dl = np.array(t["split_indices"]), np.array(t["default_left"], dtype=bool)
            cond = np.array(t["split_conditions"], dtype=np.float32)
            node = np.zeros(len(x), dtype=np.int64)
            while (inner := lc[node] >= 0).any():
                v = x[rows[inner], col[node[inner]]]
                go_left = np.where(np.isnan(v), dl[node[inner]], v < cond[node[inner]])
                node[inner] = np.where(go_left, lc[node[inner]], rc[node[inner]])
            out += cond[node].astype(np.float64)
        return out

    def set_param(self, *_):
        pass


def straightforward(model):
    """The same model, evaluated whole by :class:`NumpyTrees` (driver credit's generic path)."""
    return SimpleNamespace(
        encoder_=model.encoder_,
        booster_=NumpyTrees(model.booster_, model.iteration_range),
        iteration_range=model.iteration_range,
        n_jobs=model.n_jobs,
        calibrator_=model.calibrator_,
    )


@pytest.fixture(scope="module")
def world():
    table = build_feature_table(dataset_from_frames(generate(1500, 12, seed=5).tables))
    months = sorted(table.snapshots)
    model = ChurnModel(seed=0, tune=False).fit(table.at(months[:-3]), table.at(months[-3]))
    return model, table, table.at(months[-1]).frame


def test_the_arrays_give_the_models_margin(world):
    model, _, frame = world
    x = model.encoder_.transform(frame)
    ens = model_trees.ensemble(model)
    exact = NumpyTrees(model.booster_, model.iteration_range).inplace_predict(x)
    np.testing.assert_allclose(model_trees.margin(ens, x), exact, rtol=0, atol=1e-12)
    # XGBoost's own margin adds in float32
    np.testing.assert_allclose(model_trees.margin(ens, x), model.margin(frame), atol=1e-4)
    assert np.isnan(x).any()  # missing values take the trees' default directions
    # only the trees up to model.iteration_range
    short = SimpleNamespace(booster_=model.booster_, iteration_range=(0, 10))
    xgb_short = model.booster_.inplace_predict(x, predict_type="margin", iteration_range=(0, 10))
    np.testing.assert_allclose(
        model_trees.margin(model_trees.ensemble(short), x), xgb_short, atol=1e-5
    )
    assert model_trees.ensemble(short).trees == 10


def _compare(model, frame, families, context=None, held=(), reference=None, **kwargs):
    slow_model = straightforward(model)
    if reference is None:  # the healthy reference both ways: same levels, PD to rounding
        ids = frame["customer_id"]
        reference = healthy_reference(model, frame, families, context, held, ids, PD_ROWS)
        slow_ref = healthy_reference(slow_model, frame, families, context, held, ids, PD_ROWS)
        assert reference.levels() == slow_ref.levels()
        for a, b in zip(reference.features, slow_ref.features, strict=True):
            np.testing.assert_allclose(a.pd, b.pd, rtol=0, atol=TOL)
    rows = frame.iloc[:ROWS]
    fast = driver_credit(model, rows, families, reference=reference, **kwargs)
    slow = driver_credit(slow_model, rows, families, reference=reference, **kwargs)
    np.testing.assert_allclose(fast.margin, slow.margin, rtol=0, atol=TOL)
    np.testing.assert_allclose(fast.baseline, slow.baseline, rtol=0, atol=TOL)
    np.testing.assert_allclose(fast.family.to_numpy(), slow.family.to_numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(fast.feature.to_numpy(), slow.feature.to_numpy(), rtol=0, atol=TOL)
    assert (fast.family.to_numpy() != 0).any() and (fast.feature.to_numpy() != 0).any()
    return fast


def test_credit_on_the_trees_equals_the_whole_model_evaluation(world):
    model, table, frame = world
    credit = _compare(
        model, frame, table.families, context=table.context_families, held=table.held_features
    )
    active = (credit.family.to_numpy() != 0).sum(axis=1)
    assert active.max() >= 3  # several interacting families per row


def test_categories_as_drivers(world):
    # profile actionable: its categories (one-hot columns) are changed to their healthy level
    model, table, frame = world
    credit = _compare(model, frame, table.families, context=["engagement"])
    cats = [r for r in credit.reference.features if r.categorical and not r.inert]
    assert cats
    assert (credit.feature[[r.feature for r in cats]].to_numpy() != 0).any()


def test_rows_above_max_exact_take_sampled_orders(world):
    model, table, frame = world
    credit = _compare(model, frame, table.families, max_exact=2, permutations=3, seed=4)
    assert ((credit.family.to_numpy() != 0).sum(axis=1) > 2).any()


def test_trees_without_an_actionable_family(world):
    model, table, frame = world
    context = ["profile", "engagement", "price", "voice_of_customer"]
    credit = _compare(model, frame, table.families, context=context)
    ens = model_trees.ensemble(model)
    actionable = {c for r in credit.reference.features for c in r.columns}
    blind = [t for t in range(ens.trees) if not ens.columns_of(t) & actionable]
    assert blind and len(blind) < ens.trees
    # those trees add the same to every coalition: fixing changes only the others' leaves
    ref = credit.reference
    x = model.encoder_.transform(frame)
    r = fixed_rows(x, ref)
    np.testing.assert_array_equal(
        model_trees.margin(ens, x, np.array(blind)), model_trees.margin(ens, r, np.array(blind))
    )


def test_a_reference_from_other_rows(world):
    model, table, frame = world
    months = sorted(table.snapshots)
    other = table.at(months[-2]).frame
    ref = healthy_reference(model, other, table.families, ids=other["customer_id"], seed=2)
    _compare(model, frame, table.families, reference=ref)
