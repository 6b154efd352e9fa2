"""Did the retention actions work, for whom, and whom to contact next (docs/actions.md).

Pure functions from the dataset as known at the end of the report month, its feature table
and the report's analysis to DataFrames and dataclasses:

- :func:`action_outcomes`: one row per action whose outcome window has closed, with the
  customer's churn within h months of ``sent_at``;
- :func:`effect_table`: per month and action (overall, per driver family of the customer's
  main reason, per segment) the churn rates of treated and held-out customers, their
  difference and its 95 % interval (Newcombe's hybrid score interval);
- :func:`main_reasons`: that main reason, point in time: the family of the first reason of
  the model that scored the snapshot before ``sent_at``, trained only on labels known then;
- :func:`analyze_actions` puts it together with the uplift model
  (:mod:`churnlab.model.uplift`): its out-of-time check on the last closed month and, for
  every scored customer, the action with the highest expected net gain;
  :func:`with_actions` adds that to the report's result (nothing changes without actions).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from churnlab.contract.dataset import Dataset
from churnlab.core.churn import DEFAULT_CHURN, INACTIVITY, ChurnDefinition
from churnlab.core.errors import ChurnlabError
from churnlab.core.families import family
from churnlab.core.months import shift_month
from churnlab.features.table import FeatureTable
from churnlab.model import metrics as mx
from churnlab.model.booster import ChurnModel
from churnlab.model.explain import customer_reasons, explain
from churnlab.model.uplift import (
    Randomized,
    UpliftModel,
    fit_baseline,
    qini_coefficient,
    qini_curve,
    uplift_at,
)
from churnlab.report.analysis import AnalysisResult

#: two-sided 95 % normal quantile
Z95 = 1.959963984540054
NO_HOLDOUT = "no holdout: without a holdout, a difference is not an effect"
NOBODY_TREATED = "nobody was treated"
LOWERED, RAISED, UNCLEAR = "lowered churn", "raised churn", "not distinguishable from zero"
#: the family of a customer without a main reason: no feature raised their risk, no snapshot
#: row (signed up after the snapshot's cutoff) or too little history for a reason model
NO_REASON, NEW_CUSTOMER = "(none)", "(new customer)"
#: share of the ranked randomized rows whose uplift the out-of-time check reports
TOP_SHARE = 0.3
#: the columns the at-risk list and scores.csv gain with actions
SCORE_COLUMNS = ("best_action", "churn_prevented", "net_gain")


# ------------------------------------------------------------------------- the intervals
def wilson_interval(x: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``x / n`` (n > 0)."""
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def newcombe_interval(x1: float, n1: float, x2: float, n2: float, z: float = Z95):
    """Newcombe's hybrid score interval (1998, method 10) of ``x1/n1 - x2/n2``.

    Each proportion's Wilson interval (l, u) widens the difference d on its side:
    d - sqrt((p1 - l1)^2 + (u2 - p2)^2) to d + sqrt((u1 - p1)^2 + (p2 - l2)^2). It keeps
    close to its nominal coverage with small groups and rates near 0, where the Wald
    interval does not. Returns (low, high).
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt(
        (u1 - p1) ** 2 + (p2 - l2) ** 2
    )


def verdict(n_treated: int, n_control: int, low: float, high: float) -> str:
    """The effect in words: lowered/raised churn when the interval excludes 0."""
    if n_control == 0:
        return NO_HOLDOUT
    if n_treated == 0:
        return NOBODY_TREATED
    if high < 0:
        return LOWERED
    if low > 0:
        return RAISED
    return UNCLEAR


# --------------------------------------------------------------------------- the outcomes
@dataclass
class Outcomes:
    """Closed action rows with their outcome, and what was left out, in words."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def closed_months(month: str, horizon: int) -> str:
    """The last action month whose outcome windows have all closed by the end of ``month``:
    an action sent in month A is followed for h months from its day, which ends by the end of
    A + h; so A <= M - h."""
    return shift_month(month, -horizon)


