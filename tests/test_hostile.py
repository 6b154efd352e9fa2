"""Hostile strings: nothing from the data renders as markup, runs as script or as a formula.

Every user string that can reach an output carries a payload (ids, plan, segment, a static
attribute's name and values, ticket categories, comments, a usage column's name, an orphan's
id in a warning, file names, a families file's family names). The rendered HTML is parsed:
no tag name, attribute name or attribute value may hold a payload's marker, while the
markers do appear as text (so the test would fail if escaping broke). CSV outputs must not
begin a text cell with a spreadsheet formula character, except the id columns, which are
written exactly as in the data (README, "Outputs a spreadsheet opens").
"""

from __future__ import annotations

import csv
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from churnlab import runs
from churnlab.synth import generate, write_world

pytestmark = pytest.mark.slow

PAYLOADS = [
    "<img src=x onerror=\"alert('XSS-img')\">",
    '<script>alert("XSS-script")</script>',
    "[XSS-mdlink](javascript:alert(1))",
    '<a href="javascript:alert(1)">XSS-anchor</a>',
    "\"'&<>XSS-quotes",
    "{value}{0}XSS-brace %s %(x)s",
    '=HYPERLINK("http://example.invalid/XSS-formula")',
    "+XSS-plus",
    "-XSS-minus",
    "@XSS-at",
    "two\nlines XSS-newline",
    "zero\u200bwidth XSS-zw",
    "<b onmouseover=alert(1)>XSS-bold</b>",
]
FORMULA = ("=", "+", "-", "@", "\t", "\r")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.markup: list[str] = []  # tag names, attribute names and values
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.markup.append(tag)
        for name, value in attrs:
            # an embedded figure's base64 bytes hold no markup, but may spell 'XSS' by chance
            value = "" if (value or "").startswith("data:image/png;base64,") else value
            self.markup += [name, value or ""]

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> tuple[str, str]:
    parser = _Tags()
    parser.feed(html)
    return " ".join(parser.markup), " ".join(parser.text)


def _hostile(i: int) -> str:
    return PAYLOADS[i % len(PAYLOADS)]


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory) -> Path:
    """A 700-customer world whose every user string is a payload."""
    root = tmp_path_factory.mktemp("hostile")
    clean = write_world(generate(700, 14, seed=5), root / "clean")
    tables = {p.stem: pd.read_parquet(p) for p in clean.glob("*.parquet") if p.stem != "truth"}
    ids = tables["customers"]["customer_id"].astype(str)
    new_ids = {old: f"{_hostile(i)}#{i}" for i, old in enumerate(ids)}
    for frame in tables.values():
        frame["customer_id"] = frame["customer_id"].astype(str).map(new_ids)
    customers = tables["customers"]
    n = len(customers)
    rng = np.random.default_rng(0)
    # frequent levels (kept by the encoder) and rare ones (folded into "(other)")
    customers["plan"] = [_hostile(k) for k in rng.integers(0, 3, n)]
    customers["plan"] = customers["plan"].where(rng.random(n) > 0.02, _hostile(5) + " rare")
    customers["segment"] = [_hostile(k + 6) for k in rng.integers(0, 3, n)]
    customers["<i>XSS-colname</i>"] = [_hostile(k) for k in rng.integers(0, len(PAYLOADS), n)]
    customers["channel"] = [_hostile(k) for k in rng.integers(0, len(PAYLOADS), n)]
    if "category" in tables["tickets"]:
        t = tables["tickets"]
        t["category"] = [_hostile(k) for k in rng.integers(0, len(PAYLOADS), len(t))]
    fb = tables["feedback"]
    fb["comment"] = [_hostile(k) for k in rng.integers(0, len(PAYLOADS), len(fb))]
    usage = tables["usage"]
    first = [c for c in usage.columns if c not in ("customer_id", "date")][0]
    tables["usage"] = usage.rename(columns={first: "<u>XSS-usage</u> {value}"})
    orphan = tables["tickets"].iloc[:1].copy()
    orphan["customer_id"] = "<img src=x onerror=alert(1)>XSS-orphan"
    tables["tickets"] = pd.concat([tables["tickets"], orphan], ignore_index=True)
    data = root / "data"
    data.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(data / f"{name}.parquet", index=False)
    return data


@pytest.fixture(scope="module")
def hostile_report(hostile_world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile_out") / "report"
    return runs.run_report(hostile_world, "2025-10", out).parent


def test_report_html_holds_no_markup_from_data(hostile_report: Path):
    markup, text = parse((hostile_report / "report.html").read_text(encoding="utf-8"))
    assert "XSS" not in markup
    assert "javascript:" not in markup
    # the payloads did reach the page, as text: ids in the at-risk list, plans in reasons,
    # the orphan's id in a data-quality warning
    for marker in ("XSS-img", "XSS-script", "XSS-orphan"):
        assert marker in text, marker


def test_report_csv_outputs_start_no_text_cell_with_a_formula(hostile_report: Path):
    for name, raw in (("scores.csv", {"customer_id"}), ("drivers.csv", set())):
        with open(hostile_report / name, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert rows
        for row in rows:
            for col, value in row.items():
                if col in raw or not value:
                    continue
                try:
                    float(value)
                    continue  # a number, e.g. -0.25
                except ValueError:
                    pass
                assert not value.startswith(FORMULA), (name, col, value)
    # ids are written exactly as in the data, so scores.csv joins back to the CRM
    scores = pd.read_csv(hostile_report / "scores.csv", dtype=str, keep_default_na=False)
    assert scores["customer_id"].str.contains("XSS-formula").any()
    assert scores["customer_id"].str.startswith("=HYPERLINK").any()


def test_explain_html_holds_no_markup_from_data(hostile_world, tmp_path):
    rng = np.random.default_rng(1)
    n = 400
    weird = "<i>XSS-feature</i>"
    table = pd.DataFrame(
        {
            "id": [f"{_hostile(i)}#{i}" for i in range(n)],
            "left": rng.integers(0, 2, n),
            weird: rng.normal(size=n),
            "=cmd|' /C calc'!A0": rng.normal(size=n),
            "plan": [_hostile(k) for k in rng.integers(0, 4, n)],
        }
    )
    table.loc[table["left"] == 1, weird] += 1.5  # a real signal, so reasons name it
    name = tmp_path / "crm <img src=x onerror=alert(1)> XSS-file.csv"
    table.to_csv(name, index=False)
    families = tmp_path / "families.yaml"
    families.write_text(yaml.safe_dump({"<b>XSS-family</b>": [weird]}))
    out = runs.run_explain(name, "id", "left", tmp_path / "out", families).parent
    markup, text = parse((out / "report.html").read_text(encoding="utf-8"))
    assert "XSS" not in markup and "javascript:" not in markup
    assert "XSS-file" in text and "XSS-img" in text
    drivers = pd.read_csv(out / "drivers.csv", dtype=str, keep_default_na=False)
    assert not drivers["feature"].str.startswith(FORMULA).any()
