"""The optional ``actions`` table of the data contract (docs/actions.md): columns, groups,
costs, orphans, CSV round trip, and the point-in-time cut at ``sent_at``."""

from __future__ import annotations

import pandas as pd
import pytest
from contract_fixtures import good_tables, write

from churnlab.contract import check_dataset, dataset_from_frames, read_dataset
from churnlab.core.errors import ChurnlabError


def _actions(**columns) -> pd.DataFrame:
    base = {
        "customer_id": ["C1", "C2", "C3"],
        "action": ["plan_review", "escalation", "plan_review"],
        "sent_at": ["2024-03-01T09:00:00", "2024-03-02T10:00:00", "2024-04-01T00:00:00"],
        "group": ["treatment", " Control", None],
        "cost": [20.0, None, 20.0],
        "channel": ["call", "call", "email"],
    }
    return pd.DataFrame(base | columns)


def _with(actions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return good_tables() | {"actions": actions}


def test_actions_are_read_with_groups_normalised(tmp_path):
    data = read_dataset(write(tmp_path / "d", _with(_actions()), fmt="csv"))
    a = data.table("actions")
    assert a["group"].tolist() == ["treatment", "control", "treatment"]  # empty = treatment
    assert a["action"].tolist() == ["plan_review", "escalation", "plan_review"]
    assert a["sent_at"].tolist() == [
        pd.Timestamp("2024-03-01 09:00"),
        pd.Timestamp("2024-03-02 10:00"),
        pd.Timestamp("2024-04-01"),
    ]
    assert a["cost"].isna().tolist() == [False, True, False]
    assert data.warnings == ()
    # a table present in the folder but not a driver family: the families do not change
    assert data.families == read_dataset(write(tmp_path / "e", good_tables())).families


def test_actions_without_a_group_column_are_all_treatments():
    data = dataset_from_frames(_with(_actions().drop(columns=["group", "cost", "channel"])))
    assert data.table("actions")["group"].tolist() == ["treatment"] * 3


def test_names_are_trimmed_and_case_kept():
    data = dataset_from_frames(_with(_actions(action=[" plan_review", "Plan_Review", "x "])))
    assert data.table("actions")["action"].tolist() == ["plan_review", "Plan_Review", "x"]


@pytest.mark.parametrize(
    "column, values, words",
    [
        (
            "group",
            ["holdout", "treatment", "ctrl"],
            "actions.group: 2 values are neither treatment",
        ),
        ("cost", [-5.0, 1.0, 0.0], "actions.cost: 1 value below 0"),
        ("action", ["", "plan_review", None], "actions.action: 2 rows have no action"),
        (
            "sent_at",
            ["2024-03-01", "soon", "2024-03-03"],
            "actions.sent_at: 1 value cannot be read",
        ),
        ("sent_at", ["2024-03-01", None, "2024-03-03"], "actions.sent_at: 1 row has no sent_at"),
    ],
)
def test_bad_actions_are_one_clear_error(column, values, words):
    with pytest.raises(ChurnlabError, match=words):
        dataset_from_frames(_with(_actions(**{column: values})))


def test_missing_required_column_is_named(tmp_path):
    folder = write(tmp_path / "d", _with(_actions().drop(columns=["sent_at"])))
    result = check_dataset(folder)
    assert not result.ok
    assert "actions.sent_at: required column 'sent_at' is missing" in result.render()


def test_orphan_actions_are_warned_and_dropped():
    data = dataset_from_frames(_with(_actions(customer_id=["C1", "C9", "C3"])))
    assert data.table("actions")["customer_id"].tolist() == ["C1", "C3"]
    (warning,) = data.warnings
    assert warning.startswith("actions.customer_id: 1 of 3 rows have a customer_id not in")


def test_as_of_cuts_actions_at_sent_at():
    data = dataset_from_frames(_with(_actions()))
    # an action sent at the cutoff instant belongs to the next snapshot
    known = data.as_of(pd.Timestamp("2024-04-01"))
    assert known.table("actions")["customer_id"].tolist() == ["C1", "C2"]
    assert data.as_of(pd.Timestamp("2024-03-02 10:00")).table("actions")[
        "customer_id"
    ].tolist() == ["C1"]
