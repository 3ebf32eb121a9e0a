"""What ``triage validate`` writes and prints, and its exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.contract import TABLES
from triage.data_contracts import validate_dataset, write_validation_outputs

PII_NAME, PII_PHONE = "欧阳娜娜", "13711112222"


@pytest.fixture(scope="module")
def city_with_a_bad_person(tiny_city, write_dataset):
    rows = {table: [dict(row) for row in table_rows] for table, table_rows in tiny_city.items()}
    rows["persons"].append(
        {
            **tiny_city["persons"][0],
            "person_id": "p-bad",
            "sex": "F",
            "name": PII_NAME,
            "phone": PII_PHONE,
        }
    )
    return write_dataset(rows, "bad_person")


@pytest.fixture(scope="module")
def outputs(city_with_a_bad_person, tmp_path_factory):
    result = validate_dataset(city_with_a_bad_person)
    out = tmp_path_factory.mktemp("validation")
    write_validation_outputs(result, out)
    return result, out


def test_validation_json_counts_rows_per_table_and_rule(outputs):
    result, out = outputs
    written = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    assert written["tables"]["persons"] == {
        "rows_read": 5,
        "valid": 4,
        "quarantined": 1,
        "by_rule": {"bad_enum": 1},
    }
    assert written["quarantined"] == 1 and written["valid"] == written["rows_read"] - 1


def test_quarantine_csv_holds_the_row_as_given_with_rule_and_detail(outputs):
    _, out = outputs
    persons = pd.read_csv(out / "quarantine" / "persons.csv", dtype="str", keep_default_na=False)
    assert persons.loc[0, ["row_number", "rule", "detail"]].tolist() == [
        "5",
        "bad_enum",
        "bad_enum (sex)",
    ]
    assert persons.loc[0, "sex"] == "F" and persons.loc[0, "name"] == PII_NAME
    assert sorted(p.stem for p in (out / "quarantine").glob("*.csv")) == sorted(TABLES)


def test_suites_are_written_as_great_expectations_json(outputs):
    _, out = outputs
    suite = json.loads((out / "suites" / "screenings.json").read_text(encoding="utf-8"))
    assert suite["name"] == "screenings"
    assert {"expect_column_values_to_be_null", "expect_column_values_to_be_between"} <= {
        e["type"] for e in suite["expectations"]
    }


def test_report_and_summary_name_rows_but_no_pii(outputs):
    result, out = outputs
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| 5 | bad_enum | bad_enum (sex) |" in report
    for shown in (report, result.one_line_summary()):
        assert PII_NAME not in shown and PII_PHONE not in shown


def test_cli_validate_exits_0_and_prints_one_line(city_with_a_bad_person, tmp_path):
    run = CliRunner().invoke(
        app, ["validate", str(city_with_a_bad_person), "--out", str(tmp_path / "v")]
    )
    assert run.exit_code == 0, run.output
    assert (
        run.stdout.strip().splitlines()[-1]
        == "8 tables, 24 rows read: 23 valid, 1 quarantined (bad_enum 1)"
    )
    assert (tmp_path / "v" / "quarantine" / "persons.csv").is_file()


def test_cli_validate_exits_2_with_a_reason_when_a_table_is_missing(
    tiny_city, write_dataset, tmp_path
):
    folder = write_dataset(tiny_city, "no_cases")
    (folder / "cases.csv").unlink()
    run = CliRunner().invoke(app, ["validate", str(folder), "--out", str(tmp_path / "v")])
    assert run.exit_code == 2
    assert (
        run.stderr.strip() == f"error: table cases: neither cases.csv nor cases.parquet in {folder}"
    )
    assert not (tmp_path / "v").exists()
