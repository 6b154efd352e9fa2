"""Constants of the synthetic world: calendar, plans and prices, behaviour and hazard weights.

Everything that shapes the synthetic business lives here, so that a reader can see the whole
world on one page and a test can recompute the true drivers from the same numbers. Times
inside the generator are integers: days since 1970-01-01 for dates and milliseconds since
1970-01-01 for timestamps, so that every comparison with a cutoff is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churnlab.core.families import FAMILY_ORDER

FAMILIES: tuple[str, ...] = FAMILY_ORDER
MS_PER_DAY = 86_400_000
#: "never happened" for day and millisecond times; far in the future, yet free of overflow.
NEVER_DAY = 2**40
NEVER_MS = 2**62

#: customers per random block: the unit of randomness. Fixed, so that how many blocks are held
#: in memory at once (the chunking of synthesize) never changes the data.
BLOCK_SIZE = 10_000
#: months simulated before the first reported month, so the start has a base of customers
#: with tenure and history (their history is in the tables too).
PRE_MONTHS = 12
#: share of customers who signed up before the first month; the rest arrive over the months
#: in a stream that grows linearly to (1 + SIGNUP_GROWTH) times its first rate.
PRE_SHARE = 0.3
SIGNUP_GROWTH = 1.0

PLANS = ("basic", "pro", "business")
PLAN_PRICE = np.array([29.0, 79.0, 199.0])
SEGMENTS = ("smb", "mid", "enterprise")
SEGMENT_P = np.array([0.62, 0.28, 0.10])
#: plan mix per segment (rows: segment, columns: plan)
PLAN_P = np.array([[0.60, 0.32, 0.08], [0.25, 0.50, 0.25], [0.05, 0.35, 0.60]])
CHANNELS = ("organic", "paid_search", "partner", "sales")
#: acquisition channel mix per segment (rows: segment, columns: channel)
CHANNEL_P = np.array([[0.45, 0.40, 0.15, 0.00], [0.30, 0.25, 0.25, 0.20], [0.10, 0.05, 0.25, 0.60]])
#: list price changes: (plan index, months after the first reported month, factor). They apply
#: to billing periods that start in or after that month.
PRICE_CHANGES = ((2, -6, 1.08), (0, 6, 1.10), (1, 12, 1.15), (0, 18, 1.05))
#: negotiated prices: sd of the log price factor per segment (smb pays the list price)
PRICE_FACTOR_SD = np.array([0.0, 0.10, 0.15])
#: share of customers with an introductory discount, its lengths (months) and rates
INTRO_SHARE = 0.4
INTRO_MONTHS = np.array([3, 6, 12])
INTRO_RATES = np.array([0.2, 0.3, 0.5])

TICKET_CATEGORIES = ("billing", "technical", "account", "bug", "feature_request")
TICKET_CATEGORY_P = np.array([0.2, 0.35, 0.15, 0.2, 0.1])
#: mean tickets per customer-month per segment (a gamma-distributed proneness multiplies it)
TICKET_RATE = np.array([0.18, 0.3, 0.5])
ESCALATION_P = 0.08
NEVER_RESOLVED_P = 0.015
RESOLUTION_MEDIAN_HOURS = 14.0
RESOLUTION_LOG_SD = 1.3
CSAT_RESPONSE_P = 0.65

ONBOARDING_STEPS = (
    "account_created",
    "first_project",
    "invite_team",
    "integration",
    "first_report",
)
#: per step after account creation: completion log-odds at average aptitude, median days
#: after the previous step
STEP_LOGIT = np.array([2.2, 0.8, 0.3, 1.0])
STEP_MEDIAN_DAYS = np.array([1.5, 4.0, 6.0, 3.0])

#: usage: probability of an active day, sessions and minutes per active day
ACTIVE_DAY_P = 0.25
#: disengagement: monthly probability to start fading (times a per-customer factor), to
#: recover, the decay time of activity (days) and its floor
DISENGAGE_P = 0.05
RECOVER_P = 0.15
DECAY_DAYS = 12.0
DECAY_FLOOR = 0.03
#: window of daily activity kept per customer for the engagement signals
ACTIVITY_WINDOW = 64

SURVEY_P = 0.05
SURVEY_AFTER_SIGNUP_P = 0.3
COMMENT_P_DETRACTOR = 0.6
COMMENT_P_OTHER = 0.25
COMMENTS_DETRACTOR = {
    "price": ("Too expensive for what we get", "The new price is hard to justify"),
    "support": ("Support takes far too long to answer", "Our ticket is still not solved"),
    "onboarding": ("Hard to get started", "Setup was confusing"),
    "engagement": ("We hardly use it anymore", "Not sure the team needs it"),
}
COMMENTS_PASSIVE = ("Does the job", "Some features are missing", "OK overall")
COMMENTS_PROMOTER = ("Great product", "Support was very helpful", "Saves us a lot of time")


@dataclass(frozen=True)
class Action:
    """A retention action of the synthetic business (``synth --actions``; docs/actions.md).

    ``relief`` says which causes it touches: for each named family, the share of the
    customer's *positive* contribution of that family (the part that raises the risk) the
    action removes from the log-odds of churning in the month after it was sent. A customer
    whose risk comes from families the action does not name gets no effect at all.
    """

    name: str
    cost: float
    channel: str
    relief: tuple[tuple[str, float], ...] = ()


#: the actions, in the order their codes are drawn: a plan review helps price-driven
#: customers, an escalation support-driven ones, a re-activation email a little for fading
#: usage, and a newsletter does nothing
ACTIONS: tuple[Action, ...] = (
    Action("plan_review", 25.0, "call", (("price", 0.8),)),
    Action("support_escalation", 15.0, "call", (("support", 0.8),)),
    Action("reactivation_email", 1.0, "email", (("engagement", 0.3),)),
    Action("newsletter", 0.5, "email"),
)
CHANNELS_OF_ACTIONS = ("call", "email")
#: share of each snapshot's population (per block of customers) the business targets, by its
#: own noisy view of the risk: the true log-odds plus normal noise of this sd
ACTION_TARGET_SHARE = 0.12
ACTION_RISK_NOISE = 0.5
#: share of the targeted customers held out on purpose (group control)
ACTION_HOLDOUT = 0.3
#: a customer targeted in month k is not targeted again before month k + this
ACTION_COOLDOWN = 3


@dataclass(frozen=True)
class Hazard:
    """Weights of the true churn hazard: each family's contribution to the log-odds.

    Every term is a function of data dated before the snapshot's cutoff (see
    :mod:`churnlab.synth.drivers`); the ``*_ref`` constants centre each family near zero so
    that scaling a family (``dominant``) changes the spread of risk more than its level.
    """

    base_logit: float = -3.95
    # price
    price_rise: float = 2.2  # times the rise of the amount vs 3 periods earlier (0..1)
    price_discount_ended: float = 0.5  # a discount ended in the last 90 days
    price_premium: float = 2.5  # times log(list price / plan's standard price)
    price_unpaid: float = 0.6  # per unpaid period among the last 3
    price_ref: float = 0.12
    # support
    support_open: float = 0.45  # per ticket open at the cutoff (at most 3)
    support_recent: float = 0.3  # per ticket opened in the last 30 days (at most 4)
    support_escalated: float = 0.5  # per escalated ticket opened in the last 90 days (at most 2)
    support_csat: float = 0.35  # times (3.5 - last CSAT) for a rating of the last 180 days
    support_ref: float = 0.15
    # onboarding: weight(tenure) * scale * (target - share of the 4 steps done in 7/14/30 days)
    onboarding_scale: float = 3.0
    onboarding_target: float = 0.55
    onboarding_tenure_days: float = 90.0
    # engagement
    engagement_trend: float = 0.8  # times log((active days 30 before + 1)/(last 30 + 1))
    engagement_recency: float = 0.4  # times log1p(days since last activity, at most 90)
    engagement_ref: float = 0.7
    # voice of customer
    voice_nps: float = 0.22  # times (7 - last NPS score); 0 without an answer
    # profile
    profile_plan: tuple[float, float, float] = (0.35, 0.0, -0.35)
    profile_segment: tuple[float, float, float] = (0.25, 0.0, -0.45)
    profile_channel: tuple[float, float, float, float] = (-0.1, 0.25, 0.0, -0.15)
    profile_new: float = 0.6  # times exp(-tenure days / 120): early months are riskier
    profile_ref: float = 0.3


HAZARD = Hazard()

#: shift of the base log-odds when a family dominates (at dominance 3; proportional to
#: log(dominance)), measured once so the churn level stays near 3 % a month: widening a
#: right-skewed family raises the mean risk, widening the others lowers it.
DOMINANT_BASE_SHIFT = {
    "price": -0.25,
    "support": 0.3,
    "onboarding": 0.0,
    "engagement": -0.9,
    "voice_of_customer": 0.35,
    "profile": -0.15,
}


def family_scales(dominant: str | None, dominance: float) -> np.ndarray:
    """Multipliers of each family's contribution, in :data:`FAMILIES` order.

    With a dominant family, that family is scaled by ``dominance`` and every other family by
    ``1 / dominance``, so the dominant one clearly has the largest mean |contribution|.
    """
    scales = np.ones(len(FAMILIES))
    if dominant is not None:
        scales[:] = 1.0 / dominance
        scales[FAMILIES.index(dominant)] = dominance
    return scales


def base_logit(dominant: str | None, dominance: float) -> float:
    """The base log-odds of churning in a month, before any family's contribution."""
    if dominant is None:
        return HAZARD.base_logit
    return HAZARD.base_logit + DOMINANT_BASE_SHIFT[dominant] * np.log(dominance) / np.log(3.0)


