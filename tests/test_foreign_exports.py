"""Exports from other systems: valid ones read correctly, broken ones stop with one message.

Each case is a real way another tool writes a table (pandas' nanosecond timestamps, Spark's
folders of parts, Excel's trailing commas, CHAR(n) ids padded with spaces, byte counts, the
9999-12-31 "no end" placeholder, ...). It ends either in a dataset whose values are checked
by hand, or in exactly one error naming table, column and what to do (README,
"Troubleshooting" and "What counts as valid").
"""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from contract_fixtures import good_tables, write
from test_features import check, value
from test_features import tables as feature_tables

from churnlab.contract import check_dataset, dataset_from_frames, read_dataset
from churnlab.core.errors import ChurnlabError
from churnlab.core.months import month_cutoff
from churnlab.features import build_feature_table
from churnlab.features.snapshots import default_months
from churnlab.features.table import EVENT_COL, TIME_COL
from churnlab.report.kpis import latest_complete_month, resolve_month

US = "datetime64[us]"


def only(*names: str) -> dict[str, pd.DataFrame]:
    tables = good_tables()
    return {n: tables[n] for n in names}


def errors_of(folder) -> list[str]:
    result = check_dataset(folder)
    assert not result.ok
    with pytest.raises(ChurnlabError):
        read_dataset(folder)
    return [str(e) for e in result.errors]


def warnings_of(folder) -> list[str]:
    result = check_dataset(folder)
    assert result.ok, result.render()
    return [str(w) for w in result.warnings]


def assert_same_tables(a, b) -> None:
    assert set(a.tables) == set(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)


# ---- timestamps finer than a microsecond --------------------------------------------------------


def test_nanosecond_timestamps_are_floored_to_the_microsecond(tmp_path):
    """pandas writes datetime64[ns]; arithmetic leaves sub-microsecond digits behind."""
    micro = only("customers", "tickets", "usage")
    micro["tickets"]["opened_at"] = pd.to_datetime(micro["tickets"]["opened_at"]).astype(US)
    micro["tickets"]["resolved_at"] = pd.to_datetime(micro["tickets"]["resolved_at"]).astype(US)
    micro["usage"]["date"] = pd.to_datetime(micro["usage"]["date"]).astype(US)
    nano = {k: v.copy() for k, v in micro.items()}
    for col in ("opened_at", "resolved_at"):
        nano["tickets"][col] = nano["tickets"][col].astype("datetime64[ns]") + pd.Timedelta(
            nanoseconds=789
        )
    # one nanosecond before the day's end stays on that day, before the next cutoff
    nano["usage"]["date"] = nano["usage"]["date"].astype("datetime64[ns]") + pd.Timedelta(
        days=1, nanoseconds=-1
    )
    micro["usage"]["date"] = micro["usage"]["date"] + pd.Timedelta(days=1, microseconds=-1)
    reference = read_dataset(write(tmp_path / "us", micro, "parquet"))
    assert_same_tables(read_dataset(write(tmp_path / "ns", nano, "parquet")), reference)
    assert_same_tables(dataset_from_frames(nano), reference)
    assert reference.table("usage")["date"].iloc[0] == pd.Timestamp("2024-02-01 23:59:59.999999")


def test_nanosecond_time_zone_timestamps_floor_to_the_same_instants(tmp_path):
    tables = only("customers", "tickets")
    utc = pd.to_datetime(tables["tickets"]["opened_at"]).dt.tz_localize("UTC")
    naive = tables["tickets"].assign(opened_at=utc.dt.tz_localize(None).astype(US))
    aware = tables["tickets"].assign(
        opened_at=(utc.astype("datetime64[ns, UTC]") + pd.Timedelta(nanoseconds=5)).dt.tz_convert(
            "Asia/Kolkata"
        )
    )
    reference = read_dataset(write(tmp_path / "a", {**tables, "tickets": naive}, "parquet"))
    shifted = read_dataset(write(tmp_path / "b", {**tables, "tickets": aware}, "parquet"))
    assert_same_tables(shifted, reference)


def test_nine_fractional_digits_in_a_csv_floor_like_parquet(tmp_path):
    tables = only("customers", "tickets")
    tables["tickets"]["opened_at"] = [
        "2024-02-01T09:00:00.123456789",
        "2024-02-03T10:30:00.000000999",
        "2024-03-01T08:00:00",
    ]
    ds = read_dataset(write(tmp_path / "d", tables))
    assert ds.table("tickets")["opened_at"].tolist() == [
        pd.Timestamp("2024-02-01 09:00:00.123456"),
        pd.Timestamp("2024-02-03 10:30:00"),
        pd.Timestamp("2024-03-01 08:00:00"),
    ]


