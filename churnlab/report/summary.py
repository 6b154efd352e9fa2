"""The report's summary: what happened, what comes next, why, what to do, and how sure we are.

:func:`summarize` turns the month's analysis results (:class:`Findings`) into a
:class:`Summary`: a few headline figures and one short paragraph per topic, in words an
analyst can forward. Each topic is one small function ``Findings -> Point | None`` listed in
:data:`TOPICS`; a new section of the report (say, time to churn) adds a field to
:class:`Findings` and a function to :data:`TOPICS`, and the summary picks it up. Nothing here
computes a churn figure: the numbers come from kpis, monthly, model_quality and the analysis;
here they are compared and put into sentences (through the one number formatter,
:func:`churnlab.report.views.fmt`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from churnlab.core.families import family as driver_family
from churnlab.core.months import shift_month
from churnlab.features.registry import feature_label, feature_spec
from churnlab.report.model_quality import Z95, QualityCheck
from churnlab.report.views import fmt, month_name

#: a family's share of the explanation must move this much (in share points) to be named
SHARE_MOVE = 0.02


@dataclass(frozen=True)
class Findings:
    """The month's analysis results that the summary reads (all computed elsewhere).

    ``kpis`` is :func:`churnlab.report.kpis.kpis`; ``outlook`` is
    :func:`churnlab.report.monthly.outlook` of the scores; ``shares`` and ``previous_shares``
    the family shares of this month and last (same model); ``drivers`` the feature drivers
    (columns family, feature, share, direction); ``best_k`` and ``backtest_best_k`` the
    campaign blocks of metrics.json; ``quality`` the backtest check; ``backtest_month`` the
    snapshot it scored; ``drifted`` the features whose PSI is above the flag;
    ``features`` how many there are; ``actions`` the suggested action of each customer in the
    recommended campaign; ``data_warnings`` how many warnings reading the data raised;
    ``survival`` the time-to-churn block of metrics.json (``metrics['survival']``) and
    ``measured_actions`` its retention-actions block (``metrics['actions']``), None when the
    report has none.
    """

    month: str
    horizon: int
    kpis: dict
    outlook: dict
    shares: dict[str, float]
    previous_shares: dict[str, float]
    drivers: pd.DataFrame
    best_k: dict
    quality: QualityCheck
    backtest_month: str | None = None
    backtest_best_k: dict | None = None
    drifted: list[str] = field(default_factory=list)
    features: int = 0
    actions: list[str] = field(default_factory=list)
    data_warnings: int = 0
    currency: str = ""
    survival: dict | None = None
    measured_actions: dict | None = None


@dataclass(frozen=True)
class Figure:
    """A headline figure: what it is, its value, and a short line under it."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Point:
    """One topic of the summary: its name and a few sentences; ``alert`` marks a warning."""

    topic: str
    text: str
    alert: bool = False


@dataclass(frozen=True)
class Summary:
    """The summary of a report: headline figures and one point per topic."""

    figures: list[Figure]
    points: list[Point]


def _next_period(month: str, horizon: int) -> str:
    first = shift_month(month, 1)
    if horizon == 1:
        return month_name(first)
    return f"the next {horizon} months ({month_name(first)} to {month_name(shift_month(month, horizon))})"


def _versus(rate: float | None, average: float | None, n: int | None, months: int) -> str:
    """How a churn rate compares with its average, beyond the binomial noise of ``n``."""
    if rate is None or average is None or not n or not months:
        return ""
    noise = Z95 * math.sqrt(max(average * (1 - average), 0.0) / n)
    if abs(rate - average) <= noise:
        words = "in line with"
    else:
        words = "above" if rate > average else "below"
    return f"{words} the {months}-month average of {fmt(average, 'rate')}"


def this_month(f: Findings) -> Point | None:
    """How many customers left in the report month, against the months before."""
    now, k = f.kpis["current"], f.kpis
    if now["churned"] is None:
        return None
    text = (
        f"{fmt(now['churned'], 'count')} of the {fmt(now['active_customers'], 'count')} "
        f"customers active at the start of {month_name(f.month)} left during it "
        f"({fmt(now['churn_rate'], 'rate')})"
    )
    versus = _versus(
        now["churn_rate"],
        k["average_12m"]["churn_rate"],
        now["active_customers"],
        k["months_in_average"],
    )
    if versus:
        text += f", {versus}"
    if now["revenue_lost"] is not None:
        text += f". They paid {fmt(now['revenue_lost'], 'money', f.currency)} a month together"
    return Point("This month", text + ".")


