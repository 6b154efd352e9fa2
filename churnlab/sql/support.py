"""The support family: tickets opened, open, resolved and rated before each cutoff."""

from __future__ import annotations

from churnlab.sql.core import Family, Feature, Schema


def _support_base(schema: Schema) -> str:
    cols = set(schema["tickets"])
    resolved = "resolved_at" if "resolved_at" in cols else "CAST(NULL AS TIMESTAMP)"
    csat = "csat" if "csat" in cols else "CAST(NULL AS DOUBLE)"
    escalated = "CASE WHEN escalated THEN 1 ELSE 0 END" if "escalated" in cols else "0"
    # CSAT is given at resolution: known at a cutoff only for tickets resolved before it.
    # Without a resolved_at column there is no better instant than the opening.
    known = "t.resolved_at < s.cutoff" if "resolved_at" in cols else "TRUE"
    return f"""WITH t AS (
  SELECT customer_id, opened_at, {resolved} AS resolved_at, {csat} AS csat,
         {escalated} AS escalated
  FROM tickets
), agg AS (
  SELECT t.customer_id, s.sid,
    sum(CASE WHEN t.opened_at >= s.cutoff - INTERVAL 30 DAY THEN 1 ELSE 0 END) AS n30,
    sum(CASE WHEN t.opened_at >= s.cutoff - INTERVAL 90 DAY THEN 1 ELSE 0 END) AS n90,
    sum(CASE WHEN t.resolved_at IS NULL OR t.resolved_at >= s.cutoff THEN 1 ELSE 0 END)
      AS n_open,
    median(CASE WHEN t.resolved_at < s.cutoff
                 AND t.resolved_at >= s.cutoff - INTERVAL 180 DAY
                THEN date_diff('second', t.opened_at, t.resolved_at) / 3600.0 END)
      AS resolve_hours,
    avg(CASE WHEN {known} THEN t.csat END) AS csat_mean,
    -- the latest known rating; ties on the instant resolved by the rating itself
    max(CASE WHEN {known} AND t.csat IS NOT NULL
             THEN {{'at': coalesce(t.resolved_at, t.opened_at), 'csat': t.csat}} END).csat
      AS csat_last,
    sum(CASE WHEN t.opened_at >= s.cutoff - INTERVAL 90 DAY THEN t.escalated ELSE 0 END)
      AS escalations,
    max(t.opened_at) AS last_opened
  FROM t JOIN snaps s ON t.opened_at < s.cutoff
  GROUP BY t.customer_id, s.sid
)"""


SUPPORT = Family(
    name="support",
    table="tickets",
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
            "date_diff('day', a.last_opened, p.cutoff)",
            "days",
            "days from the latest ticket's opening day to the cutoff (missing: no ticket)",
            "last support ticket {value:.0f} day(s) ago",
        ),
    ),
)
