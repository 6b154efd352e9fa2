"""Every data-contract rule on a hand-made bad table: the message names table, column, count."""

from __future__ import annotations

import pandas as pd
import pytest
from contract_fixtures import good_tables, write

from churnlab.contract import check_dataset, read_dataset
from churnlab.core.errors import ChurnlabError


def only(*names):
    tables = good_tables()
    return {n: tables[n] for n in names}


def errors_of(folder) -> str:
    result = check_dataset(folder)
    assert not result.ok and result.dataset is None
    with pytest.raises(ChurnlabError) as info:
        read_dataset(folder)
    message = str(info.value)
    # read_dataset raises one error listing exactly what check_dataset found
    for finding in result.errors:
        assert str(finding) in message
    assert "Traceback" not in message
    return message


def warnings_of(folder) -> list[str]:
    result = check_dataset(folder)
    assert result.ok, result.render()
    assert list(result.dataset.warnings) == [str(w) for w in result.warnings]
    return list(result.dataset.warnings)


# ---- the folder and its files ---------------------------------------------------------------


def test_missing_folder(tmp_path):
    assert "does not exist" in errors_of(tmp_path / "nope")


def test_path_is_a_file(tmp_path):
    file = tmp_path / "customers.csv"
    file.write_text("customer_id\n1\n")
    assert "is a file, not a dataset folder" in errors_of(file)


def test_empty_folder(tmp_path):
    (tmp_path / "d").mkdir()
    assert "no table files" in errors_of(tmp_path / "d") and "it is empty" in errors_of(
        tmp_path / "d"
    )


def test_no_customers_table(tmp_path):
    message = errors_of(write(tmp_path / "d", only("tickets")))
    assert "customers: the required customers table is missing (found tickets.csv)" in message


def test_table_in_both_formats_is_ambiguous(tmp_path):
    folder = write(tmp_path / "d", only("customers", "usage"))
    write(folder, only("usage"), "parquet")
    assert "usage: the table is present twice, as usage.csv and usage.parquet" in errors_of(folder)


def test_unknown_files_are_ignored_with_a_warning(tmp_path):
    folder = write(tmp_path / "d", only("customers"))
    (folder / "Tickets.csv").write_text("x\n1\n")
    (folder / "notes.xlsx").write_text("x")
    (folder / "truth.parquet").write_text("synth's ground truth is expected here")
    warnings = warnings_of(folder)
    assert len(warnings) == 2
    assert "ignored file Tickets.csv" in warnings[0] and "Rename it to tickets.csv" in warnings[0]
    assert "ignored file notes.xlsx" in warnings[1]


# ---- columns and types ------------------------------------------------------------------------


def test_missing_required_column_suggests_close_name(tmp_path):
    tables = only("customers", "billing")
    tables["billing"] = tables["billing"].rename(columns={"customer_id": "Customer_ID "})
    tables["billing"] = tables["billing"].drop(columns="amount")
    message = errors_of(write(tmp_path / "d", tables))
    assert "billing.customer_id: required column 'customer_id' is missing" in message
    assert "columns found: ['Customer_ID ', 'period_start', 'discount', 'paid']" in message
    assert "Did you mean 'Customer_ID '?" in message
    assert "billing.amount: required column 'amount' is missing" in message


def test_text_in_amount(tmp_path):
    tables = only("customers", "billing")
    tables["billing"]["amount"] = ["10", "12,50", "abc", "99"]
    message = errors_of(write(tmp_path / "d", tables))
    assert "billing.amount: 2 values cannot be read as a number" in message
    assert "row 2 (amount '12,50'); row 3 (amount 'abc')" in message


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_unparseable_dates_are_errors_never_blanks(tmp_path, fmt):
    tables = only("customers", "tickets")
    tables["tickets"]["opened_at"] = ["2024-02-01", "02/03/2024", "yesterday"]
    tables["tickets"]["resolved_at"] = [None, "", None]  # empty is fine
    message = errors_of(write(tmp_path / "d", tables, fmt))
    assert "tickets.opened_at: 2 values cannot be read as a date" in message
    assert "ISO 8601 such as 2025-03-01 or 2025-03-01T14:30:00" in message
    assert "row 2 (opened_at '02/03/2024'); row 3 (opened_at 'yesterday')" in message
    assert "resolved_at" not in message


