"""Turn a dataset in the contract into a feature table (docs/data-contract.md, docs/definitions.md).

One row per customer and monthly snapshot of the population (:mod:`churnlab.features.snapshots`), with
its label and one column per point-in-time feature. Every family is SQL
(:mod:`churnlab.features.sql`) run on DuckDB over the dataset's tables: events are joined to a small
``snaps`` table on the cutoff (by range, or by month where cutoffs being month starts allows
an equality join), never looped over in Python, so the same
definitions can move to a warehouse engine. A table the dataset does not have turns its
family off: the feature table then simply has no columns of that family.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from churnlab.contract.dataset import Dataset
from churnlab.core.churn import DEFAULT_CHURN, ChurnDefinition
from churnlab.features.snapshots import check_arguments, open_engine
from churnlab.features.sql import FAMILIES, Family, Feature, Schema, family_query
from churnlab.features.sql.profile import attribute_names
from churnlab.features.table import FeatureTable

log = logging.getLogger(__name__)


def dataset_schema(dataset: Dataset) -> Schema:
    """Each table's columns and their kind ('number', 'text' or 'date').

    Flags (booleans) count as numbers. Usage keeps only its id, date and numeric activity
    columns, as the contract says other usage columns are ignored.
    """
    schema: Schema = {}
    for name in dataset.tables:
        kinds = dataset.columns(name)
        if name == "usage":
            keep = {"customer_id", "date", *dataset.usage_columns}
            kinds = {c: k for c, k in kinds.items() if c in keep}
        schema[name] = kinds
    return schema


def feature_plan(dataset: Dataset) -> list[tuple[Family, list[Feature]]]:
    """The families this dataset turns on and, for each, the features it can feed."""
    schema = dataset_schema(dataset)
    return [(family, family.available(schema)) for family in FAMILIES if family.table in schema]


def build_feature_table(
    dataset: Dataset,
    months: Sequence[str] | None = None,
    definition: ChurnDefinition = DEFAULT_CHURN,
) -> FeatureTable:
    """Point-in-time features of every snapshot's population, with labels.

    ``months`` defaults to every complete month of the data (:func:`default_months`);
    ``definition`` defines population and label as in
    :func:`churnlab.features.snapshots.snapshot_labels`. The frame holds ``customer_id``, ``snapshot``,
    ``churned`` and the features (numbers as float64, categories as string dtype), sorted by
    snapshot then customer. ``value_col`` is ``price_amount`` when there is billing,
    ``segment_col`` is ``profile_segment`` when customers have a segment. Feature values use
    only rows dated before each snapshot's cutoff; a missing table turns its family off.
    """
    months = check_arguments(dataset, months, definition)
    schema = dataset_schema(dataset)
    plan = feature_plan(dataset)
    started = time.perf_counter()
    con = open_engine(dataset, months, definition)
    log.debug("population and labels: %.2f s", time.perf_counter() - started)
    try:
        keys = _fetch_in_order(con, "SELECT rid, customer_id, snapshot, churned FROM pop")
        n = keys.num_rows
        numeric = [(fam, f) for fam, feats in plan for f in feats if f.unit != "category"]
        # numbers go straight into one column-major float64 block: the frame then holds
        # them as a single block, without a copy per column or a consolidation copy
        block = np.empty((n, len(numeric)), dtype="float64", order="F")
        position = {f.name: k for k, (_, f) in enumerate(numeric)}
        text: dict[str, pd.Series] = {}
        for family, features in plan:
            if not features:
                continue
            started = time.perf_counter()
            result = _fetch_in_order(con, family_query(family, schema, features))
            for feature in features:
                col = result.column(feature.name)
                if feature.unit == "category":
                    text[feature.name] = col.to_pandas().astype("string")
                else:
                    block[:, position[feature.name]] = col.to_numpy()
            del result  # free it before the next family's query runs (peak memory)
            log.debug("family %s: %.2f s", family.name, time.perf_counter() - started)
    finally:
        con.close()
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": keys.column("customer_id").to_pandas().astype("string"),
                    "snapshot": keys.column("snapshot").to_pandas().astype("string"),
                    "churned": keys.column("churned").to_pandas().astype("Int8"),
                }
            ),
            pd.DataFrame(block, columns=list(position), copy=False),
            pd.DataFrame(text),
        ],
        axis=1,
    )
    # numeric features first, then categories: the frame's column order
    families = {f.name: fam.name for fam, f in numeric}
    families |= {f.name: fam.name for fam, feats in plan for f in feats if f.name in text}
    segment = "profile_" + attribute_names(schema).get("segment", "")
    return FeatureTable(
        frame=frame,
        families=families,
        id_col="customer_id",
        label_col="churned",
        snapshot_col="snapshot",
        value_col="price_amount" if "price_amount" in families else None,
        segment_col=segment if segment in families else None,
        definition=definition,
        meta={"months": list(months)},
    )


def _fetch_in_order(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run ``sql`` (which returns the population's ``rid``) and put its rows in ``rid`` order.

    Family results come back in any order (the engine runs in parallel); ``rid`` is a
    permutation of 0..n-1, so one inverse permutation lines every family up with the
    population without a join.
    """
    table = con.sql(sql).arrow().read_all()
    rid = table.column("rid").to_numpy()
    order = np.empty(len(rid), dtype=np.int64)
    order[rid] = np.arange(len(rid))
    return table.drop_columns(["rid"]).take(order)
