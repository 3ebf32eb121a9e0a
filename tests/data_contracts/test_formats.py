"""Files written as docs/data-format.md allows must validate, and broken folders must say why."""

from __future__ import annotations

import pandas as pd
import pytest

from triage.data_contracts import DatasetUnreadable, validate_dataset

TRADITIONAL_CALL = '來電人稱丈夫酒後吵鬧,揚言:"再吵就動手"。\n鄰居亦聽見爭執。'


@pytest.fixture(scope="module")
def quirky_city(tiny_city, write_dataset):
    """The tiny city as a different writer would export it: every tolerated quirk at once."""
    rows = {table: [dict(row) for row in table_rows] for table, table_rows in tiny_city.items()}
    rows["households"][0].update(registered_at="2019-05-01 09:00:00", low_income="TRUE")
    rows["households"][1].update(registered_at="2020-11-12T16:30", low_income="1")
    rows["households"][2].update(low_income="False")
    for person in rows["persons"]:
        for optional in ("ethnicity", "name", "id_number", "phone"):
            del person[optional]
    rows["persons"][0].update(returned_migrant="0", alcohol_problem="True")
    rows["hotline_calls"][0].update(text=TRADITIONAL_CALL)
    for call in rows["hotline_calls"]:
        call["source_system"] = "12345-platform-v2"
    folder = write_dataset(rows, "quirky", bom=True, line_end="\r\n", shuffle_columns=True)
    return validate_dataset(folder)


def test_a_quirky_export_loses_no_row(quirky_city, tiny_city):
    assert quirky_city.summary["quarantined"] == 0
    assert {t: len(f) for t, f in quirky_city.valid.items()} == {
        t: len(r) for t, r in tiny_city.items()
    }


def test_timestamps_without_offset_are_shanghai_time(quirky_city):
    registered = quirky_city.valid["households"].set_index("household_id")["registered_at"]
    assert registered["hh-north-01"] == pd.Timestamp("2019-05-01T01:00:00Z")
    assert registered["hh-north-02"] == pd.Timestamp("2020-11-12T08:30:00Z")
    assert registered["hh-south-01"] == pd.Timestamp("2021-02-03T00:00:00Z")  # written with Z


def test_booleans_in_any_case_and_as_digits(quirky_city):
    households = quirky_city.valid["households"].set_index("household_id")
    assert households["low_income"].to_dict() == {
        "hh-north-01": True,
        "hh-north-02": True,
        "hh-south-01": False,
    }
    person = quirky_city.valid["persons"].set_index("person_id").loc["p-0001"]
    assert (person["returned_migrant"], person["alcohol_problem"]) == (False, True)


def test_traditional_chinese_with_quotes_and_newlines_survives(quirky_city):
    texts = quirky_city.valid["hotline_calls"].set_index("call_id")["text"]
    assert texts["call-9001"] == TRADITIONAL_CALL


def test_missing_optional_columns_are_null_and_warned(quirky_city):
    persons = quirky_city.valid["persons"]
    assert persons[["ethnicity", "name", "id_number", "phone"]].isna().all().all()
    assert any(
        w.startswith("persons: optional column(s) absent") and "phone" in w
        for w in quirky_city.summary["warnings"]
    )


def test_an_extra_column_is_ignored_with_a_warning(quirky_city):
    assert "source_system" not in quirky_city.valid["hotline_calls"].columns
    assert (
        "hotline_calls: extra column(s) ignored: source_system" in quirky_city.summary["warnings"]
    )


@pytest.fixture(scope="module")
def plain_city(tiny_city, write_dataset):
    return validate_dataset(write_dataset(tiny_city, "plain"))


def test_parquet_of_strings_validates_like_csv(plain_city, tiny_city, write_dataset):
    from_parquet = validate_dataset(write_dataset(tiny_city, "parquet", fmt="parquet"))
    for table, frame in plain_city.valid.items():
        pd.testing.assert_frame_equal(from_parquet.valid[table], frame)


def test_parquet_with_native_types_validates_like_csv(plain_city, tmp_path):
    for table, frame in plain_city.valid.items():
        frame.to_parquet(tmp_path / f"{table}.parquet", index=False)
    typed = validate_dataset(tmp_path)
    assert typed.summary["quarantined"] == 0
    for table, frame in plain_city.valid.items():
        pd.testing.assert_frame_equal(typed.valid[table], frame)


def test_a_missing_table_is_unreadable(tiny_city, write_dataset):
    folder = write_dataset(tiny_city, "no_incidents")
    (folder / "incidents.csv").unlink()
    with pytest.raises(
        DatasetUnreadable, match="table incidents: neither incidents.csv nor incidents.parquet"
    ):
        validate_dataset(folder)


def test_csv_and_parquet_of_one_table_is_unreadable(tiny_city, write_dataset):
    folder = write_dataset(tiny_city, "both")
    pd.read_csv(folder / "cases.csv", dtype="str").to_parquet(folder / "cases.parquet")
    with pytest.raises(DatasetUnreadable, match="both cases.csv and cases.parquet"):
        validate_dataset(folder)


def test_a_missing_required_column_is_unreadable(city, write_dataset):
    for household in city["households"]:
        del household["grid_id"]
    with pytest.raises(DatasetUnreadable, match="table households: required column.*grid_id"):
        validate_dataset(write_dataset(city, "no_grid"))


def test_a_file_not_in_utf8_is_unreadable(tiny_city, write_dataset):
    folder = write_dataset(tiny_city, "gbk")
    text = (folder / "households.csv").read_text(encoding="utf-8")
    (folder / "households.csv").write_bytes(text.encode("gbk"))
    with pytest.raises(DatasetUnreadable, match="table households: cannot read households.csv"):
        validate_dataset(folder)


def test_a_row_with_too_many_fields_is_unreadable(tiny_city, write_dataset):
    folder = write_dataset(tiny_city, "ragged")
    with (folder / "households.csv").open("a", encoding="utf-8") as f:
        f.write("hh-x,江城区,东湖街道,g-1,urban,3,false,2020-01-01,surplus\n")
    with pytest.raises(DatasetUnreadable, match="table households: cannot read"):
        validate_dataset(folder)
