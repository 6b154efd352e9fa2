"""SHAP explanations: additivity, one-hot summing, drivers, families, segments, reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from test_model import make_table

from churnlab.core.families import family
from churnlab.model import ChurnModel
from churnlab.model.credit import DriverCredit, FeatureReference, Reference
from churnlab.model.explain import (
    ExplanationData,
    credit_shares,
    customer_reasons,
    explain,
    family_shares,
    feature_drivers,
    risk_points,
    segment_shares,
)


@pytest.fixture(scope="module")
def fitted():
    table = make_table(4000)
    model = ChurnModel(seed=0).fit(
        table.at(["2025-01", "2025-02", "2025-03", "2025-04"]), table.at("2025-05")
    )
    rows = table.at("2025-06")
    return model, rows, explain(model, rows)


def test_values_add_up_to_the_margin(fitted):
    model, rows, expl = fitted
    assert expl.values.shape == (len(rows.frame), 5)
    total = expl.base_value + expl.values.sum(axis=1)
    assert np.allclose(total, model.margin(rows), atol=1e-4)
    assert np.allclose(expl.margin, model.margin(rows), atol=1e-4)


def test_shap_is_the_same_on_one_thread_and_on_every_core(fitted, monkeypatch):
    model, rows, expl = fitted
    monkeypatch.setattr("churnlab.model.booster.PARALLEL_SHAP_ROWS", 1)  # parallel even on few rows
    parallel = explain(model, rows)
    monkeypatch.setattr("churnlab.model.booster.PARALLEL_SHAP_ROWS", 10**9)
    single = explain(model, rows)
    assert np.array_equal(parallel.values, single.values)
    assert np.array_equal(parallel.margin, expl.margin)


def test_a_sample_explains_fewer_rows_with_close_shares(fitted):
    model, rows, expl = fitted
    part = explain(model, rows, max_rows=300, seed=1)
    assert len(part.values) == 300 and len(set(part.ids)) == 300
    assert set(part.ids) <= set(expl.ids)
    full = family_shares(feature_drivers(expl))
    sample = family_shares(feature_drivers(part))
    assert all(abs(sample[f] - full[f]) < 0.1 for f in full)
    again = explain(model, rows, max_rows=300, seed=1)
    assert np.array_equal(again.ids, part.ids)


def test_one_hot_columns_are_summed_back_to_their_feature(fitted):
    model, rows, expl = fitted
    raw = model.booster_.predict(
        xgb.DMatrix(model.encoder_.transform(rows.frame), feature_names=model.booster_names_),
        pred_contribs=True,
        iteration_range=model.iteration_range,
    )
    plan_cols = [i for i, s in enumerate(model.encoder_.source) if s == "plan"]
    assert len(plan_cols) >= 3
    assert np.allclose(expl.frame()["plan"], raw[:, plan_cols].sum(axis=1), atol=1e-6)
    assert expl.features == ["x1", "x2", "noise", "plan", "amount"]
    assert expl.categorical == ["plan"]


def test_drivers_rank_signal_over_noise_with_directions(fitted):
    *_, expl = fitted
    d = feature_drivers(expl)
    assert d["share"].sum() == pytest.approx(1.0)
    assert d["feature"].iloc[0] == "x1"
    assert (np.diff(d["mean_abs_shap"]) <= 0).all()
    direction = dict(zip(d["feature"], d["direction"], strict=True))
    assert direction["x1"] == 1 and direction["x2"] == -1 and direction["plan"] == 1
    shares = family_shares(d)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert list(shares)[0] == "engagement"


def test_a_feature_with_one_shap_value_for_every_row_has_no_direction():
    from churnlab.model.explain import _direction

    # a tree that sends every scored row the same way: one (float32) SHAP value; its float32
    # standard deviation is about 1e-8, not 0, and the correlation is undefined
    x = pd.Series(np.arange(1000, dtype=float))
    assert _direction(x, np.full(1000, 0.1, dtype=np.float32), False) == 0
    # one value of the feature, or only missing and infinite values besides one: none either
    assert _direction(pd.Series(np.full(1000, 2.0)), np.linspace(-1, 1, 1000), False) == 0
    assert _direction(pd.Series([np.nan, np.inf, 3.0]), np.array([0.1, 0.2, 0.3]), False) == 0
    # the sign of the correlation otherwise, over the finite values only
    shap = np.array([0.3, -0.2, 0.1, 5.0])
    assert _direction(pd.Series([3.0, 1.0, 2.0, np.inf]), shap, False) == 1
    assert _direction(pd.Series([-3.0, -1.0, -2.0, np.nan]), shap, False) == -1


def hand_made() -> ExplanationData:
    values = np.array([[1.0, -1.0, 0.5], [3.0, 1.0, -0.5], [-0.2, -0.1, 0.0]])
    data = pd.DataFrame(
        {
            "tickets_open": [2.0, 5.0, 0.0],
            "price_change": [0.1, np.nan, -0.2],
            "plan": pd.array(["basic", "pro", "basic"], "string"),
        }
    )
    return ExplanationData(
        values=values,
        data=data,
        features=["tickets_open", "price_change", "plan"],
        families={"tickets_open": "support", "price_change": "price", "plan": "profile"},
        base_value=-3.0,
        ids=np.array(["a", "b", "c"]),
        margin=-3.0 + values.sum(axis=1),
        categorical=["plan"],
    )


def test_drivers_and_shares_by_hand():
    d = feature_drivers(hand_made())
    # mean |SHAP|: tickets (1+3+.2)/3 = 1.4, price (1+1+.1)/3 = .7, plan (.5+.5+0)/3 = 1/3
    assert d["feature"].tolist() == ["tickets_open", "price_change", "plan"]
    assert d["mean_abs_shap"].tolist() == pytest.approx([1.4, 0.7, 1 / 3])
    total = 1.4 + 0.7 + 1 / 3
    assert family_shares(d) == pytest.approx(
        {"support": 1.4 / total, "price": 0.7 / total, "profile": (1 / 3) / total}
    )
    # tickets: higher value, higher SHAP; price: 0.1 -> -1, -0.2 -> -0.1 (higher value lower)
    # plan: riskiest category 'basic' has mean SHAP 0.25 > 0
    assert d.set_index("feature")["direction"].to_dict() == {
        "tickets_open": 1,
        "price_change": -1,
        "plan": 1,
    }


def test_segment_shares_by_hand():
    s = segment_shares(hand_made(), ["x", "x", "y"])
    x = s[s["segment"] == "x"].set_index("family")["share"]
    # segment x: support (1+3)/2 = 2, price (1+1)/2 = 1, profile (.5+.5)/2 = .5
    assert x.to_dict() == pytest.approx(
        {"price": 1 / 3.5, "profile": 0.5 / 3.5, "support": 2 / 3.5}
    )
    y = s[s["segment"] == "y"].set_index("family")["share"]
    assert y.sum() == pytest.approx(1.0) and y["support"] == pytest.approx(0.2 / 0.3)


def hand_credit() -> DriverCredit:
    """Credit of three customers: price (one feature) and support (two features)."""
    feats = {"price_pct_change_3m": "price", "support_open_tickets": "support"}
    feats["support_csat_last"] = "support"
    refs = tuple(
        FeatureReference(f, fam, False, (i,), (), np.zeros(0), 0.0, False)
        for i, (f, fam) in enumerate(feats.items())
    )
    family = pd.DataFrame({"price": [0.5, 1.0, -0.1], "support": [1.2, 0.0, 0.0]})
    feature = pd.DataFrame(
        {
            "price_pct_change_3m": [0.5, 1.0, -0.1],
            "support_open_tickets": [0.8, 0.0, 0.0],
            "support_csat_last": [0.4, 0.0, 0.0],
        }
    )
    margin = np.array([-1.0, -2.0, -3.0])
    return DriverCredit(
        family=family,
        feature=feature,
        margin=margin,
        baseline=margin - family.sum(axis=1).to_numpy(),
        probability=np.array([0.4, 0.2, 0.05]),
        baseline_probability=np.array([0.4, 0.2, 0.05]) - np.array([0.17, 0.05, -0.02]),
        slope=np.array([0.1, 0.05, 0.2]),
        reference=Reference(refs, ("profile",), (), 0, 0),
    )


HAND_DATA = pd.DataFrame(
    {
        "price_pct_change_3m": [0.1, 0.25, 0.0],
        "support_open_tickets": [2.0, 0.0, 0.0],
        "support_csat_last": [2.0, np.nan, np.nan],
    }
)


def test_credit_shares_weigh_customers_by_probability():
    # probability credit: price .05, .05, -.02 -> mean positive .1/3; support .12 -> .12/3
    assert credit_shares(hand_credit()) == pytest.approx(
        {"support": 0.12 / 0.22, "price": 0.1 / 0.22}
    )
    assert list(credit_shares(hand_credit())) == ["support", "price"]


def test_feature_drivers_share_is_the_credit_share_and_shap_stays():
    expl = hand_made()
    expl.features = ["support_open_tickets", "price_pct_change_3m", "plan"]
    expl.families = {"support_open_tickets": "support", "price_pct_change_3m": "price"}
    expl.families["plan"] = "profile"
    expl.data.columns = expl.features
    credit = hand_credit()
    d = feature_drivers(expl, credit).set_index("feature")
    # support .12/.22 split tickets .08 : csat .04 (csat is no column of expl: not listed)
    assert d.loc["support_open_tickets", "share"] == pytest.approx(0.12 / 0.22 * 0.08 / 0.12)
    assert d.loc["price_pct_change_3m", "share"] == pytest.approx(0.1 / 0.22)
    assert np.isnan(d.loc["plan", "share"])  # context: no credit share
    assert d["shap_share"].tolist() == pytest.approx(np.array([0.7, 1.4, 1 / 3]) / (2.1 + 1 / 3))
    assert d.index.tolist() == ["price_pct_change_3m", "support_open_tickets", "plan"]


def test_segment_shares_from_credit_by_hand():
    s = segment_shares(hand_credit(), ["x", "x", "y"])
    x = s[s["segment"] == "x"].set_index("family")["share"]
    # segment x: price (.05 + .05)/2, support (.12 + 0)/2
    assert x.to_dict() == pytest.approx({"price": 0.1 / 0.22, "support": 0.12 / 0.22})
    y = s[s["segment"] == "y"]
    assert y["share"].isna().all()  # nothing fixable raises the risk of segment y


def test_reasons_one_per_family_in_credit_order_with_percentage_points():
    r = customer_reasons(hand_credit(), HAND_DATA)
    # row a: support (1.2 x .1 = 12 pp) first, named by its top feature open tickets (0.8)
    assert r.loc[0, "reason_1"] == "2 support ticket(s) still open (support +12.0 pp)"
    assert r.loc[0, "reason_2"] == "price changed +10% in 3 months (price +5.0 pp)"
    assert r.loc[0, "reason_3"] == ""
    assert r.loc[0, "family_1"] == "support" and r.loc[0, "feature_1"] == "support_open_tickets"
    assert r.loc[0, "action"] == family("support").action
    # row b: price only (support has no credit)
    assert r.loc[1, "reason_1"] == "price changed +25% in 3 months (price +5.0 pp)"
    assert r.loc[1, "reason_2"] == ""
    # row c: nothing fixable raises the risk
    assert r.loc[2].tolist() == [""] * 6


def test_risk_points_read_as_percentage_points():
    assert [risk_points(p) for p in (0.041, 0.0004, 0.00004)] == [
        "+4.1 pp",
        "+0.04 pp",
        "+<0.01 pp",
    ]