# ---- what already held: every way a file types a column ---------------------------------------


def _arrow(frame: pd.DataFrame, **columns: pa.Array) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name, array in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, array)
    return table


@pytest.mark.parametrize(
    "kind",
    [
        pa.timestamp("s"),
        pa.timestamp("ms"),
        pa.timestamp("us"),
        pa.timestamp("ns"),
        pa.date32(),
        pa.date64(),
        pa.timestamp("ms", tz="UTC"),
        pa.timestamp("us", tz="America/New_York"),
    ],
    ids=str,
)
def test_every_timestamp_unit_reads_as_the_same_dates(tmp_path, kind):
    tables = only("customers", "usage")
    reference = read_dataset(write(tmp_path / "csv", tables))
    days = pd.to_datetime(tables["usage"]["date"])
    if getattr(kind, "tz", None):
        # the same instants, written in the column's zone
        stamps = pa.array(days.dt.tz_localize("UTC").dt.tz_convert(kind.tz)).cast(kind)
    else:
        stamps = pa.array(days.astype("datetime64[ms]")).cast(kind)
    folder = tmp_path / "pq"
    write(folder, {"customers": tables["customers"]})
    pq.write_table(_arrow(tables["usage"], date=stamps), folder / "usage.parquet")
    assert_same_tables(read_dataset(folder), reference)


@pytest.mark.parametrize(
    "kind",
    [pa.large_string(), pa.string_view(), pa.dictionary(pa.int32(), pa.string())],
    ids=str,
)
def test_every_string_type_reads_as_the_same_text(tmp_path, kind):
    tables = only("customers", "tickets")
    reference = read_dataset(write(tmp_path / "csv", tables))
    customers = tables["customers"]
    arrays = {
        c: pa.array(customers[c].tolist(), pa.string()).cast(kind)
        for c in ("customer_id", "plan", "segment")
    }
    folder = write(tmp_path / "pq", {"tickets": tables["tickets"]})
    pq.write_table(_arrow(customers, **arrays), folder / "customers.parquet")
    assert_same_tables(read_dataset(folder), reference)


def test_decimals_and_booleans_in_any_spelling(tmp_path):
    tables = only("customers", "billing")
    billing = tables["billing"].assign(paid=["Y", "f", "TRUE", "0"])
    folder = write(tmp_path / "d", {"customers": tables["customers"]})
    amount = pa.array([10.0, 12.5, 99.0, 0.0]).cast(pa.decimal128(10, 2))
    pq.write_table(_arrow(billing, amount=amount), folder / "billing.parquet")
    credit = pa.array([1.5, 2.25, None]).cast(pa.decimal128(12, 3))  # an extra decimal column
    pq.write_table(
        _arrow(tables["customers"].assign(credit=0.0), credit=credit),
        folder / "customers.parquet",
    )
    (folder / "customers.csv").unlink()
    ds = read_dataset(folder)
    assert ds.table("billing")["amount"].tolist() == [10.0, 12.5, 99.0, 0.0]
    assert ds.table("billing")["paid"].tolist() == [True, False, True, False]
    assert ds.customers["credit"].dtype == "float64"
    assert ds.customers["credit"].tolist()[:2] == [1.5, 2.25]


def test_an_empty_optional_table_turns_its_family_on_with_no_rows(tmp_path):
    tables = only("customers", "usage", "tickets")
    tables["tickets"] = tables["tickets"].iloc[:0]
    ds = read_dataset(write(tmp_path / "d", tables))
    assert len(ds.table("tickets")) == 0 and "support" in ds.families
    ft = build_feature_table(ds, ["2024-02"])
    assert (ft.frame["support_tickets_90d"] == 0).all()


def test_sql_words_quotes_and_japanese_in_names_and_values(tmp_path):
    """Names and values go into SQL only as quoted identifiers or data, never as SQL text."""
    t = feature_tables()
    t["usage"] = t["usage"].rename(columns={"sessions": 'select "x" from', "minutes": "a'b; --"})
    t["customers"] = t["customers"].assign(
        **{"order": ["a", "b", "a", "b"], "区分": ["日本", "東京", "日本", "大阪"]}
    )
    t["customers"]["customer_id"] = ["顧客A", "B", "C", "D"]
    for name in ("billing", "tickets", "onboarding", "usage", "feedback"):
        t[name]["customer_id"] = t[name]["customer_id"].replace("A", "顧客A")
    t["feedback"]["comment"] = ["x" * 10_000, "DROP TABLE customers;", "'; --", "日本語のコメント"]
    for fmt in ("csv", "parquet"):
        ds = read_dataset(write(tmp_path / fmt, t, fmt))
        ft = build_feature_table(ds, ["2025-03"])
        check(ft, "engagement_select_x_from_30d", {"顧客A": 3.0, "B": 0.0})
        check(ft, "engagement_a_b_90d", {"顧客A": 16.0})
        assert value(ft, "B", "profile_order") == "b"
        assert value(ft, "D", "profile_column") == "大阪"  # no ASCII letters left to name it
        assert ft.meta["specs"]["profile_column"].description.startswith(
            "customer attribute '区分'"
        )


