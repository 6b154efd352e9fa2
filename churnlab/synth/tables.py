"""Turn a simulated block into Arrow tables in the data contract (docs/data-contract.md).

Dates are Arrow ``date32``, timestamps ``timestamp[ms]`` (naive), ids and categories
strings; rows are sorted by customer, then time, so that blocks concatenate into tables in
customer order. Facts that fall after the data's end are left empty, as a real export would
show them: a ticket resolved later is still open, its CSAT unknown.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from churnlab.synth import params as P
from churnlab.synth.population import Customers
from churnlab.synth.simulate import State

TS = pa.timestamp("ms")
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("signup_date", pa.date32()),
            ("churn_date", pa.date32()),
            ("plan", pa.string()),
            ("segment", pa.string()),
            ("channel", pa.string()),
        ]
    ),
    "billing": pa.schema(
        [
            ("customer_id", pa.string()),
            ("period_start", pa.date32()),
            ("plan", pa.string()),
            ("list_price", pa.float64()),
            ("discount", pa.float64()),
            ("amount", pa.float64()),
            ("paid", pa.bool_()),
        ]
    ),
    "tickets": pa.schema(
        [
            ("customer_id", pa.string()),
            ("opened_at", TS),
            ("resolved_at", TS),
            ("category", pa.string()),
            ("csat", pa.int8()),
            ("escalated", pa.bool_()),
        ]
    ),
    "onboarding": pa.schema(
        [("customer_id", pa.string()), ("step", pa.string()), ("completed_at", TS)]
    ),
    "usage": pa.schema(
        [
            ("customer_id", pa.string()),
            ("date", pa.date32()),
            ("sessions", pa.int32()),
            ("minutes", pa.float64()),
        ]
    ),
    "feedback": pa.schema(
        [
            ("customer_id", pa.string()),
            ("responded_at", TS),
            ("score", pa.int8()),
            ("comment", pa.string()),
        ]
    ),
    "truth": pa.schema(
        [
            ("customer_id", pa.string()),
            ("snapshot", pa.string()),
            ("churn_probability", pa.float64()),
            ("base_logit", pa.float64()),
            *[(f"contrib_{f}", pa.float64()) for f in P.FAMILIES],
        ]
    ),
    "actions": pa.schema(
        [
            ("customer_id", pa.string()),
            ("action", pa.string()),
            ("sent_at", TS),
            ("group", pa.string()),
            ("cost", pa.float64()),
            ("channel", pa.string()),
        ]
    ),
}
#: the truth's extra columns with actions: the action a targeted customer got (empty when not
#: targeted), its group and its true effect on their churn probability (also for control)
TRUTH_ACTION_FIELDS = [
    ("action", pa.string()),
    ("action_group", pa.string()),
    ("action_effect", pa.float64()),
]
TABLES = ("customers", "billing", "tickets", "onboarding", "usage", "feedback", "actions")
GROUPS = ("treatment", "control")


def schema_of(name: str, actions: bool) -> pa.Schema:
    """The Arrow schema of table ``name`` (the truth gains the action columns with actions)."""
    schema = SCHEMAS[name]
    if name == "truth" and actions:
        for field in TRUTH_ACTION_FIELDS:
            schema = schema.append(pa.field(*field))
    return schema


COMMENTS = (
    *[text for family in P.COMMENTS_DETRACTOR.values() for text in family],
    *P.COMMENTS_PASSIVE,
    *P.COMMENTS_PROMOTER,
)


def customer_ids(first: int, n: int, width: int) -> np.ndarray:
    """Ids ``C0000001``... for customers ``first`` .. ``first + n - 1`` (0-based)."""
    numbers = np.arange(first + 1, first + n + 1).astype(str)
    return np.char.add("C", np.char.zfill(numbers, width))


def id_width(customers: int) -> int:
    """Digits of the customer ids: at least 7, more for very large worlds."""
    return max(7, len(str(customers)))


def _labels(codes: np.ndarray, vocab: tuple[str, ...], mask: np.ndarray | None = None):
    """Strings from category codes (``mask`` True = missing)."""
    idx = pa.array(np.asarray(codes, dtype=np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(idx, pa.array(list(vocab))).dictionary_decode()


def _days(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), mask=mask)


def _ms(ms: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"), mask=mask)


def _sorted(ev: dict[str, np.ndarray], *keys: str) -> dict[str, np.ndarray]:
    """Rows ordered by customer, then by ``keys`` (stable, so time order within months
    survives when no key is given)."""
    if keys:
        order = np.lexsort(tuple(ev[k] for k in reversed(keys)) + (ev["cust"],))
    else:
        order = np.argsort(ev["cust"], kind="stable")
    return {k: v[order] for k, v in ev.items()}


def block_tables(
    c: Customers,
    s: State,
    events: dict[str, dict[str, np.ndarray]],
    cal: P.Calendar,
    ids: np.ndarray,
) -> dict[str, pa.Table]:
    """The contract tables and the truth of one simulated block, as Arrow tables."""
    ids = pa.array(ids)
    end_ms = cal.data_end_day * P.MS_PER_DAY
    out: dict[str, pa.Table] = {}

    def table(name: str, cust: np.ndarray, columns: list[pa.Array]) -> None:
        arrays = [ids.take(pa.array(cust.astype(np.int64))), *columns]
        out[name] = pa.Table.from_arrays(arrays, schema=SCHEMAS[name])

    out["customers"] = pa.Table.from_arrays(
        [
            ids,
            _days(c.signup),
            _days(np.minimum(s.churn, cal.data_end_day), mask=s.churn >= cal.data_end_day),
            _labels(c.plan, P.PLANS),
            _labels(c.segment, P.SEGMENTS),
            _labels(c.channel, P.CHANNELS),
        ],
        schema=SCHEMAS["customers"],
    )

    b = _sorted(events["billing"])
    table(
        "billing",
        b["cust"],
        [
            _days(b["day"]),
            _labels(b["plan"], P.PLANS),
            pa.array(b["list_price"]),
            pa.array(b["discount"]),
            pa.array(b["amount"]),
            pa.array(b["paid"]),
        ],
    )

    t = _sorted(events["tickets"], "opened")
    open_at_end = t["resolved"] >= end_ms
    no_csat = open_at_end | np.isnan(t["csat"])
    table(
        "tickets",
        t["cust"],
        [
            _ms(t["opened"]),
            _ms(np.where(open_at_end, 0, t["resolved"]), mask=open_at_end),
            _labels(t["category"], P.TICKET_CATEGORIES),
            pa.array(np.nan_to_num(t["csat"]).astype(np.int8), mask=no_csat),
            pa.array(t["escalated"]),
        ],
    )

    done = c.signup[:, None] * P.MS_PER_DAY + np.minimum(c.step_offset, P.NEVER_MS // 2)
    known = done < np.minimum(s.churn * P.MS_PER_DAY, end_ms)[:, None]
    row, step = np.nonzero(known & (c.step_offset < P.NEVER_MS))
    table("onboarding", row, [_labels(step, P.ONBOARDING_STEPS), _ms(done[row, step])])

    u = _sorted(events["usage"])
    table(
        "usage",
        u["cust"],
        [_days(u["day"]), pa.array(u["sessions"].astype(np.int32)), pa.array(u["minutes"])],
    )

    f = _sorted(events["feedback"])
    no_comment = f["comment"] < 0
    table(
        "feedback",
        f["cust"],
        [
            _ms(f["at"]),
            pa.array(f["score"].astype(np.int8)),
            _labels(np.maximum(f["comment"], 0), COMMENTS, mask=no_comment),
        ],
    )

    tr = _sorted(events["truth"])
    months = tuple(cal.label(k) for k in range(cal.n_months))
    contrib = tr["contrib"]
    columns = [
        _labels(tr["month"], months),
        pa.array(tr["prob"]),
        pa.array(tr["base"]),
        *[pa.array(np.ascontiguousarray(contrib[:, j])) for j in range(contrib.shape[1])],
    ]
    acted = "actions" in events
    if acted:
        none = tr["action"] < 0
        columns += [
            _labels(np.maximum(tr["action"], 0), ACTION_NAMES, mask=none),
            _labels(tr["control"].astype(np.int64), GROUPS, mask=none),
            pa.array(tr["effect"], mask=none),
        ]
    arrays = [ids.take(pa.array(tr["cust"].astype(np.int64))), *columns]
    out["truth"] = pa.Table.from_arrays(arrays, schema=schema_of("truth", acted))
    if acted:
        out["actions"] = _actions(events["actions"], ids)
    return out


ACTION_NAMES = tuple(a.name for a in P.ACTIONS)


def _actions(ev: dict[str, np.ndarray], ids: pa.Array) -> pa.Table:
    """The actions table: one row per targeted customer and month, held-out rows in group
    control (no cost: nothing was carried out)."""
    a = _sorted(ev, "sent")
    cost = np.array([x.cost for x in P.ACTIONS])[a["action"]]
    channel = np.array([P.CHANNELS_OF_ACTIONS.index(x.channel) for x in P.ACTIONS], np.int64)
    columns = [
        ids.take(pa.array(a["cust"].astype(np.int64))),
        _labels(a["action"], ACTION_NAMES),
        _ms(a["sent"]),
        _labels(a["control"].astype(np.int64), GROUPS),
        pa.array(cost, mask=a["control"]),
        _labels(channel[a["action"]], P.CHANNELS_OF_ACTIONS),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMAS["actions"])