def test_bad_yes_no_values(tmp_path):
    tables = only("customers", "billing")
    tables["billing"]["paid"] = ["yes", "maybe", "NO", "2"]
    message = errors_of(write(tmp_path / "d", tables))
    assert "billing.paid: 2 values cannot be read as yes/no" in message
    assert "'maybe'" in message and "'2'" in message


def test_time_zone_mixed_with_naive_values(tmp_path):
    tables = only("customers", "tickets")
    tables["tickets"]["opened_at"] = ["2024-02-01T09:00:00Z", "2024-02-03T10:30:00", "2024-03-01"]
    message = errors_of(write(tmp_path / "d", tables))
    assert "tickets.opened_at: the column mixes time zones: 2 values without a time zone" in message


def test_different_time_zones_in_one_column(tmp_path):
    tables = only("customers", "feedback")
    tables["feedback"]["responded_at"] = ["2024-02-15T12:00:00+09:00", "2024-02-20T12:00:00-05:00"]
    message = errors_of(write(tmp_path / "d", tables))
    assert "feedback.responded_at: the column mixes time zones" in message
    assert "1 value at UTC+09:00; 1 value at UTC-05:00" in message


def test_mixed_zone_timestamps_made_in_memory(tmp_path):
    tables = only("customers", "feedback")
    tables["feedback"]["responded_at"] = [
        pd.Timestamp("2024-02-15 12:00", tz="Asia/Tokyo"),
        pd.Timestamp("2024-02-20 12:00", tz="America/New_York"),
    ]
    from churnlab.contract import dataset_from_frames

    with pytest.raises(ChurnlabError, match=r"feedback\.responded_at: the column mixes time zones"):
        dataset_from_frames(tables)


def test_usage_without_numeric_activity_column(tmp_path):
    tables = only("customers", "usage")
    tables["usage"] = tables["usage"][["customer_id", "date"]].assign(device="web")
    message = errors_of(write(tmp_path / "d", tables))
    assert (
        "usage: no numeric activity column (columns found: ['customer_id', 'date', 'device'])"
        in message
    )


def test_usage_activity_column_with_text(tmp_path):
    tables = only("customers", "usage")
    tables["usage"]["sessions"] = ["3", "1", "n/a?", "2"]
    message = errors_of(write(tmp_path / "d", tables))
    assert (
        "usage.sessions: 1 value cannot be read as a number, e.g. row 3 (sessions 'n/a?')"
        in message
    )


# ---- ids ----------------------------------------------------------------------------------------


def test_duplicate_customer_id(tmp_path):
    tables = only("customers")
    tables["customers"]["customer_id"] = ["C1", "C2", "C1"]
    message = errors_of(write(tmp_path / "d", tables))
    assert "customers.customer_id: 1 customer_id appears more than once (2 rows)" in message
    assert "'C1' on rows 1, 3" in message


def test_empty_customer_id(tmp_path):
    tables = only("customers")
    tables["customers"]["customer_id"] = ["C1", None, "C3"]
    assert "customers.customer_id: 1 customer has no customer_id" in errors_of(
        write(tmp_path / "d", tables)
    )


def test_int_ids_against_zero_padded_text_ids(tmp_path):
    tables = only("customers", "tickets")
    tables["customers"]["customer_id"] = [42, 7, 1000]
    tables["tickets"]["customer_id"] = ["00042", "00007", "00007"]
    folder = write(tmp_path / "d", tables, {"customers": "parquet", "tickets": "csv"})
    message = errors_of(folder)
    assert "tickets.customer_id: ids are written differently than in customers" in message
    assert "2 ids match a customer only after removing leading zeros" in message
    assert "'00042' here, '42' in customers" in message
    assert "customers stores ids as integers, tickets as text" in message


def test_zero_padded_customers_against_int_ids_elsewhere(tmp_path):
    tables = only("customers", "usage")
    tables["customers"]["customer_id"] = ["0001", "0002", "0003"]
    tables["usage"]["customer_id"] = [1, 2, 2, 3]
    folder = write(tmp_path / "d", tables, {"customers": "csv", "usage": "parquet"})
    message = errors_of(folder)
    assert (
        "usage.customer_id: ids are written differently than in customers: 3 ids match" in message
    )
    assert (
        "'1' here, '0001' in customers; customers stores ids as text, usage as integers" in message
    )