def test_long_texts_and_thousands_of_plans(tmp_path):
    n = 5_000
    rng = np.random.default_rng(0)
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n), "D")
    churn = pd.Series(signup + pd.to_timedelta(rng.integers(30, 400, n), "D"))
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "signup_date": signup,
            "churn_date": churn.where(churn < pd.Timestamp("2024-12-31")),
            "plan": [f"plan {i} " + "p" * (10_000 if i == 0 else 3) for i in range(n)],
        }
    )
    ds = read_dataset(write(tmp_path / "d", {"customers": customers}))
    assert ds.customers["plan"].str.len().max() == 10_000 + len("plan 0 ")
    ft = build_feature_table(ds)
    from churnlab.model import ChurnModel

    labelled = ft.subset(ft.labelled)
    model = ChurnModel(seed=0, num_rounds=20).fit(labelled)
    # 5,000 levels: at most the 30 most frequent get a column, the rest share "(other)"
    levels = model.encoder_.levels["profile_plan"]
    assert len(levels) <= 31 and levels[-1] == "(other)"
    assert len(model.feature_names_) <= 1 + 31
    assert len(model.predict_proba(ft.frame)) == len(ft.frame)


def test_month_and_data_arguments_are_never_code(tmp_path, capsys):
    from churnlab import cli

    folder = write(tmp_path / "'; DROP TABLE customers; --", only("customers", "usage"))
    assert cli.main(["validate", str(folder)]) == 0
    assert "valid" in capsys.readouterr().out
    out = tmp_path / "out"
    code = cli.main(["report", "--data", str(folder), "--month", "2024-01'; --", "--out", str(out)])
    assert code == 2
    assert "is not a month" in capsys.readouterr().err
    assert not out.exists()


# ---- nested columns ---------------------------------------------------------------------------


def test_nested_customer_attributes_are_ignored_with_a_warning(tmp_path):
    tables = only("customers", "usage")
    folder = write(tmp_path / "d", {"usage": tables["usage"]})
    customers = pa.Table.from_pandas(tables["customers"], preserve_index=False)
    customers = customers.append_column("tags", pa.array([["a", "b"], [], None]))
    customers = customers.append_column("address", pa.array([{"city": "x"}, None, {"city": "y"}]))
    customers = customers.append_column(
        "extra", pa.array([[("k", 1)], [], None], pa.map_(pa.string(), pa.int64()))
    )
    pq.write_table(customers, folder / "customers.parquet")
    (warning,) = warnings_of(folder)
    assert warning.startswith(
        "customers.tags: 3 columns ['tags', 'address', 'extra'] hold nested values"
    )
    assert "they are ignored" in warning
    ds = read_dataset(folder)
    assert "tags" not in ds.customers and "address" not in ds.customers
    ft = build_feature_table(ds, ["2024-02"])
    assert not any("tags" in f or "address" in f for f in ft.features)
    assert "profile_seats" in ft.features


def test_a_nested_contract_column_is_an_error(tmp_path):
    tables = only("customers")
    frame = tables["customers"].drop(columns="segment")
    arrow = pa.Table.from_pandas(frame, preserve_index=False).append_column(
        "segment", pa.array([["smb"], ["ent"], None])
    )
    folder = tmp_path / "d"
    folder.mkdir()
    pq.write_table(arrow, folder / "customers.parquet")
    (message,) = errors_of(folder)
    assert message.startswith("customers.segment: the column holds nested values")
    assert "['smb']" in message and "not text. Export segment as a plain column of text." in message


# ---- generated feature names never clash ----------------------------------------------------------


