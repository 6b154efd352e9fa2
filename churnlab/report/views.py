"""Notebook display helpers: the one number formatter, escaped text and tables, figures.

Presentation only: they format numbers computed elsewhere and never compute churn figures.

**Numbers.** :func:`fmt` is the one place that turns a number into text, by kind: counts
``3,154``, churn rates ``2.76%``, shares ``32.1%``, changes of a rate ``-0.05 pp``, money
``6,845 EUR`` (totals) or ``214.92 EUR`` (one customer's amount), ROC-AUC ``0.711``, ratios
``3.9x``. Every table and sentence of the report goes through it, so the same kind of number
always looks the same.

**Escaping.** Every string that reaches the report's HTML passes :func:`escape`: :func:`text`
for a line of words with values in it, :func:`table` for a DataFrame, :func:`callout` for a
box, and the helpers below that build on them. The notebooks never build Markdown or HTML
from data themselves (a test enforces it), because a customer id, a plan name or a file name
may hold ``<script>`` or a ``javascript:`` link, and the report is mailed around and opened in
browsers.

**Figures.** :func:`show` displays a figure as a PNG with alternative text (the report's
template writes it into the ``<img alt>``), for readers who cannot see the chart.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Mapping

import pandas as pd
from IPython.display import HTML

from churnlab.core.families import family as driver_family
from churnlab.core.families import ordered
from churnlab.core.months import parse_month
from churnlab.features.registry import feature_label

# --- numbers --------------------------------------------------------------------------------

#: how each kind of number is written; a kind with ``money`` in it takes the currency
KINDS: dict[str, Callable[[float], str]] = {
    "count": lambda v: f"{round(v):,}",
    "rate": lambda v: f"{v * 100:.2f}%",
    "share": lambda v: f"{v * 100:.1f}%",
    "pp": lambda v: f"{v * 100:.2f} pp",
    "money": lambda v: f"{v:,.0f}",
    "money_exact": lambda v: f"{v:,.2f}",
    "auc": lambda v: f"{v:.3f}",
    "decimal": lambda v: f"{v:.3g}",
    "ratio": lambda v: f"{v:.1f}x",
    "psi": lambda v: f"{v:.2f}",
}


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt(value: object, kind: str = "count", currency: str = "", signed: bool = False) -> str:
    """``value`` written as its ``kind`` of number (see :data:`KINDS`); ``'n/a'`` if missing.

    ``signed`` puts a ``+`` before positive values (changes); money kinds end in the
    ``currency`` when one is given (``'6,845 EUR'``).
    """
    if _missing(value):
        return "n/a"
    number = float(value)
    if not math.isfinite(number):
        return "n/a"
    text = KINDS[kind](number)
    zero = all(c == "0" for c in text if c.isdigit())  # rounds to zero: no sign, -0.00 is 0.00
    if zero:
        text = text.lstrip("-")
    elif signed and number > 0:
        text = "+" + text
    if "money" in kind and currency:
        text = f"{text} {currency}"
    return text


def month_name(month: str) -> str:
    """``'2026-10'`` as ``'October 2026'``."""
    return f"{pd.Timestamp(parse_month(month) + '-01'):%B %Y}"


def day_name(day: pd.Timestamp) -> str:
    """A date as ``'1 November 2026'``."""
    day = pd.Timestamp(day)
    return f"{day.day} {day:%B %Y}"


def report_subtitle(month: str, cutoff: pd.Timestamp, definition) -> str:
    """The line under the report's title: month, when the data was cut, what churn means."""
    if definition.churn == "inactivity":
        churn = f"churn = no product use (active: used in the last {definition.inactive_days} days)"
    else:
        churn = "churn = a cancellation"
    ahead = "next month" if definition.horizon == 1 else f"the next {definition.horizon} months"
    return (
        f"{month_name(month)} · data as known on {day_name(cutoff)} · {churn} · forecasts "
        f"for {ahead}"
    )


def family_title(name: str) -> str:
    """A driver family in words, from the registry (``'voice of customer'``)."""
    return driver_family(name).title


# --- escaped text, tables, boxes ------------------------------------------------------------