def action_outcomes(
    dataset: Dataset, month: str, definition: ChurnDefinition = DEFAULT_CHURN
) -> Outcomes:
    """Every action sent in a month whose outcome windows closed by the end of ``month``.

    ``dataset`` is the data as known at the end of the month (``as_of``). Columns:
    ``customer_id``, ``action``, ``group``, ``treated``, ``sent_at``, ``cost``, ``channel``,
    ``action_month``, ``snapshot`` (the month before ``action_month``: the latest snapshot
    whose cutoff is at or before ``sent_at``, which cannot see the action), ``segment`` when
    customers have one, and ``churned`` (1.0/0.0): a ``churn_date`` from the day of ``sent_at``
    to h months later (the inactivity definition: no usage row then). Actions sent to a
    customer who had already churned, or had not signed up yet, are left out with a note.
    """
    actions = dataset.table("actions")
    notes: list[str] = []
    if actions is None or actions.empty:
        return Outcomes(pd.DataFrame(), notes)
    h = definition.horizon
    last = closed_months(month, h)
    customers = dataset.customers
    extra = [c for c in ("segment",) if c in customers.columns]
    frame = actions.merge(
        customers[["customer_id", "signup_date", "churn_date", *extra]], on="customer_id"
    )
    frame["action_month"] = frame["sent_at"].dt.strftime("%Y-%m")
    frame = frame[frame["action_month"] <= last]
    if frame.empty:
        notes.append(
            f"No action has a closed outcome window yet: with a horizon of {h} month(s), the "
            f"report on {month} measures actions sent up to {last}."
        )
        return Outcomes(pd.DataFrame(), notes)
    day = frame["sent_at"].dt.normalize()
    end = day + pd.DateOffset(months=h)
    before = frame["signup_date"] > frame["sent_at"]
    if definition.churn == INACTIVITY:
        gone, churned = _inactivity(dataset, frame, day, end, definition.inactive_days)
    else:
        gone = frame["churn_date"] < day
        churned = (frame["churn_date"] >= day) & (frame["churn_date"] < end)
    for mask, why in ((gone, "had already churned"), (before & ~gone, "had not signed up yet")):
        if mask.any():
            notes.append(
                f"{int(mask.sum()):,} action row(s) are left out: the customer {why} when the "
                "action was sent."
            )
    frame = frame.assign(churned=churned.astype(float))[~(gone | before)]
    frame["treated"] = frame["group"] == "treatment"
    frame["snapshot"] = [shift_month(m, -1) for m in frame["action_month"]]
    keep = ["customer_id", "action", "group", "treated", "sent_at", "cost", "channel"]
    keep += ["action_month", "snapshot", *extra, "churned"]
    frame = frame.reindex(columns=keep)
    frame = frame.sort_values(["action_month", "action", "customer_id", "sent_at"], kind="stable")
    return Outcomes(frame.reset_index(drop=True), notes)


def _inactivity(dataset: Dataset, frame, day, end, days: int) -> tuple[pd.Series, pd.Series]:
    """(not active before, churned) under the inactivity definition: active = a usage row in
    the ``days`` days before the day of sending, churned = no usage row in the window."""
    usage = dataset.table("usage")
    usage = usage[usage["customer_id"].isin(frame["customer_id"])][["customer_id", "date"]]
    rows = frame[["customer_id"]].assign(_row=np.arange(len(frame)), _day=day, _end=end)
    pairs = rows.merge(usage, on="customer_id")
    before = pairs["date"].between(pairs["_day"] - pd.Timedelta(days=days), pairs["_day"])
    before &= pairs["date"] < pairs["_day"]
    during = (pairs["date"] >= pairs["_day"]) & (pairs["date"] < pairs["_end"])
    active = np.zeros(len(frame), bool)
    active[pairs.loc[before, "_row"].to_numpy()] = True
    seen = np.zeros(len(frame), bool)
    seen[pairs.loc[during, "_row"].to_numpy()] = True
    return pd.Series(~active, index=frame.index), pd.Series(active & ~seen, index=frame.index)


# ---------------------------------------------------------------------------- the effects
EFFECT_COLUMNS = [
    "action_month",
    "action",
    "breakdown",
    "level",
    "n_treated",
    "churned_treated",
    "n_control",
    "churned_control",
    "rate_treated",
    "rate_control",
    "effect",
    "low",
    "high",
    "verdict",
]