def test_orphans_are_dropped_with_a_counted_warning(tmp_path):
    tables = only("customers", "usage", "tickets")
    tables["usage"]["customer_id"] = ["C1", "X9", "C2", "X8"]
    (warning,) = warnings_of(write(tmp_path / "d", tables))
    assert warning.startswith("usage.customer_id: 2 of 4 rows have a customer_id not in customers")
    assert "'X9' on row 2; 'X8' on row 4" in warning
    ds = read_dataset(tmp_path / "d")
    assert ds.table("usage")["customer_id"].tolist() == ["C1", "C2"]
    assert ds.table("usage")["sessions"].tolist() == [3.0, 4.0]


# ---- value rules --------------------------------------------------------------------------------


def test_churn_before_signup(tmp_path):
    tables = only("customers")
    tables["customers"]["churn_date"] = ["2023-12-31", None, "2024-02-09"]
    message = errors_of(write(tmp_path / "d", tables))
    assert "customers.churn_date: 2 rows have churn_date before signup_date" in message
    assert "row 1 (customer_id 'C1', signup_date 2024-01-05, churn_date 2023-12-31)" in message


def test_resolved_before_opened(tmp_path):
    tables = only("customers", "tickets")
    tables["tickets"]["resolved_at"] = ["2024-02-01T08:59:00", None, "2024-03-01T09:15:00"]
    message = errors_of(write(tmp_path / "d", tables))
    assert "tickets.resolved_at: 1 row has resolved_at before opened_at" in message
    assert "opened_at 2024-02-01 09:00:00, resolved_at 2024-02-01 08:59:00" in message


def test_negative_amount(tmp_path):
    tables = only("customers", "billing")
    tables["billing"]["amount"] = [10.0, -1.0, -2.5, 0.0]
    message = errors_of(write(tmp_path / "d", tables))
    assert "billing.amount: 2 values below 0" in message and "amount -2.5" in message


def test_csat_outside_scale(tmp_path):
    tables = only("customers", "tickets")
    tables["tickets"]["csat"] = [0.0, None, 6.0]
    message = errors_of(write(tmp_path / "d", tables))
    assert "tickets.csat: 2 values outside 1..5" in message


def test_score_outside_scale(tmp_path):
    tables = only("customers", "feedback")
    tables["feedback"]["score"] = [11.0, -1.0]
    assert "feedback.score: 2 values outside 0..10" in errors_of(write(tmp_path / "d", tables))


def test_event_without_its_date(tmp_path):
    tables = only("customers", "onboarding")
    tables["onboarding"]["completed_at"] = ["2024-01-05T10:00:00", "", None]
    assert "onboarding.completed_at: 2 rows have no completed_at" in errors_of(
        write(tmp_path / "d", tables)
    )


def test_activity_long_after_churn_is_a_warning(tmp_path):
    tables = only("customers", "usage")
    # C1 churned 2024-03-15: 04-15 is 31 days later (allowed), 04-16 and 05-01 are not
    tables["usage"]["customer_id"] = ["C1", "C1", "C1", "C2"]
    tables["usage"]["date"] = ["2024-04-15", "2024-04-16", "2024-05-01", "2024-05-01"]
    (warning,) = warnings_of(write(tmp_path / "d", tables))
    assert warning.startswith(
        "usage.date: 2 rows are dated more than 31 days after the customer's churn_date (1 customer"
    )
    assert "row 2: customer 'C1' churned 2024-03-15, date 2024-04-16" in warning


def test_every_error_is_listed_not_just_the_first(tmp_path):
    tables = only("customers", "billing", "feedback")
    tables["customers"]["customer_id"] = ["C1", "C1", "C3"]
    tables["billing"]["amount"] = [-1.0, 1.0, 1.0, 1.0]
    tables["feedback"]["score"] = [99.0, 1.0]
    message = errors_of(write(tmp_path / "d", tables))
    assert message.startswith(
        f"The dataset {tmp_path / 'd'} does not follow the data contract (3 errors):"
    )
    for where in ("customers.customer_id", "billing.amount", "feedback.score"):
        assert where in message


def test_render_of_a_failure_numbers_every_error(tmp_path):
    tables = only("customers", "feedback")
    tables["feedback"]["score"] = [99.0, 1.0]
    tables["feedback"]["customer_id"] = ["C2", "ghost"]
    text = check_dataset(write(tmp_path / "d", tables)).render()
    assert text.splitlines()[0] == f"{tmp_path / 'd'}: NOT valid, 1 error (1 warning)"
    assert "  1. feedback.score: 1 value outside 0..10" in text
    assert "Warnings:\n  - feedback.customer_id: 1 of 2 rows" in text