def test_usage_columns_that_name_alike_get_distinct_features():
    t = feature_tables()
    usage = t["usage"]
    usage["Sessions"] = usage["sessions"] * 10
    usage["active_days"] = 1.0  # a column named like a fixed feature's part
    ft = build_feature_table(dataset_from_frames(t), ["2025-03"])
    assert len(ft.features) == len(set(ft.features))
    # A in the 30 days before 2025-04-01: sessions 2 + 1 (hand-checked in test_features)
    check(ft, "engagement_sessions_30d", {"A": 3.0})
    check(ft, "engagement_sessions_2_30d", {"A": 30.0})
    check(ft, "engagement_active_days_30d", {"A": 2.0})  # the fixed feature: days active
    check(ft, "engagement_active_days_2_30d", {"A": 2.0, "C": 0.0})  # the column's sum
    check(ft, "engagement_active_days_2_90d", {"A": 4.0})
    specs = ft.meta["specs"]
    assert (
        specs["engagement_sessions_2_30d"].description
        == "total Sessions in the 30 days before the cutoff"
    )
    assert (
        specs["engagement_active_days_2_30d"].template
        == "{value:,.0f} active_days in the last 30 days"
    )
    assert specs["engagement_active_days_30d"].description.startswith("days with a usage row")


def test_reasons_use_the_data_column_names():
    from churnlab.features.registry import reason_text

    t = feature_tables()
    t["usage"]["Sessions"] = t["usage"]["sessions"]
    ft = build_feature_table(dataset_from_frames(t), ["2025-03"])
    spec = ft.meta["specs"]["engagement_sessions_2_30d"]
    assert reason_text("engagement_sessions_2_30d", 12.0, spec) == "12 Sessions in the last 30 days"


# ---- numbers: huge, infinite, placeholders --------------------------------------------------------


def test_engagement_sums_stay_exact_beyond_a_trillion():
    t = feature_tables()
    t["usage"]["bytes"] = 3.5e12 + np.arange(len(t["usage"]))  # per day; sums reach 1e13
    ft = build_feature_table(dataset_from_frames(t), ["2025-03"])
    # A's rows in the last 30 days are positions 0 and 1; in the 90 days positions 0..3
    check(ft, "engagement_bytes_30d", {"A": 7.0e12 + 1, "C": 0.0})
    check(ft, "engagement_bytes_90d", {"A": 14.0e12 + 6})
    assert value(ft, "A", "engagement_bytes_30d") == 7_000_000_000_001.0  # to the unit


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_infinite_and_absurd_numbers_are_errors(tmp_path, fmt):
    tables = only("customers", "billing", "usage")
    tables["usage"]["minutes"] = [30.0, math.inf, -math.inf, 12.0]
    tables["billing"]["amount"] = [10.0, 1e300, 99.0, 0.0]
    messages = errors_of(write(tmp_path / "d", tables, fmt))
    assert len(messages) == 2
    billing, usage = messages
    assert billing.startswith("billing.amount: 1 value is not a usable number (1 larger than 10^15")
    assert "row 2 (customer_id 'C1', amount 1e+300)" in billing
    assert usage.startswith("usage.minutes: 2 values are not a usable number (2 infinite")
    assert "row 2 (customer_id 'C2', minutes inf); row 3 (customer_id 'C2', minutes -inf)" in usage


# ---- dates: placeholders and the ends of the calendar ---------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("sentinel", ["9999-12-31", "2999-12-31", "2099-12-31"])
def test_a_far_future_churn_date_means_still_a_customer(tmp_path, fmt, sentinel):
    tables = only("customers", "tickets", "usage")
    tables["customers"]["churn_date"] = ["2024-03-15", sentinel, None]
    tables["tickets"]["resolved_at"] = ["2024-02-02T12:00:00", sentinel, None]
    if fmt == "parquet":
        tables["customers"]["churn_date"] = pd.to_datetime(
            tables["customers"]["churn_date"]
        ).dt.date  # date32, which holds 9999-12-31
    ds = read_dataset(write(tmp_path / "d", tables, fmt))
    assert ds.customers["churn_date"].isna().tolist() == [False, True, True]
    assert ds.table("tickets")["resolved_at"].isna().tolist() == [False, True, True]
    assert ds.data_end == pd.Timestamp("2024-03-15")
    assert default_months(ds) == ["2024-01", "2024-02"]


@pytest.mark.parametrize(
    ("column", "bad", "words"),
    [
        ("signup_date", "1900-01-01", "1 before 1901-01-01"),
        ("signup_date", "0001-01-01", "1 before 1901-01-01"),
        ("signup_date", "9999-12-31", "1 on or after 2099-01-01"),
        ("churn_date", "1899-12-30", "1 before 1901-01-01"),
    ],
)
def test_placeholder_dates_outside_the_calendar_are_errors(tmp_path, column, bad, words):
    tables = only("customers")
    tables["customers"].loc[1, column] = bad
    tables["customers"].loc[1, "signup_date" if column == "churn_date" else "churn_date"] = None
    messages = errors_of(write(tmp_path / "d", tables))
    mine = [m for m in messages if m.startswith(f"customers.{column}: 1 date outside")]
    assert len(mine) == 1, messages
    assert words in mine[0] and "row 2 (customer_id 'C2'" in mine[0]


