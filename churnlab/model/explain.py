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
from churnlab.model.credit import DriverCredit


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
    known = np.isfinite(x)
    x, shap = x[known], np.asarray(shap, dtype=float)[known]
    # constant = max equals min: a float32 standard deviation of equal values is not always
    # exactly 0, and the correlation is then undefined (a tree that sends every scored row
    # the same way gives a feature one SHAP value)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(shap) == 0:
        return 0
    return int(np.sign(np.corrcoef(x, shap)[0, 1]))


def _credit_shares(frame: pd.DataFrame) -> pd.Series:
    """Columns' shares of the mean positive value (adds up to 1), largest first, then name."""
    positive = frame.clip(lower=0).mean() if len(frame) else frame.sum()
    total = positive.sum()
    if not total > 0:
        return pd.Series(dtype=float)
    return (positive / total).sort_index().sort_values(ascending=False, kind="stable")


def credit_shares(credit: DriverCredit) -> dict[str, float]:
    """Each actionable family's share of the churn risk fixing the drivers would remove.

    A family's share is its mean positive credit in churn probability over the scored
    customers, divided by the total (adds up to 1), largest first. Empty when no fixable
    driver raises anyone's risk.
    """
    return {str(k): float(v) for k, v in _credit_shares(credit.family_probability()).items()}


def _credit_feature_shares(credit: DriverCredit) -> dict[str, float]:
    """A feature's share: its family's share split over the family's features in proportion
    to their mean positive credit, so that the features of a family add up to its share."""
    families = credit_shares(credit)
    positive = credit.feature_probability().clip(lower=0).mean()
    out: dict[str, float] = {}
    for fam, share in families.items():
        feats = [f for f, owner in credit.family_of().items() if owner == fam]
        total = positive[feats].sum()
        for f in feats:
            out[f] = share * positive[f] / total if total > 0 else 0.0
    return out


def feature_drivers(expl: ExplanationData, credit: DriverCredit | None = None) -> pd.DataFrame:
    """One row per feature: family, feature, mean_abs_shap, share, direction, shap_share.

    ``shap_share`` is the feature's share of the total mean |SHAP| (plain TreeSHAP).
    ``share`` is its driver-credit share (:func:`credit_shares`, split over the family's
    features; empty for context and held features, which credit keeps as they are), or the
    SHAP share when no ``credit`` is given. Sorted by share, then mean_abs_shap (both
    descending), then feature name. Shares are NaN when nothing can be shared.
    """
    mean_abs = (
        np.abs(expl.values).mean(axis=0) if len(expl.values) else np.zeros(len(expl.features))
    )
    total = mean_abs.sum()
    shap_share = mean_abs / total if total > 0 else np.full(len(mean_abs), np.nan)
    if credit is None:
        share = shap_share
    else:
        shares = _credit_feature_shares(credit)
        share = np.array([shares.get(f, np.nan) for f in expl.features], dtype=float)
    frame = pd.DataFrame(
        {
            "family": [expl.families[f] for f in expl.features],
            "feature": expl.features,
            "mean_abs_shap": mean_abs,
            "share": share,
            "direction": [
                _direction(expl.data[f], expl.values[:, i], f in expl.categorical)
                for i, f in enumerate(expl.features)
            ],
            "shap_share": shap_share,
        }
    )
    frame = frame.sort_values(
        ["share", "mean_abs_shap", "feature"],
        ascending=[False, False, True],
        kind="stable",
        na_position="last",
    )
    return frame.reset_index(drop=True)


def family_shares(drivers: pd.DataFrame) -> dict[str, float]:
    """Each family's share of the total mean |SHAP| (plain TreeSHAP; adds up to 1), largest
    first. Empty when the model has no effect (no share can be defined)."""
    sums = drivers.groupby("family")["mean_abs_shap"].sum()
    total = sums.sum()
    if not total > 0:
        return {}
    shares = (sums / total).sort_index().sort_values(ascending=False, kind="stable")
    return {str(k): float(v) for k, v in shares.items()}