def escape(value: object) -> str:
    """``value`` as text that HTML shows literally: ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape(str(value), quote=True)


def text(template: str, **values: object) -> HTML:
    """A line of the report: churnlab's own HTML ``template`` with escaped ``{values}``.

    ``text("Customer <b>{id}</b>", id=customer_id)`` shows the id as plain text whatever it
    holds; the template itself must never come from data.
    """
    return HTML(template.format(**{k: escape(v) for k, v in values.items()}))


Format = str | Callable[[object], str]


def table(
    frame: pd.DataFrame,
    formats: Mapping[str, Format] | None = None,
    index: bool = False,
    currency: str = "",
) -> HTML:
    """A DataFrame as an HTML table whose every cell, header and index value is escaped.

    ``formats`` maps columns to a kind of :func:`fmt` (``"rate"``; money kinds take
    ``currency``), a format string (``"{:.1%}"``) or a function; missing values show as empty
    cells. Unlike pandas' Styler, which writes cell text into the page as markup, nothing in
    the frame can become an element or an attribute.
    """
    shown = frame.copy()
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) for c in shown.columns]
    for col, spec in (formats or {}).items():
        if col not in shown.columns:
            continue
        if isinstance(spec, str) and spec in KINDS:
            apply = lambda v, k=spec: fmt(v, k, currency)  # noqa: E731
        else:
            apply = spec.format if isinstance(spec, str) else spec
        shown[col] = [("" if _missing(v) else apply(v)) for v in shown[col]]
    # numbers right-aligned, words left-aligned: one small style per table, by column position
    global _TABLES
    _TABLES += 1
    name = f"churnlab-table-{_TABLES}"
    first = 2 if index else 1
    right = [i + first for i, is_number in enumerate(numeric) if is_number]
    right += [i + first for i, c in enumerate(shown.columns) if formats and c in formats]
    rules = "".join(
        f"#{name} td:nth-child({i}),#{name} th:nth-child({i}){{text-align:right}}"
        for i in sorted(set(right))
    )
    body = shown.to_html(index=index, escape=True, border=0, na_rep="", table_id=name)
    return HTML(f"<style>#{name} td,#{name} th{{text-align:left}}{rules}</style>{body}")


_TABLES = 0


def callout(text: str, kind: str = "warning") -> str:
    """An HTML box for a warning (red) or a note (blue) in the report; ``text`` is escaped."""
    colors = {"warning": ("#c0392b", "#fdecea"), "note": ("#2c7fb8", "#eaf3fb")}
    border, background = colors.get(kind, colors["note"])
    return (
        f'<div class="churnlab-{kind}" style="border-left:6px solid {border};'
        f'background:{background};padding:0.6em 1em;margin:0.5em 0">'
        f"{escape(text)}</div>"
    )


def page_title(title: str, subtitle: str) -> None:
    """Show the report's subtitle line and give the HTML page its ``title`` (browser tab).

    The title travels in the output's metadata; churnlab's HTML rendering makes it the
    page's ``<title>`` (:mod:`churnlab.runs.rendering`).
    """
    from IPython.display import display

    display(
        HTML(f'<p class="churnlab-subtitle">{escape(subtitle)}</p>'),
        metadata={"churnlab": {"title": title}},
    )


def summary(s) -> HTML:
    """The report's summary (:class:`churnlab.report.summary.Summary`) as a box of figures
    and one paragraph per topic, every word escaped."""
    tiles = "".join(
        '<div class="churnlab-figure">'
        f'<div class="churnlab-figure-label">{escape(f.label)}</div>'
        f'<div class="churnlab-figure-value">{escape(f.value)}</div>'
        f'<div class="churnlab-figure-note">{escape(f.note)}</div></div>'
        for f in s.figures
    )
    points = "".join(
        f'<p class="{"churnlab-alert" if p.alert else "churnlab-point"}">'
        f"<b>{escape(p.topic)}.</b> {escape(p.text)}</p>"
        for p in s.points
    )
    return HTML(
        f'<div class="churnlab-summary"><div class="churnlab-figures">{tiles}</div>{points}</div>'
    )


# --- the report's tables --------------------------------------------------------------------

_KPI_ROWS = {
    "active_customers": ("Active customers at the start of the month", "count"),
    "churned": ("Churned during the month", "count"),
    "churn_rate": ("Churn rate", "rate"),
    "revenue_lost": ("Monthly revenue lost", "money"),
}


def kpi_table(k: dict, currency: str = "") -> HTML:
    """The headline KPIs of :func:`churnlab.report.kpis.kpis` with their changes.

    Changes of the churn rate are in percentage points (pp).
    """
    rows = []
    for key, (label, kind) in _KPI_ROWS.items():
        change = "pp" if kind == "rate" else kind
        rows.append(
            {
                "": label,
                month_name(k["month"]): fmt(k["current"][key], kind, currency),
                "previous month": fmt(k["previous"][key], kind, currency),
                "change": fmt(k["change_vs_previous"][key], change, currency, signed=True),
                f"{k['months_in_average']}-month average": fmt(
                    k["average_12m"][key], kind, currency
                ),
                "vs average": fmt(k["change_vs_average"][key], change, currency, signed=True),
            }
        )
    return table(pd.DataFrame(rows))


def segment_table(kpis: pd.DataFrame, outlook: pd.DataFrame, currency: str = "") -> HTML:
    """This month's churn and next month's outlook per segment, side by side."""
    frame = kpis.merge(outlook, on="segment", how="outer").sort_values("segment")
    shown = pd.DataFrame(
        {
            "Segment": frame["segment"],
            "Active at the start": frame["active_customers"],
            "Churned": frame["churned"],
            "Churn rate": frame["churn_rate"],
            "Revenue lost": frame["revenue_lost"],
            "Customers now": frame["customers"],
            "Expected to churn": frame["expected_churners"],
            "Expected rate": frame["expected_rate"],
            "Revenue at risk": frame["revenue_at_risk"],
        }
    )
    kinds = {c: "count" for c in ("Active at the start", "Churned", "Customers now")}
    kinds |= {"Expected to churn": "count", "Churn rate": "rate", "Expected rate": "rate"}
    kinds |= {"Revenue lost": "money", "Revenue at risk": "money"}
    return table(shown, kinds, currency=currency)


_BACKTEST_ROWS = {
    "roc_auc": ("ROC-AUC", "auc", "chance a churner is ranked above a stayer (0.5 = coin flip)"),
    "pr_auc": ("PR-AUC", "auc", "precision averaged over recall (compare with the churn rate)"),
    "lift_top_decile": ("Lift in the riskiest 10%", "ratio", "their churn rate / overall rate"),
    "brier": (
        "Brier score",
        "decimal",
        "mean squared error of the probabilities (lower is better)",
    ),
    "n": ("Customers scored", "count", "in the backtest month"),
    "positives": ("Of whom churned", "count", "what the model had to find"),
}


def backtest_table(backtest: dict, interval: tuple[float, float] | None = None) -> HTML:
    """The backtest block of metrics.json in words, with the ROC-AUC's 95 % interval."""
    rows = []
    for key, (label, kind, meaning) in _BACKTEST_ROWS.items():
        value = backtest.get(key)
        shown = "undefined" if value is None else fmt(value, kind)
        if key == "roc_auc" and interval and value is not None:
            shown += f" (95% interval {fmt(interval[0], 'auc')} to {fmt(interval[1], 'auc')})"
        rows.append({"Measure": label, "Value": shown, "What it means": meaning})
    return table(pd.DataFrame(rows))


