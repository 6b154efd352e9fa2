"""Retention actions (churnlab.report.actions, churnlab.model.uplift): effects computed by
hand on tiny panels, the interval against published values and by simulation, the outcome
window and its point-in-time cut, the Qini curve by hand, and the uplift model on data whose
effect is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.contract import dataset_from_frames
from churnlab.core.churn import ChurnDefinition
from churnlab.core.months import month_cutoff
from churnlab.features.table import FeatureTable
from churnlab.model import ChurnModel
from churnlab.model.uplift import (
    Randomized,
    UpliftModel,
    expected_qini_curve,
    fit_ridge_logit,
    qini_coefficient,
    qini_curve,
    uplift_at,
)
from churnlab.report import actions as A


# --------------------------------------------------------------------------- intervals
@pytest.mark.parametrize(
    "counts, expected",
    [  # Newcombe (1998), Statistics in Medicine 17, Table II, method 10
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ],
)
def test_newcombe_interval_matches_the_paper(counts, expected):
    low, high = A.newcombe_interval(*counts)
    assert (round(low, 4), round(high, 4)) == expected


def test_wilson_interval_by_hand():
    # 0 of 10: the upper bound is z^2 / (n + z^2)
    z2 = A.Z95**2
    assert A.wilson_interval(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))
    low, high = A.wilson_interval(5, 10)
    assert low + high == pytest.approx(1.0)  # symmetric around 1/2


def test_newcombe_interval_covers_by_simulation():
    """Two groups of 60 and 25 at churn rates 0.12 and 0.08: 95 % of 4,000 intervals cover."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.binomial(60, 0.12, 4000), rng.binomial(25, 0.08, 4000)
    low, high = A.newcombe_interval(x1, 60, x2, 25)
    covered = ((low <= 0.04) & (high >= 0.04)).mean()
    assert 0.93 <= covered <= 0.985


# ------------------------------------------------------------------------------ effects
def _panel() -> pd.DataFrame:
    """Plan review in 2025-02: 4 treated (1 churned), 2 held out (1 churned); a mail without
    a holdout; plan review in 2025-03 with 2 treated (0) and 2 held out (2)."""
    rows = [
        ("a", "plan_review", True, "2025-02", 1.0, "smb"),
        ("b", "plan_review", True, "2025-02", 0.0, "smb"),
        ("c", "plan_review", True, "2025-02", 0.0, "mid"),
        ("d", "plan_review", True, "2025-02", 0.0, "mid"),
        ("e", "plan_review", False, "2025-02", 1.0, "smb"),
        ("f", "plan_review", False, "2025-02", 0.0, "mid"),
        ("g", "mail", True, "2025-02", 0.0, "smb"),
        ("h", "mail", True, "2025-02", 1.0, "smb"),
        ("a", "plan_review", True, "2025-03", 0.0, "smb"),
        ("b", "plan_review", True, "2025-03", 0.0, "smb"),
        ("e", "plan_review", False, "2025-03", 1.0, "smb"),
        ("f", "plan_review", False, "2025-03", 1.0, "mid"),
    ]
    cols = ["customer_id", "action", "treated", "action_month", "churned", "segment"]
    return pd.DataFrame(rows, columns=cols)


def test_effects_by_hand():
    e = A.effect_table(_panel()).set_index(["action_month", "action"])
    feb = e.loc[("2025-02", "plan_review")]
    assert (feb["n_treated"], feb["churned_treated"], feb["n_control"], feb["churned_control"]) == (
        4,
        1,
        2,
        1,
    )
    assert feb["effect"] == pytest.approx(0.25 - 0.5)
    assert (feb["low"], feb["high"]) == pytest.approx(A.newcombe_interval(1, 4, 1, 2))
    assert feb["verdict"] == A.UNCLEAR
    mail = e.loc[("2025-02", "mail")]
    assert np.isnan(mail["effect"]) and mail["verdict"] == A.NO_HOLDOUT
    assert mail["rate_treated"] == 0.5
    assert e.loc[("2025-03", "plan_review"), "effect"] == pytest.approx(-1.0)


def test_effects_per_segment_and_pooled_by_hand():
    e = A.measure(_panel())
    seg = e[(e["breakdown"] == "segment") & (e["action_month"] == "2025-02")]
    smb = seg[(seg["action"] == "plan_review") & (seg["level"] == "smb")].iloc[0]
    assert (smb["n_treated"], smb["churned_treated"], smb["n_control"]) == (2, 1, 1)
    assert smb["effect"] == pytest.approx(0.5 - 1.0)
    pooled = e[(e["action_month"] == "all") & (e["breakdown"] == "overall")]
    plan = pooled[pooled["action"] == "plan_review"].iloc[0]
    assert (plan["n_treated"], plan["churned_treated"], plan["n_control"]) == (6, 1, 4)
    assert plan["churned_control"] == 3 and plan["effect"] == pytest.approx(1 / 6 - 3 / 4)
    assert plan["high"] > 0 and plan["verdict"] == A.UNCLEAR and A.proven_actions(e) == []
    # three times the customers: the same rates, a narrower interval, below zero
    tripled = A.measure(pd.concat([_panel()] * 3, ignore_index=True))
    assert A.proven_actions(tripled) == ["plan_review"]


