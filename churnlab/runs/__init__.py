"""Running a notebook as a job: parameter checks, safe output folders and their lock, papermill
execution, the self-contained HTML, and the manifest.

The top of the package below the command line. May import every other folder.
"""

from churnlab.runs.commands import (
    demo_data_dir,
    latest_complete_month,
    run_experiment,
    run_explain,
    run_features,
    run_report,
)
from churnlab.runs.execute import RunFailed

__all__ = [
    "RunFailed",
    "demo_data_dir",
    "latest_complete_month",
    "run_experiment",
    "run_explain",
    "run_features",
    "run_report",
]
