"""Notebook display helpers: KPI and backtest tables as text, callout boxes, showing figures.

Presentation only: they format numbers computed elsewhere and never compute churn figures.
"""

from __future__ import annotations

import pandas as pd

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


def callout(text: str, kind: str = "warning") -> str:
    """An HTML box for a warning (red) or a note (blue) in the report; ``text`` is escaped."""
    import html

    colors = {"warning": ("#c0392b", "#fdecea"), "note": ("#2c7fb8", "#eaf3fb")}
    border, background = colors.get(kind, colors["note"])
    return (
        f'<div class="churnlab-{kind}" style="border-left:6px solid {border};'
        f'background:{background};padding:0.6em 1em;margin:0.5em 0">'
        f"{html.escape(text)}</div>"
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
