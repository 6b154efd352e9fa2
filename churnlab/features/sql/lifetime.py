"""The engagement family's lifetime signals: each customer's whole history of active days.

The 30/90-day windows of :mod:`churnlab.features.sql.engagement` say what a customer did
lately; these say who the customer has been since their first active day: how many active
days and how much of each usage column in total (and per active day), how long ago the first
active day was, the mean and spread of the gaps between active days, how overdue the customer
is against their own typical gap, and their recent rate against their lifetime rate. Ratios
to the customer's own rhythm keep their meaning as a cohort ages, where raw day counts move
past anything the training snapshots saw (a tree cannot extrapolate them).

Point in time without fan-out: usage is reduced once to one row per customer and calendar
month, its distinct active days as bits of a mask (a month has at most 31 days). The gaps
between active days come from the masks, not from a window over every usage row: a gap
belongs to the later day (it is known when the day that closes it is), so a month holds the
gaps inside it, read from a small lookup table of every 16-bit half of a mask
(:func:`mask_gaps_frame`), and the gap from the customer's previous active month to its first
day. Only the month rows get the customer's whole-number key, which the windows sort by.
Cutoffs are month starts, so every snapshot sees whole months: each population row becomes a
probe in its customer's month sequence, and running totals (``ROWS ... CURRENT ROW`` over a
unique order: DuckDB's ``RANGE`` frames with an offset gave a different total now and then on
the same data) add up what lies before the cutoff (the cutoff's own month is the future); the
three months before it are the running total less the one three months earlier. Sums are
exact (fixed point and integers), so the same data gives the same features on any thread
count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.features.sql.core import (
    CUSTOMER_KEYS,
    DAYS_SINCE,
    Family,
    Feature,
    Schema,
    column_sql,
    distinct_parts,
)
from churnlab.features.sql.engagement import SUM_TYPE, usage_metrics

#: months in the "recent" window of the rate comparisons (cutoffs are month starts)
RECENT_MONTHS = 3

#: the lookup table of gaps inside a half of a month's mask of active days (mask_gaps_frame)
MASK_GAPS = "mask_gaps"
#: bits in a half of a mask: day-of-month bits 0..15 and 16..30
HALF_BITS = 16


def mask_gaps_frame() -> pd.DataFrame:
    """For every ``h`` of :data:`HALF_BITS` bits: the sum of the squared gaps between its
    consecutive set bits (``inner2``) and its lowest and highest set bit (``low``, ``high``;
    missing when ``h`` is 0). A month's gaps inside its mask are those of its two halves
    plus the one across them (module docstring)."""
    h = np.arange(1 << HALF_BITS, dtype=np.int64)
    inner2 = np.zeros(len(h), dtype=np.int64)
    low = np.full(len(h), -1, dtype=np.int64)
    last = np.full(len(h), -1, dtype=np.int64)
    for bit in range(HALF_BITS):
        on = (h >> bit) & 1 == 1
        closes = on & (last >= 0)
        inner2[closes] += (bit - last[closes]) ** 2
        low[on & (low < 0)] = bit
        last[on] = bit
    return pd.DataFrame(
        {
            "h": h,
            "inner2": inner2,
            "low": pd.Series(low, dtype="Int64").mask(low < 0),
            "high": pd.Series(last, dtype="Int64").mask(last < 0),
        }
    )


def _lifetime_base(schema: Schema) -> str:
    metrics = usage_metrics(schema)
    # positional aliases (v0, v1, ...): a usage column may be called anything; fixed point
    # with 38 digits: a lifetime total of any realistic column fits, and sums are exact
    n = len(metrics)
    month_sums = "".join(
        f", sum(CAST(u.{column_sql(schema, 'usage', col)} AS {SUM_TYPE})) AS v{i}"
        for i, col in enumerate(metrics)
    )
    null_sums = "".join(f", NULL AS v{i}" for i in range(n))
    month_cols = "".join(f", v{i}" for i in range(n))
    month_picks = "".join(f", m.v{i}" for i in range(n))
    running = "".join(f", sum(v{i}) OVER life AS v{i}" for i in range(n))
    at_cutoff = "".join(f", max(CASE WHEN NOT r.lagged THEN r.v{i} END) AS v{i}" for i in range(n))
    recent = "".join(
        f", max(CASE WHEN NOT r.lagged THEN r.v{i} END)"
        f" - coalesce(max(CASE WHEN r.lagged THEN r.v{i} END), 0) AS r{i}"
        for i in range(n)
    )
    probe = (
        "SELECT k.ck, 12 * year(p.cutoff) + month(p.cutoff){shift}, 0, p.rid, {lagged}, "
        f"NULL{null_sums}, NULL, NULL, NULL FROM pop p JOIN keys k ON k.customer_id = p.customer_id"
    )
    kept = "".join(f", q.v{i}, q.r{i}" for i in range(n))
    day_bit = DAYS_SINCE.format(since="date_trunc('month', u.date)", until="u.date")
    # the gap from the previous active month's last day to this month's first
    across = DAYS_SINCE.format(
        since="lag(m.last_day) OVER (PARTITION BY k.ck ORDER BY m.mi)", until="m.first_day"
    )
    return f"""WITH {CUSTOMER_KEYS}, grouped AS (
  -- one row per customer and calendar month before the last cutoff; its distinct active
  -- days as bits of a mask (bit 0 the 1st), exact without a distinct aggregate
  SELECT u.customer_id, 12 * year(u.date) + month(u.date) AS mi,
    bit_or(CAST(1 AS BIGINT) << {day_bit}) AS mask{month_sums},
    min(date_trunc('day', u.date)) AS first_day, max(date_trunc('day', u.date)) AS last_day
  FROM usage u
  WHERE u.date < (SELECT max(cutoff) FROM snaps)
  GROUP BY u.customer_id, 12 * year(u.date) + month(u.date)
), months AS (
  -- the month's squared gaps: inside each half of the mask, across the halves, and from
  -- the customer's previous active month (none before the first)
  SELECT k.ck, m.mi, bit_count(m.mask) AS n{month_picks}, m.first_day, m.last_day,
    lo.inner2 + hi.inner2
      + CASE WHEN lo.high IS NOT NULL AND hi.low IS NOT NULL
          THEN ({HALF_BITS} + hi.low - lo.high) * ({HALF_BITS} + hi.low - lo.high) ELSE 0 END
      + coalesce(CAST({across} AS BIGINT) * {across}, 0) AS gap2
  FROM grouped m JOIN keys k ON k.customer_id = m.customer_id
  JOIN {MASK_GAPS} lo ON lo.h = m.mask & {(1 << HALF_BITS) - 1}
  JOIN {MASK_GAPS} hi ON hi.h = m.mask >> {HALF_BITS}
), probes AS (
  -- months (kind 1) and probes (kind 0) in one sequence per customer: each population row
  -- probes at its cutoff's month and {RECENT_MONTHS} months earlier; a probe sorts before the
  -- month it stands in, so the running totals it sees end with the month before
  SELECT ck, mi, 1 AS kind, NULL AS rid, NULL AS lagged, n{month_cols}, first_day,
    last_day, gap2
  FROM months
  UNION ALL {probe.format(shift="", lagged="FALSE")}
  UNION ALL {probe.format(shift=f" - {RECENT_MONTHS}", lagged="TRUE")}
), running AS (
  SELECT rid, lagged, sum(n) OVER life AS n, min(first_day) OVER life AS first_day,
    max(last_day) OVER life AS last_day, sum(gap2) OVER life AS gap2{running}
  FROM probes
  -- (month, kind) is unique within a customer up to probes that tie with each other, and
  -- probes add nothing to a total, so the running totals are the same in any engine
  WINDOW life AS (PARTITION BY ck ORDER BY mi, kind
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), probed AS (
  -- the recent window: the running total at the cutoff less the one of the earlier probe
  SELECT r.rid, max(CASE WHEN NOT r.lagged THEN r.n END) AS n_days,
    max(CASE WHEN NOT r.lagged THEN r.n END) - coalesce(max(CASE WHEN r.lagged THEN r.n END), 0)
      AS n_recent,
    max(CASE WHEN NOT r.lagged THEN r.first_day END) AS first_day,
    max(CASE WHEN NOT r.lagged THEN r.last_day END) AS last_day,
    max(CASE WHEN NOT r.lagged THEN r.gap2 END) AS gap2{at_cutoff}{recent}
  FROM running r
  WHERE r.rid IS NOT NULL
  GROUP BY r.rid
), agg AS (
  SELECT p.customer_id, p.sid, q.n_days, q.n_recent, q.first_day, q.last_day, q.gap2{kept}
  FROM probed q JOIN pop p ON p.rid = q.rid
)"""


def _metric_parts(schema: Schema) -> dict[str, str]:
    """usage column -> its name part, distinct from every other feature's (see distinct_parts)."""
    return distinct_parts(
        usage_metrics(schema), LIFETIME.patterns, (f.name for f in LIFETIME.features)
    )


#: days since the first active day (at least 1: that day lies before the cutoff)
AGE = DAYS_SINCE.format(since="a.first_day", until="p.cutoff")
#: days of the recent window, or of the customer's life when that is shorter
RECENT_DAYS = (
    f"least({DAYS_SINCE.format(since=f'p.cutoff - INTERVAL {RECENT_MONTHS} MONTH', until='p.cutoff')}"
    f", {AGE})"
)
#: days from the first to the latest active day: the sum of the gaps between active days
SPAN = DAYS_SINCE.format(since="a.first_day", until="a.last_day")
MEAN_GAP = (
    f"CAST({DAYS_SINCE.format(since='a.first_day', until='a.last_day')} AS DOUBLE) / (a.n_days - 1)"
)


def _rate_change(recent: str, total: str) -> str:
    """Recent amount per day over the lifetime amount per day (missing: none in the life)."""
    return (
        f"CASE WHEN {total} > 0 THEN "
        f"(CAST(coalesce({recent}, 0) AS DOUBLE) / {RECENT_DAYS}) / "
        f"(CAST({total} AS DOUBLE) / {AGE}) END"
    )


# Driver credit holds (keeps at the customer's value) the lifetime features that say how long
# the customer has been around and how their activity fades against their own rhythm: the
# fade is where the other drivers' problems show before a churn, and crediting it handed
# engagement the credit of the cause (in a support-dominated world, engagement ranked first).
LIFETIME = Family(
    name="engagement",
    base=_lifetime_base,
    features=(
        Feature(
            "engagement_lifetime_active_days",
            "coalesce(a.n_days, 0)",
            "days",
            "active days (days with a usage row) from the first one to the cutoff",
            "active on {value:,.0f} day(s) in all",
        ),
        Feature(
            "engagement_days_since_first_active",
            AGE,
            "days",
            "days from the first usage day to the cutoff: the customer's age in the data "
            "(missing: never active)",
            "first active {value:,.0f} day(s) ago",
            held=True,
        ),
        Feature(
            "engagement_mean_gap_days",
            f"CASE WHEN a.n_days >= 2 THEN {MEAN_GAP} END",
            "days",
            "mean number of days between consecutive active days (missing: fewer than 2 "
            "active days)",
            "usually active every {value:,.0f} day(s)",
        ),
        Feature(
            "engagement_gap_sd_days",
            f"CASE WHEN a.n_days >= 3 THEN "
            # (m * sum of squared gaps - (sum of gaps)^2) / m^2 over the m gaps: whole numbers
            # up to the one division, so every engine rounds it alike
            f"sqrt(CAST(greatest((a.n_days - 1) * a.gap2 - {SPAN} * {SPAN}, 0) AS DOUBLE) "
            "/ ((a.n_days - 1) * (a.n_days - 1))) END",
            "days",
            "standard deviation of the days between consecutive active days (missing: fewer "
            "than 3 active days)",
            "gaps between active days vary by {value:,.0f} day(s)",
        ),
        Feature(
            "engagement_overdue_ratio",
            f"CASE WHEN a.n_days >= 2 THEN "
            f"{DAYS_SINCE.format(since='a.last_day', until='p.cutoff')} / ({MEAN_GAP}) END",
            "ratio",
            "days since the latest active day over the customer's mean gap between active "
            "days (missing: fewer than 2 active days)",
            "away {value:.1f}x longer than their usual gap between active days",
            held=True,
        ),
        Feature(
            "engagement_active_rate_change",
            _rate_change("a.n_recent", "a.n_days"),
            "ratio",
            f"active days per day in the {RECENT_MONTHS} months before the cutoff over the "
            "same since the first active day (missing: never active)",
            "active at {value:.0%} of their lifetime rate lately",
            held=True,
        ),
    ),
    patterns=(
        Feature(
            "engagement_{col}_lifetime_total",
            "CAST(coalesce(a.v{i}, 0) AS DOUBLE)",
            "{col}",
            "total {col} from the first active day to the cutoff",
            "{{value:,.0f}} {col} in all",
        ),
        Feature(
            "engagement_{col}_per_active_day",
            "CAST(a.v{i} AS DOUBLE) / a.n_days",
            "{col}",
            "{col} per active day since the first one (missing: never active)",
            "{{value:,.1f}} {col} per active day",
        ),
        Feature(
            "engagement_{col}_recent_vs_lifetime",
            _rate_change("a.r{i}", "a.v{i}"),
            "ratio",
            f"{{col}} per day in the {RECENT_MONTHS} months before the cutoff over the same "
            "since the first active day (missing: none in all)",
            "{col} at {{value:.0%}} of the lifetime rate lately",
            held=True,
        ),
    ),
    columns=_metric_parts,
)
