"""Who the synthetic customers are: signup dates, static attributes and latent traits.

One call draws a block of customers at once (vectorised). Observable attributes (plan,
segment, acquisition channel, signup date, negotiated price, introductory discount) end up
in the tables; latent traits (activity level, ticket proneness, satisfaction, onboarding
aptitude, tendency to disengage) only shape the events the customer generates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churnlab.synth import params as P


@dataclass
class Customers:
    """Static attributes and latent traits of one block of customers (arrays of length n)."""

    signup: np.ndarray  # day
    signup_month: np.ndarray  # simulated month index of the signup
    bill_day: np.ndarray  # day of month (1..28) of the billing anniversary
    plan: np.ndarray
    segment: np.ndarray
    channel: np.ndarray
    price_factor: np.ndarray
    intro_months: np.ndarray  # 0 = no introductory discount
    intro_rate: np.ndarray
    unpaid_p: np.ndarray
    ticket_rate: np.ndarray
    active_p: np.ndarray
    sessions_mean: np.ndarray
    minutes_mean: np.ndarray
    satisfaction: np.ndarray
    disengage_p: np.ndarray
    step_offset: np.ndarray  # (n, 5) ms after signup midnight, NEVER_MS when never done

    @property
    def n(self) -> int:
        return len(self.signup)


def signup_month_weights(cal: P.Calendar) -> np.ndarray:
    """Probability of each simulated month as a signup month: PRE_SHARE spread evenly over
    the history months, the rest over the reported months in a linearly growing stream."""
    pre = np.full(cal.pre, P.PRE_SHARE / cal.pre)
    growth = 1.0 + P.SIGNUP_GROWTH * np.arange(cal.months) / max(cal.months - 1, 1)
    return np.concatenate([pre, (1 - P.PRE_SHARE) * growth / growth.sum()])


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (rows sum to 1), vectorised by inverse CDF."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    return np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1).astype(np.int8)


def _onboarding(rng: np.random.Generator, n: int) -> np.ndarray:
    """Completion times of the onboarding steps: account creation on the signup day, then
    each later step done with a probability and after a delay that depend on aptitude."""
    aptitude = rng.normal(0.0, 1.0, n)
    offset = np.empty((n, len(P.ONBOARDING_STEPS)), dtype=np.int64)
    created = rng.integers(6 * 3_600_000, 22 * 3_600_000, n)  # during the signup day
    offset[:, 0] = created
    at = created.astype(np.float64)
    for j in range(len(P.STEP_LOGIT)):
        done = rng.random(n) < 1 / (1 + np.exp(-(P.STEP_LOGIT[j] + 1.2 * aptitude)))
        delay = np.exp(rng.normal(np.log(P.STEP_MEDIAN_DAYS[j]) - 0.4 * aptitude, 0.9))
        at = at + delay * P.MS_PER_DAY
        offset[:, j + 1] = np.where(done, at.astype(np.int64), P.NEVER_MS)
    return offset


def draw_customers(rng: np.random.Generator, n: int, cal: P.Calendar) -> Customers:
    """Draw ``n`` customers: signup month and day, segment, plan, channel, prices, latent
    traits and onboarding, all from ``rng`` in a fixed order (deterministic per seed)."""
    month = rng.choice(cal.n_months, size=n, p=signup_month_weights(cal))
    length = cal.month_start[month + 1] - cal.month_start[month]
    signup = cal.month_start[month] + (rng.random(n) * length).astype(np.int64)
    day_of_month = signup - cal.month_start[month] + 1
    segment = _pick(rng, np.broadcast_to(P.SEGMENT_P, (n, 3)))
    plan = _pick(rng, P.PLAN_P[segment])
    channel = _pick(rng, P.CHANNEL_P[segment])
    factor = np.exp(rng.normal(0.0, 1.0, n) * P.PRICE_FACTOR_SD[segment])
    has_intro = rng.random(n) < P.INTRO_SHARE
    intro_months = np.where(has_intro, rng.choice(P.INTRO_MONTHS, n), 0)
    intro_rate = np.where(has_intro, rng.choice(P.INTRO_RATES, n), 0.0)
    risky = rng.random(n) < 0.1
    unpaid_p = np.where(risky, 0.15, 0.01)
    ticket_rate = P.TICKET_RATE[segment] * rng.gamma(0.8, 1 / 0.8, n)
    activity = rng.normal(0.0, 0.6, n)
    active_p = np.clip(P.ACTIVE_DAY_P * np.exp(activity), 0.01, 0.95)
    sessions_mean = 0.8 * np.exp(0.5 * activity + rng.normal(0.0, 0.3, n))
    minutes_mean = 12.0 * np.exp(rng.normal(0.0, 0.4, n))
    satisfaction = rng.normal(0.0, 1.0, n)
    disengage_p = P.DISENGAGE_P * rng.gamma(1.5, 1 / 1.5, n)
    return Customers(
        signup=signup.astype(np.int64),
        signup_month=month.astype(np.int64),
        bill_day=np.minimum(day_of_month, 28).astype(np.int64),
        plan=plan,
        segment=segment,
        channel=channel,
        price_factor=factor,
        intro_months=intro_months.astype(np.int64),
        intro_rate=intro_rate,
        unpaid_p=unpaid_p,
        ticket_rate=ticket_rate,
        active_p=active_p,
        sessions_mean=sessions_mean,
        minutes_mean=minutes_mean,
        satisfaction=satisfaction,
        disengage_p=disengage_p,
        step_offset=_onboarding(rng, n),
    )
