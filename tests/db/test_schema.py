"""The models are the contract of docs/data-format.md, column for column."""

import pytest
from sqlalchemy import Boolean, Double, Integer, String, Text

from triage.contract import TABLE_ORDER, TABLES
from triage.db.models import EXCHANGE_MODELS
from triage.db.types import UtcDateTime

STORAGE_TYPE = {
    "id": String,
    "enum": String,
    "text": Text,
    "timestamp": UtcDateTime,
    "bool": Boolean,
    "int": Integer,
    "decimal": Double,
}


def test_every_exchange_table_has_a_model_in_load_order():
    assert tuple(EXCHANGE_MODELS) == TABLE_ORDER


@pytest.mark.parametrize("name", TABLE_ORDER)
def test_model_columns_follow_the_contract(name):
    spec, table = TABLES[name], EXCHANGE_MODELS[name].__table__
    assert [c.name for c in table.columns] == spec.column_names
    assert [c.name for c in table.primary_key] == [spec.key]
    for column in spec.columns:
        stored = table.c[column.name]
        assert type(stored.type) is STORAGE_TYPE[column.type], column.name
        assert stored.nullable == column.nullable, column.name
        if column.type == "id":
            assert stored.type.length == 64


@pytest.mark.parametrize("name", TABLE_ORDER)
def test_every_contract_reference_is_a_foreign_key(name):
    spec, table = TABLES[name], EXCHANGE_MODELS[name].__table__
    expected = {(c.name, c.references) for c in spec.columns if c.references}
    actual = {(fk.parent.name, fk.target_fullname) for fk in table.foreign_keys}
    assert actual == expected


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("hotline_calls", ["household_id", "received_at"]),
        ("hotline_calls", ["person_id", "received_at"]),
        ("cases", ["household_id", "opened_at"]),
        ("cases", ["counterparty_household_id", "opened_at"]),
        ("mediation_events", ["case_id", "at"]),
        ("screenings", ["person_id", "at"]),
        ("psych_assessments", ["person_id", "at"]),
        ("incidents", ["household_id", "occurred_at"]),
        ("incidents", ["person_id", "occurred_at"]),
        ("incidents", ["case_id"]),
    ],
)
def test_history_lookups_have_an_index(name, columns):
    indexes = EXCHANGE_MODELS[name].__table__.indexes
    assert columns in [[c.name for c in index.columns] for index in indexes]
