"""The capacity-aware queue: per team, the open cases due by the end of a day against its capacity.

A flood of police-routed cases meets a police station that can take up three a day: the case a
rule marks critical (a weapon threat) stays on top, and the cases beyond capacity are the least
urgent ones.
"""

from datetime import datetime, timedelta

import pytest

from tests.support.service import auth, case_request
from tests.support.domain import SHIPPED_DOMAIN, domain_with_capacity
from triage.config import load_domain
from triage.contract import LOCAL_ZONE
from triage.settings import Settings

POLICE_CAPACITY = 3
SHIPPED = SHIPPED_DOMAIN.capacity


@pytest.fixture
def settings(service_db: str, tmp_path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=service_db,
        domain_file=domain_with_capacity(tmp_path, {**SHIPPED, "police_station": POLICE_CAPACITY}),
    )


@pytest.fixture
def flood(client, keys) -> dict[str, dict]:
    """Eight cases of household H-3 (a prior assault: police, urgent), a weapon threat of H-1 (critical)
    and a quiet medical dispute of a household the service has never seen (mediators, days to respond)."""
    bodies = [
        case_request(f"C-F{i}", "H-3", counterparty=None, dispute_type="neighbor", persons=[])
        for i in range(8)
    ] + [
        case_request("C-W", "H-1"),
        case_request("C-Q", "H-404", counterparty=None, dispute_type="medical", persons=[]),
    ]
    response = client.post(
        "/v1/cases/batch-score", json={"cases": bodies}, headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    return {r["case_id"]: r for r in response.json()["results"]}


def shanghai_day(days_from_today: int) -> str:
    return str((datetime.now(LOCAL_ZONE) + timedelta(days=days_from_today)).date())


def teams_queue(client, keys, **params) -> dict[str, dict]:
    response = client.get("/v1/queue/teams", params=params, headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    return {load["team"]: load for load in response.json()["teams"]}


def police_cases(client, keys) -> set[str]:
    return {
        c["case_id"]
        for c in teams_queue(client, keys, day=shanghai_day(7))["police_station"]["cases"]
    }


def test_the_cases_beyond_capacity_are_the_least_urgent_and_a_critical_rule_stays_on_top(
    client, keys, flood
):
    police = teams_queue(client, keys, day=shanghai_day(7))["police_station"]
    assert (police["capacity"], police["due"], police["over_capacity"]) == (
        POLICE_CAPACITY,
        9,
        9 - POLICE_CAPACITY,
    )
    cases = police["cases"]
    assert (
        cases[0]["case_id"] == "C-W" and cases[0]["priority"] == "critical"
    )  # whatever its probability
    assert flood["C-W"]["route"]["rules"][0] == "weapon_threat_30d"
    urgency = [
        (-["low", "medium", "high", "critical"].index(c["priority"]), -c["probability"])
        for c in cases
    ]
    assert urgency == sorted(urgency) and [c["rank"] for c in cases] == list(range(1, 10))
    assert [c["over_capacity"] for c in cases] == [False] * POLICE_CAPACITY + [True] * (
        9 - POLICE_CAPACITY
    )


def test_a_case_is_due_by_the_end_of_the_day_its_response_time_runs_out(client, keys, flood):
    hours = {case_id: r["route"]["respond_within_hours"] for case_id, r in flood.items()}
    assert (
        max(hours.values()) > 24 >= min(hours.values())
    )  # the quiet case waits longer than the weapon threat
    due_by = {
        day: {
            c["case_id"]
            for load in teams_queue(client, keys, day=shanghai_day(day)).values()
            for c in load["cases"]
        }
        for day in (-1, 1, 7)
    }
    assert due_by[-1] == set()
    assert due_by[1] == {
        case_id for case_id, h in hours.items() if h <= 24
    }  # scored now: now + h < end of tomorrow
    assert due_by[7] == set(flood)
    case = teams_queue(client, keys, day=shanghai_day(7))["police_station"]["cases"][0]
    due = datetime.fromisoformat(case["due_at"]) - datetime.fromisoformat(case["created_at"])
    assert due == timedelta(hours=hours[case["case_id"]]) and case["overdue"] is False


def test_every_team_is_listed_with_its_capacity_those_over_it_first(client, keys, flood):
    loads = teams_queue(client, keys, day=shanghai_day(7))
    assert {team: load["capacity"] for team, load in loads.items()} == (
        client.app.state.service.settings.domain.capacity
    )
    order = [(-load["over_capacity"], -load["due"]) for load in loads.values()]
    assert order == sorted(order) and loads["police_station"]["over_capacity"] > 0
    medical = loads["medical_mediation"]
    assert [c["case_id"] for c in medical["cases"]] == ["C-Q"] and medical["over_capacity"] == 0
    assert loads["land_mediation"] == {
        "team": "land_mediation",
        "capacity": SHIPPED["land_mediation"],
        "due": 0,
        "over_capacity": 0,
        "cases": [],
    }


def test_a_settled_case_leaves_the_queue_and_only_a_case_s_latest_decision_counts(
    client, keys, flood
):
    reviewed = flood["C-F0"]["score_id"]
    agree = client.post(
        f"/v1/scores/{reviewed}/review", json={"verdict": "agree"}, headers=auth(keys["analyst"])
    )
    assert agree.status_code == 201
    again = client.post(
        "/v1/cases/score",
        json=case_request("C-F1", "H-3", counterparty=None, dispute_type="neighbor", persons=[]),
        headers=auth(keys["scorer"]),
    ).json()
    police = teams_queue(client, keys, day=shanghai_day(7))["police_station"]
    listed = {c["case_id"]: c["score_id"] for c in police["cases"]}
    assert police["due"] == 8 and "C-F0" not in listed
    assert listed["C-F1"] == again["score_id"] != flood["C-F1"]["score_id"]


def test_an_override_waiting_for_a_second_analyst_keeps_the_case_due_until_confirmed(
    client, keys, flood
):
    weapon = flood["C-W"]["score_id"]
    proposed = client.post(
        f"/v1/scores/{weapon}/review",
        headers=auth(keys["analyst"]),
        json={"verdict": "override", "teams": ["family_mediation"], "note": "双方已和解"},
    ).json()
    assert proposed["status"] == "pending"  # it drops the police a weapon threat requires
    assert "C-W" in police_cases(client, keys)
    confirmed = client.post(
        f"/v1/scores/{weapon}/reviews/{proposed['id']}/confirm",
        json={"note": "核实无误"},
        headers=auth(keys["admin"]),
    )
    assert confirmed.status_code == 200 and "C-W" not in police_cases(client, keys)


def test_one_team_and_a_short_list(client, keys, flood):
    loads = teams_queue(client, keys, day=shanghai_day(7), team="police_station", cases_per_team=2)
    assert list(loads) == ["police_station"]
    assert loads["police_station"]["due"] == 9 and [
        c["rank"] for c in loads["police_station"]["cases"]
    ] == [1, 2]


@pytest.mark.parametrize(
    "params, status",
    [
        ({"team": "swat"}, 404),
        ({"day": "2026-02-30"}, 422),
        ({"day": "9999-12-31"}, 422),
        ({"cases_per_team": -1}, 422),
    ],
)
def test_a_bad_query_is_a_problem(client, keys, params, status):
    response = client.get("/v1/queue/teams", params=params, headers=auth(keys["analyst"]))
    assert (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
    )


def test_a_scorer_may_not_read_the_team_queue(client, keys):
    response = client.get("/v1/queue/teams", headers=auth(keys["scorer"]))
    assert response.status_code == 403 and "analyst" in response.json()["detail"]


def test_the_shipped_capacity_names_every_team():
    assert set(Settings().domain.capacity) == set(SHIPPED_DOMAIN.teams)


@pytest.mark.parametrize(
    "capacity",
    [
        {"police_station": 1},
        {**SHIPPED, "swat": 2},
        {**SHIPPED, "police_station": 2.5},
        {**SHIPPED, "care_group": -1},
    ],
    ids=["missing teams", "unknown team", "fraction", "negative"],
)
def test_capacity_must_name_every_team_once_with_a_whole_number(tmp_path, capacity):
    with pytest.raises(ValueError, match="capacity"):
        load_domain(domain_with_capacity(tmp_path, capacity))
