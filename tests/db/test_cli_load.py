"""`triage load DIR`: validate a dataset folder and upsert it, end to end through the CLI."""

import json

from typer.testing import CliRunner

from triage.cli import app
from triage.db import read_tables

runner = CliRunner()
PII_OF_THE_TINY_CITY = ("张三", "110101198001011234", "13800000001")


def _load(*args: str) -> tuple[dict, str]:
    result = runner.invoke(app, ["load", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1]), result.output


def test_load_validates_and_stores_the_dataset(db_url, tiny_city_folder):
    summary, _ = _load(str(tiny_city_folder), "--db", db_url)

    assert summary["loaded"]["cases"] == {"inserted": 3, "updated": 0, "unchanged": 0}
    assert "0 quarantined" in summary["validation"]
    assert set(read_tables(db_url)["mediation_events"]["event_id"]) == {"E1", "E2", "E3", "E4"}


def test_loading_twice_into_the_default_database_changes_nothing(tmp_home, tiny_city_folder):
    first, first_output = _load(str(tiny_city_folder))
    second, second_output = _load(str(tiny_city_folder))

    assert (tmp_home / "triage.db").exists()
    assert sum(c["inserted"] for c in first["loaded"].values()) == 24  # every row of the tiny city
    assert sum(c["inserted"] + c["updated"] for c in second["loaded"].values()) == 0
    assert not any(pii in first_output + second_output for pii in PII_OF_THE_TINY_CITY)
    persons = read_tables(f"sqlite:///{tmp_home / 'triage.db'}", include_pii=True)["persons"]
    assert persons.set_index("person_id").loc["P1a", "name"] == "张三"
