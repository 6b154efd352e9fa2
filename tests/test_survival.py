"""Time to churn: the discrete-time model on panels whose hazards are known, its metrics
worked by hand, point-in-time correctness and determinism (docs/time-to-churn.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.contract import read_dataset
from churnlab.core.months import month_cutoff, month_range, months_between
from churnlab.features import build_feature_table
from churnlab.features.table import FeatureTable
from churnlab.model import survival_metrics as sm
from churnlab.model.survival import (
    SurvivalModel,
    censor_at,
    duration_leaks,
    outcome_arrays,
    person_months,
    smallest,
)
from churnlab.report.survival import retention_columns, survival_month, survival_table
from churnlab.synth import generate, write_world

HAZARD = {"low": 0.05, "high": 0.20}


def constant_hazard_panel(per_snapshot: int = 1500, snapshots: int = 12, seed: int = 0):
    """Monthly snapshots 2024-01.. whose customers churn with a constant monthly hazard set by
    their group; the data ends with the last snapshot, so snapshot s has (last - s) closed
    months, and churn beyond them is censored."""
    rng = np.random.default_rng(seed)
    months = month_range("2024-01", "2024-12")[:snapshots]
    frames = []
    for s in months:
        group = rng.choice(list(HAZARD), per_snapshot)
        churn_month = rng.geometric([HAZARD[g] for g in group])
        closed = months_between(s, months[-1])
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"{s}-{i}" for i in range(per_snapshot)],
                    "snapshot": s,
                    "churned": pd.array([pd.NA] * per_snapshot, dtype="Int8"),
                    "t": np.minimum(churn_month, closed),
                    "e": (churn_month <= closed).astype(int),
                    "group": pd.array(group, dtype="string"),
                    "noise": rng.normal(size=per_snapshot),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return FeatureTable(
        frame, {"group": "profile", "noise": "other"}, duration_col="t", event_col="e"
    )


def test_constant_hazard_gives_a_geometric_survival_curve():
    table = constant_hazard_panel()
    time, event = outcome_arrays(table)
    model = SurvivalModel(horizons=6, seed=0).fit(table, time, event)
    assert model.horizons_ == 6 and model.notes_ == []
    for group, h in HAZARD.items():
        rows = pd.DataFrame({"group": pd.array([group] * 50, dtype="string"), "noise": 0.0})
        surv = model.survival(rows).mean(axis=0)
        expected = (1 - h) ** np.arange(1, 7)
        assert np.abs(surv - expected).max() < 0.03, (group, surv, expected)


def test_pooled_model_learns_the_same_curve():
    table = constant_hazard_panel(per_snapshot=800)
    model = SurvivalModel(horizons=4, pooled=True).fit(table, *outcome_arrays(table))
    assert len(model.boosters_) == 1 and model.feature_names_[-1] == "months_ahead"
    rows = pd.DataFrame({"group": pd.array(["high"] * 10, dtype="string"), "noise": 0.0})
    assert np.abs(model.survival(rows).mean(0) - 0.8 ** np.arange(1, 5)).max() < 0.04


def test_row_budget_is_a_seeded_random_share_of_every_month_ahead():
    table = constant_hazard_panel(per_snapshot=600)
    time, event = outcome_arrays(table)
    budget = 4000
    model = SurvivalModel(horizons=6, seed=3, max_rows=budget).fit(table, time, event)
    assert model.train_rows_ == budget
    row, k, _ = person_months(time, event, 6)
    chosen = model._sample(row, k)
    assert len(chosen) == budget and np.all(np.diff(chosen) > 0)  # distinct, in row order
    # every month ahead keeps the same share of its rows, up to binomial noise
    share = budget / len(k)
    kept = np.bincount(k[chosen], minlength=7)[1:]
    available = np.bincount(k, minlength=7)[1:]
    sd = np.sqrt(available * share * (1 - share))
    assert np.all(np.abs(kept - available * share) < 5 * sd), (kept, available * share)
    assert np.array_equal(chosen, model._sample(row, k))
    other = SurvivalModel(horizons=6, seed=4, max_rows=budget).fit(table, time, event)
    assert not np.array_equal(chosen, other._sample(row, k))
    everything = SurvivalModel(horizons=6, max_rows=None).fit(table, time, event)
    assert everything.train_rows_ == len(k)


def test_person_months_never_count_censoring_as_churn():
    row, k, churned = person_months(np.array([3, 2, 0, 5]), np.array([1, 0, 0, 1]), horizons=4)
    # row 0 churned in month 3; row 1 was there through month 2 (censored); row 2 was never
    # observed; row 3 churned in month 5, after the 4 months modelled: censored there
    assert row.tolist() == [0, 0, 0, 1, 1, 3, 3, 3, 3]
    assert k.tolist() == [1, 2, 3, 1, 2, 1, 2, 3, 4]
    assert churned.tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_censored_panel_has_no_horizon_and_says_why():
    table = constant_hazard_panel(per_snapshot=300, snapshots=4)
    time, _ = outcome_arrays(table)
    model = SurvivalModel(horizons=6).fit(table, time, np.zeros(len(time)))
    assert model.horizons_ == 0 and model.boosters_ == []
    assert "0 churn(s)" in model.notes_[0]


def test_short_history_is_noted_never_extrapolated():
    table = constant_hazard_panel(per_snapshot=1000, snapshots=5)  # at most 4 closed months
    model = SurvivalModel(horizons=12).fit(table, *outcome_arrays(table))
    assert model.horizons_ == 4
    assert "4 month(s) ahead only" in model.notes_[0] and "not extrapolated" in model.notes_[0]
    cols = retention_columns(model.survival(table.frame.head(3)), np.array([10.0, 20.0, 30.0]))
    assert cols["p_retained_3m"].notna().all()
    assert cols[["p_retained_6m", "p_retained_12m", "expected_months_12m"]].isna().all().all()
    assert cols["expected_revenue_12m"].isna().all()


def test_retention_columns_by_hand():
    surv = np.tile(0.9 ** np.arange(1, 13), (2, 1))
    cols = retention_columns(surv, np.array([10.0, np.nan]))
    assert cols.loc[0, "p_retained_3m"] == pytest.approx(0.729)
    assert cols.loc[0, "p_retained_12m"] == pytest.approx(0.9**12)
    months = sum(0.9**k for k in range(1, 13))
    assert cols.loc[0, "expected_months_12m"] == pytest.approx(months)
    assert cols.loc[0, "expected_revenue_12m"] == pytest.approx(10 * months)
    assert np.isnan(cols.loc[1, "expected_revenue_12m"])


def test_censor_at_by_hand():
    snaps = np.array(["2025-01", "2025-01", "2025-01", "2025-03", "2025-04"])
    time = np.array([5.0, 2.0, 4.0, 1.0, 2.0])
    event = np.array([1.0, 1.0, 0.0, 1.0, 1.0])
    t, e = censor_at(time, event, snaps, "2025-04")
    # by the end of April, 3 months after January's cutoff (Feb, Mar, Apr) had closed and 1
    # after March's; April's own snapshot has none
    assert t.tolist() == [3, 2, 3, 1, 0] and e.tolist() == [0, 1, 0, 1, 0]


def test_the_model_is_deterministic():
    table = constant_hazard_panel(per_snapshot=500, snapshots=8)
    a = SurvivalModel(horizons=5, seed=3).fit(table, *outcome_arrays(table)).survival(table)
    b = SurvivalModel(horizons=5, seed=3).fit(table, *outcome_arrays(table)).survival(table)
    assert a.tobytes() == b.tobytes()


# --- metrics, by hand -------------------------------------------------------------------


def test_kaplan_meier_by_hand():
    # 5 customers: churn at 1, censored at 1 (there through month 1), churn at 2, churn at
    # 3, censored at 3. S(1) = 4/5; at 2, 3 at risk, 1 churns: 4/5 * 2/3; at 3, 2 at risk,
    # 1 churns: * 1/2
    time, event = [1, 1, 2, 3, 3], [1, 0, 1, 1, 0]
    got = sm.kaplan_meier(time, event, [1, 2, 3, 4])
    assert got[:3] == pytest.approx([0.8, 0.8 * 2 / 3, 0.8 * 2 / 3 / 2])
    assert np.isnan(got[3])  # after the last observed time


def test_harrell_c_by_hand():
    time = [1, 2, 3, 3]
    event = [1, 1, 0, 1]
    risk = [0.9, 0.5, 0.7, 0.1]
    # comparable pairs (earlier time a churn; equal times: churner vs censored): (0,1)
    # (0,2) (0,3) (1,2) (1,3) (3,2): concordant (0,1) (0,2) (0,3) (1,3) = 4 of 6
    assert sm.harrell_c(time, event, risk) == pytest.approx(4 / 6)
    assert sm.harrell_c(time, event, [0.5] * 4) == pytest.approx(0.5)
    assert sm.harrell_c([1, 2], [0, 0], [1, 2]) is None


def test_cumulative_auc_and_brier_without_censoring():
    time = np.array([1, 2, 4, 5])
    event = np.array([1, 1, 1, 1])
    risk = np.array([0.9, 0.2, 0.5, 0.1])
    # by t = 2: cases 0, 1 against controls 2, 3: 0 beats both, 1 beats only 3 -> 3/4
    assert sm.cumulative_auc(time, event, risk, 2) == pytest.approx(0.75)
    surv = np.array([[0.5], [0.5], [0.9], [0.9]])
    # at u = 2: cases contribute 0.5^2, controls (1 - 0.9)^2
    assert sm.brier_scores(time, event, surv, [2]) == pytest.approx([(0.25 * 2 + 0.01 * 2) / 4])


# --- point in time and the report's pipeline on a small synthetic world -------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return read_dataset(write_world(generate(900, 16, seed=5), tmp_path_factory.mktemp("w")))


def test_outcomes_censored_at_a_cutoff_equal_the_data_cut_there(world):
    b = "2025-09"
    full = build_feature_table(world)
    cut = build_feature_table(world.as_of(month_cutoff(b)))
    mine = full.subset(full.frame["snapshot"] <= b)
    t, e = censor_at(*outcome_arrays(mine), mine.frame["snapshot"], b)
    tc, ec = outcome_arrays(cut)
    assert len(tc) == len(t) and (tc == t).all() and (ec == e).all()
    pd.testing.assert_frame_equal(mine.frame[mine.features], cut.frame[cut.features])


def test_survival_month_ignores_the_future_and_is_deterministic(world):
    m = "2025-12"
    full = survival_month(build_feature_table(world), m)
    cut = survival_month(build_feature_table(world.as_of(month_cutoff(m))), m)
    assert full.scores.to_numpy().tobytes() == cut.scores.to_numpy().tobytes()
    assert full.metrics == cut.metrics
    bt = full.metrics["backtest"]
    assert bt["snapshot"] == "2025-06" and bt["months"] == 6 and bt["concordance_kind"] == "Harrell"
    assert 0.5 < bt["concordance"] < 1 and bt["integrated_brier"] < bt["integrated_brier_km"]
    assert [r["month"] for r in bt["curve"]] == [1, 2, 3, 4, 5, 6]
    assert (np.diff(full.curve["retained"]) <= 0).all()  # retention never rises
    assert set(full.shares) <= {
        "price",
        "support",
        "onboarding",
        "engagement",
        "voice_of_customer",
        "profile",
    }


# --- flat tables with a duration ----------------------------------------------------------


def flat_table(n: int = 3000, seed: int = 0) -> FeatureTable:
    """Exponential lifetimes whose hazard doubles per unit of ``risk``; ``total`` = months x
    ``price`` is a copy of the duration."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    price = rng.uniform(5, 200, n)  # wide: the total alone is not enough to spot the copy
    life = rng.exponential(24 / 2.0**risk)
    follow = rng.uniform(1, 60, n)
    months = np.ceil(np.minimum(life, follow))
    frame = pd.DataFrame(
        {
            "id": pd.array([f"c{i}" for i in range(n)], dtype="string"),
            "churn": pd.array((life <= follow).astype(int), dtype="Int8"),
            "months": months,
            "risk": risk,
            "price": price,
            "total": months * price * rng.uniform(0.97, 1.03, n),
            "noise": rng.normal(size=n),
        }
    )
    families = {"risk": "support", "price": "price", "total": "price", "noise": "other"}
    return FeatureTable(frame, families, "id", "churn", None, duration_col="months")


