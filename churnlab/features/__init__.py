"""From a dataset to a feature table: snapshots and labels, point-in-time features as SQL (one
module per driver family; a large population a slice of customers at a time), the feature
registry (what each feature means, in words), the :class:`FeatureTable` every model works on,
and loading a user's own feature table with its families file.

May import :mod:`churnlab.core` and :mod:`churnlab.contract`.
"""

from churnlab.features.build import build_feature_table, dataset_schema, feature_plan
from churnlab.features.snapshots import snapshot_labels
from churnlab.features.table import FeatureTable, load_feature_table

__all__ = [
    "FeatureTable",
    "build_feature_table",
    "dataset_schema",
    "feature_plan",
    "load_feature_table",
    "snapshot_labels",
]
