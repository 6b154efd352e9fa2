"""The schema of the data contract: every table, its columns, their kinds and which are required.

The one source of the contract in code (docs/data-contract.md says the same in words): the
reader decides how to parse CSV columns from it, coercion turns each kind into its dtype,
validation checks the required columns, and the :class:`~churnlab.contract.dataset.Dataset`
cuts tables at a point in time by their :data:`EVENT_DATE`. The driver family each table
turns on is in the family registry (:mod:`churnlab.core.families`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ID, DATE, NUMBER, BOOL, TEXT = "id", "date", "number", "bool", "text"
STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas 3's default "str" dtype
DATETIME = np.dtype("datetime64[us]")

#: table -> column -> (kind, required)
SCHEMA: dict[str, dict[str, tuple[str, bool]]] = {
    "customers": {
        "customer_id": (ID, True),
        "signup_date": (DATE, True),
        "churn_date": (DATE, True),
        "plan": (TEXT, False),
        "segment": (TEXT, False),
    },
    "billing": {
        "customer_id": (ID, True),
        "period_start": (DATE, True),
        "amount": (NUMBER, True),
        "list_price": (NUMBER, False),
        "discount": (NUMBER, False),
        "plan": (TEXT, False),
        "paid": (BOOL, False),
    },
    "tickets": {
        "customer_id": (ID, True),
        "opened_at": (DATE, True),
        "resolved_at": (DATE, False),
        "category": (TEXT, False),
        "csat": (NUMBER, False),
        "escalated": (BOOL, False),
    },
    "onboarding": {
        "customer_id": (ID, True),
        "step": (TEXT, True),
        "completed_at": (DATE, True),
    },
    "usage": {"customer_id": (ID, True), "date": (DATE, True)},
    "feedback": {
        "customer_id": (ID, True),
        "responded_at": (DATE, True),
        "score": (NUMBER, True),
        "comment": (TEXT, False),
    },
    # what the business did, not a driver family: one row per retention action aimed at a
    # customer (docs/actions.md); group is treatment (carried out, the default) or control
    # (held out on purpose)
    "actions": {
        "customer_id": (ID, True),
        "action": (TEXT, True),
        "sent_at": (DATE, True),
        "group": (TEXT, False),
        "cost": (NUMBER, False),
        "channel": (TEXT, False),
    },
}

#: table -> the column that dates each row (the instant the row became known).
EVENT_DATE: dict[str, str] = {
    "customers": "signup_date",
    "billing": "period_start",
    "tickets": "opened_at",
    "onboarding": "completed_at",
    "usage": "date",
    "feedback": "responded_at",
    "actions": "sent_at",
}

#: table -> every date/timestamp column of the contract.
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("signup_date", "churn_date"),
    "billing": ("period_start",),
    "tickets": ("opened_at", "resolved_at"),
    "onboarding": ("completed_at",),
    "usage": ("date",),
    "feedback": ("responded_at",),
    "actions": ("sent_at",),
}

#: cell texts that mean "no value" in number, date and yes/no columns (compared lower-case):
#: pyarrow's CSV null spellings plus None/NaT/<NA>. In text and id columns only an empty
#: cell is missing, so a segment called 'NA' (North America) stays a value.
MISSING_WORDS: frozenset[str] = frozenset(
    {
        "#n/a",
        "#n/a n/a",
        "#na",
        "-1.#ind",
        "-1.#qnan",
        "-nan",
        "1.#ind",
        "1.#qnan",
        "n/a",
        "na",
        "nan",
        "null",
        "none",
        "nat",
        "<na>",
    }
)

#: the earliest date churnlab accepts: 1900-01-01 and 0001-01-01 are placeholders for "no date"
EARLIEST_DATE = pd.Timestamp("1901-01-01")
#: dates from here on are placeholders ("no end": 9999-12-31, 2999-12-31, 2099-12-31); in an
#: end column (:data:`END_DATES`) they read as empty, anywhere else they are an error
FAR_FUTURE = pd.Timestamp("2099-01-01")
#: date columns that mark the end of something, where a far-future placeholder means "not yet"
END_DATES: dict[str, tuple[str, ...]] = {"customers": ("churn_date",), "tickets": ("resolved_at",)}
#: numbers beyond this size (in either direction) are placeholders or unit errors, not data
MAX_MAGNITUDE = 1e15
