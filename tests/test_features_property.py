"""Property: nothing dated at or after a snapshot's cutoff can change that snapshot.

For random small datasets and a random snapshot month, we add arbitrary "future" facts: rows
dated at or after the cutoff in every table (exactly at the cutoff included), new customers
who sign up later, churn dates and ticket resolutions (with their CSAT) set on or after the
cutoff where they were still unknown at the cutoff. The population and every feature value of
that snapshot must stay exactly the same (labels may change: they are about the future),
also when other snapshots, earlier or later, are built in the same query.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.contract import dataset_from_frames
from churnlab.core.churn import ChurnDefinition
from churnlab.core.months import month_cutoff, month_of, month_range
from churnlab.features import build_feature_table

BASE = pd.Timestamp("2024-10-01")
STEPS = ("account", "invite", "report", "export")
OPTIONAL = ("billing", "tickets", "onboarding", "usage", "feedback")

days = st.integers(0, 240)
hours = st.integers(0, 23)


def _at(day: int, hour: int = 0) -> pd.Timestamp:
    return BASE + pd.Timedelta(days=day, hours=hour)


@st.composite
def event_rows(draw, table: str, ids: list[str], first_day: int, max_day: int, n: int):
    """``n`` random rows of ``table`` for customers ``ids`` dated in [first_day, max_day]."""
    rows = []
    # days right at the start (the cutoff's day, for future rows) are the interesting ones
    when = st.one_of(st.integers(first_day, first_day + 3), st.integers(first_day, max_day))
    for _ in range(n):
        cid = draw(st.sampled_from(ids))
        day, hour = draw(when), draw(st.one_of(st.just(0), hours))
        if table == "billing":
            rows.append(
                {
                    "customer_id": cid,
                    "period_start": _at(day),
                    "amount": float(draw(st.integers(0, 40))),
                    "list_price": 40.0,
                    "discount": float(draw(st.integers(0, 5))),
                    "paid": draw(st.booleans()),
                }
            )
        elif table == "tickets":
            late = draw(st.one_of(st.none(), st.integers(0, 24 * 60)))
            rows.append(
                {
                    "customer_id": cid,
                    "opened_at": _at(day, hour),
                    "resolved_at": None if late is None else _at(day, hour + late),
                    "csat": draw(st.one_of(st.none(), st.integers(1, 5).map(float))),
                    "escalated": draw(st.booleans()),
                }
            )
        elif table == "onboarding":
            step = draw(st.sampled_from(STEPS))
            rows.append({"customer_id": cid, "step": step, "completed_at": _at(day, hour)})
        elif table == "usage":
            sessions = float(draw(st.integers(0, 5)))
            rows.append({"customer_id": cid, "date": _at(day), "sessions": sessions})
        else:
            score = float(draw(st.integers(0, 10)))
            rows.append({"customer_id": cid, "responded_at": _at(day, hour), "score": score})
    return rows


@st.composite
def worlds(draw):
    """A random dataset (raw tables), a snapshot month in it and a churn definition."""
    n = draw(st.integers(1, 5))
    ids = [f"c{i}" for i in range(n)]
    signup = [draw(days) for _ in ids]
    churn = [draw(st.one_of(st.none(), st.integers(0, 150))) for _ in ids]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": [_at(s) for s in signup],
            "churn_date": [
                None if c is None else _at(s + c) for s, c in zip(signup, churn, strict=True)
            ],
            "plan": [draw(st.sampled_from(["basic", "pro"])) for _ in ids],
        }
    )
    tables = {"customers": customers}
    for table in OPTIONAL:
        if not draw(st.sampled_from([True, True, True, False])):
            continue
        rows = draw(event_rows(table, ids, 0, 300, draw(st.integers(1, 12))))
        tables[table] = pd.DataFrame(rows)
    churn_kind = "inactivity" if "usage" in tables and draw(st.booleans()) else "cancellation"
    return tables, churn_kind


@st.composite
def future(draw, tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp):
    """The tables with facts dated at or after ``cutoff`` added (never any before it)."""
    first = (cutoff - BASE).days  # the cutoff's day; hour 0 of it is the cutoff itself
    out = {name: frame.copy() for name, frame in tables.items()}
    customers = out["customers"]
    new_ids = [f"n{i}" for i in range(draw(st.integers(0, 2)))]
    new = pd.DataFrame(
        {
            "customer_id": new_ids,
            "signup_date": [_at(draw(st.integers(first, first + 60))) for _ in new_ids],
            "churn_date": [None] * len(new_ids),
            "plan": ["basic"] * len(new_ids),
        }
    )
    # churn dates still unknown at the cutoff may become any date from the cutoff on
    churn = customers["churn_date"].astype(object).tolist()
    for i, (signup, date) in enumerate(zip(customers.signup_date, churn, strict=True)):
        if (date is None or pd.isna(date) or date >= cutoff) and draw(st.booleans()):
            churn[i] = max(cutoff, signup) + pd.Timedelta(days=draw(st.integers(0, 90)))
    customers = customers.assign(churn_date=churn)
    out["customers"] = pd.concat([customers, new], ignore_index=True)
    ids = out["customers"]["customer_id"].tolist()
    if "tickets" in out:
        t = out["tickets"].astype({"resolved_at": object, "csat": object})
        for i in range(len(t)):
            resolved = t.at[i, "resolved_at"]
            if (resolved is None or pd.isna(resolved) or resolved >= cutoff) and draw(
                st.booleans()
            ):
                start = max(cutoff, t.at[i, "opened_at"])
                t.at[i, "resolved_at"] = start + pd.Timedelta(hours=draw(st.integers(0, 500)))
                t.at[i, "csat"] = float(draw(st.integers(1, 5)))
        out["tickets"] = t
    for table in OPTIONAL:
        if table in out:
            rows = draw(event_rows(table, ids, first, first + 120, draw(st.integers(0, 8))))
            out[table] = pd.concat([out[table], pd.DataFrame(rows)], ignore_index=True)
    return out


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_future_rows_change_no_feature_and_no_population(data):
    tables, churn = data.draw(worlds())
    before = dataset_from_frames(tables)
    first = month_of(before.customers["signup_date"].min())
    months = month_range(first, month_of(before.data_end))
    month = data.draw(st.sampled_from(months))
    later = dataset_from_frames(data.draw(future(tables, month_cutoff(month))))
    # other snapshots in the same query (before and after it) must not leak into it either;
    # only months both datasets cover: a churn date moved nearer (still after the cutoff)
    # can end the later data sooner, and a month past its end is an error there
    covered = set(month_range(first, month_of(later.data_end)))
    others = data.draw(st.lists(st.sampled_from([m for m in months if m in covered]), max_size=2))
    wanted = sorted({month, *others})

    a = build_feature_table(before, wanted, ChurnDefinition(churn=churn))
    b = build_feature_table(later, wanted, ChurnDefinition(churn=churn))
    assert a.families == b.families
    columns = ["customer_id", "snapshot", *a.features]
    a_rows = a.frame.loc[a.frame["snapshot"] == month, columns].reset_index(drop=True)
    b_rows = b.frame.loc[b.frame["snapshot"] == month, columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(a_rows, b_rows)
