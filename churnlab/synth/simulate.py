"""The month-by-month simulation of one block of customers.

Each simulated month first generates the month's events for every customer present in it
(billing period, usage days, tickets, survey answers), updating a running state of what is
known; at the month's end it measures each customer's signals from that state (only data
dated before the cutoff), turns them into the true hazard (:mod:`churnlab.synth.drivers`)
and draws who churns in the following month and on which day. Disengagement is a latent
state that lowers usage *before* a cutoff; it raises the hazard only through the usage the
customer left, so the truth never peeks at the future. With actions on, the business then
targets retention actions at some of the riskiest customers (:mod:`churnlab.synth.actions`),
which change the churn probability of the treated ones for the next month. Everything is
vectorised over the block; the only Python loop runs over months.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from churnlab.synth import actions, drivers
from churnlab.synth import params as P
from churnlab.synth.population import Customers

MS = P.MS_PER_DAY


@dataclass
class State:
    """What the simulation knows about each customer of the block so far."""

    n: int
    churn: np.ndarray = field(init=False)  # day of churn, NEVER_DAY while a customer
    onset: np.ndarray = field(init=False)  # day disengagement began, NEVER_DAY when engaged
    window: np.ndarray = field(init=False)  # active flags of the 64 days before the cutoff
    last_active: np.ndarray = field(init=False)  # last active day, -1 when never
    amounts: np.ndarray = field(init=False)  # amounts of the last 4 billing periods
    periods: np.ndarray = field(init=False)
    last_discount: np.ndarray = field(init=False)
    discount_end: np.ndarray = field(init=False)  # day a discount ended, far past when never
    last_list: np.ndarray = field(init=False)
    last_standard: np.ndarray = field(init=False)
    unpaid: np.ndarray = field(init=False)  # unpaid flags of the last 3 periods
    last_score: np.ndarray = field(init=False)
    raw_contrib: np.ndarray = field(init=False)  # unscaled contributions at the last snapshot
    tickets: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        n = self.n
        self.churn = np.full(n, P.NEVER_DAY, dtype=np.int64)
        self.onset = np.full(n, P.NEVER_DAY, dtype=np.int64)
        self.window = np.zeros((n, P.ACTIVITY_WINDOW), dtype=bool)
        self.last_active = np.full(n, -1, dtype=np.int64)
        self.amounts = np.zeros((n, 4))
        self.periods = np.zeros(n, dtype=np.int64)
        self.last_discount = np.zeros(n)
        self.discount_end = np.full(n, -P.NEVER_DAY, dtype=np.int64)
        self.last_list = np.ones(n)
        self.last_standard = np.ones(n)
        self.unpaid = np.zeros((n, 3), dtype=np.int64)
        self.last_score = np.full(n, np.nan)
        self.raw_contrib = np.zeros((n, len(P.FAMILIES)))
        self.tickets = {k: np.zeros(0, dtype=np.int64) for k in ("cust", "opened", "resolved")}
        self.tickets["csat"] = np.zeros(0)
        self.tickets["escalated"] = np.zeros(0, dtype=bool)


@dataclass
class Month:
    """The customers present in simulated month ``k`` and the days each is present."""

    k: int
    start: int  # first day of the month
    days: int
    idx: np.ndarray  # block positions of the customers present
    lo: np.ndarray  # first present day (signup or month start)
    hi: np.ndarray  # first day no longer present (churn or next month start)


def _disengage(rng: np.random.Generator, c: Customers, s: State, m: Month) -> None:
    """Month-start transitions of the latent disengagement state of established customers:
    engaged customers start fading on a random day, fading ones may recover."""
    u = rng.random(len(m.idx))
    onset_day = m.start + rng.integers(0, m.days, len(m.idx))
    old = c.signup[m.idx] < m.start
    engaged = s.onset[m.idx] == P.NEVER_DAY
    start = old & engaged & (u < c.disengage_p[m.idx])
    recover = old & ~engaged & (u < P.RECOVER_P)
    s.onset[m.idx[start]] = onset_day[start]
    s.onset[m.idx[recover]] = P.NEVER_DAY


def _usage(rng: np.random.Generator, c: Customers, s: State, m: Month) -> dict[str, np.ndarray]:
    """Active days of the month (a Bernoulli draw per present day, thinned by the decay of a
    disengaging customer) with sessions and minutes; updates the activity window."""
    day = m.start + np.arange(m.days)
    valid = (day >= m.lo[:, None]) & (day < m.hi[:, None])
    since = np.clip(day[None, :] - s.onset[m.idx][:, None].astype(np.float64), 0.0, None)
    fading = day[None, :] >= s.onset[m.idx][:, None]
    mult = np.where(fading, np.maximum(np.exp(-since / P.DECAY_DAYS), P.DECAY_FLOOR), 1.0)
    draw = rng.random((len(m.idx), m.days), dtype=np.float32)
    active = (draw < c.active_p[m.idx][:, None] * mult) & valid
    row, col = np.nonzero(active)
    cust = m.idx[row]
    sessions = 1 + rng.poisson(c.sessions_mean[cust] * mult[row, col])
    minutes = np.round(sessions * rng.gamma(2.0, c.minutes_mean[cust] / 2.0), 1)

    month_flags = np.zeros((s.n, m.days), dtype=bool)
    month_flags[m.idx] = active
    s.window = np.concatenate([s.window[:, m.days :], month_flags], axis=1)
    any_active = active.any(axis=1)
    last = m.start + m.days - 1 - np.argmax(active[:, ::-1], axis=1)
    s.last_active[m.idx[any_active]] = last[any_active]
    return {"cust": cust, "day": m.start + col, "sessions": sessions, "minutes": minutes}


def _tickets(rng: np.random.Generator, c: Customers, s: State, m: Month) -> dict[str, np.ndarray]:
    """Tickets opened in the month: Poisson counts per present day, a long-tailed resolution
    time (longer when escalated, a few never resolved) and a CSAT answer at resolution that
    is lower after slow or escalated handling."""
    count = rng.poisson(c.ticket_rate[m.idx] * (m.hi - m.lo) / 30.44)
    rep = np.repeat(np.arange(len(m.idx)), count)
    cust = m.idx[rep]
    opened = m.lo[rep] * MS + rng.integers(0, (m.hi - m.lo)[rep] * MS)
    escalated = rng.random(len(cust)) < P.ESCALATION_P
    hours = np.exp(rng.normal(np.log(P.RESOLUTION_MEDIAN_HOURS), P.RESOLUTION_LOG_SD, len(cust)))
    hours = hours * np.where(escalated, 3.0, 1.0)
    never = rng.random(len(cust)) < P.NEVER_RESOLVED_P
    resolved = np.where(never, P.NEVER_MS, opened + (hours * 3_600_000).astype(np.int64))
    rated = (rng.random(len(cust)) < P.CSAT_RESPONSE_P) & ~never
    raw = 4.5 - 0.5 * np.log1p(hours / 24) - 0.7 * escalated + 0.35 * c.satisfaction[cust]
    csat = np.clip(np.rint(raw + rng.normal(0.0, 0.8, len(cust))), 1, 5)
    csat = np.where(rated, csat, np.nan)
    category = rng.choice(len(P.TICKET_CATEGORIES), size=len(cust), p=P.TICKET_CATEGORY_P)
    new = {"cust": cust, "opened": opened, "resolved": resolved, "csat": csat}
    new["escalated"] = escalated
    s.tickets = {k: np.concatenate([s.tickets[k], v]) for k, v in new.items()}
    return {**new, "category": category}


def _feedback(rng: np.random.Generator, c: Customers, s: State, m: Month) -> dict[str, np.ndarray]:
    """NPS answers: a few customers each month, more in the month after signup. The score
    follows satisfaction, the price and support pain of the last snapshot and a fading
    customer's mood; detractors comment more often, about what hurts them most."""
    p = np.where(c.signup_month[m.idx] == m.k - 1, P.SURVEY_AFTER_SIGNUP_P, P.SURVEY_P)
    answer = (rng.random(len(m.idx)) < p) & (m.hi > m.lo)
    pos = np.nonzero(answer)[0]
    cust = m.idx[pos]
    at = m.lo[pos] * MS + rng.integers(0, (m.hi - m.lo)[pos] * MS)
    prev = s.raw_contrib[cust]
    pain = np.maximum(prev[:, 0], 0) + np.maximum(prev[:, 1], 0)
    fading = s.onset[cust] <= m.start
    raw = 7.6 + 1.3 * c.satisfaction[cust] - 0.9 * pain - 1.2 * fading
    score = np.clip(np.rint(raw + rng.normal(0.0, 1.3, len(cust))), 0, 10)
    detractor = score <= 6
    has_comment = rng.random(len(cust)) < np.where(
        detractor, P.COMMENT_P_DETRACTOR, P.COMMENT_P_OTHER
    )
    variant = rng.integers(0, 6, len(cust))
    theme = np.argmax(prev[:, :4], axis=1)
    n_det = 2 * len(P.COMMENTS_DETRACTOR)
    comment = np.where(
        detractor,
        2 * theme + variant % 2,
        n_det + np.where(score >= 9, len(P.COMMENTS_PASSIVE), 0) + variant % 3,
    )
    comment = np.where(has_comment, comment, -1)
    s.last_score[cust] = score
    return {"cust": cust, "at": at, "score": score, "comment": comment}