@dataclass(frozen=True)
class Calendar:
    """The simulated months: ``PRE_MONTHS`` of history, then the ``months`` reported ones.

    ``month_start[k]`` is the first day (days since epoch) of simulated month ``k``;
    ``month_start[k + 1]`` is the cutoff of its snapshot. Month ``pre`` is the first reported.
    """

    origin: np.datetime64  # first simulated month (datetime64[M])
    pre: int
    months: int
    month_start: np.ndarray

    @classmethod
    def make(cls, start: str, months: int, pre: int = PRE_MONTHS) -> Calendar:
        origin = np.datetime64(start, "M") - pre
        edges = (origin + np.arange(pre + months + 1)).astype("datetime64[D]")
        return cls(origin, pre, months, edges.astype(np.int64))

    @property
    def n_months(self) -> int:
        return self.pre + self.months

    @property
    def data_end_day(self) -> int:
        """The first day after the data: the cutoff of the last reported month."""
        return int(self.month_start[-1])

    def label(self, k: int) -> str:
        """'YYYY-MM' of simulated month ``k``."""
        return str(self.origin + k)

    def standard_prices(self) -> np.ndarray:
        """List price of each plan (rows) in each simulated month (columns), in cents-exact
        floats: the base price times every change that took effect by then."""
        k = np.arange(self.n_months)
        prices = np.repeat(PLAN_PRICE[:, None], self.n_months, axis=1)
        for plan, offset, factor in PRICE_CHANGES:
            prices[plan, k >= self.pre + offset] *= factor
        return np.round(prices, 2)