def effect_table(outcomes: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Per action month and action (and per value of column ``by``): treated and held-out
    customers, their churners and rates, ``effect`` = treated rate - held-out rate (negative:
    the action lowered churn), its 95 % interval ``low``..``high`` and a ``verdict`` in words.

    Without held-out customers there is no effect (NaN) and the verdict says why.
    """
    if outcomes.empty:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    keys = ["action_month", "action"] + ([by] if by else [])
    treated = outcomes["treated"].to_numpy(bool)
    churned = outcomes["churned"].to_numpy(float)
    frame = outcomes[keys].assign(
        n_treated=treated.astype(int),
        n_control=(~treated).astype(int),
        churned_treated=churned * treated,
        churned_control=churned * ~treated,
    )
    counts = frame.groupby(keys, sort=True, dropna=False).sum().reset_index()
    counts["breakdown"] = by or "overall"
    counts["level"] = counts[by].astype(str) if by else "all"
    rows = [_effect_row(r) for r in counts.to_dict("records")]
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def _effect_row(r: dict) -> dict:
    nt, nc = int(r["n_treated"]), int(r["n_control"])
    ct, cc = float(r["churned_treated"]), float(r["churned_control"])
    rate_t = ct / nt if nt else np.nan
    rate_c = cc / nc if nc else np.nan
    low = high = effect = np.nan
    if nt and nc:
        effect = rate_t - rate_c
        low, high = newcombe_interval(ct, nt, cc, nc)
    out = {k: r[k] for k in ("action_month", "action", "breakdown", "level")}
    out |= {"n_treated": nt, "churned_treated": int(ct), "n_control": nc}
    out |= {"churned_control": int(cc), "rate_treated": rate_t, "rate_control": rate_c}
    out |= {"effect": effect, "low": low, "high": high}
    return out | {"verdict": verdict(nt, nc, low, high)}


# ---------------------------------------------------------------------- the main reasons
def main_reasons(model: ChurnModel, table: FeatureTable, outcomes: pd.DataFrame) -> pd.Series:
    """The driver family of each outcome row's main reason, point in time.

    The features are those of the snapshot before the action (which cannot see it); the
    family is that of the first SHAP reason (:func:`~churnlab.model.explain.customer_reasons`)
    under ``model``. The report passes the untreated baseline (:func:`fit_baseline`): trained
    without any row whose label window holds an action, it has seen no outcome of any of
    these experiments, so the grouping cannot depend on what the actions did (docs/actions.md
    says why not the model of each month, nor the forward model). ``(none)`` when no feature
    raised the risk, ``(new customer)`` without a row in that snapshot.
    """
    have, rows = feature_rows(table, outcomes)
    found = np.full(len(outcomes), NEW_CUSTOMER, dtype=object)
    if have.any():
        reasons = customer_reasons(explain(model, rows))["family_1"].replace("", NO_REASON)
        found[have] = reasons.to_numpy(object)
    return pd.Series(found, index=outcomes.index, name="family")


# ------------------------------------------------------------------------ the uplift model
def feature_rows(table: FeatureTable, outcomes: pd.DataFrame) -> tuple[np.ndarray, FeatureTable]:
    """The feature rows of each outcome row's (customer, snapshot), in the outcomes' order,
    and a mask of the outcome rows that have one (a customer who signed up after the
    snapshot's cutoff has none)."""
    index = pd.DataFrame(
        {
            "customer_id": table.frame[table.id_col].astype(str).to_numpy(),
            "snapshot": table.frame[table.snapshot_col].astype(str).to_numpy(),
            "_pos": np.arange(len(table.frame)),
        }
    )
    keys = outcomes[["customer_id", "snapshot"]].astype(str)
    found = keys.merge(index, how="left")["_pos"]
    have = found.notna().to_numpy()
    pos = found[have].to_numpy(np.int64)
    return have, replace(table, frame=table.frame.iloc[pos].reset_index(drop=True))


def randomized(table: FeatureTable, outcomes: pd.DataFrame) -> Randomized:
    """The outcome rows that have features at their snapshot, with those features."""
    have, rows = feature_rows(table, outcomes)
    kept = outcomes[have]
    return Randomized(
        rows,
        kept["action"].to_numpy(str),
        kept["treated"].to_numpy(bool),
        kept["churned"].to_numpy(float),
    )


def touched_rows(table: FeatureTable, actions: pd.DataFrame, horizon: int) -> pd.Series:
    """Rows (customer, snapshot S) whose label window holds an action of either group: one
    sent in a month from S + 1 to S + h. The untreated baseline never learns from them."""
    months = actions["sent_at"].dt.strftime("%Y-%m")
    pairs = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": actions["customer_id"].astype(str).to_numpy(),
                    "snapshot": [shift_month(m, -lag) for m in months],
                }
            )
            for lag in range(1, horizon + 1)
        ]
    ).drop_duplicates()
    frame = pd.DataFrame(
        {
            "customer_id": table.frame[table.id_col].astype(str).to_numpy(),
            "snapshot": table.frame[table.snapshot_col].astype(str).to_numpy(),
        }
    )
    hit = frame.merge(pairs.assign(_hit=True), how="left")["_hit"].notna().to_numpy()
    return pd.Series(hit, index=table.frame.index)