def history_table(history: pd.DataFrame) -> HTML:
    """The backtest history (:func:`churnlab.report.model_quality.backtest_history`)."""
    interval = [
        "" if _missing(lo) else f"{fmt(lo, 'auc')} to {fmt(hi, 'auc')}"
        for lo, hi in zip(history["low"], history["high"], strict=True)
    ]
    shown = pd.DataFrame(
        {
            "Backtest month": [month_name(m) for m in history["snapshot"]],
            "ROC-AUC": history["roc_auc"],
            "95% interval": interval,
            "Customers": history["n"],
            "Churned": history["positives"],
        }
    )
    return table(shown, {"ROC-AUC": "auc", "Customers": "count", "Churned": "count"})


_DIRECTION = {
    1: "higher values raise churn",
    -1: "higher values lower churn",
    0: "no clear direction",
}


def drivers_table(drivers: pd.DataFrame, n: int = 15, categorical: list[str] = ()) -> HTML:
    """The ``n`` strongest features in words: family, share of the explanation, effect."""
    top = drivers.head(n)
    effect = [
        "some of its values raise churn" if f in categorical and d == 1 else _DIRECTION.get(d, "")
        for f, d in zip(top["feature"], top["direction"], strict=True)
    ]
    shown = pd.DataFrame(
        {
            "Feature": [feature_label(f) for f in top["feature"]],
            "Family": [family_title(f) for f in top["family"]],
            "Share of the explanation": top["share"],
            "Effect": effect,
        }
    )
    return table(shown, {"Share of the explanation": "share"})


