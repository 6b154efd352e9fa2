"""ChurnModel: encoding, determinism, save/load, calibration, temporal and k-fold splits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import FeatureTable
from churnlab.model import Calibrator, ChurnModel, Encoder, oof_scores, temporal_split


def make_table(n: int = 6000, months: int = 6, seed: int = 0, snapshots: bool = True):
    """A logistic world: x1 raises churn, x2 lowers it, plan 'basic' raises it, noise is noise."""
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=(3, n))
    plan = rng.choice(["basic", "pro", "team", "tiny"], p=[0.5, 0.3, 0.198, 0.002], size=n)
    logit = -2.5 + 1.2 * x1 - 0.8 * x2 + 0.7 * (plan == "basic")
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"customer_id": [f"c{i:05d}" for i in range(n)]})
    if snapshots:
        frame["snapshot"] = [f"2025-{m:02d}" for m in rng.integers(1, months + 1, size=n)]
    frame["churned"] = pd.array(churned, dtype="Int8")
    frame["x1"], frame["x2"], frame["noise"] = x1, x2, noise
    frame["plan"] = pd.array(plan, dtype="string")
    frame["amount"] = rng.choice([10.0, 30.0, 50.0], size=n)
    frame["segment"] = pd.array(np.where(x1 > 0, "smb", "enterprise"), dtype="string")
    families = {"x1": "engagement", "x2": "support", "noise": "price", "plan": "profile"}
    families["amount"] = "price"
    return FeatureTable(
        frame,
        families,
        snapshot_col="snapshot" if snapshots else None,
        value_col="amount",
        segment_col="segment",
    )


def test_encoder_names_groups_rare_and_handles_unseen_and_missing():
    frame = pd.DataFrame(
        {
            "plan": pd.array(["basic"] * 12 + ["pro"] * 10 + ["odd"] * 2 + [None] * 10, "string"),
            "x": np.arange(34.0),
        }
    )
    enc = Encoder.fit(frame, ["x", "plan"])
    assert enc.columns == ["x", "plan=(missing)", "plan=basic", "plan=pro", "plan=(other)"]
    assert enc.source == ["x", "plan", "plan", "plan", "plan"]
    new = pd.DataFrame({"x": [1.0, np.nan], "plan": pd.array(["never-seen", None], "string")})
    m = enc.transform(new)
    assert m[0].tolist() == [1.0, 0, 0, 0, 1]
    assert np.isnan(m[1, 0]) and m[1, 1:].tolist() == [1, 0, 0, 0]
    assert Encoder.from_json(json.loads(json.dumps(enc.to_json()))) == enc


def test_scoring_a_table_without_a_trained_feature_is_a_clear_error():
    enc = Encoder.fit(pd.DataFrame({"x": [1.0], "y": [2.0]}), ["x", "y"])
    with pytest.raises(ChurnlabError, match="lacks 1 feature column"):
        enc.transform(pd.DataFrame({"x": [1.0]}))


@pytest.fixture(scope="module")
def split_table():
    table = make_table()
    train, valid, test = temporal_split(table.snapshots)
    return table, train, valid, test


@pytest.fixture(scope="module")
def fitted(split_table):
    table, train, valid, _ = split_table
    return ChurnModel(seed=3, tune=True).fit(table.at(train), table.at(valid))


def test_model_learns_the_signal_and_names_one_hot_columns(fitted, split_table):
    table, *_, test = split_table
    rows = table.at(test)
    p = fitted.predict_proba(rows)
    assert p.shape == (len(rows.frame),) and ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(rows.frame["churned"].to_numpy(int), p) > 0.75
    assert "plan=basic" in fitted.feature_names_ and "plan=(other)" in fitted.feature_names_
    assert 0 < fitted.best_iteration_ < 800
    assert fitted.calibrator_.kind == "platt"  # ~130 churners in the validation month


def test_same_seed_gives_identical_scores_and_another_seed_does_not(fitted, split_table):
    table, train, valid, test = split_table
    again = ChurnModel(seed=3, tune=True).fit(table.at(train), table.at(valid))
    other = ChurnModel(seed=4, tune=True).fit(table.at(train), table.at(valid))
    rows = table.at(test)
    assert np.array_equal(again.predict_proba(rows), fitted.predict_proba(rows))
    assert np.array_equal(again.margin(rows), fitted.margin(rows))
    assert not np.array_equal(other.margin(rows), fitted.margin(rows))
    two = ChurnModel(seed=3, n_jobs=2, tune=True).fit(table.at(train), table.at(valid))
    assert np.array_equal(two.predict_proba(rows), fitted.predict_proba(rows))


def test_the_booster_keeps_only_the_trees_up_to_the_best_iteration(fitted, split_table):
    table, train, valid, test = split_table
    # the rounds early stopping waited through are gone, and scores are those of the full
    # booster cut at the best iteration
    assert fitted.booster_.num_boosted_rounds() == fitted.best_iteration_ + 1
    x_tr, x_va = table.at(train), table.at(valid)
    params = {**fitted._params(), "nthread": 1}
    full = xgb.train(
        params,
        fitted._dmatrix(x_tr.frame, x_tr.frame["churned"].to_numpy(float)),
        num_boost_round=fitted.best_iteration_ + 30,
        evals=[(fitted._dmatrix(x_va.frame, x_va.frame["churned"].to_numpy(float)), "v")],
        verbose_eval=False,
    )
    assert full.num_boosted_rounds() > fitted.booster_.num_boosted_rounds()
    dm = fitted._dmatrix(table.at(test).frame)
    cut = full.predict(dm, output_margin=True, iteration_range=fitted.iteration_range)
    assert np.array_equal(cut, fitted.margin(table.at(test)))


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_save_and_load_round_trip_without_pickle(fitted, split_table, tmp_path, suffix):
    table, *_, test = split_table
    path = tmp_path / f"model{suffix}"
    fitted.save(path)
    sidecar = json.loads((tmp_path / f"model{suffix}.churnlab.json").read_text())
    assert sidecar["encoder"]["levels"]["plan"] == fitted.encoder_.levels["plan"]
    loaded = ChurnModel.load(path)
    rows = table.at(test)
    assert np.array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
    assert loaded.feature_names_ == fitted.feature_names_
    assert loaded.tuned_ == fitted.tuned_ and sidecar["tuned"] == fitted.tuned_


def test_calibrated_probabilities_match_the_observed_rate(fitted, split_table):
    table, *_, test = split_table
    rows = table.at(test)
    p = fitted.predict_proba(rows)
    y = rows.frame["churned"].to_numpy(float)
    # mean prediction within 3 standard errors of the observed rate on an unseen month
    assert abs(p.mean() - y.mean()) < 3 * np.sqrt(y.mean() * (1 - y.mean()) / len(y))


def test_centred_isotonic_is_monotone_and_keeps_ranking():
    rng = np.random.default_rng(1)
    margin = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(margin * 2 - 1)))).astype(float)
    cal = Calibrator.fit(margin, y)
    assert cal.kind == "isotonic"
    grid = np.linspace(-2, 2, 500)
    out = cal(grid)
    assert (np.diff(out) >= 0).all()
    # strictly increasing between the first and last knot: no ties that blunt the ranking
    inside = (grid > cal.x[0]) & (grid < cal.x[-1])
    assert (np.diff(out[inside]) > 0).all()


def test_platt_when_few_churners_identity_with_one_class():
    rng = np.random.default_rng(2)
    margin = rng.normal(size=300)
    y = np.zeros(300)
    y[np.argsort(-margin)[:20]] = 1  # 20 churners < 300: Platt
    cal = Calibrator.fit(margin, y)
    assert cal.kind == "platt" and cal.x[0] > 0
    assert Calibrator.fit(margin, np.zeros(300)).kind == "identity"
    assert cal(np.array([5.0]))[0] > cal(np.array([-5.0]))[0]


def test_fit_with_one_outcome_is_a_clear_error():
    table = make_table(200)
    frame = table.frame.assign(churned=pd.array([0] * 200, dtype="Int8"))
    with pytest.raises(ChurnlabError, match="only one outcome"):
        ChurnModel().fit(FeatureTable(frame, table.families))


def test_temporal_split_orders_by_time():
    months = ["2025-03", "2025-01", "2025-02", "2025-05", "2025-04"]
    assert temporal_split(months) == (["2025-01", "2025-02", "2025-03"], ["2025-04"], ["2025-05"])
    assert temporal_split(months, n_valid=2, n_test=2) == (
        ["2025-01"],
        ["2025-02", "2025-03"],
        ["2025-04", "2025-05"],
    )
    with pytest.raises(ChurnlabError, match="at least 3 labelled snapshots"):
        temporal_split(["2025-01", "2025-02"])


def test_oof_scores_cover_every_labelled_row_and_rank_well():
    table = make_table(3000, snapshots=False)
    frame = table.frame.copy()
    frame.loc[:99, "churned"] = pd.NA  # unlabelled rows are not scored
    table = FeatureTable(frame, table.families, snapshot_col=None)
    scores = oof_scores(table, k=3, seed=0)
    y = frame["churned"].dropna().to_numpy(int)
    assert scores.shape == y.shape and not np.isnan(scores).any()
    assert roc_auc_score(y, scores) > 0.75
    assert np.array_equal(scores, oof_scores(table, k=3, seed=0))


def test_oof_needs_two_of_each_class():
    table = make_table(100, snapshots=False)
    frame = table.frame.assign(churned=pd.array([1] + [0] * 99, dtype="Int8"))
    with pytest.raises(ChurnlabError, match="at least 2 churners"):
        oof_scores(FeatureTable(frame, table.families, snapshot_col=None))


def test_fit_on_frames_matches_fit_on_tables():
    table = make_table(1500, snapshots=False)
    features = table.features
    y = table.frame["churned"].to_numpy(float)
    a = ChurnModel(seed=1).fit(table)
    b = ChurnModel(seed=1).fit((table.frame[features], y))
    assert np.array_equal(a.predict_proba(table), b.predict_proba(table.frame))


def test_logistic_baseline_learns_the_logistic_world_with_gaps_and_unseen_levels():
    from churnlab.model.baseline import logistic_baseline

    table = make_table(seed=4)
    frame = table.frame.copy()
    frame.loc[frame.index[::7], "x2"] = np.nan  # missing numbers
    frame.loc[frame.index[::11], "plan"] = pd.NA  # missing categories
    frame.loc[(frame["snapshot"] == "2025-06").to_numpy() & (frame.index % 5 == 0), "plan"] = "new"
    table = FeatureTable(frame, table.families, snapshot_col="snapshot", value_col="amount")
    train = [f"2025-0{m}" for m in range(1, 6)]
    p = logistic_baseline(table, train, "2025-06")
    test = table.at("2025-06").frame
    assert len(p) == len(test) and np.all((p > 0) & (p < 1))
    y = test["churned"].astype(int)
    assert roc_auc_score(y, p) > 0.75  # x1 and x2 carry the signal
    x1 = test["x1"].to_numpy()
    assert np.corrcoef(x1, p)[0, 1] > 0.5  # higher x1, higher risk, as in the world
    single = table.subset(table.frame["churned"].fillna(0) == 0)
    with pytest.raises(ChurnlabError, match="churners and stayers"):
        logistic_baseline(single, train, "2025-06")


def test_search_candidates_are_seeded_start_with_the_defaults_and_never_repeat():
    from churnlab.model.tuning import CANDIDATES, CORE, SPACE, candidates

    first = candidates(0)
    assert first == candidates(0)  # the seed alone decides
    assert len(first) == CANDIDATES and first[: len(CORE)] == list(CORE) and first[0] == {}
    assert candidates(1)[: len(CORE)] == list(CORE) and candidates(1) != first
    keys = [tuple(sorted(c.items())) for c in first]
    assert len(set(keys)) == len(keys)
    for c in first[len(CORE) :]:
        assert set(c) == set(SPACE) and all(c[k] in SPACE[k] for k in c)
    assert candidates(0, 2) == [{}, {"max_depth": 1}]


def test_sample_rows_is_stratified_seeded_and_sorted():
    from churnlab.model.tuning import sample_rows

    y = np.array([1.0] * 100 + [0.0] * 900)
    rows = sample_rows(y, 200, seed=5)
    assert len(rows) == 200 and y[rows].sum() == 20  # 10 % churners, as in y
    assert np.array_equal(rows, np.sort(rows)) and len(set(rows)) == 200
    assert np.array_equal(rows, sample_rows(y, 200, seed=5))
    assert not np.array_equal(rows, sample_rows(y, 200, seed=6))
    assert np.array_equal(sample_rows(y, 5000, seed=5), np.arange(1000))


def one_se_choice(trials):
    """The one-standard-error rule written out: the shallowest candidate whose mean row loss
    exceeds the lowest by at most the standard error of the paired difference."""
    best = min(trials, key=lambda t: t.loss)
    ok = []
    for t in trials:
        d = np.asarray(t.row_loss) - np.asarray(best.row_loss)
        if d.mean() <= np.sqrt(((d - d.mean()) ** 2).sum() / (len(d) - 1) / len(d)):
            ok.append(t)
    return min(ok, key=lambda t: (t.params.get("max_depth", 4), t.loss))


def test_best_trial_takes_the_shallowest_candidate_within_one_standard_error():
    from churnlab.model.tuning import Trial, best_trial

    # four validation rows. Depth 6 is best (mean 0.25). Depth 2 loses 0.05 per row on
    # average, with paired differences 0, 0.1, 0, 0.1: sd 0.0577, se 0.0289 < 0.05: out.
    # Depth 3 differs by 0.1, -0.1, 0.1, -0.06 (mean 0.01, sd 0.105, se 0.053 >= 0.01): in.
    deep = Trial({"max_depth": 6}, 0.25, 10, row_loss=np.array([0.2, 0.3, 0.2, 0.3]))
    two = Trial({"max_depth": 2}, 0.30, 10, row_loss=np.array([0.2, 0.4, 0.2, 0.4]))
    three = Trial({"max_depth": 3}, 0.26, 10, row_loss=np.array([0.3, 0.2, 0.3, 0.24]))
    defaults = Trial({}, 0.25, 10, row_loss=np.array([0.2, 0.3, 0.2, 0.3]))  # depth 4, a tie
    assert best_trial([deep, two, three, defaults]) is three
    assert best_trial([deep, two, defaults]) is defaults  # a tie: the shallower
    assert best_trial([deep, two]) is deep
    # without per-row losses: the lowest loss, the earlier candidate on a tie
    bare = [Trial({}, 0.3, 1), Trial({"max_depth": 1}, 0.2, 1), Trial({"max_depth": 2}, 0.2, 1)]
    assert best_trial(bare) is bare[1]


def test_the_search_keeps_the_candidate_that_predicts_the_validation_period_best(
    fitted, split_table
):
    from churnlab.model.tuning import CORE, candidates

    # on a validation period: the few core candidates (the defaults first)
    assert [t.params for t in fitted.trials_] == candidates(3, len(CORE)) == list(CORE)
    best = one_se_choice(fitted.trials_)
    assert fitted.tuned_ == best.params
    assert fitted.best_iteration_ == best.best_iteration  # small data: the winner is kept
    # its validation log-loss is what the booster scores on the validation month
    table, _, valid, _ = split_table
    rows = table.at(valid)
    y = rows.frame["churned"].to_numpy(float)
    p = 1 / (1 + np.exp(-fitted.margin(rows)))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert loss == pytest.approx(best.loss, abs=1e-4)


def test_given_params_switch_the_search_off(split_table):
    table, train, valid, _ = split_table
    model = ChurnModel(seed=3, params={"max_depth": 3}).fit(table.at(train), table.at(valid))
    assert model.trials_ == [] and model.tuned_ == {}
    off = ChurnModel(seed=3, tune=False).fit(table.at(train), table.at(valid))
    assert off.trials_ == [] and off._params()["max_depth"] == 4
    # by default a model with a validation period keeps the defaults (the report's many
    # backtest models), and a table without one is searched on inner folds
    default = ChurnModel(seed=3).fit(table.at(train), table.at(valid))
    assert default.trials_ == [] and default.tuned_ == {}
    flat = ChurnModel(seed=3).fit(table.at(train))
    assert len(flat.trials_) > 1


def test_on_large_tables_the_search_samples_and_the_winner_learns_from_every_row(
    monkeypatch, split_table
):
    from churnlab.model import tuning

    table, train, valid, test = split_table
    monkeypatch.setattr("churnlab.model.booster.SEARCH_ROWS", 500)
    sampled = ChurnModel(seed=3, tune=True).fit(table.at(train), table.at(valid))
    again = ChurnModel(seed=3, tune=True).fit(table.at(train), table.at(valid))
    assert sampled.tuned_ == one_se_choice(sampled.trials_).params
    rows = table.at(test)
    assert np.array_equal(sampled.margin(rows), again.margin(rows))
    # the refit on every training row with the chosen parameters is the model
    refit = ChurnModel(seed=3, params=sampled.tuned_ or None, tune=False)
    refit.num_rounds = tuning.rounds_for(sampled._params()["eta"])
    refit.fit(table.at(train), table.at(valid))
    assert np.array_equal(refit.margin(rows), sampled.margin(rows))


def test_a_small_table_without_validation_period_is_searched_on_inner_folds():
    from churnlab.model import tuning

    table = make_table(n=1500, snapshots=False)
    model = ChurnModel(seed=2).fit(table)
    again = ChurnModel(seed=2).fit(table)
    assert [t.params for t in model.trials_] == tuning.candidates(2)
    best = one_se_choice(model.trials_)
    assert model.tuned_ == best.params and model.best_iteration_ == best.best_iteration
    # the winner learned from every row for its scaled number of rounds, without stopping
    assert model.booster_.num_boosted_rounds() == model.best_iteration_ + 1
    assert np.array_equal(model.predict_proba(table), again.predict_proba(table))
    # every candidate's loss is the log-loss of its out-of-fold margins (the calibrator's
    # data): re-derive the winner's from five folds of our own
    y = table.frame["churned"].to_numpy(float)
    folds = StratifiedKFold(tuning.INNER_FOLDS, shuffle=True, random_state=2)
    margin = np.zeros(len(y))
    matrix = model.encoder_.transform(table.frame)
    for a, b in folds.split(np.zeros(len(y)), y):
        dtr = xgb.DMatrix(matrix[a], y[a], feature_names=model.booster_names_)
        dva = xgb.DMatrix(matrix[b], y[b], feature_names=model.booster_names_)
        params = model._params(best.params, nthread=1)
        bst = xgb.train(
            params,
            dtr,
            model._rounds(best.params),
            evals=[(dva, "v")],
            early_stopping_rounds=50,
            verbose_eval=False,
        )
        margin[b] = bst.predict(
            dva, output_margin=True, iteration_range=(0, bst.best_iteration + 1)
        )
    assert np.mean(np.logaddexp(0, margin) - y * margin) == pytest.approx(best.loss, rel=1e-9)


def test_fits_side_by_side_run_in_pairs_on_one_thread_each_and_give_the_same_models(split_table):
    from churnlab.model.backtest import side_by_side

    table, train, valid, test = split_table
    seen: list = []

    def job(seed: int):
        def fit(threads):
            seen.append(threads)
            model = ChurnModel(seed=seed).fit(table.at(train), table.at(valid), threads=threads)
            return model, model.nthread_

        return fit

    pairs = side_by_side([job(1), job(2), job(3)])
    # a pair on one thread each, then the odd one out alone with the usual thread choice
    assert seen == [1, 1, None]
    assert [n for _, n in pairs] == [1, 1, pairs[2][0]._threads(len(table.at(train).frame))]
    rows = table.at(test)
    for seed, (model, _) in zip((1, 2, 3), pairs, strict=True):  # in the jobs' order
        alone = ChurnModel(seed=seed, n_jobs=2).fit(table.at(train), table.at(valid))
        assert np.array_equal(model.margin(rows), alone.margin(rows))
    (single,) = side_by_side([job(1)])
    assert seen[-1] is None and np.array_equal(single[0].margin(rows), pairs[0][0].margin(rows))
    # a fit's thread count is the fit's only: scoring goes back to the usual choice
    assert pairs[0][0].n_jobs is None
