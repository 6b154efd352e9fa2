"""Every notebook executed through papermill on a small synthetic world, and what it leaves.

Kernels are slow, so each notebook runs once per session (module-scoped fixtures) and many
assertions share a run. The report runs three times: through ``runs.run_report`` on the full
data (A), on a copy cut at the report month's cutoff (B, the leakage check: A == B byte for
byte) and through plain ``papermill.execute_notebook`` on the full data (C, reproducibility
and the plain-papermill path: A == C).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest
import yaml
from papermill.exceptions import PapermillExecutionError
from test_execute import network_loads

from churnlab import runs
from churnlab.contract import read_dataset
from churnlab.core.errors import ChurnlabError
from churnlab.core.families import FAMILY_ORDER
from churnlab.core.months import month_cutoff
from churnlab.features import build_feature_table
from churnlab.synth import generate, write_world

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MONTH = "2025-10"  # two months before the end of the world, so the full data holds a future
RESULTS = ("metrics.json", "drivers.csv", "scores.csv")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A 700-customer world from 2024-11 (14 months) with retention actions, and a copy cut at
    MONTH's cutoff (so the leakage check covers the actions and time to churn too)."""
    root = tmp_path_factory.mktemp("world")
    full = write_world(generate(700, 14, seed=3, actions=True), root / "full")
    cut = root / "cut"
    cut.mkdir()
    known = read_dataset(full).as_of(month_cutoff(MONTH))
    for name, frame in known.tables.items():
        frame.to_parquet(cut / f"{name}.parquet", index=False)
    return {"full": full, "cut": cut, "root": root}


@pytest.fixture(scope="module")
def report_a(world) -> Path:
    return runs.run_report(world["full"], MONTH, world["root"] / "a").parent


@pytest.fixture(scope="module")
def report_b(world) -> Path:
    return runs.run_report(world["cut"], MONTH, world["root"] / "b").parent


@pytest.fixture(scope="module")
def report_c(world) -> Path:
    out = world["root"] / "c"
    papermill.execute_notebook(
        str(NOTEBOOKS / "report.ipynb"),
        str(world["root"] / "c.ipynb"),
        parameters={"month": MONTH, "data": str(world["full"]), "out_dir": str(out)},
        kernel_name="python3",
        progress_bar=False,
    )
    return out


# --- the notebooks as committed -------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_without_outputs_one_parameters_cell(path: Path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    assert nb.metadata["language_info"]["name"] == "python"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    # plain literals only, so papermill can override them and a reader can edit them
    for node in ast.parse(params[0].source).body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        ast.literal_eval(node.value)
    assert all(len(c.source.splitlines()) <= 15 for c in code), "keep cells thin"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_never_build_markup_from_data(path: Path):
    """Values reach HTML only through views.text/table/callout, which escape them.

    An f-string inside Markdown() or HTML(), or a pandas Styler (which does not escape cell
    text), would let an id like ``<img src=x onerror=...>`` render as a live element.
    """
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source.replace("%matplotlib inline", ""))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Markdown", "HTML"):
                assert all(isinstance(a, ast.Constant) or _escaped(a) for a in node.args), (
                    f"{path.name}: {ast.unparse(node)[:80]}"
                )
            if isinstance(node, ast.Attribute):
                assert node.attr != "style", f"{path.name}: pandas Styler does not escape"


def _escaped(node: ast.AST) -> bool:
    """A call of churnlab's escaping helpers (views.callout/text/table)."""
    func = getattr(node, "func", None)
    return isinstance(func, ast.Attribute) and func.attr in ("callout", "text", "table")


def test_all_five_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert {"exploration", "training", "explanation", "report", "experiments"} <= names


# --- the monthly report ---------------------------------------------------------------------


def test_report_files(report_a: Path):
    names = {p.name for p in report_a.iterdir()}
    assert {"report.ipynb", "report.html", "manifest.json", *RESULTS} <= names
    assert {"kpis.json", "at_risk.csv", "drift.csv", "churn_history.csv"} <= names
    assert not list(report_a.parent.glob(".a.partial-*"))