def at_risk_table(at_risk: pd.DataFrame, id_col: str = "customer_id", currency: str = "") -> HTML:
    """The customers at risk (:func:`churnlab.report.monthly.at_risk`) with words for columns."""
    names = {
        id_col: "Customer",
        "risk_rank": "Risk rank",
        "churn_probability": "Churn probability",
        "value": "Monthly amount",
        "expected_revenue_at_risk": "Expected revenue at risk",
        "expected_months_12m": "Expected months of the next 12",
        "revenue_at_risk_12m": "Revenue at risk over 12 months",
        "reasons": "Top reasons",
        "action": "Suggested action",
        "best_action": "Best measured action",
        "churn_prevented": "Churn it prevents",
        "net_gain": "Net gain of the action",
    }
    # a column the data cannot fill (no billing: no amounts) is left out, not shown empty
    order = [c for c in names if c in at_risk.columns and at_risk[c].notna().any()]
    shown = at_risk[order].rename(columns=names)
    kinds = {"Churn probability": "share", "Monthly amount": "money_exact", "Risk rank": "count"}
    kinds["Expected revenue at risk"] = "money_exact"
    kinds |= {"Expected months of the next 12": "{:.1f}", "Churn it prevents": "pp"}
    kinds |= {"Revenue at risk over 12 months": "money", "Net gain of the action": "money_exact"}
    return table(shown, kinds, currency=currency)


def drift_table(drift: pd.DataFrame) -> HTML:
    """The features whose distribution shifted (PSI above the flag), in words."""
    flagged = drift[drift["flagged"]]
    shown = pd.DataFrame(
        {
            "Feature": [feature_label(f) for f in flagged["feature"]],
            "Family": [family_title(f) for f in flagged.get("family", ["other"] * len(flagged))],
            "PSI": flagged["psi"],
        }
    )
    return table(shown, {"PSI": "psi"})


def data_quality_table(summary: pd.DataFrame) -> HTML:
    """The data-quality summary (:mod:`churnlab.report.data_quality`) with words for columns."""
    shown = summary.rename(
        columns={
            "table": "Table",
            "rows": "Rows",
            "columns": "Columns",
            "first_date": "First date",
            "last_date": "Last date",
            "missing_share": "Empty cells",
            "most_missing": "Emptiest column",
            "warnings": "Warnings",
        }
    )
    return table(shown, {"Rows": "count", "Columns": "count", "Empty cells": "share"})


def parameters_table(values: Mapping[str, object]) -> HTML:
    """A run's parameters (or any name -> value mapping) as a two-column table."""
    rows = [{"Parameter": k, "Value": "" if v is None else str(v)} for k, v in values.items()]
    return table(pd.DataFrame(rows, columns=["Parameter", "Value"]))


# --- figures --------------------------------------------------------------------------------