# ----------------------------------------------------------------------------- outcomes
def _dataset(actions: pd.DataFrame, **customers) -> object:
    base = {
        "customer_id": ["a", "b", "c", "d", "e"],
        "signup_date": ["2024-06-01"] * 4 + ["2025-02-20"],
        "churn_date": ["2025-02-01", "2025-02-28", "2025-03-01", "2025-01-15", None],
        "segment": ["smb", "smb", "mid", "mid", "smb"],
    }
    return dataset_from_frames({"customers": pd.DataFrame(base | customers), "actions": actions})


def _sent(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "action", "sent_at", "group"])


def test_outcome_window_by_hand():
    """Sent on 2025-02-01 09:00, followed to 2025-03-01 (one month from the day): a churn on
    the day of sending counts, one on 2025-03-01 does not; a customer gone before, or not
    yet signed up, is left out; actions of a month whose windows are still open wait."""
    data = _dataset(
        _sent(
            ("a", "plan_review", "2025-02-01T09:00", "treatment"),
            ("b", "plan_review", "2025-02-01T09:00", "control"),
            ("c", "plan_review", "2025-02-01T09:00", "treatment"),
            ("d", "plan_review", "2025-02-01T09:00", "treatment"),
            ("e", "plan_review", "2025-02-03T09:00", "treatment"),
            ("c", "plan_review", "2025-03-02T09:00", "treatment"),
        )
    )
    out = A.action_outcomes(data.as_of(month_cutoff("2025-03")), "2025-03")
    frame = out.frame.set_index("customer_id")
    assert frame["churned"].to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert frame["treated"].to_dict() == {"a": True, "b": False, "c": True}
    assert set(frame["snapshot"]) == {"2025-01"} and set(frame["action_month"]) == {"2025-02"}
    assert frame["segment"].to_dict() == {"a": "smb", "b": "smb", "c": "mid"}
    assert out.notes == [
        "1 action row(s) are left out: the customer had already churned when the action was sent.",
        "1 action row(s) are left out: the customer had not signed up yet when the action was sent.",
    ]


def test_outcome_window_with_a_longer_horizon():
    data = _dataset(_sent(("c", "x", "2025-01-20T09:00", "treatment")))
    two = ChurnDefinition(horizon=2)
    # 2025-01-20 + 2 months = 2025-03-20: the churn on 2025-03-01 is inside
    assert A.action_outcomes(data, "2025-03", two).frame["churned"].tolist() == [1.0]
    assert A.action_outcomes(data, "2025-03").frame["churned"].tolist() == [0.0]
    assert A.action_outcomes(data, "2025-02", two).frame.empty  # its window is still open


def test_outcomes_ignore_everything_after_the_cutoff():
    """The same outcomes from the full data and from the data cut at the cutoff: nothing
    dated at or after the end of the report month changes them."""
    actions = _sent(
        ("a", "x", "2025-01-05T09:00", "treatment"),
        ("b", "x", "2025-02-01T09:00", "control"),
        ("c", "x", "2025-02-10T09:00", "treatment"),
        ("c", "x", "2025-03-01T00:00", "treatment"),  # at the cutoff of 2025-02
    )
    full = _dataset(actions)
    later = _dataset(actions, churn_date=["2025-02-01", "2025-03-01", "2025-03-05", None, None])
    for data in (full, later):
        got = A.action_outcomes(data, "2025-02").frame
        cut = A.action_outcomes(data.as_of(month_cutoff("2025-02")), "2025-02").frame
        pd.testing.assert_frame_equal(got, cut)
    # at the end of 2025-02 only January's windows have closed (February's run into March)
    assert A.action_outcomes(full, "2025-02").frame["customer_id"].tolist() == ["a"]


def test_inactivity_outcomes_by_hand():
    customers = {
        "customer_id": ["a", "b"],
        "signup_date": ["2024-06-01"] * 2,
        "churn_date": [None, None],
    }
    usage = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "date": ["2025-01-20", "2025-02-15", "2025-01-25", "2025-03-05"],
            "sessions": [1.0, 1.0, 1.0, 1.0],
        }
    )
    data = dataset_from_frames(
        {
            "customers": pd.DataFrame(customers),
            "usage": usage,
            "actions": _sent(
                ("a", "x", "2025-02-01", "treatment"), ("b", "x", "2025-02-01", "control")
            ),
        }
    )
    out = A.action_outcomes(data, "2025-03", ChurnDefinition(churn="inactivity", inactive_days=30))
    # a used the product on 02-15 (inside the window to 03-01); b only on 03-05: churned
    assert out.frame.set_index("customer_id")["churned"].to_dict() == {"a": 0.0, "b": 1.0}