def segment_shares(
    source: ExplanationData | DriverCredit, segments: pd.Series | np.ndarray
) -> pd.DataFrame:
    """Family shares within each segment: columns segment, family, share (sums to 1 each).

    From driver credit (the mean positive credit in probability per family) or, given an
    :class:`ExplanationData`, from plain SHAP (the mean |SHAP| per family).
    """
    seg = pd.Series(np.asarray(segments)).astype("string").fillna("(missing)").to_numpy()
    if isinstance(source, DriverCredit):
        fam = source.family_probability().clip(lower=0)
    else:
        abs_vals = pd.DataFrame(np.abs(source.values), columns=source.features)
        fam = abs_vals.T.groupby([source.families[f] for f in source.features]).sum().T
    per = fam.groupby(seg).mean()
    per = per.div(per.sum(axis=1).replace(0, np.nan), axis=0)
    out = per.rename_axis(index="segment", columns="family").stack().rename("share")
    out = out.reset_index().sort_values(["segment", "family"], kind="stable")
    return out.reset_index(drop=True)


def risk_points(probability: float) -> str:
    """A rise of churn probability in percentage points: '+4.1 pp', '+0.04 pp', '+<0.01 pp'."""
    points = 100.0 * probability
    if points >= 0.1:
        return f"+{points:.1f} pp"
    return f"+{points:.2f} pp" if points >= 0.01 else "+<0.01 pp"


def customer_reasons(
    credit: DriverCredit, data: pd.DataFrame, k: int = 3, specs: dict | None = None
) -> pd.DataFrame:
    """Up to ``k`` fixable reasons raising each customer's risk, in plain words, and an action.

    ``reason_j`` stands for the family with the j-th most credit: its feature with the most
    credit, in words, and how much the family raises the churn probability, which is what
    fixing it would remove ("3 support ticket(s) still open (support +4.1 pp)"). One reason per
    family, so each points at a different team's lever and the reasons come in decreasing
    order; only families whose credit is positive (else empty). ``feature_1`` and
    ``family_1`` are those of the first reason and ``action`` what to do about its family.
    ``data`` holds the feature values (rows align with ``credit``); ``specs`` the registry
    entries of features named after the data's own columns (``ExplanationData.specs``).
    """
    specs = specs or {}
    fam = credit.family.to_numpy()
    n, f = fam.shape
    names = list(credit.family.columns)
    feature_names = list(credit.feature.columns)
    owner = credit.family_of()
    members = [[i for i, ft in enumerate(feature_names) if owner[ft] == name] for name in names]
    feat = credit.feature.to_numpy()
    points = credit.family_probability().to_numpy()
    rank = np.argsort(-fam, axis=1, kind="stable") if n and f else np.zeros((n, 0), int)
    out: dict[str, list] = {f"reason_{j + 1}": [""] * n for j in range(k)}
    out |= {"feature_1": [""] * n, "family_1": [""] * n, "action": [""] * n}
    columns = {name: data[name].to_numpy(object) for name in feature_names if name in data}
    # a feature's values repeat across customers (counts, days, categories): each distinct
    # (feature, type, value) is put in words once; the type keeps 1, 1.0 and True apart
    phrases: dict[tuple, str] = {}

    def words_of(name: str, value: object) -> str:
        key = (name, type(value), value)
        try:
            return phrases[key]
        except KeyError:
            phrases[key] = text = reason_text(name, value, specs.get(name))
            return text
        except TypeError:  # an unhashable value
            return reason_text(name, value, specs.get(name))

    for j in range(min(k, f)):
        texts = out[f"reason_{j + 1}"]
        for a, cols in enumerate(members):
            rows = np.flatnonzero((rank[:, j] == a) & (fam[np.arange(n), a] > 0))
            if not len(rows):
                continue
            best = np.asarray(cols)[np.argmax(feat[np.ix_(rows, cols)], axis=1)]
            title = driver_family(names[a]).title
            for row, col in zip(rows, best, strict=True):
                name = feature_names[col]
                words = words_of(name, columns[name][row])
                texts[row] = f"{words} ({title} {risk_points(points[row, a])})"
                if j == 0:
                    out["feature_1"][row] = name
                    out["family_1"][row] = names[a]
                    out["action"][row] = driver_family(names[a]).action
    return pd.DataFrame(out)