def action_costs(outcomes: pd.DataFrame) -> dict[str, float]:
    """Mean recorded cost of each action over the rows carried out (0 when none recorded)."""
    treated = outcomes[outcomes["treated"]]
    costs = treated.groupby("action")["cost"].mean() if len(treated) else pd.Series(dtype=float)
    names = sorted(outcomes["action"].unique())
    return {
        a: float(costs.get(a, np.nan)) if pd.notna(costs.get(a, np.nan)) else 0.0 for a in names
    }


def recommend(
    model: UpliftModel,
    rows: FeatureTable,
    value: np.ndarray,
    costs: dict[str, float],
    proven: list[str],
) -> pd.DataFrame:
    """Per row of ``rows``: among the ``proven`` actions that have a model, the one with the
    highest expected net gain (churn prevented x the customer's value - the action's cost),
    its churn prevented and that net gain (negative: it costs more than it should save).

    Only actions whose measured effect lowered churn are candidates: the model's estimates
    for an action that did nothing measurable are noise, and picking the highest of several
    noisy estimates would recommend it to many customers. Without a candidate the row's
    ``best_action`` is empty and its figures missing.
    """
    ids = rows.frame[rows.id_col].to_numpy()
    candidates = [a for a in model.actions if a in proven]
    if not candidates:
        return pd.DataFrame(
            {rows.id_col: ids, "best_action": "", "churn_prevented": np.nan, "net_gain": np.nan}
        )
    prevented = model.prevented(rows)[candidates]
    net = prevented.mul(value, axis=0) - pd.Series(costs).reindex(candidates).fillna(0.0)
    best = net.to_numpy().argmax(axis=1)  # columns in name order: ties go to the first name
    pick = np.arange(len(best))
    return pd.DataFrame(
        {
            rows.id_col: ids,
            "best_action": np.asarray(candidates)[best],
            "churn_prevented": prevented.to_numpy()[pick, best],
            "net_gain": net.to_numpy()[pick, best],
        }
    )


CHECK_COLUMNS = ["action", "n_treated", "n_control", "qini", "uplift_top", "uplift_all"]


def uplift_check(model: UpliftModel, test: Randomized, share: float = TOP_SHARE):
    """The out-of-time check of an uplift model on the randomized rows of later months.

    Per modelled action, on that action's test rows ranked by the model's churn prevented:
    the Qini coefficient of the ranking, the uplift (held-out minus treated churn rate) in
    the top ``share`` and over all rows. Returns the table and each action's Qini curve.
    """
    rows, curves = [], {}
    if not model.actions or not len(test.rows.frame):
        return pd.DataFrame(columns=CHECK_COLUMNS), curves
    prevented = model.prevented(test.rows)
    for name in model.actions:
        mine = test.action == name
        y, t = test.churned[mine], test.treated[mine]
        if not (t.any() and (~t).any()):
            continue
        score = prevented[name].to_numpy()[mine]
        curves[name] = qini_curve(y, t, score)
        rows.append(
            {
                "action": name,
                "n_treated": int(t.sum()),
                "n_control": int((~t).sum()),
                "qini": qini_coefficient(curves[name]),
                "uplift_top": uplift_at(y, t, score, share),
                "uplift_all": float(y[~t].mean() - y[t].mean()),
            }
        )
    return pd.DataFrame(rows, columns=CHECK_COLUMNS), curves