# ---- CSV habits ---------------------------------------------------------------------------------


def _trailing_commas(frame: pd.DataFrame, extra: str = "") -> str:
    lines = frame.to_csv(index=False, lineterminator="\r\n").splitlines()
    return "".join(line + "," + (extra if i else "") + "\r\n" for i, line in enumerate(lines))


def test_a_trailing_comma_on_every_line_is_dropped_silently(tmp_path):
    tables = only("customers", "usage")
    reference = read_dataset(write(tmp_path / "plain", tables))
    folder = tmp_path / "excel"
    folder.mkdir()
    for name, frame in tables.items():
        (folder / f"{name}.csv").write_text(_trailing_commas(frame), encoding="utf-8-sig")
    assert warnings_of(folder) == []
    assert_same_tables(read_dataset(folder), reference)
    build_feature_table(read_dataset(folder), ["2024-02"])


def test_an_unnamed_column_with_values_is_dropped_with_a_warning(tmp_path):
    tables = only("customers")
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "customers.csv").write_text(_trailing_commas(tables["customers"], "x"))
    (warning,) = warnings_of(folder)
    assert warning == (
        "customers: column 7 of 7 has no name but holds 3 values; it is ignored. Give the "
        "column a name in the header line if churnlab should read it."
    )
    assert list(read_dataset(folder).customers.columns) == list(tables["customers"].columns)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_columns_without_a_name_are_dropped_alike_from_files_and_frames(tmp_path, fmt):
    """pandas writes a column named '' to Parquet as it is; DuckDB would call it C4."""
    tables = only("customers", "usage")
    tables["usage"][""] = 1.0
    tables["usage"]["  "] = None
    folder = write(tmp_path / fmt, tables, fmt)
    assert warnings_of(folder) == [
        "usage: column 5 of 6 has no name but holds 4 values; it is ignored. Give the column a "
        "name in the header line if churnlab should read it."
    ]
    from_files, from_frames = read_dataset(folder), dataset_from_frames(tables)
    assert list(from_files.table("usage").columns) == ["customer_id", "date", "sessions", "minutes"]
    assert_same_tables(from_files, from_frames)
    assert [str(w) for w in from_frames.warnings] == warnings_of(folder)


def test_na_is_a_value_in_text_and_missing_in_numbers_csv_and_parquet_agree(tmp_path):
    tables = only("customers", "billing", "usage")
    tables["customers"]["segment"] = ["NA", "EMEA", "null"]  # North America, and a real 'null'
    tables["customers"]["churn_date"] = ["2024-03-15", "NA", "NaT"]
    tables["billing"]["discount"] = ["NA", "0", "N/A", "none"]
    tables["billing"]["paid"] = ["yes", "NULL", "1", "true"]
    tables["usage"]["minutes"] = ["NaN", "5", "#N/A", "12"]
    from_csv = read_dataset(write(tmp_path / "csv", tables))
    assert from_csv.customers["segment"].tolist() == ["NA", "EMEA", "null"]
    assert from_csv.customers["churn_date"].isna().tolist() == [False, True, True]
    assert from_csv.table("billing")["discount"].isna().tolist() == [True, False, True, True]
    assert from_csv.table("billing")["paid"].isna().tolist() == [False, True, False, False]
    assert from_csv.table("usage")["minutes"].isna().tolist() == [True, False, True, False]
    from_parquet = read_dataset(write(tmp_path / "pq", tables, "parquet"))
    assert_same_tables(from_csv, from_parquet)


def test_feature_tables_keep_na_as_a_category_and_read_it_as_missing_in_numbers(tmp_path):
    from churnlab.features.table import load_feature_table

    rows = [f"c{i},{i % 2},{'NA' if i == 3 else i},{'NA' if i < 20 else 'EMEA'}" for i in range(40)]
    path = tmp_path / "t.csv"
    path.write_text("id,churn,amount,region\n" + "\n".join(rows) + "\n")
    table = load_feature_table(path, "id", "churn").frame.set_index("id")
    assert table["amount"].dtype == "float64" and pd.isna(table.loc["c3", "amount"])
    assert sorted(table["region"].unique()) == ["EMEA", "NA"]


