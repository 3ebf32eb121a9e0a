"""``POST /v1/ingest/{table}``: the data contract decides, valid rows are upserted, a repeat changes nothing."""

import logging

import pytest

from tests.support.service import auth, case_request
from tests.support.refusing import persons_refused
from triage.db.history import read_tables

PERSONS = [
    {
        "person_id": "P-1-9",
        "household_id": "H-1",
        "sex": "male",
        "birth_year": 1975,
        "alcohol_problem": True,
        "name": "张三MARKER",
        "phone": "13800000000",
    },
    {"person_id": "P-9-1", "household_id": "H-nowhere", "sex": "female", "birth_year": 1990},
    {
        "person_id": "P-1-8",
        "household_id": "H-1",
        "sex": "robot",
        "birth_year": 1980,
        "name": "李四MARKER",
    },
    {"person_id": "P-1-7", "household_id": "H-1", "sex": "female", "birth_year": "nineteen"},
]


def ingest(client, keys, table, rows):
    return client.post(f"/v1/ingest/{table}", json={"rows": rows}, headers=auth(keys["scorer"]))


def test_valid_rows_are_stored_and_invalid_ones_come_back_with_their_rule(client, keys, settings):
    response = ingest(client, keys, "persons", PERSONS)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["received"] == 4 and result["stored"] == {
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
    }
    assert [(q["row"], q["key"], q["rule"]) for q in result["quarantined"]] == [
        (1, "P-9-1", "unknown_reference"),
        (2, "P-1-8", "bad_enum"),
        (3, "P-1-7", "bad_int"),
    ]
    assert "MARKER" not in response.text and "1380" not in response.text  # PII is never echoed
    persons = read_tables(settings.db_url, household_ids=["H-1"])["persons"]
    assert "P-1-9" in set(persons["person_id"])


def test_ingesting_the_same_rows_twice_changes_nothing(client, keys):
    first = ingest(client, keys, "persons", PERSONS[:1]).json()
    again = ingest(client, keys, "persons", PERSONS[:1]).json()
    assert first["stored"]["inserted"] == 1
    assert again["stored"] == {"inserted": 0, "updated": 0, "unchanged": 1}


def test_rows_may_refer_to_rows_stored_earlier_and_to_rows_of_the_same_call(client, keys):
    case = {
        "case_id": "C-77",
        "opened_at": "2025-05-01T09:00:00+08:00",
        "household_id": "H-2",
        "dispute_type": "neighbor",
        "source": "hotline",
        "parties_count": 2,
        "status": "open",
    }
    assert ingest(client, keys, "cases", [case]).json()["stored"]["inserted"] == 1
    events = [
        {
            "event_id": "E-1",
            "case_id": "C-77",
            "at": "2025-05-02T10:00:00+08:00",
            "level": "village",
            "outcome": "no_agreement",
        },
        {
            "event_id": "E-2",
            "case_id": "C-77",
            "at": "2025-04-01T10:00:00+08:00",
            "level": "village",
            "outcome": "agreement",
        },
    ]
    result = ingest(client, keys, "mediation_events", events).json()
    assert result["stored"]["inserted"] == 1 and [q["rule"] for q in result["quarantined"]] == [
        "time_order"
    ]


def test_ingested_history_changes_the_next_score(client, keys):
    before = client.post(
        "/v1/cases/score",
        json=case_request(household="H-2", counterparty=None),
        headers=auth(keys["scorer"]),
    ).json()
    incidents = [
        {
            "incident_id": f"I-{i}",
            "occurred_at": f"2025-0{i}-01T00:00:00+08:00",
            "household_id": "H-2",
            "offence": "assault",
        }
        for i in (2, 3, 4)
    ]
    assert ingest(client, keys, "incidents", incidents).json()["stored"]["inserted"] == 3
    after = client.post(
        "/v1/cases/score",
        json=case_request(household="H-2", counterparty=None),
        headers=auth(keys["scorer"]),
    ).json()
    assert "repeated_police_incidents" not in before["route"]["rules"]
    assert {"repeated_police_incidents", "prior_violence"} <= set(after["route"]["rules"])


@pytest.mark.parametrize(
    "table, rows, status",
    [
        ("villages", [{"id": "1"}], 422),
        ("persons", [{"person_id": "P-1"}], 422),  # required columns missing
        ("persons", [], 422),
    ],
)
def test_rows_that_cannot_be_the_table_are_422(client, keys, table, rows, status):
    response = ingest(client, keys, table, rows)
    assert (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
    )


def test_ingest_is_audited(client, keys):
    ingest(client, keys, "persons", PERSONS)
    entry = client.get("/v1/audit", headers=auth(keys["admin"])).json()[0]
    assert entry["action"] == "ingest" and entry["target"] == "persons"
    assert entry["detail"]["quarantined"] == 3 and entry["key_id"] == keys["scorer_id"]


def test_a_failed_persons_write_shows_no_pii_in_the_answer_or_the_log(
    client, keys, settings, caplog, capfd
):
    """Names, identity numbers and phones stay out of the problem, the log and stderr when the database
    refuses the write (bound parameters hidden; the database's own detail, which repeats the row, not logged)."""
    person = {
        "person_id": "P-1-9",
        "household_id": "H-1",
        "sex": "male",
        "birth_year": 1975,
        "name": "王五MARKER",
        "id_number": "110101197501019999",
        "phone": "13912345678",
    }
    caplog.set_level(logging.DEBUG)
    with persons_refused(settings.db_url):
        response = ingest(client, keys, "persons", [person])
    assert response.status_code == 500
    seen = response.text + caplog.text + "".join(capfd.readouterr())
    assert (
        "refuse_all" in seen or "persons refused" in seen or "IntegrityError" in seen
    )  # the failure is logged
    for pii in ("王五MARKER", "110101197501019999", "13912345678"):
        assert pii not in seen
