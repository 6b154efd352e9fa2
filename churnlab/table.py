"""The feature table: the shape every model, explanation and report works on (DESIGN 1b).

One row per customer (and per monthly snapshot when there is a ``snapshot`` column), an id
column, a label column and feature columns. It is made either by
:func:`churnlab.features.build_feature_table` from a dataset in the contract, or loaded from a
user's own CSV/Parquet file; downstream code cannot tell the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd


@dataclass(frozen=True)
class FeatureTable:
    """A feature table and what its columns mean.

    ``frame`` holds the id column, the optional snapshot column (text ``YYYY-MM``), the label
    column (nullable ``Int8``: 1 churned, 0 stayed, missing = not yet known, scorable but
    never trained on) and one column per feature. ``families`` maps every feature column to
    its driver family, in column order. Numeric features are ``float64``; categorical
    features are string dtype.
    """

    frame: pd.DataFrame
    families: dict[str, str]
    id_col: str = "customer_id"
    label_col: str = "churned"
    snapshot_col: str | None = "snapshot"
    #: column with each customer's revenue per month (for revenue at risk), if known
    value_col: str | None = None
    #: column that splits customers into segments for per-segment drivers, if any
    segment_col: str | None = None
    meta: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.families)

    @property
    def categorical(self) -> list[str]:
        """Feature columns that hold categories rather than numbers."""
        return [c for c in self.features if not pd.api.types.is_numeric_dtype(self.frame[c])]

    @property
    def snapshots(self) -> list[str]:
        """Sorted snapshot months, or ``[]`` when the table has no snapshot column."""
        if self.snapshot_col is None:
            return []
        return sorted(self.frame[self.snapshot_col].dropna().unique().tolist())

    @property
    def labelled(self) -> pd.Series:
        """Boolean mask of rows whose label is known."""
        return self.frame[self.label_col].notna()

    def subset(self, mask: pd.Series) -> FeatureTable:
        """The same table restricted to the rows where ``mask`` is true."""
        return replace(self, frame=self.frame.loc[mask].reset_index(drop=True))

    def at(self, snapshots: str | list[str]) -> FeatureTable:
        """Rows of one snapshot or a list of snapshots."""
        wanted = [snapshots] if isinstance(snapshots, str) else list(snapshots)
        return self.subset(self.frame[self.snapshot_col].isin(wanted))