def show(*figures, alt: str | list[str] = "") -> None:
    """Display figures, each exactly once, as PNG images with alternative text, and release them.

    ``alt`` describes the figure in words (one text for all, or one per figure); it becomes
    the ``alt`` of the image in report.html. Figures are rendered here rather than by the
    inline backend (which would also show every open pyplot figure a second time when the
    cell ends); closing them after display frees their memory.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    texts = alt if isinstance(alt, list) else [alt] * len(figures)
    for figure, words in zip(figures, texts, strict=True):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        display(
            {"image/png": data, "text/plain": words or "figure"},
            raw=True,
            metadata={"image/png": {"alt": words}} if words else None,
        )
        plt.close(figure)


# --- experiments ----------------------------------------------------------------------------


def params_words(params: str | Mapping) -> str:
    """A parameter set (a dict or its JSON) in words: ``'max depth 6, eta 0.1'``."""
    import json

    values = json.loads(params) if isinstance(params, str) else dict(params)
    if not values:
        return "churnlab's defaults"
    return ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in sorted(values.items()))


def experiment_table(comparison: pd.DataFrame) -> HTML:
    """Every run of an experiment (:func:`churnlab.report.experiments.run_experiment_table`)."""
    shown = pd.DataFrame(
        {
            "Run": comparison["run_id"],
            "Parameters": [params_words(p) for p in comparison["params"]],
            "Seed": comparison["seed"],
            "Left out": [family_title(d) if d else "" for d in comparison["dropped"]],
            "Features": comparison["features"],
            "ROC-AUC": comparison["roc_auc"],
            "PR-AUC": comparison["pr_auc"],
            "Lift in the riskiest 10%": comparison["lift_top_decile"],
            "Change of ROC-AUC": [fmt(v, "auc", signed=True) for v in comparison["delta_auc"]],
        }
    )
    kinds = {"ROC-AUC": "auc", "PR-AUC": "auc", "Lift in the riskiest 10%": "ratio"}
    return table(shown, kinds | {"Seed": "count", "Features": "count"})


def experiment_summary_table(summary: pd.DataFrame) -> HTML:
    """:func:`churnlab.report.experiments.summary` with each variant in words."""
    variants = [
        f"all families, {params_words(v[len('(none: ') : -1])}"
        if v.startswith("(none: ")
        else f"without {family_title(v)}"
        for v in summary.index
    ]
    shown = pd.DataFrame(
        {
            "Variant": variants,
            "Runs": summary["runs"].to_numpy(),
            "ROC-AUC (mean)": summary["roc_auc"].to_numpy(),
            "Spread over seeds (sd)": summary["roc_auc_sd"].to_numpy(),
            "PR-AUC (mean)": summary["pr_auc"].to_numpy(),
            "Change of ROC-AUC": [fmt(v, "auc", signed=True) for v in summary["delta_auc"]],
        }
    )
    kinds = {"ROC-AUC (mean)": "auc", "Spread over seeds (sd)": "auc", "PR-AUC (mean)": "auc"}
    return table(shown, kinds | {"Runs": "count"})


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _shap_sample(metrics: Mapping) -> str:
    """Words for a plain-SHAP sample smaller than the scored customers ('' without one)."""
    rows = (metrics.get("model") or {}).get("shap_rows")
    scored = metrics.get("scored_customers")
    if rows is None or scored is None or rows >= scored:
        return ""
    return f" (from a seeded sample of {rows:,} of the {scored:,} scored customers)"


def credit_explainer(metrics: Mapping) -> HTML:
    """Two sentences for the report's drivers section: what the default driver shares mean
    and why they differ from plain SHAP, with this month's baseline risk (metrics.json)."""
    base = metrics.get("baseline_risk") or {}
    context = ", ".join(driver_family(f).title for f in ordered(base.get("context_families", [])))
    fixable = ", ".join(driver_family(f).title for f in ordered(metrics.get("driver_shares", {})))
    return text(
        "Each driver family's share is its part of the churn risk that fixing the drivers would "
        "remove: every customer's risk is compared with their own once the fixable drivers "
        "({fixable}) are at healthy levels and who they are ({context}) stays as it is, which "
        "would bring the mean churn probability from {actual} down to {fixed}. Plain SHAP "
        "splits an effect that exists only for some customers (a poor onboarding, which "
        "matters for new ones) between the driver and the profile, so tenure gets credit that "
        "no team can act on; those shares stay in metrics.json as <code>shap_shares</code>"
        "{sample}.",
        sample=_shap_sample(metrics),
        fixable=fixable or "none",
        context=context or "nothing",
        actual=_percent(base.get("mean_churn_probability")),
        fixed=_percent(base.get("all_drivers_fixed")),
    )
