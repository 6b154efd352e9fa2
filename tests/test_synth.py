"""Tests of the synthetic world generator (churnlab.synth): determinism, chunking, the data
contract, the truth's consistency with realised churn, dominance, and point-in-time truth
(every contribution recomputed from the tables as known at the snapshot's cutoff)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnlab.contract.dataset import Dataset
from churnlab.core.errors import ChurnlabError
from churnlab.synth import FAMILIES, drivers, generate, synthesize
from churnlab.synth import params as P

CONTRIB = [f"contrib_{f}" for f in FAMILIES]
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def world():
    return generate(2000, 12, seed=11)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def _labelled(world) -> pd.DataFrame:
    """Truth rows whose label month lies inside the data, with the realised label."""
    truth = world.truth.merge(world.tables["customers"][["customer_id", "churn_date"]])
    cutoff = pd.to_datetime(truth["snapshot"] + "-01") + pd.DateOffset(months=1)
    end = cutoff + pd.DateOffset(months=1)
    truth["churned"] = (truth["churn_date"] >= cutoff) & (truth["churn_date"] < end)
    return truth[truth["snapshot"] < truth["snapshot"].max()]


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = synthesize(tmp_path / "a", customers=600, months=4, seed=5)
    b = synthesize(tmp_path / "b", customers=600, months=4, seed=5)
    assert _hashes(a) == _hashes(b)
    tables = ("customers", "billing", "tickets", "onboarding", "usage", "feedback", "truth")
    assert set(_hashes(a)) == {f"{t}.parquet" for t in tables}


def test_different_seeds_differ():
    a, b = generate(300, 4, seed=1), generate(300, 4, seed=2)
    assert not a.tables["usage"].equals(b.tables["usage"])
    assert not a.truth["churn_probability"].equals(b.truth["churn_probability"])


def test_chunking_does_not_change_the_data(tmp_path):
    kwargs = dict(customers=1100, months=4, seed=3, block_size=300)
    one = _read(synthesize(tmp_path / "one", chunk_blocks=1, **kwargs))
    many = _read(synthesize(tmp_path / "many", chunk_blocks=3, **kwargs))
    whole = generate(1100, 4, seed=3, block_size=300)
    for name in one:
        pd.testing.assert_frame_equal(one[name], many[name])
        expected = whole.truth if name == "truth" else whole.tables[name]
        got = one[name]
        for col in got.columns:  # dates come back as python dates from date32 columns
            if got[col].dtype == object:
                got[col] = pd.to_datetime(got[col]).astype(expected[col].dtype)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_contract_columns_and_types(world):
    t = world.tables
    assert list(t["customers"].columns)[:3] == ["customer_id", "signup_date", "churn_date"]
    assert t["customers"]["customer_id"].is_unique
    assert {
        "customer_id",
        "period_start",
        "amount",
        "list_price",
        "discount",
        "plan",
        "paid",
    } <= set(t["billing"].columns)
    assert {"opened_at", "resolved_at", "category", "csat", "escalated"} <= set(t["tickets"])
    assert {"step", "completed_at"} <= set(t["onboarding"])
    assert {"date", "sessions", "minutes"} <= set(t["usage"])
    assert {"responded_at", "score", "comment"} <= set(t["feedback"])
    for name, col in [("billing", "period_start"), ("usage", "date"), ("tickets", "opened_at")]:
        assert pd.api.types.is_datetime64_dtype(t[name][col])
    ids = set(t["customers"]["customer_id"])
    for name in ("billing", "tickets", "onboarding", "usage", "feedback"):
        assert set(t[name]["customer_id"]) <= ids, name
    assert (t["billing"]["amount"] >= 0).all()
    assert np.allclose(
        t["billing"]["amount"], t["billing"]["list_price"] - t["billing"]["discount"]
    )
    csat = t["tickets"]["csat"].dropna()
    assert csat.between(1, 5).all() and t["feedback"]["score"].between(0, 10).all()
    tickets = t["tickets"].dropna(subset=["resolved_at"])
    assert (tickets["resolved_at"] >= tickets["opened_at"]).all()
    # CSAT is given at resolution: never on an open ticket; some tickets are still open
    assert t["tickets"].loc[t["tickets"]["resolved_at"].isna(), "csat"].isna().all()
    assert t["tickets"]["resolved_at"].isna().any()
    c = t["customers"].dropna(subset=["churn_date"])
    assert (c["churn_date"] > c["signup_date"]).all()


def test_no_activity_after_churn_and_data_ends_on_last_day(world):
    t = world.tables
    churn = t["customers"].set_index("customer_id")["churn_date"]
    for name, col in [("usage", "date"), ("billing", "period_start"), ("feedback", "responded_at")]:
        frame = t[name]
        assert not (frame[col] >= frame["customer_id"].map(churn)).any(), name
    data = Dataset(t)
    last_day = pd.Timestamp(P.Calendar.make("2024-11", 12).data_end_day, unit="D") - DAY
    assert data.data_end.normalize() == last_day
    assert t["usage"]["date"].max() == last_day
    assert world.truth["snapshot"].min() == "2024-11" and world.truth["snapshot"].max() == "2025-10"


def test_truth_covers_each_snapshot_population(world):
    customers = world.tables["customers"]
    for month, rows in world.truth.groupby("snapshot"):
        cutoff = pd.Timestamp(month + "-01") + pd.DateOffset(months=1)
        pop = customers[
            (customers["signup_date"] < cutoff)
            & (customers["churn_date"].isna() | (customers["churn_date"] >= cutoff))
        ]
        assert set(rows["customer_id"]) == set(pop["customer_id"]), month


def test_logit_identity_is_exact(world):
    tr = world.truth
    p = tr["churn_probability"].to_numpy()
    logit = np.log(p / (1 - p))
    np.testing.assert_allclose(logit, tr["base_logit"] + tr[CONTRIB].sum(axis=1), atol=1e-9)


def test_realised_churn_matches_true_probability(world):
    lab = _labelled(world)
    p = lab["churn_probability"]
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(lab["churned"].mean() - p.mean()) < 4 * se
    # and month by month the churn rate is that of a plausible subscription business
    monthly = lab.groupby("snapshot")["churned"].mean()
    assert monthly.between(0.015, 0.06).all(), monthly
    # the truth ranks: churners had clearly higher true probabilities
    assert p[lab["churned"]].mean() > 1.5 * p[~lab["churned"]].mean()


@pytest.mark.parametrize("family", ["support", "engagement", "onboarding"])
def test_dominant_family_has_largest_contributions(family):
    truth = generate(2000, 12, seed=4, dominant=family).truth
    size = truth[CONTRIB].abs().mean()
    assert size.idxmax() == f"contrib_{family}"
    assert size[f"contrib_{family}"] > 1.5 * size.drop(f"contrib_{family}").max()


def _signals_from_tables(tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp, start: str):
    """Each family's contribution recomputed with pandas from the tables as known before
    ``cutoff`` (Dataset.as_of), independently of the generator's running state."""
    known = Dataset(tables).as_of(cutoff).tables
    cust = known["customers"]
    cust = cust[cust["churn_date"].isna()].set_index("customer_id")
    tenure = (cutoff - cust["signup_date"]).dt.days.astype(float)

    bill = known["billing"].sort_values(["customer_id", "period_start"])
    g = bill.groupby("customer_id")
    last, count = g.nth(-1).set_index("customer_id"), g.size()
    fourth = g.nth(-4).set_index("customer_id")["amount"].reindex(cust.index)
    rise = (last["amount"] / fourth - 1).where(count >= 4, 0.0).reindex(cust.index)
    prev_discount = g["discount"].shift()
    ended = bill[(bill["discount"] == 0) & (prev_discount > 0)]
    ended = ended[ended["period_start"] >= cutoff - 90 * DAY]["customer_id"].unique()
    cal = P.Calendar.make(start, 48)
    standard = cal.standard_prices()
    month_index = (last["period_start"].to_numpy().astype("datetime64[M]") - cal.origin).astype(int)
    plan_code = last["plan"].map({p: i for i, p in enumerate(P.PLANS)})
    premium = last["list_price"] / standard[plan_code.to_numpy(), month_index]
    unpaid = g.tail(3).assign(u=lambda d: ~d["paid"]).groupby("customer_id")["u"].sum()

    tk = known["tickets"]
    recent = tk[tk["opened_at"] >= cutoff - 30 * DAY].groupby("customer_id").size()
    open_now = tk[tk["resolved_at"].isna()].groupby("customer_id").size()
    esc = tk[tk["escalated"] & (tk["opened_at"] >= cutoff - 90 * DAY)].groupby("customer_id").size()
    rated = tk.dropna(subset=["resolved_at", "csat"])
    rated = rated[rated["resolved_at"] >= cutoff - 180 * DAY].sort_values("resolved_at")
    last_csat = rated.groupby("customer_id")["csat"].last()

    ob = known["onboarding"]
    ob = ob[ob["step"] != "account_created"].merge(cust["signup_date"].reset_index())
    delay = ob["completed_at"] - ob["signup_date"]
    shares = [
        (delay < days * DAY).groupby(ob["customer_id"]).sum().reindex(cust.index, fill_value=0) / 4
        for days in (7, 14, 30)
    ]

    us = known["usage"]
    a30 = us[us["date"] >= cutoff - 30 * DAY].groupby("customer_id").size()
    window = (us["date"] >= cutoff - 60 * DAY) & (us["date"] < cutoff - 30 * DAY)
    aprev = us[window].groupby("customer_id").size()
    last_day = us.groupby("customer_id")["date"].max().reindex(cust.index)
    since = ((cutoff - last_day).dt.days).fillna(tenure).astype(float)

    fb = known["feedback"].sort_values("responded_at")
    score = fb.groupby("customer_id")["score"].last().reindex(cust.index).astype(float)

    def z(s):
        return s.reindex(cust.index, fill_value=0).to_numpy(dtype=float)

    def code(col, vocab):
        return cust[col].map({v: i for i, v in enumerate(vocab)}).to_numpy()

    contrib = np.column_stack(
        [
            drivers.price(z(rise), cust.index.isin(ended), z(premium), z(unpaid)),
            drivers.support(
                z(open_now), z(recent), z(esc), last_csat.reindex(cust.index).to_numpy()
            ),
            drivers.onboarding(*(s.to_numpy() for s in shares), tenure.to_numpy()),
            drivers.engagement(z(a30), z(aprev), since.to_numpy(), tenure.to_numpy()),
            drivers.voice_of_customer(score.to_numpy()),
            drivers.profile(
                code("plan", P.PLANS),
                code("segment", P.SEGMENTS),
                code("channel", P.CHANNELS),
                tenure.to_numpy(),
            ),
        ]
    )
    return pd.DataFrame(contrib, index=cust.index, columns=CONTRIB)