# ------------------------------------------------------------------------------- qini
def test_qini_curve_by_hand():
    # ranked: t churned, c churned, t stayed, c stayed
    y, t = np.array([1, 1, 0, 0]), np.array([True, False, True, False])
    curve = qini_curve(y, t, np.array([4, 3, 2, 1]))
    # k=1: no control yet -> 0; k=2: 1*1/1 - 1 = 0; k=3: 1*2/1 - 1 = 1; k=4: 1*2/2 - 1 = 0
    assert curve["gain"].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert uplift_at(y, t, np.array([4, 3, 2, 1]), share=1.0) == 0.0
    assert uplift_at(y, t, np.array([1, 2, 3, 4]), share=0.5) == pytest.approx(-1.0 + 1.0)


def test_qini_coefficient_orders_rankings():
    true = np.array([0.3, 0.0, 0.2, 0.0, 0.1])
    perfect = qini_coefficient(expected_qini_curve(true, true))
    reversed_ = qini_coefficient(expected_qini_curve(true, -true))
    flat = qini_coefficient(expected_qini_curve(np.full(5, 0.1), true))
    assert perfect > 0 > reversed_ and flat == pytest.approx(0.0)
    # by hand: gains 0, .3, .5, .6, .6, .6; line k/5 * .6
    gains = np.array([0, 0.3, 0.5, 0.6, 0.6, 0.6])
    assert perfect == pytest.approx(np.mean(gains - np.arange(6) / 5 * 0.6) / 5)