def _billing(
    rng: np.random.Generator, c: Customers, s: State, m: Month, standard: np.ndarray
) -> dict[str, np.ndarray]:
    """One billing period per present customer on their billing day (the signup day in the
    signup month): list price = the plan's standard price times the negotiated factor,
    an introductory discount for the first months, occasionally unpaid."""
    new = c.signup_month[m.idx] == m.k
    day = np.where(new, c.signup[m.idx], m.start + c.bill_day[m.idx] - 1)
    billed = day < m.hi
    pos = np.nonzero(billed)[0]
    cust = m.idx[pos]
    std = standard[c.plan[cust], m.k]
    list_price = np.round(std * c.price_factor[cust], 2)
    intro = (m.k - c.signup_month[cust]) < c.intro_months[cust]
    discount = np.where(intro, np.round(list_price * c.intro_rate[cust], 2), 0.0)
    amount = np.round(list_price - discount, 2)
    paid = rng.random(len(cust)) >= c.unpaid_p[cust]

    s.amounts[cust] = np.concatenate([s.amounts[cust, 1:], amount[:, None]], axis=1)
    s.periods[cust] += 1
    ended = (discount == 0) & (s.last_discount[cust] > 0)
    s.discount_end[cust[ended]] = day[pos][ended]
    s.last_discount[cust] = discount
    s.last_list[cust] = list_price
    s.last_standard[cust] = std
    s.unpaid[cust] = np.concatenate([s.unpaid[cust, 1:], (~paid)[:, None]], axis=1)
    return {
        "cust": cust,
        "day": day[pos],
        "plan": c.plan[cust],
        "list_price": list_price,
        "discount": discount,
        "amount": amount,
        "paid": paid,
    }