def outlook(f: Findings) -> Point | None:
    """How many customers the model expects to leave next, and the revenue at risk."""
    o = f.outlook
    if not o["customers"]:
        return None
    text = (
        f"The model expects about {fmt(o['expected_churners'], 'count')} of the "
        f"{fmt(o['customers'], 'count')} current customers to leave in "
        f"{_next_period(f.month, f.horizon)} ({fmt(o['expected_rate'], 'rate')}; likely "
        f"between {fmt(o['low'], 'count')} and {fmt(o['high'], 'count')})"
    )
    if o["revenue_at_risk"] is not None:
        text += (
            f", with {fmt(o['revenue_at_risk'], 'money', f.currency)} of monthly revenue at risk"
        )
    return Point("Next month" if f.horizon == 1 else "Outlook", text + ".")


def retention(f: Findings) -> Point | None:
    """How long the current customers are expected to stay, what churn costs over a year, and
    how far the same forecast made six months ago was from what happened."""
    s = f.survival or {}
    if not s.get("available") or "scored" not in s:
        return None
    scored = s["scored"]
    if scored.get("expected_months_12m") is not None:
        text = (
            f"Over the next 12 months a current customer is expected to stay "
            f"{scored['expected_months_12m']:.1f} months on average, and "
            f"{fmt(scored['p_retained_12m'], 'share')} of them to still be customers after 12 "
            "months"
        )
    else:  # the data closes too few months to look a year ahead: say the furthest it can
        ahead = [k for k in (6, 3) if scored.get(f"p_retained_{k}m") is not None]
        if not ahead:
            return None
        text = (
            f"{fmt(scored[f'p_retained_{ahead[0]}m'], 'share')} of the current customers are "
            f"expected to still be customers in {ahead[0]} months (the data is too short to "
            "look 12 months ahead)"
        )
    if scored.get("revenue_at_risk_12m") is not None:
        text += (
            f"; churn is expected to cost {fmt(scored['revenue_at_risk_12m'], 'money', f.currency)}"
            " of revenue over that year"
        )
    back = s.get("backtest") or {}
    if back.get("max_gap_pp") is not None:
        text += (
            f". The same forecast made in {month_name(back['snapshot'])} was at most "
            f"{back['max_gap_pp']:.1f} percentage points off the retention that followed"
        )
    return Point("How long they stay", text + ".")


def drivers(f: Findings) -> Point | None:
    """Which driver families explain the risk, and which of them moved since last month."""
    if not f.shares:
        return None
    top = list(f.shares.items())[:2]
    named = " and ".join(f"{driver_family(n).title} ({fmt(s, 'share')})" for n, s in top)
    text = f"{named[0].upper()}{named[1:]} explain most of the risk"
    if len(f.drivers):
        first = f.drivers.iloc[0]
        text += f"; the strongest single signal is {feature_label(first['feature']).lower()}"
    before = month_name(shift_month(f.month, -1))
    if f.previous_shares:
        moved = [
            (name, f.previous_shares.get(name, 0.0), share)
            for name, share in f.shares.items()
            if abs(share - f.previous_shares.get(name, 0.0)) >= SHARE_MOVE
        ]
        if moved:
            parts = [
                f"{driver_family(n).title} {'rose' if b > a else 'fell'} from "
                f"{fmt(a, 'share')} to {fmt(b, 'share')}"
                for n, a, b in moved
            ]
            text += f". Since {before}, " + ", ".join(parts)
        else:
            text += (
                f". No family's share moved by {fmt(SHARE_MOVE * 100, 'count')} points or "
                f"more since {before}"
            )
    return Point("Why", text + ".")


def campaign(f: Findings) -> Point | None:
    """The retention campaign worth running: how many customers, and its expected profit."""
    k, profit = f.best_k.get("k", 0), f.best_k.get("profit", 0.0)
    if not k:
        return Point(
            "What to do",
            "No retention campaign is expected to pay off at the assumed costs: keep watching "
            "the customers at risk below.",
        )
    text = (
        f"Contact the {fmt(k, 'count')} riskiest customers "
        f"({fmt(f.best_k['share_contacted'], 'share')} of the current customers) with a "
        f"retention offer: expected profit {fmt(profit, 'money', f.currency)}"
    )
    if f.actions:
        counts = pd.Series(f.actions).replace("", pd.NA).dropna().value_counts()
        if len(counts):
            text += (
                f". The most common suggested action among them is {counts.index[0]} "
                f"({fmt(counts.iloc[0] / len(f.actions), 'share')} of them)"
            )
    if f.backtest_best_k and f.backtest_month:
        real = f.backtest_best_k
        verb = "earned" if real["profit"] >= 0 else "lost"
        text += (
            f". Checked on {month_name(f.backtest_month)}'s real outcomes, the best campaign by "
            f"the model's ranking would have contacted {fmt(real['k'], 'count')} customers and "
            f"{verb} {fmt(abs(real['profit']), 'money', f.currency)}"
        )
    return Point("What to do", text + ".")


