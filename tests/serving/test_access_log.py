"""What a scorer key reads back, and the access log: every read of a stored decision and every
workbench case view is audited with who, when and which decision, and nothing personal."""

from tests.support.service import auth, case_request
from triage.decisions.stored import sensitive_features


def factors(answer: dict) -> list[dict]:
    return answer["escalation"]["factors"] + [f for p in answer["persons"] for f in p["factors"]]


def test_a_scorer_gets_every_contribution_but_no_police_screening_or_register_value(client, keys):
    body = case_request("C-1", "H-3", persons=["P-3-1"])  # H-3: incidents; P-3-1: on the registry
    scorer = client.post(
        "/v1/cases/score", json=body, params={"top": "all"}, headers=auth(keys["scorer"])
    ).json()
    analyst = client.post(
        "/v1/cases/score", json=body, params={"top": "all"}, headers=auth(keys["analyst"])
    ).json()
    sensitive = sensitive_features()
    assert {f["feature"] for f in factors(scorer)} == {f["feature"] for f in factors(analyst)}
    assert any(f["feature"] in sensitive and f["value"] not in (None, 0) for f in factors(analyst))
    for factor in factors(scorer):
        assert (factor["value"] is None and factor.get("withheld", False)) == (
            factor["feature"] in sensitive
        ), factor
    assert all(isinstance(f["contribution"], float) for f in factors(scorer))
    batch = client.post(
        "/v1/cases/batch-score",
        json={"cases": [body]},
        params={"top": "all"},
        headers=auth(keys["scorer"]),
    ).json()["results"][0]
    assert all(f.get("withheld") for f in factors(batch) if f["feature"] in sensitive)


def test_every_read_of_a_stored_decision_is_audited(client, keys):
    score_id = client.post(
        "/v1/cases/score", json=case_request(), headers=auth(keys["scorer"])
    ).json()["score_id"]
    for _ in range(2):
        assert (
            client.get(f"/v1/scores/{score_id}", headers=auth(keys["analyst"])).status_code == 200
        )
    client.post("/ui/login", data={"api_key": keys["analyst"]})
    assert client.get(f"/ui/cases/{score_id}").status_code == 200
    log = client.get("/v1/audit", headers=auth(keys["admin"])).json()
    reads = [
        (e["action"], e["key_id"], e["target"])
        for e in log
        if e["action"] in ("decision.read", "workbench.case_view")
    ]
    assert (
        reads
        == [("workbench.case_view", keys["analyst_id"], score_id)]
        + [("decision.read", keys["analyst_id"], score_id)] * 2
    )
    assert all(e["at"] for e in log)
