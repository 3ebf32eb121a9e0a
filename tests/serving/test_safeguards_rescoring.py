"""Re-scoring on new events: rows arriving for a household re-score its open cases as of those rows,
the queue flags a rise of band with what changed, and each case keeps its timeline."""

import json

import pytest
from typer.testing import CliRunner

from tests.support.analyst_cases import C0_AGREEMENT, C0_REQUEST
from tests.support.service import auth, case_request, ingest, score, small_city
from triage.cli import app as cli

H2_CASE = case_request("C-20", "H-2", counterparty=None, dispute_type="neighbor", persons=["P-2-1"])
ASSAULTS = [
    {
        "incident_id": f"I-{day}",
        "occurred_at": f"2025-06-{day}T20:00:00+08:00",
        "household_id": "H-2",
        "offence": "assault",
    }
    for day in ("03", "05", "07")
]
THREAT_CALLS = [
    {
        "call_id": f"K-{day}",
        "received_at": f"2025-06-{day}T08:00:00+08:00",
        "channel": "110",
        "household_id": "H-2",
        "category": "neighbor",
        "text": "对方扬言要砍死他",
    }
    for day in ("02", "04", "06")
]
#: One new row of each kind that re-scores, for household H-2 (whose person is P-2-1, whose case C-0 is H-1's).
EVENTS = {
    "hotline_calls": {
        "call_id": "K-1",
        "received_at": "2025-06-04T08:00:00+08:00",
        "channel": "110",
        "household_id": "H-2",
        "category": "neighbor",
        "text": "邻居扬言报复",
    },
    "incidents": ASSAULTS[0],
    "screenings": {
        "screening_id": "S-9",
        "person_id": "P-2-1",
        "at": "2025-06-04T10:00:00+08:00",
        "instrument": "phq9",
        "score": 21,
        "item9": 2,
    },
    "psych_assessments": {
        "assessment_id": "A-9",
        "person_id": "P-2-1",
        "at": "2025-06-04T10:00:00+08:00",
        "tier": "red",
    },
}
CHANGE_LINE = {
    "hotline_calls": "new call 2025-06-04 08:00 (110, neighbor)",
    "incidents": "new police incident 2025-06-03 20:00 (assault)",
    "screenings": "new screening 2025-06-04 10:00 (phq9 21, item 9 = 2)",
    "psych_assessments": "new professional assessment 2025-06-04 10:00 (red)",
}


