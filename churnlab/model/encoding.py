"""One-hot encoding of a feature table for the booster: numbers pass through, categories spread.

One-hot (rather than XGBoost's native categories, which TreeSHAP cannot attribute per level)
keeps explanations exact and readable: a source feature's SHAP value is the sum over its
columns, and a column name says the category (``plan=basic``). The layout depends only on the
training rows' values, never on their order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnlab.core.errors import ChurnlabError, examples

#: the level of a missing category
MISSING_LEVEL = "(missing)"
#: the shared level of rare categories and of categories first seen at scoring time
OTHER_LEVEL = "(other)"


@dataclass
class Encoder:
    """One-hot layout: numeric features pass through, categorical ones get one column a level.

    One-hot (rather than XGBoost's native categories, which shap cannot explain) keeps TreeSHAP
    exact and readable: a source feature's SHAP value is the sum over its columns, and a column
    name says the category (``plan=basic``). Levels seen in fewer than ``min_count`` training
    rows, or beyond the ``max_levels`` most frequent, share an ``=(other)`` column, as do
    levels first seen at scoring time; a missing category is the level ``(missing)``.
    """

    order: list[str] = field(default_factory=list)
    levels: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, features: list[str], min_count: int = 10, max_levels: int = 30
    ) -> Encoder:
        levels = {}
        for col in features:
            if pd.api.types.is_numeric_dtype(frame[col]):
                continue
            counts = _categories(frame[col]).value_counts()
            # count desc, then name: the layout never depends on row order
            counts = counts.sort_index().sort_values(ascending=False, kind="stable")
            kept = [str(v) for v, n in counts.items() if n >= min_count][:max_levels]
            kept = kept or [str(counts.index[0])]
            levels[col] = sorted(kept) + ([OTHER_LEVEL] if len(kept) < len(counts) else [])
        return cls(order=list(features), levels=levels)

    @property
    def columns(self) -> list[str]:
        """Encoded column names, in matrix order."""
        return [n for col in self.order for n in self._names(col)]

    @property
    def source(self) -> list[str]:
        """The source feature of each encoded column."""
        return [col for col in self.order for _ in self._names(col)]

    def _names(self, col: str) -> list[str]:
        return [f"{col}={lvl}" for lvl in self.levels[col]] if col in self.levels else [col]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The float32 design matrix of ``frame``."""
        missing = [c for c in self.order if c not in frame.columns]
        if missing:
            raise ChurnlabError(
                f"The table to score lacks {len(missing)} feature column(s) the model was "
                f"trained on: {examples(missing)}."
            )
        out = np.zeros((len(frame), len(self.columns)), dtype="float32")
        pos = 0
        for col in self.order:
            if col not in self.levels:
                out[:, pos] = pd.to_numeric(frame[col], errors="coerce").to_numpy(
                    "float32", na_value=np.nan
                )
                pos += 1
                continue
            lv = self.levels[col]
            codes = pd.Index(lv).get_indexer(_categories(frame[col])).astype(np.int64)
            if OTHER_LEVEL in lv:
                codes = np.where(codes < 0, lv.index(OTHER_LEVEL), codes)
            rows = np.flatnonzero(codes >= 0)
            out[rows, pos + codes[rows]] = 1.0
            pos += len(lv)
        return out

    def to_json(self) -> dict:
        return {"order": self.order, "levels": self.levels}

    @classmethod
    def from_json(cls, data: dict) -> Encoder:
        return cls(
            order=list(data["order"]), levels={k: list(v) for k, v in data["levels"].items()}
        )


def _categories(col: pd.Series) -> pd.Series:
    return col.astype("string").fillna(MISSING_LEVEL).astype(str)
