"""The engagement family: activity per usage column in the days before each cutoff."""

from __future__ import annotations

from churnlab.features.sql.core import (
    DAYS_SINCE,
    FOREVER,
    Family,
    Feature,
    Schema,
    column_sql,
    distinct_parts,
)

#: the exact type usage values are summed in (see _engagement_base)
SUM_TYPE = "DECIMAL(38, 6)"


def usage_metrics(schema: Schema) -> list[str]:
    """The numeric activity columns of usage, in table order."""
    return [c for c, kind in schema["usage"].items() if kind == "number"]


def _engagement_base(schema: Schema) -> str:
    metrics = usage_metrics(schema)
    # metrics under positional aliases: a usage column called, say, 'lo' cannot clash.
    # Summed as fixed-point DECIMAL: a parallel float sum depends on the order threads add
    # rows, which changed minutes in the last bit between runs (and with them reason texts);
    # an integer-backed sum is exact in any order, so the same data gives the same features.
    # 38 digits (128-bit): validation caps a value at 1e15, so 6 decimals and any sum of up
    # to 1e17 rows fit; 18 digits overflowed at 1e12 (byte counts).
    cols = "".join(
        f", CAST(u.{column_sql(schema, 'usage', col)} AS {SUM_TYPE}) AS v{i}"
        for i, col in enumerate(metrics)
    )
    part_sums = "".join(f"sum(u.v{i}) AS m{i}, " for i in range(len(metrics)))
    sums = []
    for i in range(len(metrics)):
        sums.append(
            f"sum(CASE WHEN m.in_30 THEN b.m{i} END) AS m{i}_30,\n"
            f"    sum(b.m{i}) AS m{i}_90,\n"
            f"    sum(CASE WHEN m.in_prev THEN b.m{i} END) AS m{i}_prev,"
        )
    sums_sql = "\n    ".join(sums)
    win_cols = "".join(f"w.m{i}_30, w.m{i}_90, w.m{i}_prev, " for i in range(len(metrics)))
    # One scan of usage, no fan-out: every row falls in exactly one bucket, a stretch of days
    # between consecutive window edges (each snapshot's cutoff and the days 30, 60 and 90
    # before it, and every month start, so that a bucket is at most 31 days long even when
    # the snapshot months have gaps; before the earliest window, calendar months). A bucket
    # never straddles an edge, so each window is a union of whole buckets: sums add up,
    # distinct active days add up (buckets are disjoint), and the latest active day before a
    # cutoff is the last day of the latest bucket starting before it. The day -> bucket map
    # is a small calendar table, joined on equality (a hash lookup) instead of a range join.
    return f"""WITH s AS (
  -- window starts computed once per snapshot rather than once per usage row
  SELECT sid, cutoff, cutoff - INTERVAL 30 DAY AS from_30, cutoff - INTERVAL 60 DAY AS from_60,
         cutoff - INTERVAL 90 DAY AS from_90
  FROM snaps
), edges AS (
  SELECT e, lead(e) OVER (ORDER BY e) AS next_e
  FROM (SELECT cutoff AS e FROM s UNION SELECT from_30 FROM s UNION SELECT from_60 FROM s
        UNION SELECT from_90 FROM s
        UNION SELECT day FROM days WHERE day = date_trunc('month', day)) x
), cal AS (
  -- every day from the earliest window start to the last cutoff, with its bucket's start
  SELECT d.day, e.e AS lo
  FROM edges e JOIN days d ON d.day >= e.e AND d.day < e.next_e
  WHERE e.next_e IS NOT NULL
), u AS (
  SELECT u.customer_id, u.date{cols}, coalesce(c.lo, date_trunc('month', u.date)) AS lo
  FROM usage u LEFT JOIN cal c ON c.day = date_trunc('day', u.date)
  WHERE u.date < (SELECT max(cutoff) FROM snaps)
), buckets AS (
  SELECT u.customer_id, u.lo, {part_sums}
    -- distinct active days of the bucket (at most 31 days long) as bits of a mask: as exact
    -- as count(DISTINCT day) when a day has several rows, without a distinct aggregate
    bit_count(bit_or(CAST(1 AS BIGINT) << {DAYS_SINCE.format(since="u.lo", until="u.date")})) AS active,
    max(u.date) AS last_date
  FROM u GROUP BY u.customer_id, u.lo
), bmap AS (
  -- the snapshots whose 90-day window holds each bucket (edges x snapshots: a few hundred
  -- rows), so that buckets meet snapshots by equality (a hash join) instead of a range join
  SELECT e.e AS lo, s.sid, e.e >= s.from_30 AS in_30,
         e.e >= s.from_60 AND e.e < s.from_30 AS in_prev
  FROM edges e JOIN s ON e.e >= s.from_90 AND e.e < s.cutoff
), win AS (
  SELECT b.customer_id, m.sid,
    {sums_sql}
    sum(CASE WHEN m.in_30 THEN b.active END) AS active_30
  FROM buckets b JOIN bmap m ON m.lo = b.lo
  GROUP BY b.customer_id, m.sid
), latest AS (
  -- the latest bucket before each cutoff: valid from its start until the next bucket's
  SELECT b.customer_id, s.sid, b.last_date
  FROM (SELECT customer_id, lo, last_date,
          coalesce(lead(lo) OVER (PARTITION BY customer_id ORDER BY lo), {FOREVER}) AS next_lo
        FROM buckets) b
  JOIN snaps s ON b.lo < s.cutoff AND b.next_lo >= s.cutoff
), agg AS (
  SELECT p.customer_id, p.sid, {win_cols}w.active_30, l.last_date
  FROM pop p LEFT JOIN win w ON w.customer_id = p.customer_id AND w.sid = p.sid
  LEFT JOIN latest l ON l.customer_id = p.customer_id AND l.sid = p.sid
)"""