def _subset(data: Randomized, mask: np.ndarray) -> Randomized:
    rows = replace(data.rows, frame=data.rows.frame[mask].reset_index(drop=True))
    return Randomized(rows, data.action[mask], data.treated[mask], data.churned[mask])


# ------------------------------------------------------------------------------ together
@dataclass
class ActionsResult:
    """The report's actions: outcomes, measured effects, the uplift check, recommendations.

    ``effects`` is :func:`measure`'s: overall, per main-reason family and per segment, for
    every closed month and ``all`` of them pooled; ``recommendations`` has one row per scored customer (id,
    ``best_action``, ``churn_prevented``, ``net_gain``); ``check`` and ``curves`` are the
    out-of-time check of the uplift model on the last closed month.
    """

    outcomes: pd.DataFrame
    effects: pd.DataFrame
    months: list[str]
    recommendations: pd.DataFrame
    check: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CHECK_COLUMNS))
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    modelled: list[str] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    check_trained_on: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def last_month(self) -> str | None:
        """The latest action month with closed outcomes ("last month's actions")."""
        return self.months[-1] if self.months else None


def measure(frame: pd.DataFrame, families: pd.Series | None = None) -> pd.DataFrame:
    """The measured effects of :func:`action_outcomes`' rows, for every closed month and for
    all of them pooled (``action_month`` ``all``): overall, per main-reason family when
    ``families`` (aligned with ``frame``) is given, and per segment when customers have one."""
    frame = frame.assign(family=families) if families is not None else frame
    if "segment" in frame.columns:
        frame = frame.assign(segment=frame["segment"].fillna("(missing)"))
    by = [None] + [c for c in ("family", "segment") if c in frame.columns]
    parts = [
        effect_table(rows, col) for col in by for rows in (frame, frame.assign(action_month="all"))
    ]
    return pd.concat(parts, ignore_index=True)


def proven_actions(effects: pd.DataFrame) -> list[str]:
    """Actions whose effect pooled over every closed month lowered churn (interval below 0)."""
    pooled = effects[(effects["action_month"] == "all") & (effects["breakdown"] == "overall")]
    return sorted(pooled.loc[pooled["verdict"] == LOWERED, "action"])


def analyze_actions(
    known: Dataset,
    table: FeatureTable,
    result: AnalysisResult,
    month: str,
    seed: int = 0,
) -> ActionsResult | None:
    """Everything the report says about actions for ``month``; None without an actions table.

    ``known`` is the dataset as known at the end of the month, ``table`` its feature table and
    ``result`` the report's :func:`~churnlab.report.analysis.analyze_month`. Trains the untreated
    baseline (which also gives the main reasons) and the uplift model, and both again as of
    the last closed month for the out-of-time check (docs/actions.md).
    """
    actions = known.table("actions")
    if actions is None:
        return None
    horizon = int(result.metrics.get("horizon") or 1)
    definition = (table.definition or DEFAULT_CHURN).with_horizon(horizon)
    out = action_outcomes(known, month, definition)
    none = result.scores[[table.id_col]].assign(best_action="", churn_prevented=np.nan)
    none["net_gain"] = np.nan
    if out.frame.empty:
        empty = pd.DataFrame(columns=EFFECT_COLUMNS)
        return ActionsResult(out.frame, empty, [], none, notes=out.notes)
    notes = list(out.notes)
    held_out = set(out.frame.loc[~out.frame["treated"], "action"])
    for name in sorted(set(out.frame["action"]) - held_out):
        notes.append(f"{name}: no customer was ever held out, so it has no effect ({NO_HOLDOUT}).")
    touched = touched_rows(table, actions, horizon)
    labelled = table.labelled_snapshots
    by_m = [s for s in labelled if s <= shift_month(month, -horizon)]
    try:
        baseline = fit_baseline(table, by_m, touched, seed)
    except ChurnlabError as err:  # e.g. no churner among the untouched rows
        notes.append(f"No main reasons and no uplift model: the untreated baseline failed ({err})")
        effects = measure(out.frame)
        months = sorted(out.frame["action_month"].unique())
        return ActionsResult(out.frame, effects, months, none, notes=notes)
    frame = out.frame.assign(family=main_reasons(baseline, table, out.frame))
    effects = measure(out.frame, frame["family"])
    months = sorted(frame["action_month"].unique())
    data = randomized(table, frame)
    model = UpliftModel(baseline, seed).fit(data)
    costs, proven = action_costs(frame), proven_actions(effects)
    scored = table.at(month)
    value = mx.customer_value(
        scored.frame[table.value_col] if table.value_col else None, len(scored.frame)
    )
    recs = recommend(model, scored, value, costs, proven)
    recs = none[[table.id_col]].merge(recs, on=table.id_col, how="left")
    if not proven:
        notes.append(
            "No action lowered churn measurably over the months measured, so none is recommended."
        )
    check, curves, trained_on = _check(table, data, months, touched, horizon, seed, notes)
    return ActionsResult(
        frame,
        effects,
        months,
        recs,
        check=check,
        curves=curves,
        costs=costs,
        modelled=model.actions,
        proven=proven,
        skipped=model.skipped_,
        check_trained_on=trained_on,
        notes=notes,
    )


