"""The voice-of-customer family: NPS answers given before each cutoff."""

from __future__ import annotations

from churnlab.features.sql.core import (
    DAYS_SINCE,
    NO_LATER_K,
    SNAPSHOT_GRID,
    Family,
    Feature,
    Schema,
)


def _voc_base(schema: Schema) -> str:
    # Answers only accumulate: grouped by the first snapshot that knows them (k(month) = the
    # number of cutoffs, which are month starts, on or before that month's start) and carried
    # forward, instead of joining every answer to every later snapshot. Scores are summed and
    # counted for the mean (NPS answers are whole numbers, so the sum is exact in any order).
    return f"""WITH {SNAPSHOT_GRID}, by_k AS (
  SELECT f.customer_id, coalesce(g.k, 0) AS k, count(*) AS n, sum(f.score) AS score_sum,
    count(f.score) AS score_n,
    -- the latest answer; ties on the instant resolved by the score itself
    max({{'at': f.responded_at, 'score': f.score}}) AS latest, max(f.responded_at) AS last_at
  FROM feedback f LEFT JOIN grid g ON g.m = date_trunc('month', f.responded_at)
  WHERE f.responded_at < (SELECT max(cutoff) FROM snaps)
  GROUP BY f.customer_id, coalesce(g.k, 0)
), running AS (
  SELECT customer_id, k,
    coalesce(lead(k) OVER (PARTITION BY customer_id ORDER BY k), {NO_LATER_K}) AS next_k,
    sum(n) OVER w AS n, sum(score_sum) OVER w AS score_sum, sum(score_n) OVER w AS score_n,
    max(latest) OVER w AS latest, max(last_at) OVER w AS last_at
  FROM by_k
  WINDOW w AS (PARTITION BY customer_id ORDER BY k
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), agg AS (
  SELECT p.customer_id, p.sid, r.n, r.score_sum / NULLIF(r.score_n, 0) AS mean_score,
    r.latest.score AS last_score, r.last_at
  FROM pop p JOIN running r ON r.customer_id = p.customer_id
    AND p.sid >= r.k AND p.sid < r.next_k
)"""


VOC = Family(
    name="voice_of_customer",
    base=_voc_base,
    features=(
        Feature(
            "voc_last_score",
            "a.last_score",
            "score 0-10",
            "the latest NPS answer before the cutoff (missing: never answered)",
            "last NPS answer {value:.0f} of 10",
        ),
        Feature(
            "voc_detractor",
            "CASE WHEN a.last_score <= 6 THEN 1 WHEN a.last_score > 6 THEN 0 END",
            "flag",
            "the latest NPS answer is 0-6 (a detractor; missing: never answered)",
            "a detractor in the latest NPS survey",
            template_no="not a detractor in the latest NPS survey",
        ),
        Feature(
            "voc_days_since_answer",
            DAYS_SINCE.format(since="a.last_at", until="p.cutoff"),
            "days",
            "days from the latest NPS answer's day to the cutoff (missing: never answered)",
            "last NPS answer {value:.0f} day(s) ago",
        ),
        Feature(
            "voc_answers",
            "coalesce(a.n, 0)",
            "count",
            "NPS answers given before the cutoff",
            "{value:.0f} NPS answer(s) so far",
        ),
        Feature(
            "voc_mean_score",
            "a.mean_score",
            "score 0-10",
            "mean of the NPS answers given before the cutoff (missing: never answered)",
            "average NPS answer {value:.1f} of 10",
        ),
    ),
)
