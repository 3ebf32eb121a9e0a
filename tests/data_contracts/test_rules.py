"""Every rule of docs/data-format.md, each shown by a row that breaks it.

All the breaking rows are appended to one copy of the tiny city and validated together
(one validation keeps the module fast); each parametrised case then looks up its own row.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest

from triage.contract import INGEST_RULES, RULES, TABLES, TYPED_DTYPES
from triage.data_contracts import validate_frames

NEXT_YEAR = str(date.today().year + 1)

# (table, template row index in the tiny city, changed columns, rule the row must be quarantined under)
BREAKING_ROWS = {
    "required district empty": (
        "households",
        0,
        {"household_id": "hh-r1", "district": ""},
        "missing_required",
    ),
    "id with leading space": ("households", 0, {"household_id": " hh-r2"}, "bad_id"),
    "id of 65 characters": ("households", 0, {"household_id": "h" * 65}, "bad_id"),
    "reference with trailing tab": (
        "persons",
        0,
        {"person_id": "p-r4", "household_id": "hh-north-01\t"},
        "bad_id",
    ),
    "timestamp with slashes": (
        "households",
        0,
        {"household_id": "hh-r5", "registered_at": "2024/03/05 10:00"},
        "bad_timestamp",
    ),
    "timestamp on 30 February": (
        "households",
        0,
        {"household_id": "hh-r6", "registered_at": "2024-02-30T10:00:00+08:00"},
        "bad_timestamp",
    ),
    "timestamp after 2200": (
        "households",
        0,
        {"household_id": "hh-r6b", "registered_at": "2250-01-01T10:00:00+08:00"},
        "bad_timestamp",
    ),
    "bool spelled yes": (
        "households",
        0,
        {"household_id": "hh-r7", "low_income": "yes"},
        "bad_bool",
    ),
    "int with decimals": ("households", 0, {"household_id": "hh-r8", "size": "3.0"}, "bad_int"),
    "decimal with thousands comma": (
        "cases",
        1,
        {"case_id": "case-r9", "amount_cny": "1,000"},
        "bad_decimal",
    ),
    "enum in upper case": (
        "households",
        0,
        {"household_id": "hh-bad-area", "area_type": "Urban"},
        "bad_enum",
    ),
    "household of 31": ("households", 0, {"household_id": "hh-r11", "size": "31"}, "out_of_range"),
    "born next year": (
        "persons",
        0,
        {"person_id": "p-r12", "birth_year": NEXT_YEAR},
        "out_of_range",
    ),
    "negative amount": ("cases", 1, {"case_id": "case-r13", "amount_cny": "-1"}, "out_of_range"),
    "one party": ("cases", 0, {"case_id": "case-r14", "parties_count": "1"}, "out_of_range"),
    "gad7 above 21": ("screenings", 1, {"screening_id": "scr-r15", "score": "22"}, "out_of_range"),
    "phq9 above 27": ("screenings", 0, {"screening_id": "scr-r16", "score": "28"}, "out_of_range"),
    "item9 of 4": ("screenings", 0, {"screening_id": "scr-r17", "item9": "4"}, "out_of_range"),
    "call text of 4001 characters": (
        "hotline_calls",
        0,
        {"call_id": "call-r18", "text": "吵" * 4001},
        "text_too_long",
    ),
    "item9 on a gad7": ("screenings", 1, {"screening_id": "scr-r19", "item9": "1"}, "inconsistent"),
    "counterparty is the household": (
        "cases",
        1,
        {"case_id": "case-r20", "counterparty_household_id": "hh-south-01"},
        "inconsistent",
    ),
    "closed before opened": (
        "cases",
        1,
        {"case_id": "case-closed-early", "closed_at": "2024-03-05T14:19:59+08:00"},
        "time_order",
    ),
    "mediation before the case opened": (
        "mediation_events",
        0,
        {"event_id": "ev-r22", "at": "2024-03-04T09:59:59+08:00"},
        "time_order",
    ),
    "second household with one id": ("households", 1, {}, "duplicate_id"),
    "person of no household": (
        "persons",
        0,
        {"person_id": "p-r24", "household_id": "hh-nowhere"},
        "unknown_reference",
    ),
    "person of a quarantined household": (
        "persons",
        0,
        {"person_id": "p-r25", "household_id": "hh-bad-area"},
        "unknown_reference",
    ),
    "call naming no person": (
        "hotline_calls",
        0,
        {"call_id": "call-r26", "person_id": "p-nowhere"},
        "unknown_reference",
    ),
    "incident naming no case": (
        "incidents",
        0,
        {"incident_id": "inc-r27", "case_id": "case-nowhere"},
        "unknown_reference",
    ),
    "event of a quarantined case": (
        "mediation_events",
        2,
        {"event_id": "ev-r28", "case_id": "case-closed-early"},
        "unknown_reference",
    ),
    "bad enum and out of range": (
        "persons",
        0,
        {"person_id": "p-r29", "sex": "unknown", "birth_year": "1800"},
        "bad_enum",
    ),
}


@pytest.fixture(scope="module")
def broken_city(tiny_city, as_frames):
    """The tiny city with every breaking row appended; maps case name -> (table, row_number)."""
    rows = copy.deepcopy(tiny_city)
    where = {}
    for case, (table, template, changes, _rule) in BREAKING_ROWS.items():
        rows[table].append({**tiny_city[table][template], **changes})
        where[case] = (table, len(rows[table]))
    return validate_frames(as_frames(rows)), where


@pytest.mark.parametrize("case", list(BREAKING_ROWS))
def test_a_row_breaking_a_rule_is_quarantined_under_that_rule(broken_city, case):
    result, where = broken_city
    table, row_number = where[case]
    quarantined = result.quarantine[table].set_index("row_number")
    assert row_number in quarantined.index, f"{case}: row {row_number} of {table} was accepted"
    assert quarantined.loc[row_number, "rule"] == BREAKING_ROWS[case][3]


def test_every_rule_has_a_breaking_row():
    """Rules only a JSON ingest can break are tested there (tests/serving/test_edge_inputs.py)."""
    assert {rule for *_, rule in BREAKING_ROWS.values()} == set(RULES) - set(INGEST_RULES)


def test_only_the_breaking_rows_are_quarantined(broken_city, tiny_city):
    result, where = broken_city
    for table in TABLES:
        expected = {row for t, row in where.values() if t == table}
        assert set(result.quarantine[table]["row_number"]) == expected, table
        assert len(result.valid[table]) == len(tiny_city[table])


def test_valid_and_quarantined_rows_add_up_to_the_rows_read(broken_city, tiny_city):
    result, where = broken_city
    for table, counts in result.summary["tables"].items():
        read = len(tiny_city[table]) + sum(t == table for t, _ in where.values())
        assert counts["rows_read"] == read
        assert counts["valid"] + counts["quarantined"] == read
        assert len(result.valid[table]) + len(result.quarantine[table]) == read


def test_the_first_occurrence_of_a_repeated_id_is_kept(broken_city):
    result, where = broken_city
    households = result.valid["households"]
    assert (households["household_id"] == "hh-north-02").sum() == 1
    assert households.set_index("household_id").loc["hh-north-02", "size"] == 5  # the original row


def test_detail_lists_every_rule_a_row_breaks(broken_city):
    result, where = broken_city
    _, row_number = where["bad enum and out of range"]
    detail = result.quarantine["persons"].set_index("row_number").loc[row_number, "detail"]
    assert detail == "bad_enum (sex); out_of_range (birth_year)"


def test_quarantined_rows_are_kept_as_given(broken_city):
    result, where = broken_city
    _, row_number = where["id with leading space"]
    row = result.quarantine["households"].set_index("row_number").loc[row_number]
    assert row["household_id"] == " hh-r2"
    assert row["registered_at"] == "2019-05-01T09:00:00+08:00"


def test_valid_frames_have_the_typed_dtypes(broken_city):
    result, _ = broken_city
    for table, spec in TABLES.items():
        assert list(result.valid[table].columns) == spec.column_names
        assert {c.name: str(result.valid[table][c.name].dtype) for c in spec.columns} == {
            c.name: TYPED_DTYPES[c.type] for c in spec.columns
        }


def test_summary_counts_rows_per_rule(broken_city):
    result, _ = broken_city
    expected_total = {}
    for _table, _template, _changes, rule in BREAKING_ROWS.values():
        expected_total[rule] = expected_total.get(rule, 0) + 1
    assert result.summary["by_rule"] == expected_total
    assert result.summary["tables"]["screenings"]["by_rule"] == {
        "out_of_range": 3,
        "inconsistent": 1,
    }