def test_duration_leaks_name_a_total_charged():
    table = flat_table()
    leaks = duration_leaks(table, table.frame["months"].to_numpy(float))
    assert set(leaks) == {"total"} and "total / price" in leaks["total"]


def test_survival_table_out_of_fold_and_leak_left_out():
    notes: list[str] = []
    result = survival_table(flat_table(), seed=0, notes=notes)
    m = result.metrics
    assert m["folds"] == 5 and m["concordance_kind"] == "Harrell, out of fold"
    assert (
        0.65 < m["concordance"] < 0.85 and abs(m["concordance_fold_mean"] - m["concordance"]) < 0.03
    )
    assert set(m["leaks"]) == {"total"} and "'total' looks like a copy" in notes[0]
    assert "total" not in result.drivers["feature"].tolist()
    top = result.drivers.iloc[0]
    assert top["feature"] == "risk" and top["direction"] == 1  # a higher risk shortens life


# --- loading a table with a duration, and the command line ---------------------------------


def _write(tmp_path, rows: dict) -> str:
    path = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_load_feature_table_with_a_duration(tmp_path):
    from churnlab.features.table import load_feature_table

    path = _write(
        tmp_path,
        {
            "id": ["a", "b", "c"],
            "left": ["yes", "no", "yes"],
            "tenure": ["3", "", "10"],
            "price": [1.0, 2.0, 3.0],
            "months_to_churn": [1, 2, 3],  # churnlab's own outcome column: never a feature
        },
    )
    table = load_feature_table(path, "id", "left", duration_col="tenure")
    assert table.duration_col == "tenure" and table.features == ["price"]
    time, event = outcome_arrays(table)
    assert np.isnan(time[1]) and time[[0, 2]].tolist() == [3, 10] and event.tolist() == [1, 0, 1]
    assert any("'months_to_churn' is churnlab's time to churn" in w for w in table.meta["warnings"])