def _check(table, data, months, touched, horizon, seed, notes):
    """The out-of-time check on the last closed month A: an uplift model as it could have
    been fitted when A's actions were sent (action months up to A - h - 1, a baseline on
    snapshots labelled by then), tested on A's randomized rows."""
    test_month = months[-1]
    train = [m for m in months if m <= shift_month(test_month, -horizon - 1)]
    snaps = [s for s in table.labelled_snapshots if s <= shift_month(test_month, -1 - horizon)]
    if not train or len(snaps) < 1:
        notes.append(
            f"No out-of-time check of the uplift model: it needs action months with outcomes "
            f"known before {test_month}'s actions were sent, and there are none."
        )
        return pd.DataFrame(columns=CHECK_COLUMNS), {}, []
    when = _months_of(data)
    past, later = _subset(data, np.isin(when, train)), _subset(data, when == test_month)
    try:
        earlier = UpliftModel(fit_baseline(table, snaps, touched, seed), seed).fit(past)
    except ChurnlabError as err:
        notes.append(f"No out-of-time check of the uplift model: its baseline failed ({err})")
        return pd.DataFrame(columns=CHECK_COLUMNS), {}, []
    check, curves = uplift_check(earlier, later)
    return check, curves, train


def _months_of(data: Randomized) -> np.ndarray:
    """The action month of each randomized row: the month after its snapshot."""
    return np.array([shift_month(s, 1) for s in data.rows.frame[data.rows.snapshot_col]])


def actions_metrics(acts: ActionsResult) -> dict:
    """``metrics.json``'s ``actions`` block: months, effects, the uplift model and its check,
    what the recommendations add up to, and the notes."""
    recs = acts.recommendations
    worth = recs[recs["net_gain"] > 0]
    return {
        "months": acts.months,
        "last_month": acts.last_month,
        "effects": _headline_effects(acts).to_dict("records"),
        "uplift": {
            "actions": acts.modelled,
            "proven": acts.proven,
            "skipped": acts.skipped,
            "costs": acts.costs,
            "check_month": acts.last_month if len(acts.check) else None,
            "check_trained_on": acts.check_trained_on,
            "check": acts.check.to_dict("records"),
            "worth_contacting": len(worth),
            "recommended": {
                str(k): int(v) for k, v in worth["best_action"].value_counts().sort_index().items()
            },
            "expected_churn_prevented": float(worth["churn_prevented"].sum()),
            "expected_net_gain": float(worth["net_gain"].sum()),
        },
        "notes": acts.notes,
    }


def _headline_effects(acts: ActionsResult) -> pd.DataFrame:
    """The effects metrics.json keeps: overall for every month and pooled; per family and per
    segment for the last month and pooled (the report's action_effects.csv has them all)."""
    e = acts.effects
    keep = (e["breakdown"] == "overall") | e["action_month"].isin(["all", acts.last_month])
    return e[keep].reset_index(drop=True)


def with_actions(result: AnalysisResult, acts: ActionsResult | None) -> AnalysisResult:
    """The report's result with the actions added: ``metrics['actions']`` and, in the scores,
    each customer's ``best_action``, ``churn_prevented`` and ``net_gain`` after the other
    columns. Without actions (``acts`` None) the result is returned as it is."""
    if acts is None:
        return result
    id_col = result.scores.columns[0]
    scores = result.scores.merge(acts.recommendations, on=id_col, how="left", validate="1:1")
    return replace(
        result, scores=scores, metrics={**result.metrics, "actions": actions_metrics(acts)}
    )


