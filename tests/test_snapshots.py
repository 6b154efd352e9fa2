"""Snapshots, population and labels on hand-made datasets (docs/definitions.md).

Every expected population and label below was worked out by hand from the dates in the
tables; the comments say why each customer is (or is not) in each snapshot.
"""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.contract import dataset_from_frames
from churnlab.core.churn import ChurnDefinition
from churnlab.core.errors import ChurnlabError
from churnlab.features.snapshots import default_months, snapshot_labels, snapshot_times


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "signup_date": [
                "2025-01-10",
                "2025-01-31",  # last day of January: in January's population
                "2025-02-01",  # January's cutoff: not in January's population
                "2024-12-01",
                "2024-11-15",
                "2025-04-15",  # the last date of the data: data_end = 2025-04-15
            ],
            "churn_date": [
                "2025-03-01",  # = February's cutoff: in February (label 1), not in March
                None,
                None,
                "2025-02-28",  # the day before February's cutoff: in January (label 1) only
                "2025-02-01",  # = January's cutoff: in January (label 1), not in February
                None,
            ],
        }
    )


@pytest.fixture(scope="module")
def dataset():
    return dataset_from_frames({"customers": _customers()})


def _as_dict(labels: pd.DataFrame, month: str) -> dict[str, object]:
    rows = labels[labels["snapshot"] == month]
    return {
        cid: (None if pd.isna(v) else int(v))
        for cid, v in zip(rows.customer_id, rows.churned, strict=True)
    }


def test_population_and_labels_horizon_1(dataset):
    labels = snapshot_labels(dataset, ["2024-12", "2025-01", "2025-02", "2025-03"])
    # churn_date >= cutoff keeps a customer in the population (docs/definitions.md), and a churn date
    # on the cutoff day itself is in the label window [cutoff, cutoff + 1 month)
    assert _as_dict(labels, "2024-12") == {"c4": 0, "c5": 0}
    assert _as_dict(labels, "2025-01") == {"c1": 0, "c2": 0, "c4": 1, "c5": 1}
    assert _as_dict(labels, "2025-02") == {"c1": 1, "c2": 0, "c3": 0}
    # March's window [04-01, 05-01) ends after the data (2025-04-15): not labelled
    assert _as_dict(labels, "2025-03") == {"c2": None, "c3": None}


def test_labels_horizon_2(dataset):
    labels = snapshot_labels(dataset, ["2024-12", "2025-01", "2025-02"], ChurnDefinition(2))
    # December's window [2025-01-01, 2025-03-01): c4 leaves 02-28, c5 02-01
    assert _as_dict(labels, "2024-12") == {"c4": 1, "c5": 1}
    # January's window [02-01, 04-01): c1 (03-01) and c4 (02-28) leave
    assert _as_dict(labels, "2025-01") == {"c1": 1, "c2": 0, "c4": 1, "c5": 1}
    # February's window [03-01, 05-01) is not closed on 2025-04-15
    assert _as_dict(labels, "2025-02") == {"c1": None, "c2": None, "c3": None}


def test_label_known_when_data_reaches_last_day_of_window():
    customers = _customers()
    customers.loc[5, "signup_date"] = "2025-03-31"  # data_end = last day of March's window
    labels = snapshot_labels(dataset_from_frames({"customers": customers}), ["2025-02"])
    assert _as_dict(labels, "2025-02") == {"c1": 1, "c2": 0, "c3": 0}
    customers.loc[5, "signup_date"] = "2025-03-30"  # one day short: not labelled
    labels = snapshot_labels(dataset_from_frames({"customers": customers}), ["2025-02"])
    assert _as_dict(labels, "2025-02") == {"c1": None, "c2": None, "c3": None}


