"""The routing rules file, rule by rule, and the evaluator's union semantics."""

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.support.service import auth, case_request
from tests.support.domain import SHIPPED_DOMAIN
from triage.app import create_app
from triage.routing import RouteInput, load_routing
from triage.settings import Settings

RULES_FILE = Settings().routing_file
TEAMS = set(SHIPPED_DOMAIN.teams)
QUIET = {"band": "low", "dispute_type": "other"}  # fires band_low only

#: For each rule of routing.yaml, a case that fires it (on top of the quiet baseline).
FIRING = {
    "band_critical": {"band": "critical"},
    "band_high": {"band": "high"},
    "band_medium": {"band": "medium"},
    "band_low": {},
    "weapon_threat_30d": {"facts": {"weapon_mentions_30d": 1}},
    "threat_incident_30d": {"facts": {"threat_incidents_30d": 1}},
    "repeated_police_incidents": {"facts": {"incidents_12m": 3}},
    "prior_violence": {"facts": {"violent_incidents_prior": 1}},
    "self_harm_item9": {"facts": {"max_item9_90d": 2}},
    "repeated_failed_mediation": {"facts": {"failed_mediations_12m": 3}},
    "mental_health_registry_high_risk": {
        "band": "high",
        "facts": {"mental_health_registry_persons": 1},
    },
    "family_alcohol": {"dispute_type": "marriage_family", "facts": {"alcohol_problem_persons": 1}},
    "prior_conviction_high_risk": {"band": "critical", "facts": {"prior_conviction_persons": 1}},
    "mass_wage_arrears": {"dispute_type": "wage_arrears", "facts": {"parties_count": 30}},
    "tier_red": {"tiers": ["green", "red"]},
    "tier_yellow": {"tiers": ["yellow"]},
    "tier_green": {"tiers": ["green"]},
    "type_marriage_family": {"dispute_type": "marriage_family"},
    "type_wage_arrears": {"dispute_type": "wage_arrears"},
    "type_medical": {"dispute_type": "medical"},
    "type_property_management": {"dispute_type": "property_management"},
    "type_traffic_accident": {"dispute_type": "traffic_accident"},
    "type_land_transfer": {"dispute_type": "land_transfer"},
    "type_commercial": {"dispute_type": "commercial"},
}
#: Just below each fact rule's threshold (or the wrong band/type): the rule must stay quiet.
NOT_FIRING = {
    "weapon_threat_30d": {"facts": {"weapon_mentions_30d": 0}},
    "threat_incident_30d": {"facts": {"threat_incidents_30d": 0}},
    "repeated_police_incidents": {"facts": {"incidents_12m": 2}},
    "prior_violence": {"facts": {"violent_incidents_prior": 0}},
    "self_harm_item9": {"facts": {"max_item9_90d": 1}},
    "repeated_failed_mediation": {"facts": {"failed_mediations_12m": 2}},
    "mental_health_registry_high_risk": {
        "band": "medium",
        "facts": {"mental_health_registry_persons": 1},
    },
    "family_alcohol": {"dispute_type": "neighbor", "facts": {"alcohol_problem_persons": 2}},
    "prior_conviction_high_risk": {"band": "low", "facts": {"prior_conviction_persons": 1}},
    "mass_wage_arrears": {"dispute_type": "wage_arrears", "facts": {"parties_count": 29}},
    "tier_red": {"tiers": ["yellow", "green"]},
}


@pytest.fixture(scope="module")
def rules():
    return load_routing(RULES_FILE, TEAMS)


def _case(**changes) -> RouteInput:
    return RouteInput(**{**QUIET, **changes})


def test_every_rule_in_the_file_has_a_firing_example(rules):
    assert {r.id for r in rules.rules} == set(FIRING)


@pytest.mark.parametrize("rule_id", sorted(FIRING))
def test_rule_fires_and_its_teams_reason_and_urgency_reach_the_route(rules, rule_id):
    rule = next(r for r in rules.rules if r.id == rule_id)
    route = rules.route(_case(**FIRING[rule_id]))
    assert rule_id in route.rules
    assert set(rule.teams) <= set(route.teams)
    assert rule.reason.zh in route.reasons and rule.reason.en in route.reasons_en
    assert route.respond_within_hours <= rule.respond_within_hours


