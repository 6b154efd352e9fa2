"""The voice-of-customer family: NPS answers given before each cutoff."""

from __future__ import annotations

from churnlab.sql.core import Family, Feature, Schema


def _voc_base(schema: Schema) -> str:
    return """WITH agg AS (
  SELECT f.customer_id, s.sid, count(*) AS n, avg(f.score) AS mean_score,
    -- the latest answer; ties on the instant resolved by the score itself
    max({'at': f.responded_at, 'score': f.score}).score AS last_score,
    max(f.responded_at) AS last_at
  FROM feedback f JOIN snaps s ON f.responded_at < s.cutoff
  GROUP BY f.customer_id, s.sid
)"""


VOC = Family(
    name="voice_of_customer",
    table="feedback",
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
            "date_diff('day', a.last_at, p.cutoff)",
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
