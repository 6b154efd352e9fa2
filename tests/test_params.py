"""params.py: run parameters are checked and normalised before a kernel starts."""

from __future__ import annotations

import pytest

from churnlab.core.errors import ChurnlabError
from churnlab.runs.params import check_report_params


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"horizon": "two"}, "horizon must be a whole number"),
        ({"horizon": 0}, "horizon must be a whole number >= 1"),
        ({"seed": "x"}, "seed must be a whole number"),
        ({"seed": True}, "seed must be a whole number"),
        ({"month": "2026-13"}, "YYYY-MM"),
        ({"month": 202610}, "YYYY-MM"),
        ({"churn": "soon"}, "churn must be one of"),
        ({"inactive_days": "30d"}, "inactive_days must be a whole number"),
        ({"data": "/no/such/folder"}, "does not exist"),
        ({"engine": "pandas"}, "engine must be one of"),
        ({"currency": "euros of the realm"}, "short currency name"),
        ({"currency": 3}, "currency must be a text value"),
    ],
)
def test_report_params_rejected(tmp_path, kwargs, words):
    base = {"data": str(tmp_path), "month": "2026-10"}
    with pytest.raises(ChurnlabError, match=words):
        check_report_params(**{**base, **kwargs})


def test_report_params_normalised(tmp_path):
    p = check_report_params(str(tmp_path), "2026-1", "2", 5, "inactivity", 45)
    assert p == {
        "data": str(tmp_path),
        "month": "2026-01",
        "horizon": 2,
        "seed": 5,
        "churn": "inactivity",
        "inactive_days": 45,
        "out_dir": "",
        "engine": "duckdb",
        "currency": "",
    }
    assert check_report_params(str(tmp_path), "")["month"] == ""
    assert check_report_params(str(tmp_path), "", currency=" EUR ")["currency"] == "EUR"
