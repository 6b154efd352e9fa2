"""The support family: tickets opened, open, resolved and rated before each cutoff."""

from __future__ import annotations

from churnlab.features.sql.core import (
    DAYS_SINCE,
    NO_LATER_K,
    SNAPSHOT_GRID,
    Family,
    Feature,
    Schema,
)


def _support_base(schema: Schema) -> str:
    cols = set(schema["tickets"])
    resolved = "resolved_at" if "resolved_at" in cols else "CAST(NULL AS TIMESTAMP)"
    csat = "csat" if "csat" in cols else "CAST(NULL AS DOUBLE)"
    escalated = "CASE WHEN escalated THEN 1 ELSE 0 END" if "escalated" in cols else "0"
    # CSAT is given at resolution: known at a cutoff only for tickets resolved before it.
    # Without a resolved_at column there is no better instant than the opening.
    # a ticket's resolution (and its CSAT) is known once it is both opened and resolved
    known_k = (
        "CASE WHEN k_res IS NOT NULL THEN greatest(k_open, k_res) END"
        if "resolved_at" in cols
        else "k_open"
    )
    # Facts that only accumulate (tickets opened, resolved and rated so far, the latest
    # ones) are grouped by the first snapshot that knows them and carried forward, as in
    # onboarding; only the windowed facts (last 30/90/180 days) join tickets to the few
    # snapshots whose window holds them. Cutoffs are month starts: k(month) = the number of
    # cutoffs on or before that month's start, so a fact dated t is known from snapshot
    # k(month of t) on.
    return f"""WITH t AS (
  SELECT customer_id, opened_at, {resolved} AS resolved_at, {csat} AS csat,
         {escalated} AS escalated
  FROM tickets
), {SNAPSHOT_GRID}, last_cut AS (SELECT max(cutoff) AS last_cutoff FROM snaps
), tk AS (
  SELECT t.*, coalesce(g1.k, 0) AS k_open,
    CASE WHEN t.resolved_at < x.last_cutoff THEN coalesce(g2.k, 0) END AS k_res
  FROM t CROSS JOIN last_cut x
  LEFT JOIN grid g1 ON g1.m = date_trunc('month', t.opened_at)
  LEFT JOIN grid g2 ON g2.m = date_trunc('month', t.resolved_at)
  WHERE t.opened_at < x.last_cutoff
), facts AS (
  -- one row per ticket opened, one per ticket whose resolution (and CSAT) becomes known
  SELECT customer_id, k_open AS k, 1 AS opened, 0 AS closed, NULL AS csat,
         opened_at AS last_opened, NULL AS rating
  FROM tk
  UNION ALL
  SELECT customer_id, {known_k} AS k, 0, CASE WHEN k_res IS NOT NULL THEN 1 ELSE 0 END, csat,
         NULL, CASE WHEN csat IS NOT NULL
                    THEN {{'at': coalesce(resolved_at, opened_at), 'csat': csat}} END
  FROM tk WHERE {known_k} IS NOT NULL
), by_k AS (
  SELECT customer_id, k, sum(opened) AS opened, sum(closed) AS closed,
    sum(csat) AS csat_sum, count(csat) AS csat_n, max(last_opened) AS last_opened,
    max(rating) AS rating
  FROM facts GROUP BY customer_id, k
), running AS (
  SELECT customer_id, k,
    coalesce(lead(k) OVER (PARTITION BY customer_id ORDER BY k), {NO_LATER_K}) AS next_k,
    sum(opened) OVER w AS opened, sum(closed) OVER w AS closed,
    sum(csat_sum) OVER w AS csat_sum, sum(csat_n) OVER w AS csat_n,
    max(last_opened) OVER w AS last_opened, max(rating) OVER w AS rating
  FROM by_k
  WINDOW w AS (PARTITION BY customer_id ORDER BY k
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), cum AS (
  SELECT p.customer_id, p.sid, r.opened, r.closed, r.csat_sum, r.csat_n, r.last_opened,
         r.rating
  FROM pop p JOIN running r ON r.customer_id = p.customer_id
    AND p.sid >= r.k AND p.sid < r.next_k
  WHERE r.opened > 0
), recent AS (
  SELECT t.customer_id, s.sid,
    sum(CASE WHEN t.opened_at >= s.cutoff - INTERVAL 30 DAY THEN 1 ELSE 0 END) AS n30,
    count(*) AS n90, sum(t.escalated) AS escalations
  FROM t JOIN snaps s
    ON t.opened_at >= s.cutoff - INTERVAL 90 DAY AND t.opened_at < s.cutoff
  GROUP BY t.customer_id, s.sid
), durations AS (
  -- the tickets resolved in the 180 days before each cutoff, ranked by time to resolve
  SELECT t.customer_id, s.sid, date_diff('microsecond', t.opened_at, t.resolved_at) AS us,
    row_number() OVER (PARTITION BY t.customer_id, s.sid
                       ORDER BY date_diff('microsecond', t.opened_at, t.resolved_at)) AS r,
    count(*) OVER (PARTITION BY t.customer_id, s.sid) AS n
  FROM t JOIN snaps s ON t.resolved_at >= s.cutoff - INTERVAL 180 DAY
    AND t.resolved_at < s.cutoff AND t.opened_at < s.cutoff
), resolved AS (
  -- the median written out as the mean of the two middle values, in whole microseconds
  -- (exact on every engine; engines interpolate a median of doubles with different
  -- roundings), then turned into hours. A sort spills where a median aggregate's state
  -- cannot: with one, this query ran out of memory at a 2 GB limit on 1M customers
  SELECT customer_id, sid,
    CAST(sum(CASE WHEN r = floor((n + 1) / 2) OR r = ceil((n + 1) / 2) THEN us END)
         AS DOUBLE) / count(CASE WHEN r = floor((n + 1) / 2) OR r = ceil((n + 1) / 2)
                                 THEN 1 END) / 3600000000 AS resolve_hours
  FROM durations GROUP BY customer_id, sid
), agg AS (
  SELECT c.customer_id, c.sid, r.n30, r.n90, c.opened - c.closed AS n_open,
    v.resolve_hours, c.csat_sum / NULLIF(c.csat_n, 0) AS csat_mean, c.rating.csat AS csat_last,
    r.escalations, c.last_opened
  FROM cum c LEFT JOIN recent r ON r.customer_id = c.customer_id AND r.sid = c.sid
  LEFT JOIN resolved v ON v.customer_id = c.customer_id AND v.sid = c.sid
)"""


