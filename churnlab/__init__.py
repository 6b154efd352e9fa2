"""churnlab: find out why customers churn, who will churn next, and what to do about it.

Point-in-time features from a subscription business's tables (or a ready-made feature table),
XGBoost churn models validated over time, explanations grouped into driver families, and
papermill-executed notebooks that render a monthly report. The public face::

    import churnlab

    dataset = churnlab.read_dataset("data/demo")          # validate and load a dataset folder
    table = churnlab.build_feature_table(dataset)          # point-in-time features and labels
    result = churnlab.analyze_month(table, "2026-10")      # backtest, forward model, drivers
    result.metrics["backtest"]["roc_auc"], result.scores.head()

    table = churnlab.load_feature_table("crm.csv", id_col="id", label_col="churned")
    result = churnlab.analyze_table(table)                 # a table of your own

    churnlab.run_report("data/demo", "2026-10", "runs/2026-10")   # the whole HTML report
    churnlab.synthesize("synth", customers=5000, months=24, seed=0)

The subpackages hold the layers, each importing only those before it: ``core`` (errors,
months, the churn definition, the family registry), ``contract`` (reading and validating
data), ``features``, ``model``, ``report`` and ``runs``; ``synth`` stands beside them. Names
are imported on first use, so that the command line starts fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module that defines it
_PUBLIC = {
    "ChurnlabError": "churnlab.core.errors",
    "ChurnDefinition": "churnlab.core.churn",
    "Dataset": "churnlab.contract.dataset",
    "read_dataset": "churnlab.contract.validate",
    "check_dataset": "churnlab.contract.validate",
    "dataset_from_frames": "churnlab.contract.validate",
    "FeatureTable": "churnlab.features.table",
    "load_feature_table": "churnlab.features.table",
    "build_feature_table": "churnlab.features.build",
    "ChurnModel": "churnlab.model.booster",
    "AnalysisResult": "churnlab.report.analysis",
    "analyze_month": "churnlab.report.analysis",
    "analyze_table": "churnlab.report.analysis",
    "run_report": "churnlab.runs.commands",
    "run_explain": "churnlab.runs.commands",
    "run_experiment": "churnlab.runs.commands",
    "synthesize": "churnlab.synth.writer",
    "generate": "churnlab.synth.writer",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'churnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