def test_report_metrics(report_a: Path):
    m = json.loads((report_a / "metrics.json").read_text())
    assert m["month"] == MONTH
    assert m["active_customers"] > 100 and 0 <= m["churned"] <= m["active_customers"]
    assert 0 < m["churn_rate"] < 0.2
    bt = m["backtest"]
    assert {"roc_auc", "pr_auc", "brier", "lift_top_decile"} <= set(bt)
    assert 0.5 < bt["roc_auc"] <= 1 and 0 < bt["pr_auc"] <= 1 and 0 <= bt["brier"] < 0.25
    assert sum(m["driver_shares"].values()) == pytest.approx(1, abs=1e-4)
    assert set(m["driver_shares"]) <= set(FAMILY_ORDER) - {"profile"}  # profile is context
    assert sum(m["shap_shares"].values()) == pytest.approx(1, abs=1e-4)
    base = m["baseline_risk"]
    assert 0 < base["all_drivers_fixed"] < base["mean_churn_probability"] < 1
    assert base["context_families"] == ["profile"]
    # the registry's held features: the absolute fee and the lifetime age and fading signals
    assert base["held_features"] == sorted(
        ["price_amount", "engagement_days_since_first_active", "engagement_overdue_ratio",
         "engagement_active_rate_change", *(f"engagement_{c}_recent_vs_lifetime"
                                            for c in ("sessions", "minutes"))]
    )  # fmt: skip
    assert (
        "price_amount" not in m["healthy_levels"] and "support_open_tickets" in m["healthy_levels"]
    )


def test_report_drivers_and_scores(report_a: Path):
    drivers = pd.read_csv(report_a / "drivers.csv")
    assert list(drivers.columns[:6]) == [
        "family",
        "feature",
        "mean_abs_shap",
        "share",
        "direction",
        "shap_share",
    ]
    assert drivers["share"].sum() == pytest.approx(1, abs=1e-3)
    assert drivers["shap_share"].sum() == pytest.approx(1, abs=1e-3)
    assert drivers["share"].dropna().is_monotonic_decreasing
    assert drivers.loc[drivers["family"] == "profile", "share"].isna().all()
    assert set(drivers["direction"]) <= {-1, 0, 1}
    scores = pd.read_csv(report_a / "scores.csv")
    m = json.loads((report_a / "metrics.json").read_text())
    assert len(scores) == m["scored_customers"] and scores["customer_id"].is_unique
    assert m["churn_rate"] == pytest.approx(m["churned"] / m["active_customers"], rel=1e-5)
    assert scores["risk_rank"].tolist() == list(range(1, len(scores) + 1))
    assert scores["churn_probability"].is_monotonic_decreasing
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["reason_1"].fillna("").str.len().gt(0).mean() > 0.5


def test_report_extras(report_a: Path):
    kpis = json.loads((report_a / "kpis.json").read_text())
    assert kpis["month"] == MONTH and kpis["months_in_average"] >= 1
    history = pd.read_csv(report_a / "churn_history.csv")
    row = history.set_index("month").loc[MONTH]
    assert row["churned"] == kpis["current"]["churned"]
    at_risk = pd.read_csv(report_a / "at_risk.csv")
    assert len(at_risk) == 50
    assert at_risk["expected_revenue_at_risk"].is_monotonic_decreasing
    drift = pd.read_csv(report_a / "drift.csv")
    assert drift["psi"].ge(0).all() and (drift["flagged"] == (drift["psi"] > 0.2)).all()


def test_report_measures_the_actions_and_shows_them(report_a: Path):
    m = json.loads((report_a / "metrics.json").read_text())["actions"]
    html = (report_a / "report.html").read_text()
    assert m["last_month"] and m["last_month"] < MONTH
    last = [e for e in m["effects"] if e["action_month"] == m["last_month"]]
    overall = [e for e in last if e["breakdown"] == "overall"]
    assert overall and ">Did last month's actions work?" in html
    effects = pd.read_csv(report_a / "action_effects.csv")
    for e in overall:
        row = effects[
            (effects["action_month"] == e["action_month"])
            & (effects["action"] == e["action"])
            & (effects["breakdown"] == "overall")
        ].iloc[0]
        assert row["n_treated"] == e["n_treated"] and row["n_control"] == e["n_control"]
        if e["n_treated"] and e["n_control"]:
            rate = e["churned_treated"] / e["n_treated"] - e["churned_control"] / e["n_control"]
            assert e["effect"] == pytest.approx(rate)
            assert f"{e['effect'] * 100:+.1f} pp" in html  # the effect table, in points
    assert "<b>Last month's actions.</b>" in html  # the summary's topic


def test_report_time_to_churn(report_a: Path):
    # this world closes too few 12th months for a 12-month forecast (a note says so): the
    # report gives 3 and 6 months ahead, and leaves the 12-month figures empty, not invented
    scores = pd.read_csv(report_a / "scores.csv")
    p3, p6 = scores["p_retained_3m"], scores["p_retained_6m"]
    assert p3.between(0, 1).all() and (p3 >= p6).all() and p6.gt(0).all()
    assert (
        scores[["p_retained_12m", "expected_months_12m", "expected_revenue_12m"]].isna().all().all()
    )
    m = json.loads((report_a / "metrics.json").read_text())
    assert m["survival"]["scored"]["p_retained_6m"] == pytest.approx(p6.mean(), abs=1e-6)
    assert m["survival"]["scored"]["expected_revenue_12m"] is None
    assert any("month(s) ahead only" in n for n in m["notes"])
    segments = pd.read_csv(report_a / "retention_segments.csv").set_index("segment")
    assert segments.loc["(all)", "customers"] == len(scores)
    html = (report_a / "report.html").read_text()
    share = f"{p6.mean() * 100:.1f}%"
    assert (
        f"{share} of the current customers are expected to still be customers in 6 months" in html
    )
    assert "How long customers stay" in html


