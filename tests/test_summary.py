"""The report's summary and number formats, on hand-made analysis results."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from churnlab.report import monthly, views
from churnlab.report.model_quality import QualityCheck
from churnlab.report.summary import Findings, summarize


def _kpis(churned=87, active=3154, average=0.0288, lost=6844.6) -> dict:
    current = {
        "active_customers": active,
        "churned": churned,
        "churn_rate": churned / active,
        "revenue_lost": lost,
    }
    avg = {
        "active_customers": 2500.0,
        "churned": 72.0,
        "churn_rate": average,
        "revenue_lost": 5000.0,
    }
    return {"month": "2026-10", "current": current, "average_12m": avg, "months_in_average": 12}


def _findings(**changes) -> Findings:
    scores = pd.DataFrame(
        {"churn_probability": [0.5, 0.25, 0.25], "expected_revenue_at_risk": [10.0, 5.0, 2.5]}
    )
    base = dict(
        month="2026-10",
        horizon=1,
        kpis=_kpis(),
        outlook=monthly.outlook(scores),
        shares={"engagement": 0.32, "price": 0.30, "support": 0.20, "profile": 0.18},
        previous_shares={"engagement": 0.31, "price": 0.30, "support": 0.15, "profile": 0.24},
        drivers=pd.DataFrame(
            {
                "family": ["engagement"],
                "feature": ["engagement_days_since_active"],
                "share": [0.12],
                "direction": [1],
            }
        ),  # fmt: skip
        best_k={"k": 412, "share_contacted": 0.126, "profit": 1234.4},
        backtest_best_k={"k": 380, "share_contacted": 0.12, "profit": -15.0},
        quality=QualityCheck(0.711, (0.649, 0.773), 0.773, (0.751, 0.788), 3, 0.062, 0.070, None),
        backtest_month="2026-09",
        drifted=["price_amount", "price_pct_change_3m", "support_tickets_30d"],
        features=42,
        actions=["re-activation campaign"] * 3 + ["plan review or retention offer"],
        currency="EUR",
    )
    return Findings(**{**base, **changes})


def test_outlook_by_hand():
    o = monthly.outlook(
        pd.DataFrame(
            {"churn_probability": [0.5, 0.25, 0.25], "expected_revenue_at_risk": [10, 5, 2.5]}
        )
    )
    spread = 1.959964 * math.sqrt(0.25 + 0.1875 + 0.1875)
    assert o["expected_churners"] == 1.0 and o["customers"] == 3
    assert (o["low"], o["high"]) == pytest.approx((max(0, 1 - spread), 1 + spread))
    assert o["expected_rate"] == pytest.approx(1 / 3) and o["revenue_at_risk"] == 17.5
    none = monthly.outlook(
        pd.DataFrame({"churn_probability": [0.1], "expected_revenue_at_risk": [None]})
    )
    assert none["revenue_at_risk"] is None


def test_summary_says_what_happened_what_comes_and_what_to_do():
    s = summarize(_findings())
    points = {p.topic: p.text for p in s.points}
    assert list(points) == ["This month", "Next month", "Why", "What to do", "Can you trust it"]
    assert points["This month"].startswith(
        "87 of the 3,154 customers active at the start of October 2026"
    )
    # 2.76% against 2.88%: the noise of 3,154 customers is 1.96 * sqrt(.0288 * .9712 / 3154)
    assert "in line with the 12-month average of 2.88%" in points["This month"]
    assert "6,845 EUR a month" in points["This month"]
    assert "about 1 of the 3 current customers to leave in November 2026" in points["Next month"]
    assert (
        "17.5 EUR" not in points["Next month"]
        and "18 EUR of monthly revenue" in points["Next month"]
    )
    assert points["Why"].startswith("Engagement (32.0%) and price (30.0%) explain most")
    assert "days since the latest usage" in points["Why"]
    assert "support rose from 15.0% to 20.0%" in points["Why"]
    assert (
        "profile fell from 24.0% to 18.0%" in points["Why"]
        and "engagement rose" not in points["Why"]
    )
    assert (
        "Contact the 412 riskiest customers (12.6% of the current customers)"
        in points["What to do"]
    )
    assert "expected profit 1,234 EUR" in points["What to do"]
    assert "re-activation campaign (75.0% of them)" in points["What to do"]
    assert "contacted 380 customers and lost 15 EUR" in points["What to do"]
    trust = points["Can you trust it"]
    assert (
        "ROC-AUC 0.711 (95% interval 0.649 to 0.773)" in trust
        and "0.773 over the 3 months" in trust
    )
    assert "3 of 42 features shifted" in trust and "mostly price" in trust
    assert not any(p.alert for p in s.points)
    assert [f.value for f in s.figures] == ["87", "1", "18 EUR", "412 customers"]


def test_summary_alarms_and_changes_with_the_facts():
    warned = QualityCheck(
        0.60, (0.55, 0.65), 0.77, (0.75, 0.79), 3, 0.17, 0.07, "Model quality dropped: ..."
    )
    s = summarize(_findings(
        kpis=_kpis(churned=130), quality=warned, best_k={"k": 0, "share_contacted": 0, "profit": 0},
        previous_shares={"engagement": 0.31, "price": 0.31, "support": 0.20, "profile": 0.18},
        horizon=3, currency="",
    ))  # fmt: skip
    points = {p.topic: p for p in s.points}
    assert "above the 12-month average" in points["This month"].text
    assert "6,845 a month" in points["This month"].text  # no currency: no unit
    assert (
        "Outlook" in points
        and "the next 3 months (November 2026 to January 2027)" in points["Outlook"].text
    )
    assert "No family's share moved by 2 points or more since September 2026" in points["Why"].text
    assert points["What to do"].text.startswith("No retention campaign is expected to pay off")
    assert points["Can you trust it"].alert and points["Can you trust it"].text.startswith(
        "Caution."
    )
    assert [f.label for f in s.figures][-1] == "Monthly revenue at risk"


def test_summary_without_history_or_billing():
    kp = _kpis(lost=None)
    kp["current"]["churned"] = None
    nothing = QualityCheck(None, None, None, None, 0, None, None, None)
    s = summarize(
        _findings(kpis=kp, quality=nothing, previous_shares={}, drifted=[], backtest_best_k=None)
    )
    topics = [p.topic for p in s.points]
    assert "This month" not in topics
    trust = [p for p in s.points if p.topic == "Can you trust it"][0].text
    assert trust == "The model could not be checked on September 2026: no backtest this month."


@pytest.mark.parametrize(
    ("value", "kind", "signed", "text"),
    [
        (3154, "count", False, "3,154"),
        (2511.6, "count", False, "2,512"),
        (0.027584, "rate", False, "2.76%"),
        (-0.0005, "pp", True, "-0.05 pp"),
        (0.00001, "pp", True, "0.00 pp"),
        (-0.00001, "rate", False, "0.00%"),
        (0.3218, "share", False, "32.2%"),
        (6844.6, "money", False, "6,845"),
        (473.72, "money", True, "+474"),
        (214.924, "money_exact", False, "214.92"),
        (0.71093, "auc", False, "0.711"),
        (0.025471, "decimal", False, "0.0255"),
        (3.901, "ratio", False, "3.9x"),
        (None, "count", False, "n/a"),
        (float("nan"), "rate", False, "n/a"),
        (pd.NA, "share", False, "n/a"),
    ],
)
def test_fmt_by_kind(value, kind, signed, text):
    assert views.fmt(value, kind, signed=signed) == text


def test_money_carries_the_currency_and_names_are_words():
    assert views.fmt(6844.6, "money", "EUR") == "6,845 EUR"
    assert views.fmt(0.5, "share", "EUR") == "50.0%"
    assert views.month_name("2026-10") == "October 2026"
    assert views.day_name(pd.Timestamp("2026-11-01")) == "1 November 2026"
    assert views.family_title("voice_of_customer") == "voice of customer"


def test_tables_escape_and_hold_no_index_or_identifiers():
    drivers = pd.DataFrame(
        {"family": ["engagement", "other"], "feature": ["engagement_days_since_active", "<b>x</b>"],
         "share": [0.6, 0.4], "direction": [1, -1]}
    )  # fmt: skip
    html = views.drivers_table(drivers).data
    assert "Days since the latest usage" in html and "engagement_days_since_active" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "60.0%" in html and "higher values lower churn" in html
    assert "<th></th>" not in html and ">0<" not in html  # no pandas index column
    params = views.parameters_table({"month": "2026-10", "versions": {"a": 1}}).data
    assert "{'a': 1}" in params  # a value shown as text; no dict dumped as the whole table
    assert "Parameter" in params


def test_show_gives_the_figure_alt_text(monkeypatch):
    from matplotlib.figure import Figure

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append((obj, kw)))
    fig = Figure()
    fig.subplots().plot([1, 2])
    views.show(fig, alt='Line "up" <b>')
    obj, kw = shown[0]
    assert obj["image/png"] and kw["metadata"] == {"image/png": {"alt": 'Line "up" <b>'}}


def _point(summary, topic):
    return next((p.text for p in summary.points if p.topic == topic), None)


def test_time_to_churn_topic_says_how_long_customers_stay_and_how_far_the_forecast_was():
    survival = {
        "available": True,
        "scored": {
            "expected_months_12m": 9.84,
            "p_retained_12m": 0.688,
            "p_retained_6m": 0.81,
            "revenue_at_risk_12m": 166992.4,
        },
        "backtest": {"snapshot": "2026-04", "max_gap_pp": 0.96},
    }
    text = _point(summarize(_findings(survival=survival)), "How long they stay")
    assert text == (
        "Over the next 12 months a current customer is expected to stay 9.8 months on average, "
        "and 68.8% of them to still be customers after 12 months; churn is expected to cost "
        "166,992 EUR of revenue over that year. The same forecast made in April 2026 was at "
        "most 1.0 percentage points off the retention that followed."
    )
    short = {"available": True, "scored": {"expected_months_12m": None, "p_retained_6m": 0.81}}
    text = _point(summarize(_findings(survival=short)), "How long they stay")
    assert text.startswith("81.0% of the current customers are expected to still be customers")
    assert _point(summarize(_findings(survival={"available": False})), "How long they stay") is None
    assert _point(summarize(_findings()), "How long they stay") is None


def test_actions_topic_names_what_worked_against_its_holdout():
    effects = [
        {"action_month": "2026-09", "breakdown": "overall", "action": "plan_review",
         "effect": -0.052, "low": -0.081, "high": -0.02, "verdict": "lowered churn"},
        {"action_month": "2026-09", "breakdown": "overall", "action": "<b>email</b>",
         "effect": 0.004, "low": -0.03, "high": 0.04, "verdict": "not distinguishable"},
        {"action_month": "2026-09", "breakdown": "overall", "action": "call",
         "effect": math.nan, "low": math.nan, "high": math.nan, "verdict": "no holdout"},
        {"action_month": "2026-08", "breakdown": "overall", "action": "old",
         "effect": -0.5, "low": -0.6, "high": -0.4, "verdict": "lowered churn"},
        {"action_month": "2026-09", "breakdown": "family", "action": "plan_review",
         "effect": -0.5, "low": -0.6, "high": -0.4, "verdict": "lowered churn"},
    ]  # fmt: skip
    measured = {
        "last_month": "2026-09",
        "effects": effects,
        "uplift": {"proven": ["plan_review"], "worth_contacting": 310, "expected_net_gain": 4210.6},
    }
    s = summarize(_findings(measured_actions=measured))
    assert _point(s, "Last month's actions") == (
        "Of the actions of September 2026: <b>email</b> did not measurably change churn "
        "(+0.40 pp against the held-out customers, 95% interval -3.00 pp to +4.00 pp); call: no "
        "effect can be measured (no holdout); plan_review lowered churn (-5.20 pp against the "
        "held-out customers, 95% interval -8.10 pp to -2.00 pp). A proven action is worth "
        "sending to 310 current customers (expected net gain 4,211 EUR)."
    )
    assert "&lt;b&gt;email&lt;/b&gt;" in views.summary(s).data  # an action name stays text
    none = {**measured, "uplift": {"proven": [], "worth_contacting": 0}}
    assert _point(summarize(_findings(measured_actions=none)), "Last month's actions").endswith(
        "No action has lowered churn measurably yet, so none is recommended."
    )
    assert _point(summarize(_findings()), "Last month's actions") is None
