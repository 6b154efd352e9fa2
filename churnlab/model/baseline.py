"""The field's standard baseline for a churn model: logistic regression on the same features.

A churn model earns its complexity only if it ranks churners better than a regularised
logistic regression given the same point-in-time features. The baseline is deliberately
plain: numbers standardised with missing values set to the training median plus a
"was missing" indicator, categories one-hot encoded (unseen ones ignored), L2 penalty. The
training notebook shows it next to churnlab's model on the same test month.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable


def logistic_baseline(table: FeatureTable, train: list[str], test: str) -> np.ndarray:
    """Churn probabilities of snapshot ``test`` from a logistic regression fitted on ``train``.

    Only labelled rows of ``train`` are used; rows align with ``table.at(test).frame``.
    """
    rows = table.at(list(train))
    rows = rows.subset(rows.labelled)
    y = rows.frame[rows.label_col].astype(int).to_numpy()
    if len(set(y)) < 2:
        raise ChurnlabError("The baseline needs churners and stayers in its training months.")
    categorical = [c for c in table.categorical if c in table.features]
    numeric = [c for c in table.features if c not in categorical]
    prepare = ColumnTransformer(
        [
            (
                "numbers",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=2000))

    def inputs(frame):
        x = frame[table.features].copy()
        for c in categorical:
            x[c] = x[c].astype(object).where(x[c].notna(), None)
        return x

    model.fit(inputs(rows.frame), y)
    return model.predict_proba(inputs(table.at(test).frame))[:, 1]
