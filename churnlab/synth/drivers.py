"""The true churn hazard: each driver family's contribution to the log-odds of churning.

Each function turns *signals* into one family's contribution, where every signal is what a
point-in-time feature can compute from rows dated before the snapshot's cutoff (docs/definitions.md):
the billing periods, tickets, onboarding steps, usage days and survey answers
known then, and the static profile. The generator measures the signals from its running
state; the tests measure them again from the written tables (cut at the cutoff) and must
get the same contributions, which is what makes the truth point-in-time.
"""

from __future__ import annotations

import numpy as np

from churnlab.synth.params import HAZARD, Hazard


def price(
    rise_3: np.ndarray,
    discount_ended_90d: np.ndarray,
    premium: np.ndarray,
    unpaid_last_3: np.ndarray,
    hz: Hazard = HAZARD,
) -> np.ndarray:
    """Price family: ``rise_3`` = last amount / amount three periods earlier - 1 (0 with
    fewer than four periods); a discount that ended (a period without discount after one
    with) in the 90 days before the cutoff; ``premium`` = last list price / the plan's
    standard price that month; unpaid periods among the last three."""
    return (
        hz.price_rise * np.clip(rise_3, 0.0, 1.0)
        + hz.price_discount_ended * discount_ended_90d
        + hz.price_premium * np.log(premium)
        + hz.price_unpaid * unpaid_last_3
        - hz.price_ref
    )


def support(
    open_tickets: np.ndarray,
    recent_30d: np.ndarray,
    escalated_90d: np.ndarray,
    last_csat_180d: np.ndarray,
    hz: Hazard = HAZARD,
) -> np.ndarray:
    """Support family: tickets open at the cutoff (opened before it, not resolved before
    it), tickets opened in the last 30 days, escalated tickets opened in the last 90 days,
    and the CSAT of the ticket resolved last among those rated and resolved in the last 180
    days (NaN when there is none: no effect)."""
    csat = np.where(np.isnan(last_csat_180d), 3.5, last_csat_180d)
    return (
        hz.support_open * np.minimum(open_tickets, 3)
        + hz.support_recent * np.minimum(recent_30d, 4)
        + hz.support_escalated * np.minimum(escalated_90d, 2)
        + hz.support_csat * (3.5 - csat)
        - hz.support_ref
    )


def onboarding(
    share_7d: np.ndarray,
    share_14d: np.ndarray,
    share_30d: np.ndarray,
    tenure_days: np.ndarray,
    hz: Hazard = HAZARD,
) -> np.ndarray:
    """Onboarding family: shares of the four steps after account creation completed within
    7, 14 and 30 days of the signup date (and before the cutoff), weighted by a factor that
    fades with tenure: a poor start matters in the first months, hardly after a year."""
    done = 0.2 * share_7d + 0.3 * share_14d + 0.5 * share_30d
    weight = np.exp(-tenure_days / hz.onboarding_tenure_days)
    return weight * hz.onboarding_scale * (hz.onboarding_target - done)


def engagement(
    active_30d: np.ndarray,
    active_prev_30d: np.ndarray,
    days_since_active: np.ndarray,
    tenure_days: np.ndarray,
    hz: Hazard = HAZARD,
) -> np.ndarray:
    """Engagement family: active days in the last 30 days against the 30 before (only for
    customers of at least 60 days, whose earlier window is complete) and days since the
    last active day (since signup when never active), capped at 90."""
    trend = np.clip(np.log((active_prev_30d + 1.0) / (active_30d + 1.0)), -1.0, 2.5)
    trend = np.where(tenure_days >= 60, trend, 0.0)
    recency = np.log1p(np.minimum(days_since_active, 90))
    return hz.engagement_trend * trend + hz.engagement_recency * recency - hz.engagement_ref


def voice_of_customer(last_score: np.ndarray, hz: Hazard = HAZARD) -> np.ndarray:
    """Voice-of-customer family: the last NPS answer before the cutoff (detractors raise the
    risk, promoters lower it); customers who never answered get no effect (NaN score)."""
    return np.where(np.isnan(last_score), 0.0, hz.voice_nps * (7.0 - last_score))


def profile(
    plan: np.ndarray,
    segment: np.ndarray,
    channel: np.ndarray,
    tenure_days: np.ndarray,
    hz: Hazard = HAZARD,
) -> np.ndarray:
    """Profile family: plan, segment and acquisition channel (category codes in the order
    of :mod:`churnlab.synth.params`) and the extra risk of the first months of tenure."""
    return (
        np.asarray(hz.profile_plan)[plan]
        + np.asarray(hz.profile_segment)[segment]
        + np.asarray(hz.profile_channel)[channel]
        + hz.profile_new * np.exp(-tenure_days / 120.0)
        - hz.profile_ref
    )


def onboarding_shares(
    step_offset: np.ndarray, signup_ms: np.ndarray, cutoff_ms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares of the four steps after account creation done within 7, 14 and 30 days of the
    signup date and before ``cutoff_ms`` (``step_offset``: ms after signup midnight)."""
    later = step_offset[:, 1:]
    known = (signup_ms[:, None] + later) < cutoff_ms
    return tuple(((later < days * 86_400_000) & known).mean(axis=1) for days in (7, 14, 30))  # type: ignore[return-value]
