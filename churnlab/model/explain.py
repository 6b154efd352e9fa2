"""SHAP explanations: per feature, per driver family, per segment and per customer.

SHAP values come from XGBoost's own TreeSHAP (``pred_contribs=True``), exact for the trees and
measured identical to shap's TreeExplainer. They explain the model's *margin* (log-odds):
the calibrator that turns margins into probabilities is monotone increasing, so the ranking of
customers and the sign of every contribution carry over to the probability unchanged, while
the log-odds scale keeps contributions additive. The columns of a one-hot encoded feature are
summed back to their source feature (exact, since SHAP values add), so ``plan`` gets one value
per customer and a reason can name the customer's category.

Direction of a feature (+1: higher values raise churn, -1: they lower it): for a number, the
sign of the correlation between its value and its SHAP value over the rows where it is known;
for a category, the sign of the mean SHAP value of its riskiest category (so +1 says "one of
its categories raises churn"); 0 when the feature has no effect or no variation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnlab.core.families import family as driver_family
from churnlab.features.registry import reason_text
from churnlab.features.table import FeatureTable
from churnlab.model import ChurnModel


@dataclass
class ExplanationData:
    """SHAP values per source feature for a set of rows, with what plots and reasons need.

    ``values`` is (rows x features), in log-odds, ``data`` the feature values as the table
    holds them, ``base_value`` the margin of an average row; for each row,
    ``base_value + values.sum(1) == margin``.
    """

    values: np.ndarray
    data: pd.DataFrame
    features: list[str]
    families: dict[str, str]
    base_value: float
    ids: np.ndarray
    margin: np.ndarray
    categorical: list[str] = field(default_factory=list)
    #: registry entries of the table's features (``FeatureTable.meta['specs']``), if known
    specs: dict = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """SHAP values as a DataFrame with one column per feature."""
        return pd.DataFrame(self.values, columns=self.features)


def explain(
    model: ChurnModel, table: FeatureTable, max_rows: int | None = None, seed: int = 0
) -> ExplanationData:
    """TreeSHAP values of the rows of ``table`` under ``model``, summed per source feature.

    TreeSHAP time grows with rows and with the trees kept up to the best iteration, and runs on
    every core (see :meth:`ChurnModel.contributions`; rates in benchmarks/RESULTS.md, "SHAP").
    In a report every scored customer is explained once and the values are reused for drivers,
    shares, reasons and plots. When only *global* shares are wanted (say, last month's drivers
    for comparison) ``max_rows`` explains a seeded random sample of that many rows instead
    (kept in table order); the shares' error shrinks as 1/sqrt(sample size).
    """
    if max_rows is not None and len(table.frame) > max_rows:
        rng = np.random.default_rng(seed)
        keep = np.zeros(len(table.frame), dtype=bool)
        keep[rng.choice(len(table.frame), max_rows, replace=False)] = True
        table = table.subset(pd.Series(keep, index=table.frame.index))
    contribs = model.contributions(table)
    source = model.encoder_.source
    # one-hot columns of a feature are contiguous: add them up with one reduceat
    starts = np.flatnonzero(np.r_[True, np.array(source[1:]) != np.array(source[:-1])])
    if len(source) == len(starts):
        values = contribs[:, :-1]
    else:
        values = np.add.reduceat(contribs[:, :-1], starts, axis=1)
    features = [source[i] for i in starts]
    base = float(contribs[0, -1]) if len(contribs) else 0.0
    return ExplanationData(
        values=values,
        data=table.frame[features].reset_index(drop=True),
        features=features,
        families={f: table.families.get(f, "other") for f in features},
        base_value=base,
        ids=table.frame[table.id_col].to_numpy(),
        margin=contribs.sum(axis=1),
        categorical=[f for f in features if f in model.encoder_.levels],
        specs=dict(table.meta.get("specs", {})),
    )


def _direction(values: pd.Series, shap: np.ndarray, categorical: bool) -> int:
    if not np.any(shap):
        return 0
    if categorical:
        means = pd.Series(shap).groupby(values.astype("string").fillna("(missing)").to_numpy())
        top = means.mean().max()
        return int(np.sign(top))
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    known = ~np.isnan(x)
    if known.sum() < 2 or np.std(x[known]) == 0 or np.std(shap[known]) == 0:
        return 0
    return int(np.sign(np.corrcoef(x[known], shap[known])[0, 1]))


def feature_drivers(expl: ExplanationData) -> pd.DataFrame:
    """One row per feature: family, feature, mean_abs_shap, share (of the total), direction.

    Sorted by mean_abs_shap (descending), then feature name. Shares are NaN when the model
    has no effect at all (every SHAP value zero).
    """
    mean_abs = (
        np.abs(expl.values).mean(axis=0) if len(expl.values) else np.zeros(len(expl.features))
    )
    total = mean_abs.sum()
    frame = pd.DataFrame(
        {
            "family": [expl.families[f] for f in expl.features],
            "feature": expl.features,
            "mean_abs_shap": mean_abs,
            "share": mean_abs / total if total > 0 else np.nan,
            "direction": [
                _direction(expl.data[f], expl.values[:, i], f in expl.categorical)
                for i, f in enumerate(expl.features)
            ],
        }
    )
    frame = frame.sort_values(["mean_abs_shap", "feature"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


def family_shares(drivers: pd.DataFrame) -> dict[str, float]:
    """Each family's share of the total mean |SHAP| (adds up to 1), largest first.

    Empty when the model has no effect (no share can be defined).
    """
    sums = drivers.groupby("family")["mean_abs_shap"].sum()
    total = sums.sum()
    if not total > 0:
        return {}
    shares = (sums / total).sort_index().sort_values(ascending=False, kind="stable")
    return {str(k): float(v) for k, v in shares.items()}


def segment_shares(expl: ExplanationData, segments: pd.Series | np.ndarray) -> pd.DataFrame:
    """Family shares within each segment: columns segment, family, share (sums to 1 each)."""
    seg = pd.Series(np.asarray(segments)).astype("string").fillna("(missing)").to_numpy()
    abs_vals = pd.DataFrame(np.abs(expl.values), columns=expl.features)
    fam = abs_vals.T.groupby([expl.families[f] for f in expl.features]).sum().T
    per = fam.groupby(seg).mean()
    per = per.div(per.sum(axis=1).replace(0, np.nan), axis=0)
    out = per.rename_axis(index="segment", columns="family").stack().rename("share")
    out = out.reset_index().sort_values(["segment", "family"], kind="stable")
    return out.reset_index(drop=True)


def customer_reasons(expl: ExplanationData, k: int = 3) -> pd.DataFrame:
    """Top ``k`` reasons raising each customer's risk, in plain words, plus an action.

    For each row: ``reason_1..k`` ("3 support tickets still open (+0.42 log-odds)"; empty
    when fewer than k features raise the risk), ``feature_1``, ``family_1`` and ``action``
    (what to do about the family of the first reason). Rows align with ``expl``.
    """
    n, f = expl.values.shape
    kk = min(k, f)
    top = np.argsort(-expl.values, axis=1, kind="stable")[:, :kk] if n else np.zeros((0, kk), int)
    out: dict[str, list] = {f"reason_{j + 1}": [""] * n for j in range(k)}
    out["feature_1"] = [""] * n
    out["family_1"] = [""] * n
    out["action"] = [""] * n
    columns = {feat: expl.data[feat].to_numpy(object) for feat in expl.features}
    for j in range(kk):
        idx = top[:, j]
        contrib = expl.values[np.arange(n), idx]
        texts = out[f"reason_{j + 1}"]
        for row in np.flatnonzero(contrib > 0):
            feat = expl.features[idx[row]]
            words = reason_text(feat, columns[feat][row], expl.specs.get(feat))
            texts[row] = f"{words} (+{contrib[row]:.2f} log-odds)"
            if j == 0:
                family = expl.families[feat]
                out["feature_1"][row] = feat
                out["family_1"][row] = family
                out["action"][row] = driver_family(family).action
    return pd.DataFrame(out)
