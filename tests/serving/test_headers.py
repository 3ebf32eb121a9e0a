"""Security headers on every answer, and the API description closed without a key unless made public."""

import pytest
from fastapi.testclient import TestClient

from tests.support.service import auth
from triage.app import create_app


def test_every_answer_carries_the_security_headers(client, keys):
    for path in ("/healthz", "/v1/queue", "/ui/login", "/ui/"):
        response = client.get(path, headers=auth(keys["analyst"]), follow_redirects=False)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


def test_workbench_pages_may_load_nothing_from_elsewhere_and_run_no_script(client):
    policy = client.get("/ui/login").headers["content-security-policy"]
    assert (
        "default-src 'none'" in policy
        and "script-src" not in policy
        and "form-action 'self'" in policy
    )


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_api_description_needs_a_key(client, keys, path):
    closed = client.get(path)
    assert (
        closed.status_code == 401 and closed.headers["content-type"] == "application/problem+json"
    )
    assert client.get(path, headers=auth("trg_000000000000_guess")).status_code == 401
    assert client.get(path, headers=auth(keys["scorer"])).status_code == 200


def test_the_api_description_is_public_when_the_setting_says_so(settings, champions):
    public = settings.model_copy(update={"api_docs_public": True})
    with TestClient(create_app(public, champions=champions)) as client:
        assert client.get("/openapi.json").status_code == 200
