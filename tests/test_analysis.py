"""The shared analysis pipeline: which snapshots train, validate and get scored; outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_model import make_table

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable, load_feature_table
from churnlab.model.splits import recent_snapshots
from churnlab.report.analysis import analyze_month, analyze_table, write_results

MONTHS = 8  # snapshots 2025-01 .. 2025-08


def monthly(seed: int = 0) -> FeatureTable:
    """Labels known up to 2025-07 (horizon 1 at the end of 2025-08)."""
    t = make_table(8000, months=MONTHS, seed=seed)
    frame = t.frame.copy()
    frame.loc[frame["snapshot"] == "2025-08", "churned"] = pd.NA
    return FeatureTable(frame, t.families, value_col="amount", segment_col="segment")


def relabel(table: FeatureTable, snapshot: str, seed: int = 9) -> FeatureTable:
    frame = table.frame.copy()
    rows = frame["snapshot"] == snapshot
    frame.loc[rows, "churned"] = pd.array(
        np.random.default_rng(seed).integers(0, 2, rows.sum()), dtype="Int8"
    )
    return FeatureTable(frame, table.families, value_col="amount", segment_col="segment")


@pytest.fixture(scope="module")
def result():
    return analyze_month(monthly(), "2025-08", horizon=2)


def test_month_metrics_and_backtest_snapshot(result):
    m = result.metrics
    assert m["month"] == "2025-08" and m["horizon"] == 2
    table = monthly()
    assert m["scored_customers"] == int((table.frame["snapshot"] == "2025-08").sum())
    # the churn rate's population is snapshot M-h (2025-06): active at its cutoff
    b = table.frame[table.frame["snapshot"] == "2025-06"]["churned"]
    assert m["active_customers"] == len(b) != m["scored_customers"]
    assert m["churned"] == int(b.sum()) and m["churn_rate"] == pytest.approx(b.mean())
    assert m["churn_rate"] == m["churned"] / m["active_customers"]
    bt = m["backtest"]
    assert bt["snapshot"] == "2025-06" and bt["n"] == len(b)
    assert 0.7 < bt["roc_auc"] <= 1 and bt["lift_top_decile"] > 1
    assert sum(m["driver_shares"].values()) == pytest.approx(1.0)
    assert m["notes"] == []
    # campaign: forward best k from probabilities, backtest best k from what happened
    assert 0 <= m["best_k"]["k"] <= m["scored_customers"]
    assert 0 <= m["backtest_best_k"]["k"] <= bt["n"] and m["backtest_best_k"]["profit"] >= 0
    assert len(result.campaign) == m["scored_customers"] + 1
    assert set(result.backtest_frame["snapshot"]) == {"2025-06"}


def test_backtest_model_never_sees_labels_after_m_minus_2h(result):
    # horizon 2, M = 2025-08: the backtest scores 2025-06 with a model trained on <= 2025-04,
    # so relabelling 2025-05 changes nothing in the backtest, while relabelling 2025-04 does.
    p = result.backtest_frame["churn_probability"].to_numpy()
    later = analyze_month(relabel(monthly(), "2025-05"), "2025-08", horizon=2)
    assert np.array_equal(later.backtest_frame["churn_probability"].to_numpy(), p)
    earlier = analyze_month(relabel(monthly(), "2025-04"), "2025-08", horizon=2)
    assert not np.array_equal(earlier.backtest_frame["churn_probability"].to_numpy(), p)


def test_snapshots_after_the_month_change_nothing():
    table = monthly()
    early = analyze_month(table, "2025-06")
    cut = table.subset(table.frame["snapshot"] <= "2025-06")
    alone = analyze_month(cut, "2025-06")
    pd.testing.assert_frame_equal(early.scores, alone.scores)
    assert early.metrics == alone.metrics


def test_scores_are_the_month_sorted_by_risk_with_reasons(result):
    s = result.scores
    table = monthly()
    month_ids = set(table.frame.loc[table.frame["snapshot"] == "2025-08", "customer_id"])
    assert set(s["customer_id"]) == month_ids
    assert s["risk_rank"].tolist() == list(range(1, len(s) + 1))
    assert (np.diff(s["churn_probability"]) <= 0).all()
    assert s["reason_1"].iloc[0].endswith(" pp)")
    # the first reason's family is the family with the most credit; the action is its action
    top = result.credit.family.idxmax(axis=1)
    first = pd.Series(s["family_1"].to_numpy(), index=s["customer_id"].to_numpy())
    by_id = pd.Series(top.to_numpy(), index=table.at("2025-08").frame["customer_id"].to_numpy())
    named = first[first != ""]
    assert (named == by_id.reindex(named.index)).all() and len(named) > 0.5 * len(s)
    assert np.allclose(s["expected_revenue_at_risk"], s["churn_probability"] * s["value"])
    assert set(result.segment_shares["segment"]) == {"smb", "enterprise"}
    d = result.drivers
    assert list(d.columns) == [
        "family",
        "feature",
        "mean_abs_shap",
        "share",
        "direction",
        "shap_share",
    ]
    # credit shares of the features add up to their family's driver share; profile has none
    by_family = d.dropna(subset=["share"]).groupby("family")["share"].sum()
    assert by_family.to_dict() == pytest.approx(result.metrics["driver_shares"])
    assert d.loc[d["family"] == "profile", "share"].isna().all()
    assert d["shap_share"].sum() == pytest.approx(1.0)


def test_metrics_keep_plain_shap_shares_the_baseline_risk_and_healthy_levels(result):
    m = result.metrics
    assert set(m["driver_shares"]) <= {"engagement", "support", "price"}  # profile is context
    assert list(m["driver_shares"])[0] == "engagement"
    assert sum(m["shap_shares"].values()) == pytest.approx(1.0) and "profile" in m["shap_shares"]
    base = m["baseline_risk"]
    assert base["context_families"] == ["profile"] and base["held_features"] == []
    assert 0 < base["all_drivers_fixed"] < base["mean_churn_probability"]
    assert base["mean_churn_probability"] == pytest.approx(
        result.scores["churn_probability"].mean()
    )
    levels = m["healthy_levels"]
    assert set(levels) == {"x1", "x2", "noise", "amount"}
    # x1 raises churn, x2 lowers it: healthy x1 is low, healthy x2 is high
    x = monthly().at("2025-08").frame
    assert levels["x1"] < x["x1"].median() and levels["x2"] > x["x2"].median()


def test_short_history_gives_no_backtest_but_notes():
    r = analyze_month(monthly(), "2025-03")  # B = 2025-02, only 2025-01 labelled before it
    assert r.metrics["backtest"]["roc_auc"] is None and r.metrics["backtest"]["n"] == 0
    assert "No backtest" in r.metrics["notes"][0]
    assert len(r.scores) > 0
    with pytest.raises(ChurnlabError, match="too early"):
        analyze_month(monthly(), "2025-01")
    with pytest.raises(ChurnlabError, match="no snapshot"):
        analyze_month(monthly(), "2026-01")


def test_a_backtest_month_where_nobody_churned_is_reported_in_words():
    table = monthly()
    frame = table.frame.copy()
    frame.loc[frame["snapshot"] == "2025-07", "churned"] = 0
    r = analyze_month(FeatureTable(frame, table.families), "2025-08")
    bt = r.metrics["backtest"]
    assert bt["roc_auc"] is None and bt["positives"] == 0 and bt["brier"] is not None
    assert any("nobody churned" in n for n in r.metrics["notes"])


def test_write_results_is_byte_identical(tmp_path):
    for run in ("a", "b"):
        write_results(analyze_month(monthly(), "2025-08", seed=5), tmp_path / run)
    for name in ("metrics.json", "drivers.csv", "scores.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert {"month", "active_customers", "churned", "churn_rate", "backtest"} <= set(metrics)
    assert set(metrics["backtest"]) >= {"roc_auc", "pr_auc", "brier", "lift_top_decile"}
    scores = pd.read_csv(tmp_path / "a" / "scores.csv")
    assert scores.columns[:3].tolist() == ["customer_id", "churn_probability", "risk_rank"]


def test_analyze_table_with_snapshots_and_without():
    r = analyze_table(monthly())
    assert r.metrics["month"] == "2025-08"
    assert r.metrics["backtest"]["snapshot"] == "2025-07"
    assert r.metrics["churned"] is None  # the latest snapshot is not labelled yet
    assert r.metrics["churn_rate"] is None
    assert r.metrics["active_customers"] == r.metrics["scored_customers"] == len(r.scores)
    flat = make_table(3000, snapshots=False)
    r = analyze_table(flat)
    assert r.metrics["month"] is None and r.metrics["backtest"]["n"] == 3000
    assert r.metrics["backtest"]["roc_auc"] > 0.75
    assert len(r.scores) == 3000 and "out-of-fold" in r.metrics["notes"][0]
    m = r.metrics
    assert m["active_customers"] == m["scored_customers"] == 3000
    assert m["churned"] == int(flat.frame["churned"].sum())
    assert m["churn_rate"] == m["churned"] / m["active_customers"]


def test_a_users_csv_with_a_families_file_end_to_end(tmp_path):
    frame = make_table(2000, snapshots=False).frame.drop(columns=["segment"])
    frame["churned"] = frame["churned"].map({1: "Yes", 0: "no"})
    frame.to_csv(tmp_path / "crm.csv", index=False)
    (tmp_path / "fam.yaml").write_text("usage: [x1]\nservice: [x2, plan]\n")
    table = load_feature_table(
        tmp_path / "crm.csv", "customer_id", "churned", tmp_path / "fam.yaml"
    )
    result = analyze_table(table, seed=1)
    write_results(result, tmp_path / "out")
    drivers = pd.read_csv(tmp_path / "out" / "drivers.csv")
    assert set(drivers["family"]) == {"usage", "service", "other"}
    assert drivers.loc[0, "feature"] == "x1" and drivers.loc[0, "family"] == "usage"
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["backtest"]["n"] == 2000 and metrics["backtest"]["roc_auc"] > 0.7
    assert set(metrics["driver_shares"]) == {"usage", "service", "other"}


def test_a_families_file_context_is_held_by_the_credit(tmp_path):
    frame = make_table(2000, snapshots=False).frame.drop(columns=["segment"])
    frame.to_csv(tmp_path / "crm.csv", index=False)
    (tmp_path / "fam.yaml").write_text("usage: [x1]\nservice: [x2, plan]\ncontext: [usage]\n")
    table = load_feature_table(
        tmp_path / "crm.csv", "customer_id", "churned", tmp_path / "fam.yaml"
    )
    result = analyze_table(table, seed=1)
    assert set(result.metrics["driver_shares"]) == {"service", "other"}
    assert result.metrics["baseline_risk"]["context_families"] == ["usage"]
    assert "usage" not in set(result.scores["family_1"])
    assert "x1" not in result.metrics["healthy_levels"]


def test_recent_snapshots_keep_the_newest_within_the_row_budget():
    table = monthly()
    sizes = table.frame.loc[table.labelled, "snapshot"].value_counts()
    snaps = ["2025-01", "2025-02", "2025-03", "2025-04"]
    two = int(sizes["2025-04"] + sizes["2025-03"])
    assert recent_snapshots(table, snaps, two) == ["2025-03", "2025-04"]
    assert recent_snapshots(table, snaps, two - 1) == ["2025-04"]
    assert recent_snapshots(table, snaps, 1) == ["2025-04"]  # never fewer than one
    assert recent_snapshots(table, snaps, None) == snaps


def test_a_row_budget_trains_on_recent_snapshots_only_and_says_so():
    table = monthly()
    budget = int((table.frame["snapshot"] == "2025-05").sum())  # one month of rows
    capped = analyze_month(table, "2025-08", max_train_rows=budget)
    # forward model: train 2025-06 only (validation 2025-07); backtest: 2025-05 (valid. 06)
    assert any(
        n.startswith("The forward model learned from the 1 most recent")
        for n in capped.metrics["notes"]
    )
    assert any(n.startswith("The backtest model") for n in capped.metrics["notes"])
    # relabelling a month the capped models never see changes nothing
    other = analyze_month(relabel(table, "2025-02"), "2025-08", max_train_rows=budget)
    pd.testing.assert_frame_equal(capped.scores, other.scores)
    full = analyze_month(relabel(table, "2025-02"), "2025-08", max_train_rows=None)
    assert not full.scores["churn_probability"].equals(capped.scores["churn_probability"])


def test_a_report_explains_a_seeded_sample_with_shap_but_scores_every_customer(monkeypatch):
    import churnlab.report.analysis as analysis

    monkeypatch.setattr(analysis, "SHAP_ROWS", 700)
    table = monthly()
    r = analyze_month(table, "2025-08", seed=4)
    scored = table.at("2025-08").frame.reset_index(drop=True)
    assert len(scored) > 700 and r.metrics["model"]["shap_rows"] == 700
    # the sample: the seeded draw of explain(), kept in table order
    drawn = np.random.default_rng(4).choice(len(scored), 700, replace=False)
    assert r.shap.ids.tolist() == scored["customer_id"].to_numpy()[np.sort(drawn)].tolist()
    assert r.shap.values.shape == (700, len(r.shap.features))
    # every customer is scored by the model itself, with credit-based reasons
    probability = r.model.predict_proba(table.at("2025-08"))
    by_id = pd.Series(probability, index=scored["customer_id"].to_numpy())
    assert len(r.scores) == len(scored)
    assert np.allclose(r.scores["churn_probability"], by_id[r.scores["customer_id"]], atol=1e-6)
    assert (r.scores["reason_1"] != "").sum() > 700
    again = analyze_month(table, "2025-08", seed=4)
    assert again.metrics == r.metrics
    pd.testing.assert_frame_equal(again.drivers, r.drivers)
    # sampled plain-SHAP shares stay close to those of every customer; credit shares are exact
    monkeypatch.setattr(analysis, "SHAP_ROWS", None)
    full = analyze_month(table, "2025-08", seed=4)
    assert full.metrics["model"]["shap_rows"] == len(scored)
    assert full.metrics["driver_shares"] == r.metrics["driver_shares"]
    pd.testing.assert_frame_equal(full.scores, r.scores)
    for family, share in full.metrics["shap_shares"].items():
        assert r.metrics["shap_shares"][family] == pytest.approx(share, abs=0.02)
