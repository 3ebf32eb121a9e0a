"""Injected bad rows: each breaks exactly the one rule `_expected/bad_rows.csv` names, nothing else."""

from __future__ import annotations

import pandas as pd

from tests.synth.contract_reading import first_broken_rule, read_tables
from triage.contract import INGEST_RULES, RULES, TABLES
from triage.synth.badrows import applicable_rules


def test_each_listed_row_breaks_its_rule_first_and_every_other_row_is_valid(city_with_bad_rows):
    folder, summary = city_with_bad_rows
    expected = pd.read_csv(folder / "_expected" / "bad_rows.csv")
    assert list(expected.columns) == ["table", "row_number", "rule"]
    assert len(expected) == summary["bad_rows"]
    verdicts = first_broken_rule(read_tables(folder))
    for table, verdict in verdicts.items():
        found = verdict.dropna()
        listed = expected[expected["table"] == table]
        assert dict(zip(found.index + 1, found)) == dict(
            zip(listed["row_number"], listed["rule"])
        ), table


def test_every_rule_that_applies_to_a_table_is_covered(city_with_bad_rows):
    folder, _ = city_with_bad_rows
    expected = pd.read_csv(folder / "_expected" / "bad_rows.csv")
    covered = expected.groupby("table")["rule"].agg(set).to_dict()
    for name, spec in TABLES.items():
        assert covered[name] == set(applicable_rules(spec)), name
    assert set(expected["rule"]) == set(RULES) - set(INGEST_RULES)  # those no file can hold


def test_bad_rows_are_spread_through_the_file_and_leave_the_oracle_alone(city, city_with_bad_rows):
    folder, summary = city_with_bad_rows
    expected = pd.read_csv(folder / "_expected" / "bad_rows.csv")
    calls = expected[expected["table"] == "hotline_calls"]["row_number"]
    assert calls.min() < summary["rows"]["hotline_calls"] / 2 < calls.max()
    clean_folder, clean_summary = city
    assert (
        summary["rows"]["cases"]
        == clean_summary["rows"]["cases"] + (expected["table"] == "cases").sum()
    )
    oracle = pd.read_csv(folder / "_oracle" / "cases.csv", dtype={"case_id": str})
    assert oracle.equals(
        pd.read_csv(clean_folder / "_oracle" / "cases.csv", dtype={"case_id": str})
    )
