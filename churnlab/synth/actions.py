"""Retention actions of the synthetic business and their true effect (``synth --actions``).

At the end of every reported month the business ranks its customers by a noisy view of their
true risk, targets the riskiest :data:`~churnlab.synth.params.ACTION_TARGET_SHARE` of them
(not those targeted in the last few months), gives each one action drawn at random and holds
a random :data:`~churnlab.synth.params.ACTION_HOLDOUT` of them out (group ``control``). The
action is sent on the first day of the next month, after the snapshot's cutoff, so the
snapshot never sees it. A treated customer's log-odds of churning that month drop by the
action's relief of the causes it touches (:class:`~churnlab.synth.params.Action`); a held-out
customer keeps the untreated probability. The truth records, for every targeted customer, the
effect the assigned action has (or would have had) on their churn probability.

Everything is drawn from a generator of its own per block, so the base world's draws do not
depend on whether actions are on; only the churn of treated customers (and what follows from
it) changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab.synth import params as P

#: stream of the action draws within a block's seed sequence (the base world uses (b,))
STREAM = 1


def relief_matrix(actions: tuple[P.Action, ...] = P.ACTIONS) -> np.ndarray:
    """(actions x families): the share of each family's positive contribution removed."""
    out = np.zeros((len(actions), len(P.FAMILIES)))
    for i, action in enumerate(actions):
        for family, share in action.relief:
            out[i, P.FAMILIES.index(family)] = share
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def effects(logit: np.ndarray, contrib: np.ndarray, relief: np.ndarray) -> np.ndarray:
    """The true effect of each action on each row's churn probability (rows x actions).

    ``logit`` is the untreated log-odds, ``contrib`` the (scaled) family contributions;
    treated log-odds = logit - sum over families of relief x max(contribution, 0). Effects
    are <= 0: an action never raises churn, and one that touches none of a customer's
    causes has effect 0.
    """
    relieved = np.maximum(contrib, 0.0) @ relief.T
    return _sigmoid(logit[:, None] - relieved) - _sigmoid(logit)[:, None]


def true_effects(truth: pd.DataFrame, actions: tuple[P.Action, ...] = P.ACTIONS) -> pd.DataFrame:
    """Every action's true effect for every row of a truth table (``effect_<action>``).

    The effect is computed from the row's base log-odds and contributions, so it is known for
    every customer and snapshot, targeted or not: what that action, sent at the start of the
    next month, would change in the probability of churning in it.
    """
    contrib = truth[[f"contrib_{f}" for f in P.FAMILIES]].to_numpy(float)
    logit = truth["base_logit"].to_numpy(float) + contrib.sum(axis=1)
    values = effects(logit, contrib, relief_matrix(actions))
    return pd.DataFrame(values, columns=[f"effect_{a.name}" for a in actions], index=truth.index)


@dataclass
class Targeting:
    """The business's memory across months: when each customer of the block was last targeted."""

    last: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Targeting:
        return cls(np.full(n, -(10**6), dtype=np.int64))


def target(
    rng: np.random.Generator,
    memory: Targeting,
    pop: np.ndarray,
    k: int,
    logit: np.ndarray,
    contrib: np.ndarray,
    sent_day: int,
) -> dict[str, np.ndarray]:
    """Month ``k``'s targeted customers (positions into ``pop``), their action, group, effect
    and the instant the action was sent (ms: during the first day after the cutoff)."""
    noisy = logit + rng.normal(0.0, P.ACTION_RISK_NOISE, len(pop))
    eligible = np.flatnonzero(k - memory.last[pop] >= P.ACTION_COOLDOWN)
    n = min(int(round(P.ACTION_TARGET_SHARE * len(pop))), len(eligible))
    order = np.argsort(-noisy[eligible], kind="stable")[:n]
    pos = np.sort(eligible[order])
    action = rng.integers(0, len(P.ACTIONS), len(pos))
    control = rng.random(len(pos)) < P.ACTION_HOLDOUT
    sent = sent_day * P.MS_PER_DAY + rng.integers(8 * 3_600_000, 18 * 3_600_000, len(pos))
    effect = effects(logit[pos], contrib[pos], relief_matrix())[np.arange(len(pos)), action]
    memory.last[pop[pos]] = k
    return {"pos": pos, "action": action, "control": control, "sent": sent, "effect": effect}
