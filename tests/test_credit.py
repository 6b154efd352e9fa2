"""Driver credit: hand-made models whose credit is computed by hand, and its invariants.

The hand-made model is churnlab's Encoder plus a "booster" whose margin is a plain numpy
function of the encoded columns, so every expected value below is exact arithmetic. The last
tests use a real XGBoost model for what depends on the booster (threads, chunks).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_model import make_table

from churnlab.model import Calibrator, ChurnModel, Encoder
from churnlab.model.credit import driver_credit, healthy_reference
from churnlab.model.explain import customer_reasons


class FnBooster:
    """A booster whose margin is ``fn({encoded column name: values})``."""

    def __init__(self, fn, columns):
        self.fn, self.columns = fn, columns

    def inplace_predict(self, x, predict_type="margin", iteration_range=None, missing=np.nan):
        cols = {name: x[:, i].astype(np.float64) for i, name in enumerate(self.columns)}
        return np.asarray(self.fn(cols), dtype=np.float64) * np.ones(len(x))

    def set_param(self, *_):
        pass


def fake_model(frame: pd.DataFrame, fn):
    enc = Encoder.fit(frame, list(frame.columns), min_count=1)
    return SimpleNamespace(
        encoder_=enc,
        booster_=FnBooster(fn, enc.columns),
        iteration_range=(0, 1),
        n_jobs=1,
        calibrator_=Calibrator(),
    )


def population(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(0, 24, n).astype(float),
            "onb": rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], n),
            "tickets": rng.choice([0.0, 0.0, 0.0, 1.0, 2.0], n),
            "price_rise": rng.choice([0.0, 0.0, 0.1, 0.3], n),
        }
    )


FAMILIES = {"tenure": "profile", "onb": "onboarding", "tickets": "support", "price_rise": "price"}


def customers(**columns) -> pd.DataFrame:
    """Rows to explain: the given columns, every other feature at its healthy value."""
    n = len(next(iter(columns.values())))
    base = {"tenure": [5.0] * n, "onb": [1.0] * n, "tickets": [0.0] * n, "price_rise": [0.0] * n}
    return pd.DataFrame(base | columns)


def levels(reference) -> dict:
    return {r.feature: r.level for r in reference.features}


def test_an_interaction_with_tenure_goes_wholly_to_the_driver():
    # onboarding matters only for young customers, who are also riskier in themselves
    def fn(c):
        young = (c["tenure"] < 6).astype(float)
        return -3.0 + 3.0 * (1.0 - c["onb"]) * young + 0.5 * young

    pop = population()
    model = fake_model(pop, fn)
    ref = healthy_reference(model, pop, FAMILIES)
    assert levels(ref)["onb"] == 1.0
    assert ref.context == ("profile",) and "tenure" not in levels(ref)
    rows = customers(tenure=[2.0, 20.0], onb=[0.25, 0.25])
    credit = driver_credit(model, rows, FAMILIES, reference=ref)
    # young: the whole interaction 3 * (1 - 0.25) is onboarding's; the 0.5 stays baseline
    assert credit.family.loc[0, "onboarding"] == pytest.approx(2.25)
    assert credit.baseline[0] == pytest.approx(-2.5)
    # old: fixing onboarding changes nothing
    assert credit.family.loc[1, "onboarding"] == pytest.approx(0.0)
    assert credit.baseline[1] == pytest.approx(-3.0)


def test_two_interacting_drivers_split_their_interaction_equally():
    def fn(c):
        both = (c["tickets"] > 0) * (c["price_rise"] > 0)
        return -3.0 + 2.0 * both + 0.4 * (c["tickets"] > 0)

    pop = population()
    model = fake_model(pop, fn)
    ref = healthy_reference(model, pop, FAMILIES)
    credit = driver_credit(
        model, customers(tickets=[1.0], price_rise=[0.3]), FAMILIES, reference=ref
    )
    assert credit.family.loc[0, "support"] == pytest.approx(0.4 + 1.0)
    assert credit.family.loc[0, "price"] == pytest.approx(1.0)
    assert credit.family.loc[0, "onboarding"] == 0.0


def test_a_driver_at_its_reference_gets_exactly_zero_and_no_reason():
    def fn(c):
        return -3.0 + 0.7 * c["tickets"] + 2.0 * c["price_rise"] + (1 - c["onb"])

    pop = population()
    model = fake_model(pop, fn)
    ref = healthy_reference(model, pop, FAMILIES)
    rows = customers(price_rise=[0.3])
    credit = driver_credit(model, rows, FAMILIES, reference=ref)
    assert credit.family.loc[0, "support"] == 0.0 and credit.family.loc[0, "onboarding"] == 0.0
    assert credit.feature.loc[0, "tickets"] == 0.0
    assert credit.family.loc[0, "price"] == pytest.approx(0.6)
    reasons = customer_reasons(credit, rows)
    assert reasons.loc[0, "family_1"] == "price" and reasons.loc[0, "feature_1"] == "price_rise"
    assert reasons.loc[0, "reason_2"] == ""  # support and onboarding raise nothing


def test_credits_add_up_to_the_risk_above_the_fixed_state():
    rng = np.random.default_rng(1)
    w = rng.normal(size=6)

    def fn(c):  # a non-additive model with every kind of interaction
        return (
            w[0] * c["onb"] * (c["tenure"] < 6)
            + w[1] * c["tickets"] * c["price_rise"]
            + w[2] * np.maximum(c["tickets"] - 1, 0) * (1 - c["onb"])
            + w[3] * c["price_rise"] ** 2
            + w[4] * c["tenure"] / 24
            + w[5] * c["tickets"] * c["onb"] * c["price_rise"]
        )

    pop = population(600)
    model = fake_model(pop, fn)
    credit = driver_credit(model, pop, FAMILIES)
    gap = credit.margin - credit.baseline
    np.testing.assert_allclose(credit.family.sum(axis=1), gap, atol=1e-12)
    # the encoded matrix is float32, hence 1e-6
    np.testing.assert_allclose(credit.margin, fn({k: pop[k].to_numpy() for k in pop}), atol=1e-6)
    for fam, feats in (
        ("support", ["tickets"]),
        ("price", ["price_rise"]),
        ("onboarding", ["onb"]),
    ):
        np.testing.assert_allclose(
            credit.feature[feats].sum(axis=1), credit.family[fam], atol=1e-12
        )
    # in probability: the credits add up to p(x) - p(b(x)), in the same order per customer
    prob = credit.family_probability().sum(axis=1)
    np.testing.assert_allclose(prob, credit.probability - credit.baseline_probability, atol=1e-12)
    assert (np.sign(credit.family_probability()) == np.sign(credit.family)).all().all()


def test_the_feature_split_inside_a_family_by_hand():
    # support: tickets and csat interact; the split is the mean of first and last position
    pop = population()
    pop["csat_bad"] = np.arange(len(pop)) % 2 * 1.0
    fams = FAMILIES | {"csat_bad": "support"}

    def fn(c):
        return -3.0 + 0.5 * c["tickets"] + 0.4 * c["csat_bad"] + 0.2 * c["tickets"] * c["csat_bad"]

    model = fake_model(pop, fn)
    ref = healthy_reference(model, pop, fams)
    credit = driver_credit(model, customers(tickets=[2.0], csat_bad=[1.0]), fams, reference=ref)
    # family: 0.5*2 + 0.4 + 0.2*2 = 1.8; tickets: last 1.0+0.4 = 1.4, first 1.0 -> 1.2;
    # csat: last 0.4+0.4 = 0.8, first 0.4 -> 0.6; 1.2 + 0.6 = 1.8 already adds up
    assert credit.family.loc[0, "support"] == pytest.approx(1.8)
    assert credit.feature.loc[0, "tickets"] == pytest.approx(1.2)
    assert credit.feature.loc[0, "csat_bad"] == pytest.approx(0.6)


def test_missing_stays_missing_and_a_category_is_fixed_to_its_healthiest_level():
    pop = population()
    pop["csat"] = np.where(np.arange(len(pop)) % 3 == 0, np.nan, np.arange(len(pop)) % 5 + 1.0)
    pop["contract"] = np.where(np.arange(len(pop)) % 2 == 0, "monthly", "annual")
    fams = FAMILIES | {"csat": "support", "contract": "price"}

    def fn(c):
        csat = np.nan_to_num(c["csat"], nan=5.0)
        return -3 + 0.3 * (5 - csat) + 0.8 * c["contract=monthly"]

    model = fake_model(pop, fn)
    ref = healthy_reference(model, pop, fams)
    assert levels(ref)["contract"] == "annual"
    assert ref.levels()["csat"] == 5.0 and ref.levels()["tickets"] is None  # tickets: flat
    rows = customers(tenure=[5.0, 5.0], csat=[np.nan, 2.0], contract=["monthly", "annual"]).astype(
        {"contract": "string"}
    )
    credit = driver_credit(model, rows, fams, reference=ref)
    assert credit.family.loc[0, "support"] == 0.0  # no rating: nothing to fix
    assert credit.family.loc[1, "support"] == pytest.approx(0.3 * (5 - 2))
    assert credit.family.loc[0, "price"] == pytest.approx(0.8)  # monthly -> annual
    assert credit.family.loc[1, "price"] == 0.0


def test_a_held_feature_stays_as_it_is_and_missing_can_be_the_healthy_level():
    pop = population()
    # months since the last price increase: missing = never, the healthiest state
    pop["since_increase"] = np.where(
        np.arange(len(pop)) % 2 == 0, np.nan, 1.0 + np.arange(len(pop)) % 6
    )
    pop["amount"] = np.where(np.arange(len(pop)) % 3 == 0, 29.0, 199.0)
    fams = FAMILIES | {"since_increase": "price", "amount": "price"}

    def fn(c):
        recent = np.where(np.isnan(c["since_increase"]), 0.0, 1.0 / c["since_increase"])
        return -3 + 1.2 * recent + 0.4 * (c["amount"] < 50)

    model = fake_model(pop, fn)
    ref = healthy_reference(model, pop, fams, held=["amount"])
    assert np.isnan(levels(ref)["since_increase"])
    assert ref.levels()["since_increase"] == "(missing)"
    assert "amount" not in levels(ref) and ref.held == ("amount",)
    rows = customers(since_increase=[2.0], amount=[29.0])
    credit = driver_credit(model, rows, fams, reference=ref)
    assert credit.family.loc[0, "price"] == pytest.approx(0.6)  # 1.2 / 2 -> never increased
    assert credit.baseline[0] == pytest.approx(-3 + 0.4)  # the cheap plan's risk is baseline


def test_more_context_families_are_held_too():
    def fn(c):
        return -3 + 1.0 * c["tickets"] + 0.5 * c["price_rise"]

    pop = population()
    model = fake_model(pop, fn)
    rows = customers(tickets=[2.0], price_rise=[0.3])
    ref = healthy_reference(model, pop, FAMILIES, context=["profile", "price"])
    credit = driver_credit(model, rows, FAMILIES, reference=ref)
    assert list(credit.family.columns) == ["onboarding", "support"]
    assert credit.baseline[0] == pytest.approx(-3 + 0.15)  # price is held as context
    assert credit.family.loc[0, "support"] == pytest.approx(2.0)


def test_the_reference_ignores_the_rows_order_when_ids_are_given():
    def fn(c):
        return -3 + np.sin(3 * c["tickets"]) + c["price_rise"] * (c["tenure"] < 12) + c["onb"]

    pop = population(3000)
    ids = np.array([f"c{i:05d}" for i in range(len(pop))])
    model = fake_model(pop, fn)
    perm = np.random.default_rng(5).permutation(len(pop))
    a = healthy_reference(model, pop, FAMILIES, ids=ids, pd_rows=500)
    b = healthy_reference(model, pop.iloc[perm], FAMILIES, ids=ids[perm], pd_rows=500)
    assert a.levels() == b.levels()
    for ra, rb in zip(a.features, b.features, strict=True):
        assert ra.pd.tobytes() == rb.pd.tobytes()


def test_above_max_exact_sampled_orders_still_add_up_and_approximate_the_exact_values():
    rng = np.random.default_rng(3)
    n = 300
    pop = pd.DataFrame({f"d{i}": rng.choice([0.0, 1.0, 2.0], n) for i in range(10)})
    pop["tenure"] = rng.integers(0, 24, n).astype(float)
    fams = {f"d{i}": f"fam{i}" for i in range(10)} | {"tenure": "profile"}

    def fn(c):
        s = sum((i + 1) * 0.1 * c[f"d{i}"] for i in range(10))
        return s + 0.3 * c["d0"] * c["d1"] * c["d2"]

    model = fake_model(pop, fn)
    exact = driver_credit(model, pop, fams, max_exact=10)
    approx = driver_credit(model, pop, fams, max_exact=4, permutations=64)
    np.testing.assert_allclose(
        approx.family.sum(axis=1), approx.margin - approx.baseline, atol=1e-12
    )
    err = np.abs(approx.family.to_numpy() - exact.family.to_numpy())
    # the only non-additive part is a 3-way interaction worth <= 2.4; a sampled order gives it
    # to whichever of the three comes last, so the error is binomial (sd ~0.1 at 128 orders)
    assert err.mean() < 0.02 and err.max() < 0.4
    np.testing.assert_allclose(exact.family["fam9"], pop["d9"], atol=1e-9)  # additive: 1.0 x d9
    # exact Shapley of the 3-way term d0*d1*d2 (reference 0): a third to each of the three
    share = 0.3 * pop["d0"] * pop["d1"] * pop["d2"] / 3
    np.testing.assert_allclose(exact.family["fam0"], 0.1 * pop["d0"] + share, atol=1e-6)


def test_no_actionable_feature_means_no_credit_and_baseline_is_the_risk():
    pop = population()[["tenure"]]
    model = fake_model(pop, lambda c: -3 + 0.1 * c["tenure"])
    credit = driver_credit(model, pop, {"tenure": "profile"})
    assert credit.family.shape == (len(pop), 0)
    np.testing.assert_array_equal(credit.baseline, credit.margin)


# --- a real booster --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    table = make_table(3000)
    model = ChurnModel(seed=0).fit(
        table.at(["2025-01", "2025-02", "2025-03", "2025-04"]), table.at("2025-05")
    )
    return model, table.at("2025-06")


def test_same_bytes_whatever_the_chunks_and_threads(fitted):
    model, rows = fitted
    ids = rows.frame["customer_id"]
    runs = []
    for threads, chunk in ((1, 37), (2, 10_000), (None, 501)):
        model.n_jobs = threads
        runs.append(driver_credit(model, rows.frame, rows.families, ids=ids, chunk=chunk))
    model.n_jobs = None
    for other in runs[1:]:
        assert other.family.to_numpy().tobytes() == runs[0].family.to_numpy().tobytes()
        assert other.feature.to_numpy().tobytes() == runs[0].feature.to_numpy().tobytes()
        assert other.baseline.tobytes() == runs[0].baseline.tobytes()
    credit = runs[0]
    np.testing.assert_allclose(credit.margin, model.margin(rows), atol=1e-5)
    np.testing.assert_allclose(
        credit.family.sum(axis=1), credit.margin - credit.baseline, atol=1e-9
    )
