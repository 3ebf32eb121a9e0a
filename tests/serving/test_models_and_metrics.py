"""Champion reload without a failed request, ``/v1/models``, ``/readyz`` and the Prometheus metrics."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.support.service import auth, case_request


@pytest.fixture
def service_db(sqlite_service_db):
    """Errors, reloads and metrics do not depend on the database engine: SQLite only."""
    return sqlite_service_db


def as_version(champions, n):
    return replace(
        champions, versions={"escalation": f"triage-escalation/{n}", "tier": f"triage-tier/{n}"}
    )


def test_models_lists_the_champions_in_use(client, keys):
    body = client.get("/v1/models", headers=auth(keys["analyst"])).json()
    assert body["models"]["escalation"] == {
        "version": "triage-escalation/1",
        "metrics": {"escalation_auc": 0.71},
    }
    assert body["models"]["tier"]["version"] == "triage-tier/1" and body["loaded_at"]


def test_reload_swaps_in_the_new_champions_and_keeps_the_old_on_failure(client, keys, champions):
    store = client.app.state.service.champions
    store._loader = lambda: as_version(champions, 2)
    reloaded = client.post("/v1/models/reload", headers=auth(keys["admin"]))
    assert (
        reloaded.status_code == 200
        and reloaded.json()["models"]["escalation"]["version"] == "triage-escalation/2"
    )
    score = client.post("/v1/cases/score", json=case_request(), headers=auth(keys["scorer"])).json()
    assert score["models"] == {"escalation": "triage-escalation/2", "tier": "triage-tier/2"}

    def broken():
        raise FileNotFoundError("model artifact missing")

    store._loader = broken
    failed = client.post("/v1/models/reload", headers=auth(keys["admin"]))
    assert (
        failed.status_code == 502 and failed.headers["content-type"] == "application/problem+json"
    )
    assert "unchanged" in failed.json()["detail"]
    in_use = client.get("/v1/models", headers=auth(keys["analyst"])).json()
    assert in_use["models"]["escalation"]["version"] == "triage-escalation/2"
    actions = [e["action"] for e in client.get("/v1/audit", headers=auth(keys["admin"])).json()]
    assert actions[:2] == ["models.reload_failed", "models.reload"]


def test_no_request_fails_while_the_champions_are_reloaded(client, keys, champions):
    versions = iter(range(2, 1000))
    client.app.state.service.champions._loader = lambda: as_version(champions, next(versions))

    def score(i):
        return client.post(
            "/v1/cases/score", json=case_request(f"C-{i}"), headers=auth(keys["scorer"])
        )

    def reload(_):
        return client.post("/v1/models/reload", headers=auth(keys["admin"]))

    with ThreadPoolExecutor(4) as pool:
        scores = [pool.submit(score, i) for i in range(12)]
        reloads = [pool.submit(reload, i) for i in range(4)]
        responses = [f.result() for f in scores + reloads]
    assert all(r.status_code == 200 for r in responses), [
        r.text for r in responses if r.status_code != 200
    ]
    for r in (f.result().json() for f in scores):
        escalation, tier = r["models"]["escalation"], r["models"]["tier"]
        assert escalation.split("/")[1] == tier.split("/")[1]  # never a mixed pair


def test_readyz_reports_database_models_and_routing(client, keys):
    ready = client.get("/readyz", headers=auth(keys["scorer"]))
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "database": "ok",
        "models": "triage-escalation/1, triage-tier/1",
        "routing": "ok",
    }


def test_readyz_is_503_without_champions(settings, keys):
    from fastapi.testclient import TestClient

    from triage.app import create_app

    no_registry = settings.model_copy(update={"escalation_model_name": "never-registered"})
    with TestClient(create_app(no_registry)) as bare:
        response = bare.get("/readyz", headers=auth(keys["scorer"]))
        assert (
            response.status_code == 503
            and response.headers["content-type"] == "application/problem+json"
        )
        assert response.json()["database"] == "ok" and "not loaded" in response.json()["models"]
        scored = bare.post("/v1/cases/score", json=case_request(), headers=auth(keys["scorer"]))
        assert scored.status_code == 503 and "no champion models" in scored.json()["detail"]


def test_metrics_count_scores_by_band_time_requests_by_route_and_name_the_models(client, keys):
    band = client.post("/v1/cases/score", json=case_request(), headers=auth(keys["scorer"])).json()[
        "escalation"
    ]["band"]
    client.get("/v1/scores/whatever", headers=auth(keys["analyst"]))
    text = client.get("/metrics", headers=auth(keys["scorer"])).text
    assert f'triage_scores_total{{band="{band}"}} 1.0' in text
    assert 'triage_model_info{model="escalation",version="triage-escalation/1"} 1.0' in text
    assert 'route="/v1/cases/score",status="200"' in text
    assert 'route="/v1/scores/{score_id}",status="404"' in text  # templates, never raw ids
    assert "whatever" not in text