def test_report_html_self_contained_without_code(report_a: Path):
    html = (report_a / "report.html").read_text()
    assert network_loads(html) == []
    assert html.count("data:image/png;base64,") >= 8
    assert "check_report_params" not in html and "import " not in html
    for words in ("Summary", "This month", "customers at risk", "Feature drift", "Data quality"):
        assert words in html
    assert "<title>Churn report October 2025</title>" in html
    assert 'class="churnlab-summary"' in html and "expected profit" in html
    assert "No description has been provided" not in html  # every figure has alt text
    for raw in ("engagement_days_since_active", "mean_abs_shap", "{'", "dtype"):
        assert raw not in html, raw


def test_report_manifest(report_a: Path, world):
    m = json.loads((report_a / "manifest.json").read_text())
    assert m["parameters"]["month"] == MONTH and m["parameters"]["horizon"] == 1
    names = {f["name"] for f in m["inputs"]["files"]}
    assert {"customers.parquet", "usage.parquet"} <= names
    assert m["notebook"] == "notebooks/report.ipynb"
    executed = nbformat.read(str(report_a / "report.ipynb"), as_version=4)
    assert executed.metadata["title"] == "Churn report October 2025"
    assert {o["name"] for o in m["outputs"]} >= {"report.html", *RESULTS}


def test_report_ignores_the_future(report_a: Path, report_b: Path):
    """Leakage: the report for M is the same with or without rows dated after M's cutoff."""
    compared = sorted(p.name for p in report_a.iterdir() if p.suffix in (".csv", ".json"))
    compared.remove("manifest.json")
    assert set(RESULTS) <= set(compared)
    for name in compared:
        assert (report_a / name).read_bytes() == (report_b / name).read_bytes(), name
    a = json.loads((report_a / "manifest.json").read_text())["inputs"]["sha256"]
    b = json.loads((report_b / "manifest.json").read_text())["inputs"]["sha256"]
    assert a != b  # the inputs really differed


def test_plain_papermill_reproduces_the_report(report_a: Path, report_c: Path):
    for name in (*RESULTS, "kpis.json", "at_risk.csv"):
        assert (report_a / name).read_bytes() == (report_c / name).read_bytes(), name


def test_wrong_typed_parameter_fails_in_first_cell(world, tmp_path):
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(NOTEBOOKS / "report.ipynb"),
            str(tmp_path / "bad.ipynb"),
            parameters={"data": str(world["full"]), "horizon": "two"},
            kernel_name="python3",
            progress_bar=False,
        )
    assert info.value.ename == "ChurnlabError"
    assert "horizon must be a whole number" in info.value.evalue


def test_month_outside_data_refused_before_the_kernel(world):
    out = world["root"] / "outside"
    with pytest.raises(ChurnlabError) as info:
        runs.run_report(world["full"], "2031-01", out)
    assert info.value.exit_code == 2 and "outside the data" in str(info.value)
    with pytest.raises(ChurnlabError, match="before the data"):
        runs.run_report(world["full"], "2020-01", out)
    assert not out.exists()


def test_user_error_inside_the_report_notebook(world, monkeypatch):
    """A ChurnlabError raised by a cell: exit 2, the partial notebook and error.txt in OUT."""
    monkeypatch.setattr(
        runs.commands, "_check_dataset", lambda params: None
    )  # let the kernel find it
    out = world["root"] / "inside"
    with pytest.raises(ChurnlabError) as info:
        runs.run_report(world["full"], "2031-01", out)
    assert info.value.exit_code == 2 and "outside the data" in str(info.value)
    assert sorted(p.name for p in out.iterdir()) == [".churnlab-run", "error.txt", "report.ipynb"]


def test_existing_report_refused(report_a: Path, world):
    with pytest.raises(ChurnlabError, match="already exists"):
        runs.run_report(world["full"], MONTH, report_a)


# --- explanation, exploration, training -----------------------------------------------------


@pytest.fixture(scope="module")
def explained(world) -> Path:
    table = build_feature_table(read_dataset(world["cut"]))
    path = world["root"] / "features.csv"
    table.frame.to_csv(path, index=False)
    fams: dict[str, list[str]] = {}
    for feature, family in table.families.items():
        fams.setdefault(family, []).append(feature)
    families = world["root"] / "families.yaml"
    families.write_text(yaml.safe_dump(fams))
    return runs.run_explain(path, "customer_id", "churned", world["root"] / "x", families).parent