def _metric_parts(schema: Schema) -> dict[str, str]:
    """usage column -> its name part, distinct from every other feature's (see distinct_parts)."""
    return distinct_parts(usage_metrics(schema), _PATTERNS, (f.name for f in _FIXED))


_FIXED = (
    Feature(
        "engagement_active_days_30d",
        "coalesce(a.active_30, 0)",
        "days",
        "days with a usage row in the 30 days before the cutoff",
        "active on {value:.0f} of the last 30 days",
    ),
    Feature(
        "engagement_days_since_active",
        DAYS_SINCE.format(since="a.last_date", until="p.cutoff"),
        "days",
        "days from the latest usage day to the cutoff (1 = active on the last day; "
        "missing: never active)",
        "last active {value:.0f} day(s) ago",
    ),
)
_PATTERNS = (
    Feature(
        "engagement_{col}_30d",
        "coalesce(a.m{i}_30, 0)",
        "{col}",
        "total {col} in the 30 days before the cutoff",
        "{{value:,.0f}} {col} in the last 30 days",
    ),
    Feature(
        "engagement_{col}_90d",
        "coalesce(a.m{i}_90, 0)",
        "{col}",
        "total {col} in the 90 days before the cutoff",
        "{{value:,.0f}} {col} in the last 90 days",
    ),
    Feature(
        "engagement_{col}_trend",
        # decimals divided as doubles: engines round a decimal quotient differently
        "CAST(coalesce(a.m{i}_30, 0) AS DOUBLE) "
        "/ NULLIF(CAST(coalesce(a.m{i}_prev, 0) AS DOUBLE), 0)",
        "ratio",
        "{col} in the last 30 days over the 30 days before (missing: none before)",
        "{col} at {{value:.0%}} of the previous 30 days",
    ),
)

ENGAGEMENT = Family(
    name="engagement",
    base=_engagement_base,
    features=_FIXED,
    patterns=_PATTERNS,
    columns=_metric_parts,
)
