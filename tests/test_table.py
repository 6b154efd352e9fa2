"""Loading a user's own feature table (docs/data-contract.md) and its families file."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.core.errors import ChurnlabError
from churnlab.features.table import load_feature_table


def write(tmp_path, text: str, name: str = "table.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_in_any_spelling_and_blanks_as_unknown(tmp_path):
    path = write(tmp_path, "id,flag,x\na,Yes,1\nb,no,2\nc,TRUE,3\nd,0,4\ne,,5\nf,1,6\n")
    table = load_feature_table(path, "id", "flag")
    assert table.frame["flag"].fillna(-1).tolist() == [1, 0, 1, 0, -1, 1]
    assert str(table.frame["flag"].dtype) == "Int8"
    assert table.snapshot_col is None
    assert table.features == ["x"]
    assert table.families == {"x": "other"}


def test_bad_labels_name_file_column_count_and_examples(tmp_path):
    path = write(tmp_path, "id,flag,x\na,yes,1\nb,maybe,2\nc,2,3\nd,maybe,4\n")
    with pytest.raises(ChurnlabError) as err:
        load_feature_table(path, "id", "flag")
    msg = str(err.value)
    assert str(path) in msg and "'flag'" in msg and "3 row(s)" in msg
    assert "'maybe'" in msg and "'2'" in msg


def test_numbers_stored_as_text_with_blanks_are_numbers(tmp_path):
    rows = [f"c{i},0,{i}.5,basic,{i}" for i in range(40)]
    rows[3] = "c3,0,,basic,3"  # a blank
    rows[4] = "c4,0,n/a,pro,oops"  # a missing marker, and one non-number among 40
    path = write(tmp_path, "id,churn,amount,plan,visits\n" + "\n".join(rows) + "\n")
    table = load_feature_table(path, "id", "churn")
    frame = table.frame.set_index("id")
    amount = frame["amount"]
    assert amount.dtype == "float64" and amount.isna().sum() == 2 and amount["c5"] == 5.5
    assert frame["visits"].dtype == "float64" and pd.isna(frame["visits"]["c4"])
    assert table.categorical == ["plan"]
    assert any("'visits'" in w and "'oops'" in w for w in table.meta["warnings"])


def test_mostly_text_column_is_a_category(tmp_path):
    path = write(tmp_path, "id,churn,code\na,1,10\nb,0,x1\nc,0,x2\nd,0,\n")
    table = load_feature_table(path, "id", "churn")
    assert table.categorical == ["code"]
    assert table.frame["code"].tolist()[:3] == ["10", "x1", "x2"]
    assert pd.isna(table.frame["code"][3])


def test_snapshot_column_turns_on_temporal_mode_and_ids_unique_per_snapshot(tmp_path):
    path = write(tmp_path, "id,snapshot,churn,x\na,2025-01,0,1\na,2025-02,1,2\nb,2025-01,0,3\n")
    table = load_feature_table(path, "id", "churn")
    assert table.snapshot_col == "snapshot"
    assert table.snapshots == ["2025-01", "2025-02"]
    assert "snapshot" not in table.features


def test_bad_snapshot_format_is_an_error(tmp_path):
    path = write(tmp_path, "id,snapshot,churn,x\na,2025-01,0,1\nb,2025-13,0,1\nc,01/2025,1,2\n")
    with pytest.raises(ChurnlabError, match=r"2 row\(s\).*YYYY-MM.*'2025-13'"):
        load_feature_table(path, "id", "churn")


def test_duplicate_id_per_snapshot_is_an_error_with_examples(tmp_path):
    path = write(tmp_path, "id,snapshot,churn,x\na,2025-01,0,1\na,2025-01,1,2\nb,2025-01,0,3\n")
    with pytest.raises(ChurnlabError, match=r"2 rows share an id per snapshot: 'a'"):
        load_feature_table(path, "id", "churn")
    flat = write(tmp_path, "id,churn,x\n7,0,1\n7,1,2\n", "flat.csv")
    with pytest.raises(ChurnlabError, match=r"'id'.*'7'"):
        load_feature_table(flat, "id", "churn")


def test_missing_columns_and_files(tmp_path):
    path = write(tmp_path, "id,churn,x\na,1,2\n")
    with pytest.raises(ChurnlabError, match=r"no label column 'flag'.*'churn'"):
        load_feature_table(path, "id", "flag")
    with pytest.raises(ChurnlabError, match="does not exist"):
        load_feature_table(tmp_path / "nope.csv", "id", "churn")


def test_csv_and_parquet_give_the_same_table(tmp_path):
    csv = write(tmp_path, "id,churn,amount,plan\na,1,1.5,basic\nb,0,2,pro\nc,,,basic\n")
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "churn": [True, False, None], "amount": [1.5, 2.0, None]}
    )
    frame["plan"] = ["basic", "pro", "basic"]
    frame.to_parquet(tmp_path / "t.parquet")
    a = load_feature_table(csv, "id", "churn")
    b = load_feature_table(tmp_path / "t.parquet", "id", "churn")
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.families == b.families


FAMILIES_TABLE = "id,churn,tickets_open,tickets_30d,price,plan\na,1,1,2,3,x\nb,0,0,1,2,y\n"


def test_families_file_with_globs_and_other(tmp_path):
    path = write(tmp_path, FAMILIES_TABLE)
    fam = write(tmp_path, "support: [tickets_*]\nprice: price\n", "fam.yaml")
    table = load_feature_table(path, "id", "churn", fam)
    assert table.families == {
        "tickets_open": "support",
        "tickets_30d": "support",
        "price": "price",
        "plan": "other",
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("support: [tickets_open\nprice: x", "not valid YAML"),
        ("- tickets_open\n- price\n", "must be a mapping"),
        ("support: [ticket_count]\n", "'ticket_count', which matches no feature column"),
        ("support: [tickets_*]\nengagement: [tickets_30d]\n", "claimed by both"),
        ("support: {a: 1}\n", "'support' must map"),
    ],
)
def test_bad_families_files_name_the_file_and_entry(tmp_path, text, words):
    path = write(tmp_path, FAMILIES_TABLE)
    fam = write(tmp_path, text, "fam.yaml")
    with pytest.raises(ChurnlabError) as err:
        load_feature_table(path, "id", "churn", fam)
    assert "fam.yaml" in str(err.value) and words in str(err.value)