def queue(client, keys, **params) -> list[dict]:
    response = client.get("/v1/queue", params=params, headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.mark.parametrize("table", EVENTS)
def test_each_kind_of_new_row_rescores_the_households_open_case(client, keys, table):
    first = score(client, keys, H2_CASE)
    result = ingest(client, keys, table, [EVENTS[table]])

    (rescored,) = result["rescored"]
    assert rescored["case_id"] == "C-20" and rescored["previous_score_id"] == first["score_id"]
    assert (
        rescored["as_of"].startswith("2025-06-0")
        and rescored["previous_band"] == first["escalation"]["band"]
    )
    assert rescored["changes"][0] == CHANGE_LINE[table]
    assert "邻居" not in str(rescored["changes"])  # free text never goes into `changes`
    stored = client.get(f"/v1/scores/{rescored['score_id']}", headers=auth(keys["analyst"])).json()
    assert (stored["trigger"], stored["previous_score_id"]) == (f"event:{table}", first["score_id"])


def test_a_failed_mediation_rescores_and_an_agreement_does_not(client, keys):
    score(client, keys, C0_REQUEST)
    agreement = C0_AGREEMENT
    failure = {
        **agreement,
        "event_id": "E-9",
        "at": "2025-05-20T10:00:00+08:00",
        "outcome": "no_agreement",
    }
    assert ingest(client, keys, "mediation_events", [agreement])["rescored"] == []
    (rescored,) = ingest(client, keys, "mediation_events", [failure])["rescored"]
    assert (
        rescored["changes"][0] == "mediation 2025-05-20 10:00 on case C-0: no_agreement (village)"
    )


def test_a_rise_of_band_is_flagged_in_the_queue_with_what_changed(client, keys):
    first = score(client, keys, H2_CASE)
    (rescored,) = ingest(client, keys, "hotline_calls", THREAT_CALLS)["rescored"]

    assert (
        first["escalation"]["band"] == "low" and rescored["band_rise"] and rescored["band"] != "low"
    )
    assert rescored["changes"][:3] == [
        f"new call 2025-06-{d} 08:00 (110, neighbor)" for d in ("02", "04", "06")
    ]
    assert f"band low → {rescored['band']}" in rescored["changes"]
    (flagged,) = queue(client, keys, band_rise="true")
    assert flagged["score_id"] == rescored["score_id"] and flagged["changes"] == rescored["changes"]
    assert [(i["score_id"], i["superseded"]) for i in queue(client, keys, current="false")] == [
        (first["score_id"], True)
    ]


def test_rules_that_newly_apply_are_named_among_the_changes(client, keys):
    score(client, keys, H2_CASE)
    (rescored,) = ingest(client, keys, "incidents", ASSAULTS)["rescored"]
    assert "repeated_police_incidents" in [
        line.split()[1] for line in rescored["changes"] if line.startswith("rule ")
    ]


def test_the_same_rows_again_rescore_nothing(client, keys):
    score(client, keys, H2_CASE)
    assert len(ingest(client, keys, "incidents", ASSAULTS)["rescored"]) == 1
    again = ingest(client, keys, "incidents", ASSAULTS)
    assert again["stored"]["unchanged"] == 3 and again["rescored"] == []


def test_only_open_cases_of_the_household_are_rescored(client, keys):
    closed = {
        "case_id": "C-21",
        "opened_at": "2025-05-30T09:00:00+08:00",
        "household_id": "H-2",
        "dispute_type": "neighbor",
        "source": "hotline",
        "parties_count": 2,
        "status": "withdrawn",
        "closed_at": "2025-06-02T09:00:00+08:00",
    }
    ingest(client, keys, "cases", [closed])
    score(
        client,
        keys,
        case_request("C-21", "H-2", counterparty=None, opened_at="2025-05-30T09:00:00+08:00"),
    )
    score(client, keys, H2_CASE)
    score(
        client, keys, case_request("C-22", "H-4", counterparty=None, persons=[])
    )  # another household

    rescored = ingest(client, keys, "incidents", ASSAULTS[1:2])["rescored"]
    assert [r["case_id"] for r in rescored] == [
        "C-20"
    ]  # C-21 was closed on 06-02, before the incident


def test_a_late_row_is_seen_together_with_what_the_previous_score_saw(client, keys):
    first = score(client, keys, {**H2_CASE, "as_of": "2025-06-10T10:00:00+08:00"})
    (rescored,) = ingest(client, keys, "incidents", ASSAULTS[:1])["rescored"]  # dated 06-03
    assert rescored["as_of"] == first["as_of"]


def test_the_timeline_lists_decisions_reviews_and_rescores_in_time_order(client, keys):
    first = score(client, keys, H2_CASE)
    client.post(
        f"/v1/scores/{first['score_id']}/review",
        json={"verdict": "agree"},
        headers=auth(keys["analyst"]),
    )
    (rescored,) = ingest(client, keys, "hotline_calls", THREAT_CALLS)["rescored"]

    response = client.get("/v1/cases/C-20/timeline", headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    assert [e["type"] for e in entries] == ["decision", "review", "decision"]
    assert [entries[0]["decision"]["score_id"], entries[2]["decision"]["score_id"]] == [
        first["score_id"],
        rescored["score_id"],
    ]
    assert (
        entries[2]["decision"]["trigger"] == "event:hotline_calls"
        and entries[2]["decision"]["band_rise"]
    )
    assert entries[1]["review"]["verdict"] == "agree"
    audit = client.get("/v1/audit", headers=auth(keys["admin"])).json()
    # the ingest's entry commits with its rows, before the re-score it queued
    assert [e["action"] for e in audit[:2]] == ["rescore", "ingest"]
    assert {"action": "rescore", "target": rescored["score_id"]}.items() <= audit[0].items()


def test_the_timeline_of_an_unknown_case_is_a_problem_and_needs_an_analyst(client, keys):
    missing = client.get("/v1/cases/C-404/timeline", headers=auth(keys["analyst"]))
    assert (
        missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    )
    assert client.get("/v1/cases/C-404/timeline", headers=auth(keys["scorer"])).status_code == 403


def test_triage_load_rescores_open_cases_and_plans_visits_like_an_ingest(
    client, keys, settings, champions, tmp_home, monkeypatch
):
    first = score(client, keys, H2_CASE)
    score(client, keys, case_request("C-0", "H-1", opened_at="2025-01-05T09:00:00+08:00"))
    folder = tmp_home / "export"
    folder.mkdir()
    city = (
        small_city()
        .incident("H-2", "2025-06-03T20:00:00", offence="assault")
        .mediation("C-0", "2025-06-02")
    )
    for table, frame in city.tables().items():
        frame.to_csv(folder / f"{table}.csv", index=False)

    def load() -> dict:
        result = CliRunner().invoke(cli, ["load", str(folder), "--db", settings.db_url])
        assert result.exit_code == 0, result.output
        return json.loads(result.output.strip().splitlines()[-1])

    monkeypatch.setattr(
        "triage.decisions.ingest.load_champions", lambda _settings: champions
    )  # the registry's stand-in
    loaded = load()
    assert (loaded["rescored"], loaded["followups_planned"]) == (1, 3)
    (rescored,) = [i for i in queue(client, keys, current="true") if i["case_id"] == "C-20"]
    assert (
        rescored["previous_score_id"] == first["score_id"]
        and rescored["trigger"] == "event:incidents"
    )
    assert rescored["changes"][0] == "new police incident 2025-06-03 20:00 (assault)"
    again = load()
    assert (again["rescored"], again["followups_planned"]) == (0, 0)  # loading the same rows twice