# ---------------------------------------------------------------- what the notebook shows
#: formats of :func:`effect_view`'s columns for ``views.table``
EFFECT_FORMATS = {
    "churn treated": "{:.1%}",
    "churn held out": "{:.1%}",
    "effect": lambda v: f"{v * 100:+.1f} pp",
}


def effects_of(acts: ActionsResult, month: str | None, breakdown: str = "overall") -> pd.DataFrame:
    """The effects of one action month (or ``all`` pooled) and one breakdown."""
    e = acts.effects
    return e[(e["action_month"] == month) & (e["breakdown"] == breakdown)].reset_index(drop=True)


def effect_view(effects: pd.DataFrame) -> pd.DataFrame:
    """Effects as the report shows them: who, how many, churn rates, effect, interval, verdict."""
    interval = [
        "" if pd.isna(lo) else f"{lo * 100:+.1f} to {hi * 100:+.1f} pp"
        for lo, hi in zip(effects["low"], effects["high"], strict=True)
    ]
    # a main-reason family is shown by its title, other levels (segments) as the data has them
    level = [
        family(v).title if b == "family" else v
        for v, b in zip(effects["level"], effects["breakdown"], strict=True)
    ]
    view = pd.DataFrame(
        {
            "action": effects["action"],
            "group": level,
            "treated": effects["n_treated"],
            "held out": effects["n_control"],
            "churn treated": effects["rate_treated"],
            "churn held out": effects["rate_control"],
            "effect": effects["effect"],
            "95 % interval": interval,
            "verdict": effects["verdict"],
        }
    )
    return view if (effects["breakdown"] != "overall").any() else view.drop(columns="group")


def recommendation_summary(acts: ActionsResult) -> pd.DataFrame:
    """Per recommended action: customers for whom it is worth it (net gain > 0), their
    expected churn prevented and net gain, and the action's cost."""
    recs = acts.recommendations
    worth = recs[recs["net_gain"] > 0]
    out = worth.groupby("best_action").agg(
        customers=("net_gain", "size"),
        churn_prevented=("churn_prevented", "sum"),
        net_gain=("net_gain", "sum"),
    )
    out["cost"] = [acts.costs.get(a, 0.0) for a in out.index]
    return out.reset_index().rename(columns={"best_action": "action"})


def check_view(check: pd.DataFrame) -> pd.DataFrame:
    """The uplift model's out-of-time check (:func:`uplift_check`) with words for columns;
    format with :data:`CHECK_FORMATS`."""
    return check.rename(
        columns={
            "action": "action",
            "n_treated": "treated",
            "n_control": "held out",
            "qini": "Qini coefficient",
            "uplift_top": f"churn prevented in the top {TOP_SHARE:.0%}",
            "uplift_all": "churn prevented overall",
        }
    )


#: formats of :func:`check_view`'s columns for ``views.table``
CHECK_FORMATS = {
    "treated": "{:,}",
    "held out": "{:,}",
    "Qini coefficient": "{:.3f}",
    f"churn prevented in the top {TOP_SHARE:.0%}": "{:+.1%}",
    "churn prevented overall": "{:+.1%}",
}


def recommendation_view(acts: ActionsResult) -> pd.DataFrame:
    """:func:`recommendation_summary` with words for columns; format with
    :data:`RECOMMENDATION_FORMATS` (money columns in the report's currency)."""
    return recommendation_summary(acts).rename(
        columns={
            "customers": "customers worth it",
            "churn_prevented": "churners prevented (expected)",
            "net_gain": "net gain (expected)",
            "cost": "cost per action",
        }
    )


#: formats of :func:`recommendation_view`'s columns for ``views.table``
RECOMMENDATION_FORMATS = {
    "customers worth it": "count",
    "churners prevented (expected)": "{:,.1f}",
    "net gain (expected)": "money",
    "cost per action": "money_exact",
}


def extra_tables(acts: ActionsResult | None) -> dict[str, pd.DataFrame]:
    """The report's extra files about actions (``action_effects.csv``); none without actions."""
    if acts is None:
        return {}
    return {"action_effects": acts.effects.set_index(["action_month", "action"])}