# ---- tables as folders of parts, compressed CSV ---------------------------------------------------


def test_spark_parquet_folder_and_gzip_csv_are_read(tmp_path):
    tables = only("customers", "usage", "tickets")
    reference = read_dataset(write(tmp_path / "plain", tables))
    folder = write(tmp_path / "spark", {"customers": tables["customers"]})
    parts = folder / "usage.parquet"
    parts.mkdir()
    usage = tables["usage"].assign(date=pd.to_datetime(tables["usage"]["date"]))
    usage.iloc[:3].to_parquet(parts / "part-00000-abc.snappy.parquet", index=False)
    # a later part where pandas chose other types: int sessions, ns dates
    late = usage.iloc[3:].astype({"sessions": "int32", "date": "datetime64[ns]"})
    late.to_parquet(parts / "part-00001-abc.snappy.parquet", index=False)
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-00000-abc.snappy.parquet.crc").write_bytes(b"\x00")
    with gzip.open(folder / "tickets.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(tables["tickets"].to_csv(index=False))
    assert warnings_of(folder) == []
    assert_same_tables(read_dataset(folder), reference)


def test_csv_folder_of_parts_with_hive_style_subfolders_of_parquet(tmp_path):
    tables = only("customers", "usage")
    reference = read_dataset(write(tmp_path / "plain", tables))
    folder = write(tmp_path / "d", {"customers": tables["customers"]})
    parts = folder / "usage.csv"
    parts.mkdir()
    tables["usage"].iloc[:2].to_csv(parts / "part-00000.csv", index=False)
    tables["usage"].iloc[2:].to_csv(parts / "part-00001.csv.gz", index=False)
    assert_same_tables(read_dataset(folder), reference)

    hive = write(tmp_path / "h", {"customers": tables["customers"]})
    for customer, rows in tables["usage"].groupby("customer_id"):
        part = hive / "usage" / f"customer_id={customer}"
        part.mkdir(parents=True)
        rows.drop(columns="customer_id").to_parquet(part / "part-0.parquet", index=False)
    ds = read_dataset(hive)
    got = ds.table("usage").sort_values(["customer_id", "date"]).reset_index(drop=True)
    want = reference.table("usage").sort_values(["customer_id", "date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)


def test_a_folder_without_parts_is_an_error(tmp_path):
    folder = write(tmp_path / "d", only("customers"))
    (folder / "usage.parquet").mkdir()
    (folder / "usage.parquet" / "_SUCCESS").write_text("")
    (message,) = errors_of(folder)
    assert message.startswith("usage: the folder usage.parquet/ holds no Parquet or CSV parts")


# ---- ids that match only after normalising; most rows lost ---------------------------------------


@pytest.mark.parametrize(
    ("spell", "words"),
    [
        (lambda i: f"{i}   ", "surrounding spaces"),
        (lambda i: f" {i}", "surrounding spaces"),
        (lambda i: i.lower(), "letter case"),
    ],
    ids=["padded", "leading space", "lower case"],
)
def test_ids_that_match_only_after_normalising_are_an_error(tmp_path, spell, words):
    tables = only("customers", "usage", "billing")
    tables["billing"]["customer_id"] = tables["billing"]["customer_id"].map(spell)
    messages = errors_of(write(tmp_path / "d", tables, {"billing": "parquet"}))
    spelling = [m for m in messages if "written differently" in m]
    assert len(spelling) == 1
    assert spelling[0].startswith(
        "billing.customer_id: ids are written differently than in customers: 3 ids match a "
        f"customer only after removing {words}"
    )
    assert any("4 of 4 rows (100%) have a customer_id not in customers" in m for m in messages)


def test_decimal_id_endings_are_an_error(tmp_path):
    tables = only("customers", "usage")
    tables["customers"]["customer_id"] = ["1", "2", "3"]
    tables["usage"]["customer_id"] = ["1.0", "2.0", "2.0", "3.0"]
    messages = errors_of(write(tmp_path / "d", tables))
    assert "only after removing a '.0' ending (e.g. '1.0' here, '1' in customers" in messages[0]


def test_a_table_that_loses_most_rows_as_orphans_is_an_error(tmp_path):
    tables = only("customers", "usage")
    tables["usage"]["customer_id"] = ["C1", "X1", "X2", "X3"]
    (message,) = errors_of(write(tmp_path / "d", tables))
    assert message.startswith(
        "usage.customer_id: 3 of 4 rows (75%) have a customer_id not in customers: a table "
        "that loses most of its rows this way is almost certainly a broken export"
    )
    tables["usage"]["customer_id"] = ["C1", "C2", "X2", "X3"]  # half: still a warning
    (warning,) = warnings_of(write(tmp_path / "e", tables))
    assert warning.startswith("usage.customer_id: 2 of 4 rows have a customer_id not in customers")


# ---- how far the data reaches --------------------------------------------------------------------


def _quiet_last_day(tables: dict[str, pd.DataFrame], day: str) -> dict[str, pd.DataFrame]:
    """The tables with nothing dated on ``day`` (a small shop's quiet Sunday)."""
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for col in frame.columns:
            if col.endswith(("date", "_at", "_start")):
                on_day = pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d") == day
                frame = (
                    frame[~on_day]
                    if col != "churn_date"
                    else frame.assign(churn_date=frame[col].where(~on_day))
                )
        out[name] = frame
    return out


def test_a_month_with_a_quiet_last_day_is_complete_once_the_data_goes_past_it():
    t = feature_tables()
    t["usage"] = pd.concat(
        [t["usage"], pd.DataFrame({"customer_id": ["A"], "date": ["2025-04-30"]})],
        ignore_index=True,
    )
    full = dataset_from_frames(_quiet_last_day(t, "2025-03-31"))
    known = full.as_of(month_cutoff("2025-03"))
    # nothing happened on 2025-03-31, but the full data reaches May: March is complete
    assert latest_complete_month(full) == "2025-05"
    assert resolve_month(full, "2025-03") == "2025-03"
    assert latest_complete_month(known) == "2025-03"
    assert default_months(known)[-1] == "2025-03"
    table = build_feature_table(known)
    assert table.snapshots[-1] == "2025-03"
    labelled = table.frame.groupby("snapshot")["churned"].apply(lambda s: s.notna().all())
    assert labelled["2025-02"] and not labelled["2025-03"]
    # the same as building on the full data and keeping the months up to March
    same = build_feature_table(full, default_months(known))
    # outcomes (the label, months to churn and its event flag) are what the later data knows
    outcomes = ["churned", TIME_COL, EVENT_COL]
    pd.testing.assert_frame_equal(
        table.frame.drop(columns=outcomes), same.frame.drop(columns=outcomes)
    )


def test_snapshot_months_with_gaps_give_the_same_features_as_consecutive_ones():
    ds = dataset_from_frames(feature_tables())
    months = default_months(ds)
    every = build_feature_table(ds, months)
    picked = [months[0], months[len(months) // 2], months[-1]]
    gaps = build_feature_table(ds, picked)
    pd.testing.assert_frame_equal(gaps.frame, every.at(picked).frame, check_exact=True)


# ---- row order ---------------------------------------------------------------------------------


def test_revenue_lost_does_not_depend_on_the_order_of_tied_billing_rows():
    from churnlab.report.kpis import churn_history, monthly_labels

    t = feature_tables()
    # D (churns 2025-04-20) has two periods starting 2025-03-15: 20 and, added here, 25
    extra = t["billing"].iloc[[-1]].assign(amount=25.0)
    lost = []
    for billing in (pd.concat([t["billing"], extra]), pd.concat([extra, t["billing"]])):
        ds = dataset_from_frames({**t, "billing": billing.reset_index(drop=True)})
        history = churn_history(ds, monthly_labels(ds, "2025-04"))
        lost.append(history.set_index("month").loc["2025-04", "revenue_lost"])
    # the larger of the tied periods is the latest, as in the price features
    assert lost == [25.0, 25.0]


def test_feature_table_row_order_and_id_type_do_not_change_results(tmp_path):
    from churnlab.features.table import load_feature_table
    from churnlab.report.analysis import analyze_table

    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame({"id": np.arange(1, n + 1), "left": (rng.random(n) < 0.3).astype(int)})
    frame["x"] = rng.normal(size=n) + frame["left"]
    frame["plan"] = rng.choice(["a", "b", "c"], n)
    frame.to_parquet(tmp_path / "ints.parquet", index=False)
    frame.sample(frac=1.0, random_state=0).astype({"id": str}).to_csv(
        tmp_path / "text.csv", index=False
    )
    results = [
        analyze_table(load_feature_table(tmp_path / name, "id", "left"), seed=0)
        for name in ("ints.parquet", "text.csv")
    ]
    assert results[0].metrics == results[1].metrics
    pd.testing.assert_frame_equal(results[0].scores, results[1].scores)
    pd.testing.assert_frame_equal(results[0].drivers, results[1].drivers)


def test_explain_warns_about_label_copies_churner_only_columns_and_ids(tmp_path):
    from churnlab.features.table import load_feature_table
    from churnlab.report.analysis import analyze_table

    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.25).astype(int)
    frame = pd.DataFrame(
        {
            "customer": [f"k{i:04d}" for i in range(n)],
            "left": y,
            "usage": rng.normal(size=n) + y,
            "churned_flag": y,  # a copy of the label
            "exit_reason": np.where(y == 1, "price", None),  # filled only for churners
            "account_number": rng.permutation(n) + 10_000_000,
            "row": np.arange(n),
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    notes = analyze_table(load_feature_table(tmp_path / "t.csv", "customer", "left")).notes
    leaks = [note for note in notes if "leak" in note or "looks like an id" in note]
    assert len(leaks) == 4, notes
    copy, reason, account, row = leaks
    assert copy.startswith("Possible leak: feature 'churned_flag' alone separates churners")
    assert "ROC-AUC 1.000 on 400 labelled rows" in copy
    assert reason.startswith(
        "Possible leak: feature 'exit_reason' is filled for churners and missing for stayers "
        f"({int(y.sum())} of {int(y.sum())} churners filled, 0 of {n - int(y.sum())} stayers)"
    )
    assert account.startswith("Feature 'account_number' looks like an id (its name says so)")
    assert row.startswith("Feature 'row' looks like an id (a different whole number on every row)")
    assert not any("'usage'" in note for note in notes)


@pytest.mark.slow
def test_leak_notes_reach_metrics_json_and_the_report(tmp_path):
    import html
    import json

    from churnlab import runs

    rng = np.random.default_rng(1)
    n = 300
    y = (rng.random(n) < 0.3).astype(int)
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(n)], "left": y, "x": rng.normal(size=n)})
    frame["cancel_reason"] = np.where(y == 1, "too expensive", "")
    frame.to_csv(tmp_path / "crm.csv", index=False)
    out = runs.run_explain(tmp_path / "crm.csv", "id", "left", tmp_path / "out").parent
    notes = json.loads((out / "metrics.json").read_text())["notes"]
    assert notes[0].startswith("Possible leak: feature 'cancel_reason' is filled for churners")
    page = (out / "report.html").read_text(encoding="utf-8")
    note = page[page.index('class="churnlab-note"') :]
    assert html.unescape(note).split("</div>")[0].endswith(notes[0])


# ---- whitespace around values: any Unicode space, in files as in frames -------------------------


@pytest.mark.parametrize(
    "pad",
    ["\t", "\u00a0", "\u3000", "\r\n", "\x0b \u2029"],
    ids=["tab", "no-break space", "ideographic space", "line break", "vertical tab"],
)
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_values_padded_with_any_unicode_space_read_alike_from_files_and_frames(tmp_path, pad, fmt):
    """Spreadsheets and CRMs pad cells with tabs and no-break spaces: the SQL reader of the
    files trims exactly what pandas' strip (Python's str.isspace) does."""
    tables = only("customers", "billing", "usage", "tickets")
    padded = lambda s: s.map(lambda v: v if pd.isna(v) else f"{pad}{v}{pad}")  # noqa: E731
    tables["customers"]["signup_date"] = padded(tables["customers"]["signup_date"])
    tables["billing"]["amount"] = padded(tables["billing"]["amount"].astype("str"))
    tables["billing"]["paid"] = padded(tables["billing"]["paid"])
    tables["usage"]["minutes"] = padded(tables["usage"]["minutes"].astype("str"))
    tables["tickets"]["escalated"] = padded(tables["tickets"]["escalated"])
    from_files = read_dataset(write(tmp_path / fmt, tables, fmt))
    assert from_files.customers["signup_date"].notna().all()
    assert (
        from_files.table("billing")["amount"].tolist()
        == good_tables()["billing"]["amount"].tolist()
    )
    assert from_files.table("billing")["paid"].notna().all()
    assert_same_tables(from_files, dataset_from_frames(tables))


@pytest.mark.parametrize("pad", ["\t", "\u00a0"], ids=["tab", "no-break space"])
def test_ids_padded_with_any_unicode_space_are_a_spelling_error(tmp_path, pad):
    tables = only("customers", "usage", "billing")
    tables["billing"]["customer_id"] = tables["billing"]["customer_id"].map(lambda i: i + pad)
    messages = errors_of(write(tmp_path / "d", tables, "parquet"))
    spelling = [m for m in messages if "written differently" in m]
    assert len(spelling) == 1 and "after removing surrounding spaces" in spelling[0], messages