@pytest.mark.parametrize("month", ["2024-11", "2025-04", "2025-09"])
def test_truth_depends_only_on_data_before_the_cutoff(world, month):
    cutoff = pd.Timestamp(month + "-01") + pd.DateOffset(months=1)
    expected = _signals_from_tables(world.tables, cutoff, "2024-11")
    truth = world.truth[world.truth["snapshot"] == month].set_index("customer_id")[CONTRIB]
    assert len(truth) > 500
    pd.testing.assert_frame_equal(
        truth.sort_index(),
        expected.sort_index(),
        check_exact=False,
        atol=1e-9,
        rtol=0,
        check_names=False,
    )


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(customers=0, months=12), "--customers"),
        (dict(customers=10, months=2), "--months"),
        (dict(customers=10, months=12, dominant="pricing"), "unknown driver family"),
        (dict(customers=10, months=12, start="2024-13"), "YYYY-MM"),
        (dict(customers=10, months=12, seed=-1), "--seed"),
        (dict(customers=10, months=12, fmt="xlsx"), "unknown format"),
    ],
)
def test_bad_arguments_raise_churnlab_error(tmp_path, kwargs, words):
    with pytest.raises(ChurnlabError, match=words):
        synthesize(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_output_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ChurnlabError, match="not empty"):
        synthesize(tmp_path / "out", customers=10, months=3)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert synthesize(tmp_path / "empty", customers=10, months=3) == tmp_path / "empty"


def test_csv_format_holds_the_same_data(tmp_path):
    csv = synthesize(tmp_path / "csv", customers=200, months=3, seed=9, fmt="csv")
    world = generate(200, 3, seed=9)
    assert (csv / "truth.parquet").exists()
    for name, frame in world.tables.items():
        back = pd.read_csv(csv / f"{name}.csv")
        assert list(back.columns) == list(frame.columns), name
        assert len(back) == len(frame), name
    usage = pd.read_csv(csv / "usage.csv", parse_dates=["date"])
    pd.testing.assert_series_equal(usage["date"], world.tables["usage"]["date"], check_dtype=False)


def test_write_world_matches_synthesize_and_passes_the_contract(tmp_path):
    from churnlab.contract import read_dataset
    from churnlab.synth import write_world

    streamed = synthesize(tmp_path / "streamed", customers=400, months=5, seed=8)
    written = write_world(generate(400, 5, seed=8), tmp_path / "written")
    for name, frame in _read(streamed).items():
        pd.testing.assert_frame_equal(frame, _read(written)[name])
    data = read_dataset(streamed)
    assert data.families == list(FAMILIES)
    assert data.warnings == ()
    assert data.data_end.normalize() == pd.Timestamp("2025-03-31")
