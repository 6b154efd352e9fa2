"""Running a notebook as a job: parameter checks, safe output folders and their lock, papermill
execution, the self-contained HTML, and the manifest; and the files churnlab ships (notebooks,
demo data, template).

The top of the package below the command line. May import every other folder.
"""

from churnlab.runs.commands import (
    latest_complete_month,
    run_experiment,
    run_explain,
    run_features,
    run_report,
)
from churnlab.runs.execute import RunFailed
from churnlab.runs.resources import copy_notebooks, demo_data_dir

__all__ = [
    "RunFailed",
    "copy_notebooks",
    "demo_data_dir",
    "latest_complete_month",
    "run_experiment",
    "run_explain",
    "run_features",
    "run_report",
]
