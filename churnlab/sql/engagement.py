"""The engagement family: activity per usage column in the days before each cutoff."""

from __future__ import annotations

from churnlab.sql.core import FOREVER, Family, Feature, Schema, quote, snake


def _metrics(schema: Schema) -> list[str]:
    """The numeric activity columns of usage, in table order."""
    return [c for c, kind in schema["usage"].items() if kind == "number"]


def _engagement_base(schema: Schema) -> str:
    sums = []
    for i, col in enumerate(_metrics(schema)):
        c = f"u.{quote(col)}"
        sums.append(
            f"sum(CASE WHEN u.date >= s.from_30 THEN {c} END) AS m{i}_30,\n"
            f"    sum({c}) AS m{i}_90,\n"
            f"    sum(CASE WHEN u.date >= s.from_60 AND u.date < s.from_30 THEN {c} END)"
            f" AS m{i}_prev,"
        )
    sums_sql = "\n    ".join(sums)
    win_cols = "".join(f"w.m{i}_30, w.m{i}_90, w.m{i}_prev, " for i in range(len(_metrics(schema))))
    # Windowed sums join only the last 90 days to each snapshot. The last active day is
    # "state as of the cutoff": one row per customer and active month, valid until the next
    # active month, joined to the snapshots it is the latest month for.
    return f"""WITH s AS (
  -- window starts computed once per snapshot rather than once per usage row
  SELECT sid, cutoff, cutoff - INTERVAL 30 DAY AS from_30, cutoff - INTERVAL 60 DAY AS from_60,
         cutoff - INTERVAL 90 DAY AS from_90
  FROM snaps
), win AS (
  SELECT u.customer_id, s.sid,
    {sums_sql}
    -- distinct active days as bits of a 30-bit mask: as exact as count(DISTINCT date) when
    -- a day has several rows, without the cost of a distinct aggregate
    bit_count(bit_or(CASE WHEN u.date >= s.from_30
      THEN CAST(1 AS BIGINT) << date_diff('day', s.from_30, u.date) END)) AS active_30
  FROM usage u JOIN s ON u.date >= s.from_90 AND u.date < s.cutoff
  GROUP BY u.customer_id, s.sid
), months AS (
  SELECT customer_id, month_start, last_date,
    coalesce(lead(month_start) OVER (PARTITION BY customer_id ORDER BY month_start), {FOREVER})
      AS next_month
  FROM (SELECT customer_id, date_trunc('month', date) AS month_start, max(date) AS last_date
        FROM usage GROUP BY customer_id, date_trunc('month', date)) x
), latest AS (
  SELECT m.customer_id, s.sid, m.last_date
  FROM months m JOIN snaps s ON m.month_start < s.cutoff AND m.next_month >= s.cutoff
), agg AS (
  SELECT p.customer_id, p.sid, {win_cols}w.active_30, l.last_date
  FROM pop p LEFT JOIN win w ON w.customer_id = p.customer_id AND w.sid = p.sid
  LEFT JOIN latest l ON l.customer_id = p.customer_id AND l.sid = p.sid
)"""


def _metric_parts(schema: Schema) -> dict[str, str]:
    return {col: snake(col) for col in _metrics(schema)}


ENGAGEMENT = Family(
    name="engagement",
    table="usage",
    base=_engagement_base,
    features=(
        Feature(
            "engagement_active_days_30d",
            "coalesce(a.active_30, 0)",
            "days",
            "days with a usage row in the 30 days before the cutoff",
            "active on {value:.0f} of the last 30 days",
        ),
        Feature(
            "engagement_days_since_active",
            "date_diff('day', a.last_date, p.cutoff)",
            "days",
            "days from the latest usage day to the cutoff (1 = active on the last day; "
            "missing: never active)",
            "last active {value:.0f} day(s) ago",
        ),
    ),
    patterns=(
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
            "coalesce(a.m{i}_30, 0) / NULLIF(coalesce(a.m{i}_prev, 0), 0)",
            "ratio",
            "{col} in the last 30 days over the 30 days before (missing: none before)",
            "{col} at {{value:.0%}} of the previous 30 days",
        ),
    ),
    columns=_metric_parts,
)
