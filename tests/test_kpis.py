"""kpis.py on a tiny hand-made dataset whose answers are computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from report_fixtures import hand_labels, tiny_dataset

from churnlab.contract.dataset import Dataset
from churnlab.core import months
from churnlab.core.errors import ChurnlabError
from churnlab.report import kpis


@pytest.fixture
def tiny() -> Dataset:
    return tiny_dataset()


@pytest.fixture
def labels() -> pd.DataFrame:
    return hand_labels()


def test_churn_history_by_hand(tiny, labels):
    h = kpis.churn_history(tiny, labels)
    assert h["month"].tolist() == ["2025-02", "2025-03", "2025-04", "2025-05"]
    assert h["active_customers"].tolist() == [2, 3, 2, 1]
    assert h["churned"].tolist()[:3] == [0, 1, 1] and math.isnan(h["churned"].iloc[3])
    assert h["churn_rate"].tolist()[:3] == pytest.approx([0.0, 1 / 3, 0.5])
    # revenue lost: a's latest bill before 1 Mar (12), d's latest before 1 Apr (35)
    assert h["revenue_lost"].tolist()[:3] == [0.0, 12.0, 35.0]
    assert math.isnan(h["revenue_lost"].iloc[3])


def test_revenue_lost_is_nan_without_billing(tiny, labels):
    no_billing = Dataset(tables={"customers": tiny.customers})
    h = kpis.churn_history(no_billing, labels)
    assert h["revenue_lost"].isna().all()
    assert h["churned"].iloc[1] == 1


def test_kpis_by_hand(tiny, labels):
    k = kpis.kpis(kpis.churn_history(tiny, labels), "2025-04")
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
    k = kpis.kpis(kpis.churn_history(tiny, labels), "2025-05")
    assert k["current"]["churned"] is None and k["current"]["churn_rate"] is None
    with pytest.raises(ChurnlabError, match="2026-01"):
        kpis.kpis(kpis.churn_history(tiny, labels), "2026-01")


def test_cohort_retention_by_hand(tiny, labels):
    table = kpis.cohort_retention(tiny, labels, "2025-04")
    assert table.index.tolist() == ["2025-01", "2025-02"]
    assert table.loc["2025-01"].tolist() == [1.0, 1.0, 0.5, 0.5]
    feb = table.loc["2025-02"].tolist()
    assert feb[:3] == [0.5, 0.5, 0.0] and math.isnan(feb[3])  # Feb + 3 = May: not yet seen


def test_latest_complete_month_and_resolve(tiny):
    # the latest date is b's bill on 30 April: April is complete
    assert kpis.latest_complete_month(tiny) == "2025-04"
    assert kpis.resolve_month(tiny, "") == "2025-04"
    assert kpis.resolve_month(tiny, "2025-2") == "2025-02"
    with pytest.raises(ChurnlabError, match="outside the data.*2025-04"):
        kpis.resolve_month(tiny, "2025-05")
    with pytest.raises(ChurnlabError, match="too early.*from 2025-02 to 2025-04"):
        kpis.resolve_month(tiny, "2025-01")
    with pytest.raises(ChurnlabError, match="before the data.*from 2025-02 to 2025-04"):
        kpis.resolve_month(tiny, "2024-12")
    assert kpis.resolve_month(tiny, "2025-03", horizon=2) == "2025-03"
    with pytest.raises(ChurnlabError, match="horizon 2"):
        kpis.resolve_month(tiny, "2025-02", horizon=2)
    cut = tiny.as_of(pd.Timestamp("2025-04-30"))  # data now ends on 2 April
    assert kpis.latest_complete_month(cut) == "2025-03"


def test_monthly_labels_match_hand_labels(tiny, labels):
    got = kpis.monthly_labels(tiny, "2025-04")
    pd.testing.assert_frame_equal(got, labels, check_dtype=False)


def test_each_month_is_map_called_once_per_month():
    calls = []

    def next_month(m):
        calls.append(m)
        return months.shift_month(m, 1)

    snapshots = pd.Series(["2025-01", "2025-03", None, "2025-01", "2025-12"], dtype="string")
    got = months.each_month(snapshots, next_month)
    assert got.isna().tolist() == [False, False, True, False, False]
    assert got.dropna().tolist() == ["2025-02", "2025-04", "2025-02", "2026-01"]
    assert sorted(calls) == ["2025-01", "2025-03", "2025-12"]  # once each; never the missing one


def test_cohort_retention_and_history_ignore_label_row_order(tiny, labels):
    shuffled = labels.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        kpis.cohort_retention(tiny, shuffled, "2025-04"),
        kpis.cohort_retention(tiny, labels, "2025-04"),
    )
    pd.testing.assert_frame_equal(
        kpis.churn_history(tiny, shuffled), kpis.churn_history(tiny, labels)
    )
