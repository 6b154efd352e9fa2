"""churnlab: find out why customers churn and who will churn next.

Point-in-time features from a subscription business's tables (or a ready-made feature
table), XGBoost churn models validated over time, SHAP explanations grouped into driver
families, and papermill-executed notebooks that render a monthly report.
"""

from churnlab.core.errors import ChurnlabError

__version__ = "0.1.0"
__all__ = ["ChurnlabError", "__version__"]
