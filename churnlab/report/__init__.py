"""What the notebooks show: the monthly analysis (backtest, forward model, scores, drivers),
KPIs and cohorts, drift, data quality, the backtest history, experiments, display helpers (the
one place strings are escaped for HTML), byte-stable output files, and the plots.

May import :mod:`churnlab.core`, :mod:`churnlab.contract`, :mod:`churnlab.features` and
:mod:`churnlab.model`.
"""