SUPPORT = Family(
    name="support",
    base=_support_base,
    features=(
        Feature(
            "support_tickets_30d",
            "coalesce(a.n30, 0)",
            "count",
            "tickets opened in the 30 days before the cutoff",
            "{value:.0f} support ticket(s) in the last 30 days",
        ),
        Feature(
            "support_tickets_90d",
            "coalesce(a.n90, 0)",
            "count",
            "tickets opened in the 90 days before the cutoff",
            "{value:.0f} support ticket(s) in the last 90 days",
        ),
        Feature(
            "support_open_tickets",
            "coalesce(a.n_open, 0)",
            "count",
            "tickets opened before the cutoff and not resolved before it",
            "{value:.0f} support ticket(s) still open",
            requires=("resolved_at",),
        ),
        Feature(
            "support_median_resolve_hours",
            "a.resolve_hours",
            "hours",
            "median hours from opening to resolution of the tickets resolved in the 180 days "
            "before the cutoff (missing: none resolved then)",
            "tickets took {value:.0f} hours to resolve (median)",
            requires=("resolved_at",),
        ),
        Feature(
            "support_csat_mean",
            "a.csat_mean",
            "score 1-5",
            "mean satisfaction of the tickets rated and resolved before the cutoff",
            "average support satisfaction {value:.1f} of 5",
            requires=("csat",),
        ),
        Feature(
            "support_csat_last",
            "a.csat_last",
            "score 1-5",
            "satisfaction of the latest ticket resolved (and rated) before the cutoff",
            "last support satisfaction {value:.0f} of 5",
            requires=("csat",),
        ),
        Feature(
            "support_escalations_90d",
            "coalesce(a.escalations, 0)",
            "count",
            "escalated tickets among those opened in the 90 days before the cutoff",
            "{value:.0f} escalated ticket(s) in the last 90 days",
            requires=("escalated",),
        ),
        Feature(
            "support_days_since_ticket",
            DAYS_SINCE.format(since="a.last_opened", until="p.cutoff"),
            "days",
            "days from the latest ticket's opening day to the cutoff (missing: no ticket)",
            "last support ticket {value:.0f} day(s) ago",
        ),
    ),
)