def test_explain_writes_report_files(explained: Path):
    names = {p.name for p in explained.iterdir()}
    assert {"report.ipynb", "report.html", "manifest.json", *RESULTS} <= names
    m = json.loads((explained / "metrics.json").read_text())
    assert m["backtest"]["roc_auc"] is not None and 0.5 < m["backtest"]["roc_auc"] <= 1
    assert sum(m["driver_shares"].values()) == pytest.approx(1, abs=1e-4)
    scores = pd.read_csv(explained / "scores.csv")
    assert scores["churn_probability"].is_monotonic_decreasing
    html = (explained / "report.html").read_text()
    assert network_loads(html) == [] and html.count("data:image/png;base64,") >= 5


def _executed(name: str, tmp: Path, **parameters) -> nbformat.NotebookNode:
    out = tmp / f"{name}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
    )
    return nbformat.read(str(out), as_version=4)


def _outputs(nb, kind: str) -> list:
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})
    ]


def test_exploration_notebook(world, tmp_path):
    nb = _executed("exploration", tmp_path, data=str(world["full"]), month=MONTH)
    assert len(_outputs(nb, "image/png")) == 3  # trend, cohorts, family signals
    tables = "".join(o["data"]["text/html"] for o in _outputs(nb, "text/html"))
    assert "Churn rate" in tables and "smb" in tables


def test_training_notebook(world, tmp_path):
    nb = _executed("training", tmp_path, data=str(world["full"]))
    html = "".join(o["data"]["text/html"] for o in _outputs(nb, "text/html"))
    assert "Best iteration" in html
    assert "ROC-AUC" in html and "train" in html and "validation" in html
    assert "Baseline" in html and "logistic regression" in html
    assert len(_outputs(nb, "image/png")) == 3  # ROC and PR, calibration, gains


def test_experiments_notebook(world, tmp_path):
    out = tmp_path / "exp"
    runs.run_experiment(out, data=world["cut"], seeds=[0], param_sets=[{}, {"max_depth": 2}])
    comparison = pd.read_csv(out / "comparison.csv")
    families = comparison.loc[0, "families"].split(",")
    assert len(comparison) == 2 + len(families)
    full = comparison[comparison["dropped"].isna()]
    assert (full["delta_auc"] == 0).all()
    assert set(comparison["dropped"].dropna()) == set(families)
    for run_id in comparison["run_id"]:
        manifest = json.loads((out / "runs" / run_id / "manifest.json").read_text())
        assert manifest["run_id"] == run_id and "roc_auc" in manifest
    assert np.isfinite(comparison["roc_auc"]).all()
    assert (out / "report.html").exists() and (out / "manifest.json").exists()


def test_time_to_churn_notebook(world, tmp_path):
    out = tmp_path / "ttc"
    nb = _executed(
        "time_to_churn", tmp_path, data=str(world["full"]), month=MONTH, out_dir=str(out)
    )
    assert len(_outputs(nb, "image/png")) == 3  # backtest, retention per segment, drivers
    html = "".join(o["data"]["text/html"] for o in _outputs(nb, "text/html"))
    assert "Time-to-churn backtest" in html and "revenue at risk over 12 months" in html
    # 14 months of data: no snapshot has 12 closed months before 2025-10, so the notebook
    # says so instead of extrapolating
    assert "month(s) ahead only" in html
    doc = json.loads((out / "survival.json").read_text())
    assert doc["available"] and doc["horizons"] < 12 and doc["backtest"]["snapshot"] == "2025-04"
    segments = pd.read_csv(out / "retention_segments.csv")
    assert segments["expected_months_12m"].isna().all()  # 12 months are not modelled here
    assert segments.loc[segments["segment"] == "(all)", "customers"].item() == sum(
        segments.loc[segments["segment"] != "(all)", "customers"]
    )


def test_explain_with_a_duration(tmp_path):
    from test_survival import flat_table

    table = flat_table(n=1500)
    path = tmp_path / "lifetimes.csv"
    table.frame.to_csv(path, index=False)
    out = runs.run_explain(path, "id", "churn", tmp_path / "x", duration_col="months").parent
    m = json.loads((out / "metrics.json").read_text())
    s = m["survival"]
    assert s["duration"] == "months" and s["folds"] == 5 and 0.6 < s["concordance"] < 0.9
    assert set(s["leaks"]) == {"total"} and any(
        "'total' looks like a copy" in n for n in m["notes"]
    )
    assert "total" not in pd.read_csv(out / "drivers.csv")["feature"].tolist()
    html = (out / "report.html").read_text()
    assert "Expected lifetime" in html and "Survival model on the duration" in html