def _last_csat(t: dict[str, np.ndarray], n: int, cutoff_ms: int) -> np.ndarray:
    """Per customer: CSAT of the ticket resolved last among those rated and resolved in the
    180 days before the cutoff (NaN when none)."""
    ok = (
        (t["resolved"] < cutoff_ms) & (t["resolved"] >= cutoff_ms - 180 * MS) & ~np.isnan(t["csat"])
    )
    cust, resolved, csat = t["cust"][ok], t["resolved"][ok], t["csat"][ok]
    order = np.lexsort((resolved, cust))
    cust, csat = cust[order], csat[order]
    last = np.r_[cust[1:] != cust[:-1], True] if len(cust) else np.zeros(0, dtype=bool)
    out = np.full(n, np.nan)
    out[cust[last]] = csat[last]
    return out


def signals_contributions(c: Customers, s: State, pop: np.ndarray, cutoff: int) -> np.ndarray:
    """Unscaled contributions (rows: ``pop``, columns: FAMILIES) at a cutoff day, from the
    signals known before it."""
    cutoff_ms = cutoff * MS
    tenure = (cutoff - c.signup[pop]).astype(np.float64)
    t = s.tickets

    def per_customer(mask: np.ndarray) -> np.ndarray:
        return np.bincount(t["cust"][mask], minlength=s.n)[pop]

    open_now = per_customer((t["opened"] < cutoff_ms) & (t["resolved"] >= cutoff_ms))
    recent = per_customer(t["opened"] >= cutoff_ms - 30 * MS)
    escalated = per_customer(t["escalated"] & (t["opened"] >= cutoff_ms - 90 * MS))
    first, last = s.amounts[pop, 0], s.amounts[pop, 3]
    full = s.periods[pop] >= 4
    rise = np.divide(last, first, out=np.ones(len(pop)), where=full & (first > 0)) - 1.0
    shares = drivers.onboarding_shares(c.step_offset[pop], c.signup[pop] * MS, cutoff_ms)
    w = s.window[pop]
    since = np.where(s.last_active[pop] >= 0, cutoff - s.last_active[pop], tenure)
    return np.column_stack(
        [
            drivers.price(
                rise,
                s.discount_end[pop] >= cutoff - 90,
                s.last_list[pop] / s.last_standard[pop],
                s.unpaid[pop].sum(axis=1),
            ),
            drivers.support(open_now, recent, escalated, _last_csat(t, s.n, cutoff_ms)[pop]),
            drivers.onboarding(*shares, tenure),
            drivers.engagement(w[:, -30:].sum(axis=1), w[:, -60:-30].sum(axis=1), since, tenure),
            drivers.voice_of_customer(s.last_score[pop]),
            drivers.profile(c.plan[pop], c.segment[pop], c.channel[pop], tenure),
        ]
    )


