"""The feature SQL ports to Spark: every family's query passes the portability rules, and the
rules catch each construct known to translate wrongly (churnlab.features.portable)."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlglot")

from contract_fixtures import good_tables  # noqa: E402

from churnlab.contract import dataset_from_frames, read_dataset  # noqa: E402
from churnlab.core.churn import ChurnDefinition  # noqa: E402
from churnlab.features.build import dataset_schema, feature_plan  # noqa: E402
from churnlab.features.portable import portability_problems, to_spark  # noqa: E402
from churnlab.features.snapshots import population_sql  # noqa: E402
from churnlab.features.sql import family_query  # noqa: E402


def _queries(dataset) -> dict[str, str]:
    schema = dataset_schema(dataset)
    return {fam.name: family_query(fam, schema, feats) for fam, feats in feature_plan(dataset)}


@pytest.mark.parametrize("source", ["demo", "good_tables"])
def test_every_family_query_is_portable(source):
    dataset = read_dataset("data/demo") if source == "demo" else dataset_from_frames(good_tables())
    queries = _queries(dataset)
    assert len(queries) == 6  # every family: none is left out of the check
    for kind in ("cancellation", "inactivity"):
        queries[kind] = population_sql(ChurnDefinition(1, kind, 30))
    for name, sql in queries.items():
        assert portability_problems(sql) == [], name
        assert "SELECT" in to_spark(sql)


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT date_diff('month', a, b) FROM t", "date_diff in months"),
        ("SELECT date_diff('year', a, b) FROM t", "date_diff in years"),
        ("SELECT date_diff('day', a, b) FROM t", "on timestamps"),
        ("SELECT date_diff('second', a, b) FROM t", "on timestamps"),
        ("SELECT * FROM t ASOF JOIN u ON t.k = u.k AND t.ts >= u.ts", "ASOF join"),
        (
            "SELECT unnest(generate_series(DATE '2024-01-01', DATE '2024-06-01', "
            "INTERVAL 1 MONTH)) AS m",
            "generated series",
        ),
        ("SELECT * FROM range(10)", "generated series"),
        ("SELECT n / 30.4375 FROM t", "decimal literal"),
        ("SELECT median(amount) FROM t", "median"),
        (
            "SELECT sum(x) OVER (PARTITION BY k ORDER BY m "
            "RANGE BETWEEN 3 PRECEDING AND 1 PRECEDING) FROM t",
            "RANGE frame",
        ),
        (
            "SELECT sum(x) OVER w FROM t WINDOW w AS (ORDER BY m "
            "RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)",
            "RANGE frame",
        ),
    ],
)
def test_non_portable_constructs_are_rejected(sql, words):
    problems = portability_problems(sql)
    assert problems and all(words in p for p in problems), problems
    with pytest.raises(ValueError, match="does not port to Spark"):
        to_spark(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) FROM t",
        "SELECT median(date_diff('microsecond', a, b)) FROM t",
        "SELECT CAST(n AS DOUBLE) / CAST(30.4375 AS DOUBLE), n / 2 FROM t",
        "SELECT (year(b) * 12 + month(b)) - (year(a) * 12 + month(a)) FROM t",
        "SELECT sum(x) OVER (PARTITION BY k ORDER BY m, j "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sum(x) OVER (ORDER BY m RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t",
    ],
)
def test_portable_forms_pass(sql):
    assert portability_problems(sql) == []