def test_labels_shape_dtypes_and_order(dataset):
    labels = snapshot_labels(dataset, ["2025-02", "2025-01"])
    assert list(labels.columns) == ["customer_id", "snapshot", "churned"]
    assert labels["churned"].dtype == "Int8"
    assert pd.api.types.is_string_dtype(labels["customer_id"])
    assert list(zip(labels.snapshot, labels.customer_id, strict=True)) == [
        ("2025-01", "c1"),
        ("2025-01", "c2"),
        ("2025-01", "c4"),
        ("2025-01", "c5"),
        ("2025-02", "c1"),
        ("2025-02", "c2"),
        ("2025-02", "c3"),
    ]


def test_default_months_first_signup_to_last_complete_month(dataset):
    # first signup 2024-11-15; data_end 2025-04-15, so April is not complete
    assert default_months(dataset) == ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    customers = _customers()
    customers.loc[5, "signup_date"] = "2025-04-30"  # April's last day is in the data
    assert default_months(dataset_from_frames({"customers": customers}))[-1] == "2025-04"


def _usage_dataset() -> object:
    customers = pd.DataFrame(
        {
            "customer_id": ["u1", "u2", "u3", "u4"],
            "signup_date": ["2024-12-01"] * 4,
            "churn_date": [None] * 4,  # inactivity churn needs no churn date
        }
    )
    usage = pd.DataFrame(
        {
            "customer_id": ["u1", "u1", "u2", "u3", "u3", "u4", "u4"],
            "date": [
                "2025-02-28",
                "2025-03-15",
                "2025-01-30",  # = March 1 - 30 days: inside February's 30-day window
                "2025-01-29",  # one day earlier: outside it
                "2025-01-15",
                "2025-03-01",  # = February's cutoff: counts for March, not February
                "2025-04-30",  # data_end
            ],
            "sessions": [1.0] * 7,
        }
    )
    return dataset_from_frames({"customers": customers, "usage": usage})


def test_inactivity_population_and_label():
    ds = _usage_dataset()
    labels = snapshot_labels(
        ds, ["2025-01", "2025-02", "2025-03"], ChurnDefinition(churn="inactivity", inactive_days=30)
    )
    # January (cutoff 02-01, window [01-02, 02-01)): u2 (01-30) and u3 (01-29, 01-15);
    # neither has a row in February (u1's first row, 02-28, is not in January's window)
    assert _as_dict(labels, "2025-01") == {"u2": 1, "u3": 1}
    # February (cutoff 03-01, window [01-30, 03-01)): u1 (02-28), u2 (01-30); u1 active 03-15
    assert _as_dict(labels, "2025-02") == {"u1": 0, "u2": 1}
    # March (cutoff 04-01, window [03-02, 04-01)): u1 (03-15); u4's 03-01 is 31 days back
    assert _as_dict(labels, "2025-03") == {"u1": 1}
    wider = snapshot_labels(ds, ["2025-03"], ChurnDefinition(churn="inactivity", inactive_days=31))
    assert _as_dict(wider, "2025-03") == {"u1": 1, "u4": 0}  # u4 active on 04-30


def test_inactivity_horizon_2_and_unlabelled():
    ds = _usage_dataset()
    labels = snapshot_labels(
        ds, ["2025-01", "2025-02", "2025-03"], ChurnDefinition(2, churn="inactivity")
    )
    # January's window [02-01, 04-01): u2 and u3 have no row in it
    assert _as_dict(labels, "2025-01") == {"u2": 1, "u3": 1}
    assert _as_dict(labels, "2025-02") == {"u1": 0, "u2": 1}
    # March's window [04-01, 06-01) is not closed by 2025-04-30
    assert _as_dict(labels, "2025-03") == {"u1": None}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"churn": "silence"}, "Unknown churn definition"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": 1.5}, "horizon"),
        ({"inactive_days": 0, "churn": "inactivity"}, "inactive_days"),
        ({"churn": "inactivity"}, "usage table"),
        ({"months": ["2024-10"]}, "outside the data"),
        ({"months": ["2025-05"]}, "outside the data"),
        ({"months": ["2025-13"]}, "YYYY-MM"),
        ({"months": []}, "No snapshot months"),
    ],
)
def test_bad_arguments_raise_clear_errors(dataset, kwargs, words):
    months = kwargs.pop("months", ["2025-01"])
    with pytest.raises(ChurnlabError, match=words):
        snapshot_labels(dataset, months, ChurnDefinition(**kwargs))


