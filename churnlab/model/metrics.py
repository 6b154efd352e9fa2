"""Model quality and campaign value: ROC-AUC, PR-AUC, Brier, lift, gains, calibration, profit.

Every metric takes the true outcomes ``y`` (1 churned, 0 stayed) and the predicted churn
probabilities ``p``. A metric that is undefined for the data at hand (no rows, or only one
outcome, as in a month where nobody churned) returns ``None`` rather than a crash or a made-up
number; :func:`undefined_reason` says why in words, for reports.

Campaign value follows the expected-maximum-profit idea of Verbraken, Verbeke and Baesens
(2013), also implemented in the package ``emp-py``: contacting a customer costs ``f`` (contact
cost); a contacted churner accepts the retention offer with probability ``gamma`` (acceptance
rate) and is then kept, worth ``CLV - d`` (the offer costs ``d``); a contacted customer who
would have stayed takes the offer anyway and costs ``d + f``. The profit of contacting the
top-k customers by risk is therefore

    profit(k) = sum over the top k of  q_i * (gamma * (CLV_i - d) - f)  -  (1 - q_i) * (d + f)

with ``q_i`` the outcome (backtest) or the calibrated probability (forward). Where Verbraken
integrates over a Beta distribution of ``gamma`` (mean 0.3 for Beta(6, 14)), we use that mean
as the default acceptance rate and show the whole curve, so a team can read the best k.
Defaults: contact cost 1, offer cost 10, acceptance 0.3 (the EMP package's defaults), and a
customer's value = monthly amount x 12 months (200 when no amount is known, the EMP default
CLV).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

CONTACT_COST = 1.0
OFFER_COST = 10.0
ACCEPTANCE_RATE = 0.3
MONTHS_OF_VALUE = 12
DEFAULT_CLV = 200.0


def _arrays(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    keep = ~(np.isnan(y) | np.isnan(p))
    return y[keep], p[keep]


def undefined_reason(y) -> str | None:
    """Why ranking metrics cannot be computed on outcomes ``y``, or None when they can."""
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    if len(y) == 0:
        return "there are no labelled rows to evaluate"
    if y.sum() == 0:
        return f"nobody churned among the {len(y)} evaluated customers"
    if y.sum() == len(y):
        return f"every one of the {len(y)} evaluated customers churned"
    return None


def roc_auc(y, p) -> float | None:
    """Area under the ROC curve, or None with one outcome only."""
    y, p = _arrays(y, p)
    return None if undefined_reason(y) else float(roc_auc_score(y, p))


def pr_auc(y, p) -> float | None:
    """Area under the precision-recall curve (average precision), or None."""
    y, p = _arrays(y, p)
    return None if undefined_reason(y) else float(average_precision_score(y, p))


def brier(y, p) -> float | None:
    """Mean squared error of the probabilities; defined with one outcome, None when empty."""
    y, p = _arrays(y, p)
    return None if len(y) == 0 else float(np.mean((p - y) ** 2))


def _order(p: np.ndarray) -> np.ndarray:
    """Row order by risk, riskiest first; ties keep the input order (deterministic)."""
    return np.argsort(-p, kind="stable")


def lift_top_decile(y, p) -> float | None:
    """Churn rate among the 10 % riskiest (at least one row) over the overall churn rate."""
    y, p = _arrays(y, p)
    if undefined_reason(y):
        return None
    top = max(1, int(np.ceil(len(y) / 10)))
    return float(y[_order(p)[:top]].mean() / y.mean())


def gains_table(y, p, bins: int = 10) -> pd.DataFrame:
    """Cumulative gains and lift by risk bucket (equal-sized buckets, riskiest first).

    Columns: ``bucket`` (1 = riskiest), ``customers``, ``churners``, ``share_contacted``,
    ``cum_churners``, ``gain`` (share of all churners found so far) and ``lift`` (gain over
    share contacted). Empty when there are no rows; gain and lift are NaN without churners.
    """
    y, p = _arrays(y, p)
    cols = ["bucket", "customers", "churners", "share_contacted", "cum_churners", "gain", "lift"]
    if len(y) == 0:
        return pd.DataFrame(columns=cols)
    parts = np.array_split(y[_order(p)], min(bins, len(y)))
    frame = pd.DataFrame(
        {
            "bucket": np.arange(1, len(parts) + 1),
            "customers": [len(a) for a in parts],
            "churners": [float(a.sum()) for a in parts],
        }
    )
    frame["share_contacted"] = frame["customers"].cumsum() / len(y)
    frame["cum_churners"] = frame["churners"].cumsum()
    total = y.sum()
    frame["gain"] = frame["cum_churners"] / total if total else np.nan
    frame["lift"] = frame["gain"] / frame["share_contacted"]
    return frame[cols]


def calibration_table(y, p, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability vs observed churn rate in equal-sized buckets of risk.

    Equal-count buckets (not fixed-width ones) because with 2-5 % churn almost every
    prediction falls in the first tenth of [0, 1]. Columns: ``bin`` (1 = lowest risk),
    ``mean_predicted``, ``observed_rate``, ``count``.
    """
    y, p = _arrays(y, p)
    if len(y) == 0:
        return pd.DataFrame(columns=["bin", "mean_predicted", "observed_rate", "count"])
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, min(bins, len(y)))
    return pd.DataFrame(
        {
            "bin": np.arange(1, len(parts) + 1),
            "mean_predicted": [float(p[i].mean()) for i in parts],
            "observed_rate": [float(y[i].mean()) for i in parts],
            "count": [len(i) for i in parts],
        }
    )