def measured_actions(f: Findings) -> Point | None:
    """What last month's retention actions did against their held-out customers, and how many
    customers a proven action is worth sending to now."""
    a = f.measured_actions
    if not a or not a.get("last_month"):
        return None
    last = [
        e
        for e in a["effects"]
        if e["action_month"] == a["last_month"] and e["breakdown"] == "overall"
    ]
    parts = []
    for e in sorted(last, key=lambda e: str(e["action"])):
        if e["effect"] is None or not math.isfinite(e["effect"]):
            parts.append(f"{e['action']}: no effect can be measured ({e['verdict']})")
            continue
        change = (
            "lowered"
            if e["high"] < 0
            else "raised"
            if e["low"] > 0
            else "did not measurably change"
        )
        parts.append(
            f"{e['action']} {change} churn ({fmt(e['effect'], 'pp', signed=True)} against the "
            f"held-out customers, 95% interval {fmt(e['low'], 'pp', signed=True)} to "
            f"{fmt(e['high'], 'pp', signed=True)})"
        )
    if not parts:
        return None
    text = f"Of the actions of {month_name(a['last_month'])}: " + "; ".join(parts)
    uplift = a.get("uplift") or {}
    if uplift.get("worth_contacting"):
        text += (
            f". A proven action is worth sending to {fmt(uplift['worth_contacting'], 'count')} "
            f"current customers (expected net gain "
            f"{fmt(uplift['expected_net_gain'], 'money', f.currency)})"
        )
    elif not uplift.get("proven"):
        text += ". No action has lowered churn measurably yet, so none is recommended"
    return Point("Last month's actions", text + ".")


def trust(f: Findings) -> Point | None:
    """Whether last month's predictions held up, and what could make this month's weaker."""
    q = f.quality
    alert = bool(q.warning)
    when = month_name(f.backtest_month) if f.backtest_month else "the last closed month"
    if q.auc is None:
        text = f"The model could not be checked on {when}: no backtest this month"
    elif q.warning:
        text = f"Caution. {q.warning.rstrip('.')}"
    else:
        span = (
            f" (95% interval {fmt(q.interval[0], 'auc')} to {fmt(q.interval[1], 'auc')})"
            if q.interval
            else ""
        )
        text = (
            f"Yes, mostly: on {when} the model ranked churners above stayers with ROC-AUC "
            f"{fmt(q.auc, 'auc')}{span}"
        )
        if q.past_mean is not None:
            text += (
                f", within chance of its average of {fmt(q.past_mean, 'auc')} over the "
                f"{q.months} months before"
            )
    if f.drifted:
        families = pd.Series(
            [driver_family(feature_spec(x).family).title for x in f.drifted]
        ).value_counts()
        text += (
            f". {fmt(len(f.drifted), 'count')} of {fmt(f.features, 'count')} features shifted "
            f"away from the training months (mostly {families.index[0]}), so scores of the "
            "customers they touch are less certain"
        )
        alert = alert or len(f.drifted) > max(3, f.features // 4)
    if f.data_warnings:
        text += f". Reading the data raised {fmt(f.data_warnings, 'count')} warning(s)"
    return Point("Can you trust it", text + ".", alert)


#: the summary's topics, in order; each returns a Point or None (nothing to say)
TOPICS: tuple[Callable[[Findings], Point | None], ...] = (
    this_month,
    outlook,
    retention,
    drivers,
    measured_actions,
    campaign,
    trust,
)


def figures(f: Findings) -> list[Figure]:
    """The headline figures: churned this month, expected next, revenue at risk, campaign."""
    now, o, out = f.kpis["current"], f.outlook, []
    if now["churned"] is not None:
        out.append(
            Figure(
                f"Left in {month_name(f.month)}",
                fmt(now["churned"], "count"),
                f"{fmt(now['churn_rate'], 'rate')} of {fmt(now['active_customers'], 'count')}",
            )
        )
    if o["customers"]:
        out.append(
            Figure(
                f"Expected to leave in {_next_period(f.month, f.horizon)}",
                fmt(o["expected_churners"], "count"),
                f"likely {fmt(o['low'], 'count')} to {fmt(o['high'], 'count')}",
            )
        )
        if o["revenue_at_risk"] is not None:
            out.append(
                Figure(
                    "Monthly revenue at risk",
                    fmt(o["revenue_at_risk"], "money", f.currency),
                    f"of {fmt(o['customers'], 'count')} current customers",
                )
            )
    if f.best_k.get("k"):
        out.append(
            Figure(
                "Recommended campaign",
                f"{fmt(f.best_k['k'], 'count')} customers",
                f"expected profit {fmt(f.best_k['profit'], 'money', f.currency)}",
            )
        )
    return out


def summarize(findings: Findings) -> Summary:
    """The summary of a month's report: headline figures and one point per topic."""
    points = [p for topic in TOPICS if (p := topic(findings)) is not None]
    return Summary(figures(findings), points)