# --- time to churn (docs/time-to-churn.md) ------------------------------------------------


def _times(frame: pd.DataFrame, month: str) -> dict[str, tuple]:
    rows = frame[frame["snapshot"] == month]
    return {
        cid: (None if pd.isna(t) else int(t), None if pd.isna(e) else int(e))
        for cid, t, e in zip(rows.customer_id, rows.months_to_churn, rows.churn_event, strict=True)
    }


def test_time_to_churn_by_hand(dataset):
    months = ["2024-12", "2025-01", "2025-02", "2025-03", "2025-04"]
    times = snapshot_times(dataset, months)
    # data_end 2025-04-15: January, February and March 2025 are the last closed months
    # 2024-12 (cutoff 01-01, 3 closed months): c4 (02-28) and c5 (02-01) churn in month 2
    assert _times(times, "2024-12") == {"c4": (2, 1), "c5": (2, 1)}
    # 2025-01 (cutoff 02-01, 2 closed): c1 leaves 03-01 (month 2), c4 and c5 in February
    assert _times(times, "2025-01") == {"c1": (2, 1), "c2": (2, 0), "c4": (1, 1), "c5": (1, 1)}
    # 2025-02 (cutoff 03-01, 1 closed): c1 leaves on the cutoff day, month 1
    assert _times(times, "2025-02") == {"c1": (1, 1), "c2": (1, 0), "c3": (1, 0)}
    # 2025-03 (cutoff 04-01): April is not closed on 04-15, nothing is observed yet
    assert _times(times, "2025-03") == {"c2": (0, 0), "c3": (0, 0)}
    assert _times(times, "2025-04") == {"c2": (0, 0), "c3": (0, 0), "c6": (0, 0)}
    assert list(times.columns) == ["customer_id", "snapshot", "months_to_churn", "churn_event"]
    assert (times["months_to_churn"].dtype, times["churn_event"].dtype) == ("Int16", "Int8")


def test_churn_in_a_partly_covered_month_is_censored():
    customers = pd.concat(
        [
            _customers(),
            pd.DataFrame(
                {"customer_id": ["c7"], "signup_date": ["2025-01-05"], "churn_date": ["2025-04-10"]}
            ),
        ],
        ignore_index=True,
    )
    times = snapshot_times(dataset_from_frames({"customers": customers}), ["2025-02", "2025-03"])
    # c7 leaves on 04-10, inside the data (data_end 04-15), but April is not covered to its
    # end: censoring at the end of the data never counts as churn
    assert _times(times, "2025-02")["c7"] == (1, 0)
    assert _times(times, "2025-03")["c7"] == (0, 0)


@pytest.mark.parametrize("horizon", [1, 2, 3])
def test_label_is_churn_event_within_the_horizon(dataset, horizon):
    months = default_months(dataset)
    labels = snapshot_labels(dataset, months, ChurnDefinition(horizon))
    times = snapshot_times(dataset, months)
    known = labels["churned"].notna().to_numpy()
    within = (times["churn_event"] == 1) & (times["months_to_churn"] <= horizon)
    assert (labels["churned"][known] == within[known].astype(int)).all()
    # a censored row has its label exactly when it was observed through the whole horizon
    censored = (times["churn_event"] == 0).to_numpy()
    assert (known[censored] == (times["months_to_churn"][censored] >= horizon)).all()


def test_time_to_churn_is_cancellation_only():
    times = snapshot_times(_usage_dataset(), ["2025-02"], ChurnDefinition(churn="inactivity"))
    assert len(times) == 2
    assert times["months_to_churn"].isna().all() and times["churn_event"].isna().all()
