"""report.py on tiny hand-made tables whose answers are computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churnlab import report
from churnlab.dataset import Dataset
from churnlab.errors import ChurnlabError
from churnlab.table import FeatureTable


def _ts(values):
    return pd.to_datetime(pd.Series(values, dtype="object"))


@pytest.fixture
def tiny() -> Dataset:
    """Four customers; see the comments in the tests for what each one does."""
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "b", "c", "d"], dtype="string"),
            "signup_date": _ts(["2025-01-10", "2025-01-20", "2025-02-05", "2025-02-10"]),
            "churn_date": _ts(["2025-03-15", None, "2025-02-20", "2025-04-02"]),
            "plan": pd.Series(["x", "y", None, "x"], dtype="string"),
        }
    )
    billing = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "a", "b", "b", "b", "b", "d", "d"], dtype="string"),
            "period_start": _ts(
                [
                    "2025-01-10",
                    "2025-02-10",
                    "2025-03-10",
                    "2025-01-20",
                    "2025-02-20",
                    "2025-03-20",
                    "2025-04-30",
                    "2025-02-10",
                    "2025-03-10",
                ]
            ),
            "amount": [10.0, 12.0, 12.0, 20.0, 20.0, 20.0, 20.0, 30.0, 35.0],
        }
    )
    return Dataset(
        tables={"customers": customers, "billing": billing},
        warnings=("billing.customer_id: 2 rows of unknown customers dropped",),
    )


@pytest.fixture
def labels() -> pd.DataFrame:
    """Populations and one-month labels of snapshots 2025-01..2025-04, worked out by hand.

    2025-01 (cutoff 1 Feb): a, b, nobody churns in February.
    2025-02 (cutoff 1 Mar): a, b, d (c left on 20 Feb); a churns on 15 Mar.
    2025-03 (cutoff 1 Apr): b, d; d churns on 2 Apr.
    2025-04 (cutoff 1 May): b; April's outcome unknown (NA).
    """
    rows = [
        ("a", "2025-01", 0),
        ("b", "2025-01", 0),
        ("a", "2025-02", 1),
        ("b", "2025-02", 0),
        ("d", "2025-02", 0),
        ("b", "2025-03", 0),
        ("d", "2025-03", 1),
        ("b", "2025-04", None),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "snapshot", "churned"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["churned"] = frame["churned"].astype("Int8")
    return frame


def test_churn_history_by_hand(tiny, labels):
    h = report.churn_history(tiny, labels)
    assert h["month"].tolist() == ["2025-02", "2025-03", "2025-04", "2025-05"]
    assert h["active_customers"].tolist() == [2, 3, 2, 1]
    assert h["churned"].tolist()[:3] == [0, 1, 1] and math.isnan(h["churned"].iloc[3])
    assert h["churn_rate"].tolist()[:3] == pytest.approx([0.0, 1 / 3, 0.5])
    # revenue lost: a's latest bill before 1 Mar (12), d's latest before 1 Apr (35)
    assert h["revenue_lost"].tolist()[:3] == [0.0, 12.0, 35.0]
    assert math.isnan(h["revenue_lost"].iloc[3])


def test_revenue_lost_is_nan_without_billing(tiny, labels):
    no_billing = Dataset(tables={"customers": tiny.customers})
    h = report.churn_history(no_billing, labels)
    assert h["revenue_lost"].isna().all()
    assert h["churned"].iloc[1] == 1


def test_kpis_by_hand(tiny, labels):
    k = report.kpis(report.churn_history(tiny, labels), "2025-04")
    assert k["current"] == {
        "active_customers": 2,
        "churned": 1,
        "churn_rate": 0.5,
        "revenue_lost": 35.0,
    }
    assert k["previous"]["active_customers"] == 3 and k["previous"]["revenue_lost"] == 12.0
    assert k["months_in_average"] == 2  # February and March: the data has no earlier months
    assert k["average_12m"]["churn_rate"] == pytest.approx(1 / 6)
    assert k["average_12m"]["active_customers"] == pytest.approx(2.5)
    assert k["change_vs_previous"]["churn_rate"] == pytest.approx(0.5 - 1 / 3)
    assert k["change_vs_average"]["revenue_lost"] == pytest.approx(35 - 6)


def test_kpis_undefined_month(tiny, labels):
    k = report.kpis(report.churn_history(tiny, labels), "2025-05")
    assert k["current"]["churned"] is None and k["current"]["churn_rate"] is None
    with pytest.raises(ChurnlabError, match="2026-01"):
        report.kpis(report.churn_history(tiny, labels), "2026-01")


def test_cohort_retention_by_hand(tiny, labels):
    table = report.cohort_retention(tiny, labels, "2025-04")
    assert table.index.tolist() == ["2025-01", "2025-02"]
    assert table.loc["2025-01"].tolist() == [1.0, 1.0, 0.5, 0.5]
    feb = table.loc["2025-02"].tolist()
    assert feb[:3] == [0.5, 0.5, 0.0] and math.isnan(feb[3])  # Feb + 3 = May: not yet seen


def test_latest_complete_month_and_resolve(tiny):
    # the latest date is b's bill on 30 April: April is complete
    assert report.latest_complete_month(tiny) == "2025-04"
    assert report.resolve_month(tiny, "") == "2025-04"
    assert report.resolve_month(tiny, "2025-2") == "2025-02"
    with pytest.raises(ChurnlabError, match="outside the data.*2025-04"):
        report.resolve_month(tiny, "2025-05")
    with pytest.raises(ChurnlabError, match="too early.*from 2025-02 to 2025-04"):
        report.resolve_month(tiny, "2025-01")
    with pytest.raises(ChurnlabError, match="before the data.*from 2025-02 to 2025-04"):
        report.resolve_month(tiny, "2024-12")
    assert report.resolve_month(tiny, "2025-03", horizon=2) == "2025-03"
    with pytest.raises(ChurnlabError, match="horizon 2"):
        report.resolve_month(tiny, "2025-02", horizon=2)
    cut = tiny.as_of(pd.Timestamp("2025-04-30"))  # data now ends on 2 April
    assert report.latest_complete_month(cut) == "2025-03"


def test_monthly_labels_match_hand_labels(tiny, labels):
    got = report.monthly_labels(tiny, "2025-04")
    pd.testing.assert_frame_equal(got, labels, check_dtype=False)


def test_psi_of_known_distributions():
    # shares 1/2, 1/2 -> 1/4, 3/4: (1/4-1/2) ln(1/2) + (3/4-1/2) ln(3/2)
    by_hand = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    cat = report.psi(pd.Series(["x", "x", "y", "y"]), pd.Series(["x", "y", "y", "y"]))
    assert cat == pytest.approx(by_hand)
    expected = pd.Series(np.arange(100, dtype=float))  # 2 bins split at the median, 49.5
    actual = pd.Series(np.r_[np.zeros(25), np.full(75, 80.0)])
    assert report.psi(expected, actual, bins=2) == pytest.approx(by_hand)
    assert report.psi(expected, expected) == pytest.approx(0.0)


def test_psi_counts_missing_values_as_a_bin():
    expected = pd.Series([1.0, 2.0, 3.0, 4.0])
    actual = pd.Series([1.0, 2.0, np.nan, np.nan])
    # one bin (bins=1): shares 1 -> 1/2 known, and missing 0 (floored at 1e-4) -> 1/2
    e, a = np.array([1.0, 1e-4]), np.array([0.5, 0.5])
    assert report.psi(expected, actual, bins=1) == pytest.approx(np.sum((a - e) * np.log(a / e)))


def test_feature_drift_flags_shifted_feature():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(2 * n)],
            "snapshot": ["2025-01"] * n + ["2025-02"] * n,
            "churned": pd.array([0] * (2 * n), dtype="Int8"),
            "stable": rng.normal(size=2 * n),
            "shifted": np.r_[rng.normal(size=n), rng.normal(loc=2.0, size=n)],
            "plan": pd.Series(["a", "b"] * n, dtype="string"),
        }
    )
    table = FeatureTable(frame, {"stable": "engagement", "shifted": "price", "plan": "profile"})
    drift = report.feature_drift(table, "2025-02", ["2025-01"])
    assert drift["feature"].iloc[0] == "shifted" and drift["flagged"].iloc[0]
    assert drift["family"].iloc[0] == "price"
    assert not drift.set_index("feature").loc[["stable", "plan"], "flagged"].any()
    sampled = report.feature_drift(table, "2025-02", ["2025-01"], max_rows=300).set_index("feature")
    assert sampled.loc["shifted", "flagged"] and not sampled.loc["stable", "flagged"]


def test_quality_warning():
    history = pd.DataFrame({"roc_auc": [0.80, 0.84, None]})
    message = report.quality_warning(history, 0.76)
    assert message and "0.760" in message and "0.820" in message and "2 backtest" in message
    assert report.quality_warning(history, 0.78) is None
    assert report.quality_warning(history, None) is None
    assert report.quality_warning(pd.DataFrame({"roc_auc": []}), 0.5) is None


def test_data_quality_summary(tiny):
    q = report.data_quality_summary(tiny).set_index("table")
    assert q.loc["customers", "rows"] == 4 and q.loc["customers", "columns"] == 4
    assert q.loc["customers", "first_date"] == "2025-01-10"
    assert q.loc["customers", "last_date"] == "2025-04-02"
    # churn_date: 1 of 4 empty, plan: 1 of 4 -> 2 of 16 cells
    assert q.loc["customers", "missing_share"] == pytest.approx(2 / 16)
    assert q.loc["customers", "most_missing"] == "churn_date (25%)"
    assert q.loc["billing", "warnings"] == 1 and q.loc["customers", "warnings"] == 0


def test_at_risk_order_and_reasons():
    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "churn_probability": [0.9, 0.2, 0.5, 0.5],
            "risk_rank": [1, 4, 2, 3],
            "value": [10.0, 500.0, 40.0, 40.0],
            "expected_revenue_at_risk": [9.0, 100.0, 20.0, 20.0],
            "reason_1": ["r1", "q1", "", "s1"],
            "reason_2": ["r2", "", "", "s2"],
            "reason_3": ["", "", "", ""],
            "action": ["plan review", "x", "y", "z"],
        }
    )
    top = report.at_risk(scores, n=3)
    assert top["customer_id"].tolist() == ["b", "c", "d"]  # ties broken by id
    assert top["reasons"].tolist() == ["q1", "", "s1; s2"]
    assert list(top.columns) == [
        "customer_id",
        "churn_probability",
        "risk_rank",
        "value",
        "expected_revenue_at_risk",
        "reasons",
        "action",
    ]


def test_recent_snapshots_within_row_budget():
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "snapshot": ["2025-01"] * 4 + ["2025-02"] * 3 + ["2025-03"] * 3,
            "churned": pd.array([0, 1] * 5, dtype="Int8"),
            "x": np.arange(10.0),
        }
    )
    table = FeatureTable(frame, {"x": "price"})
    snaps = ["2025-01", "2025-02", "2025-03"]
    assert report._recent(table, snaps, 6) == ["2025-02", "2025-03"]
    assert report._recent(table, snaps, 10) == snaps
    assert report._recent(table, snaps, 1) == ["2025-02", "2025-03"]  # never fewer than two


def test_previous_month_shares_sampled_close_to_full():
    from churnlab.model import ChurnModel

    rng = np.random.default_rng(1)
    parts = []
    for snap in ["2025-01", "2025-02", "2025-03"]:
        x = rng.normal(size=3000)
        z = rng.normal(size=3000)
        y = (rng.random(3000) < 1 / (1 + np.exp(-(-2.5 + 1.5 * x + 0.5 * z)))).astype(int)
        parts.append(
            pd.DataFrame(
                {"customer_id": [f"c{i}" for i in range(3000)], "snapshot": snap, "churned": y}
                | {"x": x, "z": z}
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["churned"] = frame["churned"].astype("Int8")
    table = FeatureTable(frame, {"x": "price", "z": "support"})
    model = ChurnModel(seed=0).fit(table.at("2025-01"), table.at("2025-02"))
    full = report.previous_month_shares(model, table, "2025-03", max_rows=10_000)
    sample = report.previous_month_shares(model, table, "2025-03", max_rows=1000)
    assert sum(full.values()) == pytest.approx(1) and sum(sample.values()) == pytest.approx(1)
    assert full["price"] > full["support"]
    assert sample["price"] == pytest.approx(full["price"], abs=0.05)
    assert report.previous_month_shares(model, table, "2025-01") == {}
