"""Notebook display helpers: KPI and backtest tables as text, callout boxes, showing figures.

Presentation only: they format numbers computed elsewhere and never compute churn figures.

Every string that reaches the report's HTML passes :func:`escape`: :func:`text` for a line
of words with values in it, :func:`table` for a DataFrame, :func:`callout` for a box. The
notebooks never build Markdown or HTML from data themselves (a test enforces it), because a
customer id, a plan name or a file name may hold ``<script>`` or a ``javascript:`` link, and
the report is mailed around and opened in browsers.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

import pandas as pd
from IPython.display import HTML

from churnlab.core.families import family, ordered

_KPI_ROWS = {
    "active_customers": "Active customers (start of month)",
    "churned": "Churned during the month",
    "churn_rate": "Churn rate",
    "revenue_lost": "Monthly revenue lost",
}


def _fmt(key: str, value, change: bool = False) -> str:
    if value is None:
        return "n/a"
    sign = "+" if change and value > 0 else ""
    if key == "churn_rate":
        return f"{sign}{value * 100:.2f} pp" if change else f"{value:.2%}"
    if key == "revenue_lost":
        return f"{sign}{value:,.2f}"
    return f"{sign}{value:,.0f}" if float(value).is_integer() else f"{sign}{value:,.1f}"


def kpi_table(k: dict) -> pd.DataFrame:
    """The headline KPIs of :func:`kpis` as a small table of formatted text, ready to show.

    Changes in the churn rate are in percentage points (pp).
    """
    columns = {
        k["month"]: ("current", False),
        "previous month": ("previous", False),
        "change": ("change_vs_previous", True),
        f"{k['months_in_average']}-month average": ("average_12m", False),
        "vs average": ("change_vs_average", True),
    }
    data = {
        title: [_fmt(key, k[block][key], change) for key in _KPI_ROWS]
        for title, (block, change) in columns.items()
    }
    return pd.DataFrame(data, index=list(_KPI_ROWS.values()))


def escape(value: object) -> str:
    """``value`` as text that HTML shows literally: ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape(str(value), quote=True)


def text(template: str, **values: object) -> HTML:
    """A line of the report: churnlab's own HTML ``template`` with escaped ``{values}``.

    ``text("Customer <b>{id}</b>", id=customer_id)`` shows the id as plain text whatever it
    holds; the template itself must never come from data.
    """
    return HTML(template.format(**{k: escape(v) for k, v in values.items()}))


def table(
    frame: pd.DataFrame,
    formats: Mapping[str, str | Callable[[object], str]] | None = None,
    index: bool = False,
) -> HTML:
    """A DataFrame as an HTML table whose every cell, header and index value is escaped.

    ``formats`` maps columns to a format string (``"{:.1%}"``) or a function; missing values
    show as empty cells. Unlike pandas' Styler, which writes cell text into the page as
    markup, nothing in the frame can become an element or an attribute.
    """
    shown = frame.copy()
    for col, fmt in (formats or {}).items():
        if col in shown.columns:
            apply = fmt.format if isinstance(fmt, str) else fmt
            shown[col] = [("" if _missing(v) else apply(v)) for v in shown[col]]
    return HTML(shown.to_html(index=index, escape=True, border=0, na_rep=""))


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def callout(text: str, kind: str = "warning") -> str:
    """An HTML box for a warning (red) or a note (blue) in the report; ``text`` is escaped."""
    colors = {"warning": ("#c0392b", "#fdecea"), "note": ("#2c7fb8", "#eaf3fb")}
    border, background = colors.get(kind, colors["note"])
    return (
        f'<div class="churnlab-{kind}" style="border-left:6px solid {border};'
        f'background:{background};padding:0.6em 1em;margin:0.5em 0">'
        f"{escape(text)}</div>"
    )


def backtest_table(backtest: dict) -> pd.DataFrame:
    """The backtest block of metrics.json as a table with a plain-words reading per metric."""
    meaning = {
        "roc_auc": "chance a churner is ranked above a stayer (0.5 = coin flip, 1 = perfect)",
        "pr_auc": "precision averaged over recall (compare with the churn rate)",
        "brier": "mean squared error of the probabilities (lower is better)",
        "lift_top_decile": "churn rate in the riskiest 10 % / overall churn rate",
        "n": "customers scored in the backtest month",
        "positives": "of whom churned",
    }
    rows = [
        {
            "metric": key,
            "value": "undefined" if backtest.get(key) is None else f"{backtest[key]:.4g}",
            "meaning": text,
        }
        for key, text in meaning.items()
    ]
    return pd.DataFrame(rows).set_index("metric")


def show(*figures) -> None:
    """Display figures in a notebook, each exactly once, and release them.

    Figures made through pyplot would otherwise be shown a second time when the cell ends
    (matplotlib's inline backend shows every open pyplot figure); closing them after display
    prevents that and frees their memory. Pyplot-free figures are simply displayed.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    for figure in figures:
        display(figure)
        plt.close(figure)


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def credit_explainer(metrics: Mapping) -> HTML:
    """Two sentences for the report's drivers section: what the default driver shares mean
    and why they differ from plain SHAP, with this month's baseline risk (metrics.json)."""
    base = metrics.get("baseline_risk") or {}
    context = ", ".join(family(f).title for f in ordered(base.get("context_families", [])))
    fixable = ", ".join(family(f).title for f in ordered(metrics.get("driver_shares", {})))
    return text(
        "Each driver family's share is its part of the churn risk that fixing the drivers would "
        "remove: every customer's risk is compared with their own once the fixable drivers "
        "({fixable}) are at healthy levels and who they are ({context}) stays as it is, which "
        "would bring the mean churn probability from {actual} down to {fixed}. Plain SHAP "
        "splits an effect that exists only for some customers (a poor onboarding, which "
        "matters for new ones) between the driver and the profile, so tenure gets credit that "
        "no team can act on; those shares stay in metrics.json as <code>shap_shares</code>.",
        fixable=fixable or "none",
        context=context or "nothing",
        actual=_percent(base.get("mean_churn_probability")),
        fixed=_percent(base.get("all_drivers_fixed")),
    )
