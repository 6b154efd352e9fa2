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
    """A 700-customer world from 2024-11 (14 months), and a copy cut at MONTH's cutoff."""
    root = tmp_path_factory.mktemp("world")
    full = write_world(generate(700, 14, seed=3), root / "full")
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
    assert base["context_families"] == ["profile"] and base["held_features"] == ["price_amount"]
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


def test_report_html_self_contained_without_code(report_a: Path):
    html = (report_a / "report.html").read_text()
    assert network_loads(html) == []
    assert html.count("data:image/png;base64,") >= 8
    assert "check_report_params" not in html and "import " not in html
    for words in ("Headline KPIs", "Customers at risk", "Feature drift", "Data quality"):
        assert words in html


def test_report_manifest(report_a: Path, world):
    m = json.loads((report_a / "manifest.json").read_text())
    assert m["parameters"]["month"] == MONTH and m["parameters"]["horizon"] == 1
    names = {f["name"] for f in m["inputs"]["files"]}
    assert {"customers.parquet", "usage.parquet"} <= names
    assert m["notebook"] == "notebooks/report.ipynb"
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
    assert "roc_auc" in html and "train" in html and "validation" in html
    assert len(_outputs(nb, "image/png")) == 2


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