def customer_value(
    monthly: np.ndarray | pd.Series | None, n: int, months: int = MONTHS_OF_VALUE
) -> np.ndarray:
    """Value of keeping each customer: monthly amount x ``months`` (DEFAULT_CLV if unknown)."""
    if monthly is None:
        return np.full(n, DEFAULT_CLV)
    values = np.asarray(pd.to_numeric(pd.Series(monthly), errors="coerce"), dtype=float) * months
    return np.where(np.isnan(values), DEFAULT_CLV, values)


def campaign_profit(
    q,
    p,
    clv,
    contact_cost: float = CONTACT_COST,
    offer_cost: float = OFFER_COST,
    acceptance_rate: float = ACCEPTANCE_RATE,
) -> pd.DataFrame:
    """Expected profit of contacting the top-k customers by risk ``p``, for k = 0..n.

    ``q`` is each customer's outcome (backtest) or churn probability (forward scoring),
    ``clv`` the value of keeping each one (see :func:`customer_value`). Columns: ``k``,
    ``share_contacted``, ``profit`` (row k = 0 is the no-campaign baseline, profit 0).
    """
    q = np.asarray(q, dtype=float)
    p = np.asarray(p, dtype=float)
    clv = np.asarray(clv, dtype=float)
    order = _order(p)
    q, clv = q[order], clv[order]
    gain = q * (acceptance_rate * (clv - offer_cost) - contact_cost)
    loss = (1.0 - q) * (offer_cost + contact_cost)
    profit = np.concatenate([[0.0], np.cumsum(gain - loss)])
    k = np.arange(len(profit))
    return pd.DataFrame({"k": k, "share_contacted": k / max(len(q), 1), "profit": profit})


def best_k(profit: pd.DataFrame) -> dict:
    """The k with the highest profit (the smallest such k on ties) and that profit."""
    row = profit.loc[profit["profit"].idxmax()] if len(profit) else None
    if row is None:
        return {"k": 0, "share_contacted": 0.0, "profit": 0.0}
    return {
        "k": int(row["k"]),
        "share_contacted": float(row["share_contacted"]),
        "profit": float(row["profit"]),
    }


def backtest_metrics(y, p) -> dict:
    """The backtest block: roc_auc, pr_auc, brier, lift_top_decile, n, positives, reason.

    Values are None when undefined, and ``reason`` then says why (None otherwise).
    """
    ya, pa = _arrays(y, p)
    return {
        "roc_auc": roc_auc(ya, pa),
        "pr_auc": pr_auc(ya, pa),
        "brier": brier(ya, pa),
        "lift_top_decile": lift_top_decile(ya, pa),
        "n": int(len(ya)),
        "positives": int(ya.sum()),
        "reason": undefined_reason(ya),
    }