@pytest.mark.parametrize(
    ("rows", "duration", "words"),
    [
        (
            {"id": ["a", "b"], "left": [1, 0], "tenure": ["3", "-1"], "x": [1, 2]},
            "tenure",
            "not a duration >= 0",
        ),
        (
            {"id": ["a", "b"], "left": [1, 0], "tenure": ["3", "two"], "x": [1, 2]},
            "tenure",
            "'two'",
        ),
        ({"id": ["a", "b"], "left": [1, 0], "x": [1, 2]}, "tenure", "no duration column 'tenure'"),
        ({"id": ["a", "b"], "left": [1, 0], "x": [1, 2]}, "left", "also the id or the label"),
        (
            {
                "id": ["a", "b"],
                "snapshot": ["2025-01"] * 2,
                "left": [1, 0],
                "t": [1, 2],
                "x": [1, 2],
            },
            "t",
            "snapshot column and a duration",
        ),
    ],
)
def test_bad_durations_are_refused_clearly(tmp_path, rows, duration, words):
    from churnlab.core.errors import ChurnlabError
    from churnlab.features.table import load_feature_table

    with pytest.raises(ChurnlabError, match=words):
        load_feature_table(_write(tmp_path, rows), "id", "left", duration_col=duration)


def test_duration_option_reaches_the_explanation_parameters(tmp_path):
    from churnlab.cli import build_parser
    from churnlab.runs.params import check_explain_params, load_table_or_dataset

    args = build_parser().parse_args(
        [
            "explain",
            "--table",
            "t.csv",
            "--id",
            "id",
            "--label",
            "left",
            "--duration",
            "tenure",
            "--out",
            "o",
        ]
    )
    assert args.duration_col == "tenure"
    path = _write(tmp_path, {"id": ["a", "b"], "left": [1, 0], "tenure": [3, 4], "x": [1, 2]})
    params = check_explain_params(path, "id", "left", duration_col="tenure")
    assert load_table_or_dataset(params).duration_col == "tenure"
    assert check_explain_params(path, "id", "left")["duration_col"] == ""


def test_inactivity_churn_has_no_time_to_churn(world):
    from churnlab.core.churn import ChurnDefinition

    table = build_feature_table(world, definition=ChurnDefinition(churn="inactivity"))
    assert table.duration_col is None and "months_to_churn" not in table.frame
    result = survival_month(table, "2025-12")
    assert result.metrics["available"] is False
    assert "cancellation churn only" in result.metrics["reason"] and result.scores.empty


def test_smallest_is_the_head_of_a_stable_sort_ties_included():
    rng = np.random.default_rng(7)
    for size, n in [(1000, 1), (1000, 999), (1000, 1000), (1000, 1500), (50, 0), (0, 3)]:
        # few distinct values: many ties at the cut, which go to the earlier positions
        values = rng.integers(0, 7, size).astype(float)
        expected = np.sort(np.argsort(values, kind="stable")[:n])
        np.testing.assert_array_equal(smallest(values, n), expected)
    values = rng.random(10_000)
    np.testing.assert_array_equal(
        smallest(values, 1234), np.sort(np.argsort(values, kind="stable")[:1234])
    )