def simulate_block(
    rng: np.random.Generator,
    c: Customers,
    cal: P.Calendar,
    scales: np.ndarray,
    base: float,
    action_rng: np.random.Generator | None = None,
) -> tuple[State, dict[str, dict[str, np.ndarray]]]:
    """Run every simulated month for one block; returns the final state (churn days) and
    the events per table as arrays of block positions, days/ms and values, plus ``truth``.

    With ``action_rng``, the business also targets retention actions at the end of every
    reported month but the last (:mod:`churnlab.synth.actions`), drawn from that generator;
    a treated customer then churns with the treated probability."""
    s = State(c.n)
    standard = cal.standard_prices()
    names = ("usage", "tickets", "feedback", "billing", "truth")
    names += ("actions",) if action_rng is not None else ()
    events: dict[str, list[dict[str, np.ndarray]]] = {k: [] for k in names}
    memory = actions.Targeting.empty(c.n)
    for k in range(cal.n_months):
        start, end = int(cal.month_start[k]), int(cal.month_start[k + 1])
        idx = np.nonzero((c.signup < end) & (s.churn > start))[0]
        lo = np.maximum(c.signup[idx], start)
        m = Month(k, start, end - start, idx, lo, np.minimum(s.churn[idx], end))
        _disengage(rng, c, s, m)
        events["usage"].append(_usage(rng, c, s, m))
        events["tickets"].append(_tickets(rng, c, s, m))
        events["feedback"].append(_feedback(rng, c, s, m))
        events["billing"].append(_billing(rng, c, s, m, standard))

        pop = np.nonzero((c.signup < end) & (s.churn >= end))[0]
        raw = signals_contributions(c, s, pop, end)
        s.raw_contrib[pop] = raw
        contrib = raw * scales
        logit = base + contrib.sum(axis=1)
        prob = 1.0 / (1.0 + np.exp(-logit))
        realised = prob
        truth = {
            "cust": pop,
            "month": np.full(len(pop), k),
            "prob": prob,
            "base": np.full(len(pop), base),
            "contrib": contrib,
        }
        if k >= cal.pre:
            if action_rng is not None:
                realised, acted, sent = _act(action_rng, memory, pop, k, logit, contrib, prob, cal)
                truth |= acted
                events["actions"].append(sent)
            events["truth"].append(truth)
        if k + 1 < cal.n_months:  # the month after the data is never drawn
            churned = pop[rng.random(len(pop)) < realised]
            next_days = int(cal.month_start[k + 2]) - end
            s.churn[churned] = end + rng.integers(0, next_days, len(churned))
    merged = {
        name: {key: np.concatenate([e[key] for e in parts]) for key in parts[0]}
        for name, parts in events.items()
        if parts
    }
    return s, merged


def _act(
    rng: np.random.Generator,
    memory: actions.Targeting,
    pop: np.ndarray,
    k: int,
    logit: np.ndarray,
    contrib: np.ndarray,
    prob: np.ndarray,
    cal: P.Calendar,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Month ``k``'s actions: the realised churn probability of ``pop``; aligned with it, each
    customer's action code (-1 = not targeted), group and true effect for the truth; and the
    rows of the actions table. The last month's actions would be sent after the data's end:
    nobody is targeted then."""
    code = np.full(len(pop), -1, dtype=np.int64)
    control = np.zeros(len(pop), dtype=bool)
    effect = np.full(len(pop), np.nan)
    pos = np.zeros(0, dtype=np.int64)
    sent = np.zeros(0, dtype=np.int64)
    realised = prob
    if k + 1 < cal.n_months:
        hit = actions.target(rng, memory, pop, k, logit, contrib, int(cal.month_start[k + 1]))
        pos, sent = hit["pos"], hit["sent"]
        code[pos], control[pos], effect[pos] = hit["action"], hit["control"], hit["effect"]
        treated = pos[~hit["control"]]
        realised = prob.copy()
        realised[treated] += effect[treated]
    acted = {"action": code, "control": control, "effect": effect}
    rows = {"cust": pop[pos], "sent": sent, **{key: v[pos] for key, v in acted.items()}}
    return realised, acted, rows