@pytest.mark.parametrize("rule_id", sorted(NOT_FIRING))
def test_rule_stays_quiet_below_its_threshold(rules, rule_id):
    assert rule_id not in rules.route(_case(**NOT_FIRING[rule_id])).rules


def test_route_is_the_union_of_teams_with_most_urgent_priority_and_shortest_time(rules):
    route = rules.route(
        _case(
            band="high",
            dispute_type="marriage_family",
            tiers=["red"],
            facts={"weapon_mentions_30d": 2},
        )
    )
    assert route.rules[0] == "weapon_threat_30d"  # the most urgent rule comes first
    assert route.teams[:2] == ["police_station", "case_task_force"]
    assert {"guardianship_group", "family_mediation"} <= set(route.teams)
    assert len(route.teams) == len(set(route.teams))
    assert route.priority == "critical" and route.respond_within_hours == 2
    assert len(route.reasons) == len(route.rules) == len(route.reasons_en)


def test_a_quiet_low_risk_case_goes_to_village_mediation(rules):
    route = rules.route(_case())
    assert route.teams == ["village_mediation"] and route.priority == "low"


def test_default_applies_when_no_rule_matches(tmp_path):
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    raw["rules"] = [r for r in raw["rules"] if r["id"] == "band_critical"]
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    route = load_routing(path, TEAMS).route(_case(band="medium"))
    assert route.rules == ["default"] and route.teams == raw["default"]["teams"]


@pytest.mark.parametrize(
    "broken, message",
    [
        ({"teams": ["swat_team"]}, "unknown teams"),
        ({"when": {"facts": {"moon_phase": {"gte": 1}}}}, "moon_phase"),
        ({"when": {"facts": {"incidents_12m": {}}}}, "at least one"),
        ({"when": {"band": ["extreme"]}}, "extreme"),
        ({"when": {"python": "__import__('os').system('true')"}}, "python"),
        ({"priority": "urgent"}, "urgent"),
    ],
)
def test_a_broken_rules_file_is_refused_at_load(tmp_path, broken, message):
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    raw["rules"][0] = {**raw["rules"][0], **broken}
    path = Path(tmp_path / "routing.yaml")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises((ValidationError, ValueError), match=message):
        load_routing(path, TEAMS)


def rules_client(settings, champions, path: Path) -> TestClient:
    """A service whose rules file is ``path``, a copy an administrator may edit."""
    return TestClient(
        create_app(settings.model_copy(update={"routing_file": path}), champions=champions),
        raise_server_exceptions=False,
    )


@pytest.mark.parametrize(
    "broken",
    ["rules: [", "", "rules:\n  - id: half\n    teams: [nowhere_team]\n"],
    ids=["cut mid-file", "empty", "unknown team"],
)
def test_a_broken_rules_file_keeps_the_last_good_rules_and_says_so(
    tmp_path, settings, champions, keys, caplog, broken
):
    path = tmp_path / "routing.yaml"
    path.write_text(RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    with rules_client(settings, champions, path) as client:
        good = client.post("/v1/cases/score", json=case_request(), headers=auth(keys["scorer"]))
        assert good.status_code == 200
        path.write_text(broken, encoding="utf-8")
        kept = client.post(
            "/v1/cases/score", json=case_request("C-2"), headers=auth(keys["scorer"])
        )
        assert kept.status_code == 200, kept.text
        assert kept.json()["route"]["rules"] == good.json()["route"]["rules"]
        ready = client.get("/readyz", headers=auth(keys["scorer"]))
        assert ready.status_code == 200 and "routing.yaml is broken" in ready.json()["routing"]
        assert "keeping the last good rules" in caplog.text
        path.write_text(RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
        assert client.get("/readyz", headers=auth(keys["scorer"])).json()["routing"] == "ok"


def test_a_service_started_on_a_broken_rules_file_refuses_to_score(
    tmp_path, settings, champions, keys
):
    path = tmp_path / "routing.yaml"
    path.write_text("rules: [", encoding="utf-8")
    with rules_client(settings, champions, path) as client:
        refused = client.post("/v1/cases/score", json=case_request(), headers=auth(keys["scorer"]))
        assert (
            refused.status_code == 503
            and refused.headers["content-type"] == "application/problem+json"
        )
        assert client.get("/readyz", headers=auth(keys["scorer"])).status_code == 503
