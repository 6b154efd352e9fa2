"""The data contract on valid data: coercion, CSV/Parquet round trip, foreign exports, as_of."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from contract_fixtures import foreign_tables, good_tables, write
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.contract import check_dataset, dataset_from_frames, read_dataset
from churnlab.contract.findings import Finding
from churnlab.core.errors import ChurnlabError
from churnlab.core.months import month_cutoff, month_of, month_range, parse_month, shift_month

DT = np.dtype("datetime64[us]")


def test_good_dataset_has_contract_dtypes(tmp_path):
    ds = read_dataset(write(tmp_path / "d", good_tables()))
    assert set(ds.tables) == {"customers", "billing", "tickets", "onboarding", "usage", "feedback"}
    for name, frame in ds.tables.items():
        assert pd.api.types.is_string_dtype(frame["customer_id"]), name
    c = ds.customers
    assert c["signup_date"].dtype == DT and c["churn_date"].dtype == DT
    assert c["churn_date"].isna().tolist() == [False, True, True]
    assert c["seats"].tolist() == [1.0, 25.0, 3.0]  # extra column kept
    b = ds.table("billing")
    assert b["amount"].dtype == np.float64
    assert b["paid"].dtype == "boolean"
    assert b["paid"].tolist() == [True, False, True, True]
    t = ds.table("tickets")
    assert t["escalated"].tolist() == [False, True, False]
    assert t["opened_at"].iloc[1] == pd.Timestamp("2024-02-03 10:30")
    assert pd.isna(t["resolved_at"].iloc[1])  # empty = still open, not an error
    assert t["csat"].dtype == np.float64
    assert ds.usage_columns == ["sessions", "minutes"]
    assert ds.families == [
        "price",
        "support",
        "onboarding",
        "engagement",
        "voice_of_customer",
        "profile",
    ]
    assert ds.files["customers"].name == "customers.csv"
    assert ds.warnings == ()
    assert ds.data_start == pd.Timestamp("2024-01-05")
    assert ds.data_end == pd.Timestamp("2024-03-15")


def test_csv_and_parquet_give_identical_tables(tmp_path):
    tables = good_tables()
    from_csv = read_dataset(write(tmp_path / "csv", tables, "csv"))
    from_parquet = read_dataset(write(tmp_path / "pq", tables, "parquet"))
    for name in tables:
        pd.testing.assert_frame_equal(from_csv.tables[name], from_parquet.tables[name])


def test_parquet_with_native_types_round_trips_to_csv(tmp_path):
    """Parquet holding real dates, bools and ints equals the CSV of the same values."""
    tables = good_tables()
    native = {k: v.copy() for k, v in tables.items()}
    native["customers"]["signup_date"] = pd.to_datetime(native["customers"]["signup_date"])
    native["customers"]["churn_date"] = pd.to_datetime(native["customers"]["churn_date"])
    native["billing"]["paid"] = [True, False, True, True]
    native["tickets"]["opened_at"] = pd.to_datetime(native["tickets"]["opened_at"])
    native["tickets"]["escalated"] = [False, True, False]
    native["usage"]["sessions"] = native["usage"]["sessions"].astype(int)
    from_csv = read_dataset(write(tmp_path / "csv", tables, "csv"))
    from_parquet = read_dataset(write(tmp_path / "pq", native, "parquet"))
    for name in tables:
        pd.testing.assert_frame_equal(from_csv.tables[name], from_parquet.tables[name])


def test_int_ids_in_parquet_match_string_ids_in_csv(tmp_path):
    tables = good_tables()
    tables["customers"]["customer_id"] = [42, 7, 1000]
    tables["usage"]["customer_id"] = ["42", "7", "7", "1000"]
    tables = {k: tables[k] for k in ("customers", "usage")}
    ds = read_dataset(write(tmp_path / "d", tables, {"customers": "parquet", "usage": "csv"}))
    assert ds.customers["customer_id"].tolist() == ["42", "7", "1000"]
    assert len(ds.table("usage")) == 4 and ds.warnings == ()


def test_zero_padded_ids_keep_their_zeros(tmp_path):
    tables = {k: v for k, v in good_tables().items() if k in ("customers", "usage")}
    tables["customers"]["customer_id"] = ["00042", "00007", "01000"]
    tables["usage"]["customer_id"] = ["00042", "00007", "00007", "01000"]
    for fmt in ("csv", "parquet"):
        ds = read_dataset(write(tmp_path / fmt, tables, fmt))
        assert ds.customers["customer_id"].tolist() == ["00042", "00007", "01000"]
        assert ds.table("usage")["customer_id"].tolist()[0] == "00042"


def test_float_ids_with_gaps_read_as_integers(tmp_path):
    frames = {k: v for k, v in good_tables().items() if k in ("customers", "usage")}
    frames["customers"]["customer_id"] = [1.0, 2.0, 3.0]
    frames["usage"]["customer_id"] = pd.array([1, 2, 2, None], dtype="Int64")
    ds = read_dataset(write(tmp_path / "d", frames, "parquet"))
    assert ds.customers["customer_id"].tolist() == ["1", "2", "3"]
    assert len(ds.table("usage")) == 3  # the row without id is an orphan, dropped
    assert "1 of 4 rows" in ds.warnings[0]


def test_dataset_from_frames_accepts_mixed_python_values():
    ds = dataset_from_frames(
        {
            "customers": pd.DataFrame(
                {
                    "customer_id": [1, 2],
                    "signup_date": [pd.Timestamp("2024-01-01"), "2024-02-01"],
                    "churn_date": [None, pd.Timestamp("2024-05-01")],
                }
            ),
            "tickets": pd.DataFrame(
                {
                    "customer_id": ["1", "2"],
                    "opened_at": pd.to_datetime(
                        ["2024-03-01 10:00", "2024-03-02 10:00"]
                    ).tz_localize("Asia/Tokyo"),
                    "escalated": [1, 0],
                }
            ),
        },
        source="memory",
    )
    assert ds.customers["signup_date"].tolist() == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-02-01"),
    ]
    assert ds.customers["signup_date"].dtype == DT
    # 10:00 in Tokyo is 01:00 UTC, stored naive
    assert ds.table("tickets")["opened_at"].iloc[0] == pd.Timestamp("2024-03-01 01:00")
    assert ds.table("tickets")["escalated"].tolist() == [True, False]
    assert str(ds.source) == "memory"


def test_dataset_from_frames_ignores_unknown_tables_with_a_warning():
    tables = good_tables()
    tables["invoices"] = pd.DataFrame({"x": [1]})
    ds = dataset_from_frames(tables)
    assert "invoices" not in ds.tables
    assert any("invoices" in w for w in ds.warnings)


def test_dataset_from_frames_raises_on_bad_frames():
    tables = good_tables()
    tables["billing"].loc[0, "amount"] = -5.0
    with pytest.raises(ChurnlabError, match=r"billing\.amount: 1 value below 0"):
        dataset_from_frames(tables)


def test_tz_aware_csv_with_daylight_saving_offsets_becomes_utc(tmp_path):
    tables = {k: v for k, v in good_tables().items() if k in ("customers", "tickets")}
    tables["tickets"]["opened_at"] = [
        "2024-02-01T09:00:00+01:00",
        "2024-04-03T10:30:00+02:00",
        "2024-03-01T08:00:00+01:00",
    ]
    tables["tickets"]["resolved_at"] = ["2024-02-02T12:00:00Z", None, "2024-03-01T09:15:00Z"]
    ds = read_dataset(write(tmp_path / "d", tables))
    t = ds.table("tickets")
    assert t["opened_at"].tolist() == [
        pd.Timestamp("2024-02-01 08:00"),
        pd.Timestamp("2024-04-03 08:30"),
        pd.Timestamp("2024-03-01 07:00"),
    ]
    assert t["resolved_at"].iloc[0] == pd.Timestamp("2024-02-02 12:00")


def test_foreign_generator_dataset_validates(tmp_path):
    """Another team's export: int ids, Berlin timestamps, extras, mixed CSV and Parquet."""
    tables = foreign_tables()
    fmt = {"customers": "parquet", "usage": "csv", "tickets": "csv", "billing": "parquet"}
    folder = write(tmp_path / "foreign", tables, fmt)
    result = check_dataset(folder)
    assert result.ok, result.render()
    ds = result.dataset
    assert len(ds.customers) == 50
    assert ds.customers["customer_id"].iloc[0] == "1001"
    assert len(ds.table("usage")) == len(tables["usage"])  # no row lost
    assert ds.usage_columns == ["events"]  # 'device' is text, not activity
    assert ds.customers["employees"].tolist() == tables["customers"]["employees"].tolist()
    opened = tables["tickets"]["opened_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    assert ds.table("tickets")["opened_at"].tolist() == opened.tolist()
    text = result.render()
    assert "valid" in text and "NOT valid" not in text
    assert "customers   parquet" in text and "usage       csv" in text
    assert "Customers: 50 (" in text
    assert f"Date range: {ds.data_start:%Y-%m-%d} .. {ds.data_end:%Y-%m-%d}" in text
    assert "Families enabled: price, support, engagement, profile" in text


def _broken_copy(tmp_path, name, change):
    tables = foreign_tables()
    change(tables)
    fmt = {"customers": "parquet", "usage": "csv", "tickets": "csv", "billing": "parquet"}
    return check_dataset(write(tmp_path / name, tables, fmt))


def test_foreign_dataset_broken_copies_are_rejected_precisely(tmp_path):
    def no_signup(t):
        t["customers"] = t["customers"].drop(columns="signup_date")

    def duplicate(t):
        t["customers"] = pd.concat([t["customers"], t["customers"].iloc[[3]]], ignore_index=True)

    def bad_dates(t):
        t["usage"]["date"] = t["usage"]["date"].dt.strftime("%d/%m/%Y")

    def text_amount(t):
        t["billing"]["amount"] = t["billing"]["amount"].astype(str)
        t["billing"].loc[[2, 5], "amount"] = "EUR 19"

    cases = {
        "no_signup": (no_signup, "customers.signup_date: required column 'signup_date' is missing"),
        "dup": (duplicate, "customers.customer_id: 1 customer_id appears more than once (2 rows)"),
        "dates": (bad_dates, "usage.date: "),
        "amount": (
            text_amount,
            "billing.amount: 2 values cannot be read as a number, e.g. row 3 (amount 'EUR 19')",
        ),
    }
    for name, (change, expected) in cases.items():
        result = _broken_copy(tmp_path, name, change)
        assert not result.ok, name
        text = result.render()
        assert "NOT valid" in text and expected in text, (name, text)
    dates = _broken_copy(tmp_path, "dates2", bad_dates)
    n_usage = len(foreign_tables()["usage"])
    (finding,) = dates.errors
    assert finding.rows > n_usage / 2  # every dd/mm/yyyy with day > 12 fails ISO parsing
    assert "ISO 8601" in str(finding)


def test_asking_for_a_stored_table_does_not_load_it(tmp_path, monkeypatch):
    # Mapping's default `in` looks the table up, which loads it into pandas: asking whether a
    # 1M-customer dataset had usage loaded every usage row
    import churnlab.contract.dataset as dataset_module

    loaded = []
    real = dataset_module.to_frame
    monkeypatch.setattr(
        dataset_module,
        "to_frame",
        lambda arrow, table: loaded.append(table.name) or real(arrow, table),
    )
    ds = read_dataset(write(tmp_path / "d", good_tables(), "parquet"))
    for tables in (ds.tables, ds.as_of(pd.Timestamp("2024-03-01")).tables):
        assert "usage" in tables and "billing" in tables
        assert "actions" not in tables and 3 not in tables
    assert ds.usage_columns == ["sessions", "minutes"]
    assert loaded == []
    assert len(ds.tables["usage"]) > 0 and loaded == ["usage"]  # a lookup loads, once
    assert "usage" in ds.tables and loaded == ["usage"]


def test_as_of_drops_future_rows_and_unknown_facts(tmp_path):
    ds = read_dataset(write(tmp_path / "d", good_tables()))
    past = ds.as_of(pd.Timestamp("2024-03-01"))
    assert past.customers["customer_id"].tolist() == ["C1", "C2", "C3"]
    assert past.customers["churn_date"].isna().all()  # C1's churn (03-15) is not yet known
    tickets = past.table("tickets")
    assert len(tickets) == 2  # the ticket opened exactly at the cutoff is the future
    assert tickets["opened_at"].max() < pd.Timestamp("2024-03-01")
    early = ds.as_of(pd.Timestamp("2024-02-02 12:00"))
    t = early.table("tickets")
    # resolved exactly at the cutoff: not yet known, open at the snapshot, csat unknown
    assert pd.isna(t["resolved_at"].iloc[0]) and pd.isna(t["csat"].iloc[0])
    assert len(early.customers) == 2  # C3 signed up 02-10
    assert early.table("feedback").empty
    # a usage day stamped at midnight before the cutoff instant is known at the cutoff
    assert list(early.table("usage")["date"].dt.day) == [1, 1, 2]
    assert early.customers["churn_date"].dtype == DT
    # the original dataset is untouched
    assert ds.customers["churn_date"].notna().sum() == 1


def test_finding_reads_as_one_sentence():
    f = Finding(
        "error",
        "tickets",
        "resolved_at",
        3,
        ("row 4 (customer_id 'C00012', opened_at 2025-03-02, resolved_at 2025-03-01)",),
        "3 rows have resolved_at before opened_at",
        "Fix the export or leave resolved_at empty for open tickets",
    )
    assert str(f) == (
        "tickets.resolved_at: 3 rows have resolved_at before opened_at, e.g. row 4 (customer_id "
        "'C00012', opened_at 2025-03-02, resolved_at 2025-03-01). Fix the export or leave "
        "resolved_at empty for open tickets."
    )


def test_months():
    assert parse_month("2025-3") == "2025-03"
    assert parse_month(" 2025-12 ") == "2025-12"
    assert month_cutoff("2025-12") == pd.Timestamp("2026-01-01")
    assert month_cutoff("2024-02") == pd.Timestamp("2024-03-01")
    assert shift_month("2025-01", -1) == "2024-12"
    assert shift_month("2025-01", 14) == "2026-03"
    assert month_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert month_range("2025-02", "2025-01") == []
    assert month_of(pd.Timestamp("2025-03-31 23:59")) == "2025-03"
    for bad in ("2025-13", "2025-03-01", "March", "", None, "25-03"):
        with pytest.raises(ChurnlabError, match="YYYY-MM"):
            month_cutoff(bad)


def test_churn_date_may_be_empty_for_everyone(tmp_path):
    """A shop (churn by inactivity) exports an all-empty churn_date column."""
    tables = {k: v for k, v in good_tables().items() if k in ("customers", "usage")}
    tables["customers"]["churn_date"] = None
    for fmt in ("csv", "parquet"):
        ds = read_dataset(write(tmp_path / fmt, tables, fmt))
        assert ds.customers["churn_date"].dtype == DT
        assert ds.customers["churn_date"].isna().all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31)),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"]),
)
def test_iso_text_and_timestamps_coerce_to_the_same_values(values, fmt):
    from churnlab.contract.coerce import coerce_date

    stamps = pd.Series(pd.to_datetime(values)).dt.floor("us")
    text = stamps.dt.strftime(fmt)
    expected = pd.to_datetime(text)  # what the text says, e.g. without the time of day
    parsed, problems = coerce_date(text, "usage", "date")
    assert problems == []
    assert parsed.dtype == DT
    assert parsed.tolist() == expected.tolist()
    native, _ = coerce_date(stamps, "usage", "date")
    assert native.tolist() == stamps.tolist()