# -------------------------------------------------------------------------- the uplift
def _randomized(n: int, seed: int) -> tuple[FeatureTable, Randomized, np.ndarray]:
    """Risk from x0 (profile) and x1 > 0 (price); the action removes the price risk only."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    logit = -2.0 + 0.8 * x[:, 0] + 1.2 * np.maximum(x[:, 1], 0)
    treated = rng.random(n) < 0.6
    treated_logit = logit - 1.2 * np.maximum(x[:, 1], 0)
    p0, p1 = 1 / (1 + np.exp(-logit)), 1 / (1 + np.exp(-treated_logit))
    y = (rng.random(n) < np.where(treated, p1, p0)).astype(float)
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"])
    frame.insert(0, "customer_id", [f"c{i}" for i in range(n)])
    frame["snapshot"] = "2025-01"
    frame["churned"] = pd.array((rng.random(n) < p0).astype(int), dtype="Int8")
    table = FeatureTable(frame, {"x0": "profile", "x1": "price", "x2": "support"})
    data = Randomized(table, np.full(n, "fix"), treated, y)
    return table, data, p0 - p1


def test_ridge_logit_intercept_only_by_hand():
    # no feature: the intercept is the log-odds of the churn rate, less the offset
    y = np.array([1.0, 0.0, 0.0, 0.0])
    fit = fit_ridge_logit(np.zeros((4, 0)), y, np.zeros(4), ridge=30.0)
    assert fit.intercept == pytest.approx(np.log(1 / 3), abs=1e-9)
    shifted = fit_ridge_logit(np.zeros((4, 0)), y, np.full(4, 0.5), ridge=30.0)
    assert shifted.intercept == pytest.approx(np.log(1 / 3) - 0.5, abs=1e-9)
    np.testing.assert_allclose(shifted.margin(np.zeros((2, 0))), np.log(1 / 3) - 0.5)


def test_ridge_logit_two_groups_by_hand():
    # one binary feature, (almost) no penalty: the fit is saturated, each group's log-odds
    # is that of its own churn rate (1/2 -> 0, 3/4 -> log 3)
    x = np.array([[0.0], [0.0], [1.0], [1.0], [1.0], [1.0]])
    y = np.array([1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    fit = fit_ridge_logit(x, y, np.zeros(6), ridge=1e-9)
    np.testing.assert_allclose(fit.margin(np.array([[0.0], [1.0]])), [0.0, np.log(3)], atol=1e-6)
    # a huge penalty leaves only the intercept: the pooled rate 4/6 -> log 2
    flat = fit_ridge_logit(x, y, np.zeros(6), ridge=1e12)
    np.testing.assert_allclose(flat.margin(np.array([[0.0], [1.0]])), np.log(2), atol=1e-6)


def test_ridge_logit_meets_its_optimality_condition():
    # at the optimum the score of the penalized likelihood is zero: z'(y - p) = ridge * w
    # (the intercept unpenalized); a constant column gets weight 0; same inputs, same bytes
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(size=500), rng.normal(2, 3, 500), np.ones(500)])
    offset = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-(offset + 0.8 * x[:, 0])))).astype(float)
    fit = fit_ridge_logit(x, y, offset, ridge=7.0)
    z = np.column_stack([np.ones(500), (x - fit.mean) / fit.scale])
    p = 1 / (1 + np.exp(-(offset + fit.margin(x))))
    np.testing.assert_allclose(z.T @ (y - p), 7.0 * np.r_[0.0, fit.weights], atol=1e-7)
    assert fit.weights[2] == 0.0 and fit.weights[0] > 0.3
    again = fit_ridge_logit(x, y, offset, ridge=7.0)
    assert again.intercept == fit.intercept
    np.testing.assert_array_equal(again.weights, fit.weights)


def test_uplift_model_finds_who_the_action_helps():
    table, data, true = _randomized(6000, seed=1)
    baseline = ChurnModel(seed=0).fit(table)  # untreated outcomes of the same customers
    model = UpliftModel(baseline, seed=0).fit(data)
    fresh, _, fresh_true = _randomized(3000, seed=2)
    est = model.prevented(fresh)["fix"].to_numpy()
    assert np.corrcoef(est, fresh_true)[0, 1] > 0.6
    helped = fresh.frame["x1"].to_numpy() > 0.5
    assert est[helped].mean() > 3 * abs(est[fresh.frame["x1"].to_numpy() < 0].mean())
    ratio = qini_coefficient(expected_qini_curve(fresh_true, est)) / qini_coefficient(
        expected_qini_curve(fresh_true, fresh_true)
    )
    assert ratio > 0.8
    # the same seed gives the same model, to the last digit
    again = UpliftModel(baseline, seed=0).fit(data).prevented(fresh)["fix"].to_numpy()
    np.testing.assert_array_equal(est, again)


def test_actions_without_enough_rows_are_skipped_with_a_reason():
    table, data, _ = _randomized(400, seed=3)
    small = Randomized(
        data.rows, data.action, np.ones(400, bool) & (np.arange(400) > 20), data.churned
    )
    model = UpliftModel(ChurnModel(seed=0).fit(table)).fit(small)
    assert model.actions == []
    assert "21 held-out customers" in model.skipped_["fix"]
    recs = A.recommend(model, table, np.full(400, 100.0), {"fix": 1.0}, ["fix"])
    assert (recs["best_action"] == "").all() and recs["net_gain"].isna().all()


def test_recommend_picks_the_best_net_gain_among_proven_actions():
    table, data, _ = _randomized(3000, seed=4)
    both = Randomized(
        data.rows, np.where(np.arange(3000) % 2 == 0, "fix", "other"), data.treated, data.churned
    )
    model = UpliftModel(ChurnModel(seed=0).fit(table), seed=0).fit(both)
    value = np.full(3000, 500.0)
    recs = A.recommend(model, table, value, {"fix": 2.0, "other": 1.0}, ["fix", "other"])
    prevented = model.prevented(table)
    net = prevented * 500.0 - pd.Series({"fix": 2.0, "other": 1.0})
    assert recs["best_action"].tolist() == net.idxmax(axis=1).tolist()
    np.testing.assert_allclose(recs["net_gain"], net.max(axis=1))
    only = A.recommend(model, table, value, {"fix": 2.0, "other": 1.0}, ["other"])
    assert set(only["best_action"]) == {"other"}


# ------------------------------------------------------------------------------ plots
def test_effect_and_qini_plots_draw_what_they_are_given():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from churnlab.report.plots.action_effects import plot_action_effects
    from churnlab.report.plots.qini import plot_qini

    plt.close("all")
    e = A.effect_table(_panel())
    feb = e[e["action_month"] == "2025-02"]
    fig = plot_action_effects(feb, title="cost $5")
    assert isinstance(fig, Figure) and plt.get_fignums() == []
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mail", "plan_review"]
    texts = [t.get_text() for t in ax.texts]
    assert "no holdout: no effect" in texts  # the mail has no held-out customers
    assert any(t.startswith("-25.0 pp (4 treated, 2 held out)") for t in texts)
    assert ax.get_title() == r"cost \$5"  # a name from the data is not read as math
    curve = qini_curve(np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0], bool), np.arange(4.0))
    fig = plot_qini({"plan_review": curve, "mail": curve})
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 * 2 + 1  # a curve and its random line per action, and zero
    np.testing.assert_allclose(lines[0].get_ydata(), curve["gain"])
    assert plt.get_fignums() == []