# ---- broken files ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sep", "label"), [(";", "';' (semicolon)"), ("\t", "a tab")])
def test_wrong_delimiter(tmp_path, sep, label):
    folder = tmp_path / "d"
    folder.mkdir()
    good_tables()["customers"].to_csv(folder / "customers.csv", sep=sep, index=False)
    message = errors_of(folder)
    assert "customers: customers.csv has one column named 'customer_id" in message
    assert f"its delimiter looks like {label}, but churnlab expects comma-separated CSV" in message


def test_wrong_encoding(tmp_path):
    folder = write(tmp_path / "d", only("customers"))
    tickets = only("tickets")["tickets"].assign(category=["facturation", "problème", "réseau"])
    tickets.to_csv(folder / "tickets.csv", index=False, encoding="latin-1")
    message = errors_of(folder)
    assert (
        "tickets: tickets.csv is not UTF-8 text" in message
        and "Re-export tickets.csv as UTF-8" in message
    )


def test_wrong_encoding_in_header(tmp_path):
    folder = write(tmp_path / "d", only("customers"))
    (folder / "usage.csv").write_bytes(
        "customer_id,date,séances\nC1,2024-02-01,3\n".encode("cp1252")
    )
    assert "usage: usage.csv is not UTF-8 text" in errors_of(folder)


def test_utf8_with_byte_order_mark_is_fine(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    good_tables()["customers"].to_csv(folder / "customers.csv", index=False, encoding="utf-8-sig")
    ds = read_dataset(folder)
    assert ds.customers["customer_id"].tolist() == ["C1", "C2", "C3"]


def test_corrupt_parquet(tmp_path):
    folder = write(tmp_path / "d", only("customers", "usage"), "parquet")
    data = (folder / "usage.parquet").read_bytes()
    (folder / "usage.parquet").write_bytes(data[: len(data) // 2])
    message = errors_of(folder)
    assert "usage: usage.parquet cannot be read as Parquet" in message
    assert "re-export usage.parquet" in message


def test_empty_and_ragged_csv(tmp_path):
    folder = write(tmp_path / "d", only("customers"))
    (folder / "usage.csv").write_text("")
    (folder / "billing.csv").write_text("customer_id,period_start,amount\nC1,2024-01-05,1,extra\n")
    message = errors_of(folder)
    assert "usage: usage.csv is empty (0 bytes)" in message
    assert (
        "billing: billing.csv cannot be parsed as CSV (CSV parse error: Expected 3 columns, got 4"
        in message
    )


def test_very_large_text_field(tmp_path, monkeypatch):
    import churnlab.contract.read

    # a 1 MB read block makes the 5 MB cell straddle blocks: the reader must retry, not fail
    monkeypatch.setattr(churnlab.contract.read, "_BLOCK", 1 << 20)
    tables = only("customers", "feedback")
    huge = "slow " * 1_000_000  # 5 MB in one cell: beyond csv.field_size_limit and a block
    tables["feedback"]["comment"] = [huge, 'quoted, with "quotes" and\na line break']
    ds = read_dataset(write(tmp_path / "d", tables))
    assert len(ds.table("feedback")["comment"].iloc[0]) == len(huge)
    assert ds.table("feedback")["comment"].iloc[1].endswith("a line break")


def test_late_rows_are_numbered_as_in_the_file_when_orphans_come_first(tmp_path):
    tables = only("customers", "usage")
    tables["usage"]["customer_id"] = ["nobody", "C1", "C1", "C2"]
    tables["usage"]["date"] = ["2024-02-01", "2024-02-01", "2024-06-01", "2024-02-02"]
    orphans, late = warnings_of(write(tmp_path / "d", tables))
    assert "usage.customer_id: 1 of 4 rows" in orphans and "'nobody' on row 1" in orphans
    assert (
        "usage.date: 1 row is dated" in late and "row 3: customer 'C1' churned 2024-03-15" in late
    )


def test_errors_in_other_tables_are_reported_alongside_folder_errors(tmp_path):
    tables = only("customers", "billing", "feedback")
    tables["billing"]["amount"] = [1.0, -1.0, 1.0, 1.0]
    folder = write(tmp_path / "d", tables)
    write(folder, only("customers"), "parquet")  # customers now ambiguous
    message = errors_of(folder)
    assert "(2 errors)" in message
    assert "customers: the table is present twice" in message
    assert "billing.amount: 1 value below 0" in message
