"""The onboarding family: steps completed early in a customer's life, as known at each cutoff."""

from __future__ import annotations

from churnlab.features.sql.core import (
    DAYS_SINCE,
    NO_LATER_K,
    SNAPSHOT_GRID,
    Family,
    Feature,
    Schema,
    shared_cte,
)

#: the population-wide part (Family.shared): the step names anyone completed before each cutoff
STEP_COUNTS = "onboarding_step_counts"
STEPS = """SELECT s.sid, count(x.step) AS n_steps
  FROM snaps s LEFT JOIN (SELECT step, min(done_at) AS seen_at FROM first_done GROUP BY step) x
    ON x.seen_at < s.cutoff
  GROUP BY s.sid"""


def _onboarding_base(schema: Schema) -> str:
    # A step counts once, at its first completion. The number of steps of a snapshot is the
    # number of distinct step names completed by anyone before its cutoff, so that a step name
    # first seen later cannot change an earlier snapshot.
    # grid: a step done at t is known from snapshot k(month of t) on (core.SNAPSHOT_GRID)
    return f"""WITH first_done AS (
  SELECT customer_id, step, min(completed_at) AS done_at FROM onboarding
  GROUP BY customer_id, step
), steps AS (
  {shared_cte(schema, STEP_COUNTS, STEPS)}
), {SNAPSHOT_GRID}, steps_k AS (
  -- what each customer completed, grouped by the first snapshot that knows it
  SELECT f.customer_id, coalesce(g.k, 0) AS k,
    sum(CASE WHEN f.done_at < c.signup_date + INTERVAL 7 DAY THEN 1 ELSE 0 END) AS d7,
    sum(CASE WHEN f.done_at < c.signup_date + INTERVAL 14 DAY THEN 1 ELSE 0 END) AS d14,
    sum(CASE WHEN f.done_at < c.signup_date + INTERVAL 30 DAY THEN 1 ELSE 0 END) AS d30,
    count(*) AS n_done, max(f.done_at) AS last_done, min(c.signup_date) AS signup_date
  FROM first_done f JOIN customers c ON c.customer_id = f.customer_id
  LEFT JOIN grid g ON g.m = date_trunc('month', f.done_at)
  WHERE f.done_at < (SELECT max(cutoff) FROM snaps)
  GROUP BY f.customer_id, coalesce(g.k, 0)
), running AS (
  -- totals up to each k (counts: exact in any order), valid for snapshots k .. next k - 1
  SELECT customer_id, k,
    coalesce(lead(k) OVER (PARTITION BY customer_id ORDER BY k), {NO_LATER_K}) AS next_k,
    sum(d7) OVER w AS d7, sum(d14) OVER w AS d14, sum(d30) OVER w AS d30,
    sum(n_done) OVER w AS n_done, max(last_done) OVER w AS last_done,
    min(signup_date) OVER w AS signup_date
  FROM steps_k
  WINDOW w AS (PARTITION BY customer_id ORDER BY k
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), done AS (
  SELECT p.customer_id, p.sid, r.d7, r.d14, r.d30, r.n_done, r.last_done, r.signup_date
  FROM pop p JOIN running r ON r.customer_id = p.customer_id
    AND p.sid >= r.k AND p.sid < r.next_k
), agg AS (
  SELECT p.customer_id, p.sid, k.n_steps, d.d7, d.d14, d.d30, d.n_done, d.last_done,
         d.signup_date
  FROM pop p JOIN steps k ON k.sid = p.sid
  LEFT JOIN done d ON d.customer_id = p.customer_id AND d.sid = p.sid
)"""


def _share(col: str) -> str:
    return f"CASE WHEN a.n_steps > 0 THEN coalesce(a.{col}, 0) / a.n_steps END"


ONBOARDING = Family(
    name="onboarding",
    base=_onboarding_base,
    shared=((STEP_COUNTS, "steps"),),
    features=(
        Feature(
            "onboarding_share_7d",
            _share("d7"),
            "share",
            "share of the onboarding steps done within 7 days of signup (known at the cutoff)",
            "did {value:.0%} of onboarding in the first week",
        ),
        Feature(
            "onboarding_share_14d",
            _share("d14"),
            "share",
            "share of the onboarding steps done within 14 days of signup",
            "did {value:.0%} of onboarding in the first 2 weeks",
        ),
        Feature(
            "onboarding_share_30d",
            _share("d30"),
            "share",
            "share of the onboarding steps done within 30 days of signup",
            "did {value:.0%} of onboarding in the first 30 days",
        ),
        Feature(
            "onboarding_share_done",
            _share("n_done"),
            "share",
            "share of the onboarding steps done before the cutoff",
            "did {value:.0%} of onboarding so far",
        ),
        Feature(
            "onboarding_finished",
            "CASE WHEN a.n_steps > 0 THEN "
            "CASE WHEN coalesce(a.n_done, 0) >= a.n_steps THEN 1 ELSE 0 END END",
            "flag",
            "every onboarding step done before the cutoff",
            "onboarding finished",
            template_no="onboarding not finished",
        ),
        Feature(
            "onboarding_days_to_finish",
            "CASE WHEN a.n_done >= a.n_steps THEN "
            + DAYS_SINCE.format(since="a.signup_date", until="a.last_done")
            + " END",
            "days",
            "days from signup to the day the last step was first done (missing: not finished)",
            "took {value:.0f} day(s) to finish onboarding",
        ),
    ),
)
