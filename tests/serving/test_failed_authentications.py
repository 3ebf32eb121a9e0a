"""Guessing keys is limited per key id and per client address, on the API and the workbench sign-in:
past the limit the answer is a 429 with Retry-After, and argon2 is not run at all."""

import pytest

from tests.support.service import auth
from triage.decisions import keys as key_store


@pytest.fixture
def argon2_runs(monkeypatch) -> list[str]:
    """Every hash argon2 is asked to check, in order."""
    runs: list[str] = []
    hasher = key_store.DEFAULT_HASHER

    class Counting:
        def verify(self, hash: str, password: str) -> bool:
            runs.append(hash)
            return hasher.verify(hash, password)

    monkeypatch.setattr(key_store, "DEFAULT_HASHER", Counting())
    return runs


def wrong_secret(key: str) -> str:
    return key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")


def test_a_known_key_id_with_wrong_secrets_is_limited_before_argon2(client, keys, argon2_runs):
    limit = client.app.state.service.settings.auth_failures_per_key
    forged = auth(wrong_secret(keys["analyst"]))
    assert [client.get("/v1/queue", headers=forged).status_code for _ in range(limit)] == [
        401
    ] * limit
    assert len(argon2_runs) == limit
    for _ in range(3):
        refused = client.get("/v1/queue", headers=forged)
        assert (
            refused.status_code == 429
            and refused.headers["content-type"] == "application/problem+json"
        )
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert len(argon2_runs) == limit


def test_a_right_key_does_not_count_as_a_failure(client, keys):
    limit = client.app.state.service.settings.auth_failures_per_key
    forged = auth(wrong_secret(keys["analyst"]))
    for _ in range(limit - 1):
        assert client.get("/v1/queue", headers=forged).status_code == 401
    assert client.get("/v1/queue", headers=auth(keys["analyst"])).status_code == 200
    assert client.get("/v1/queue", headers=forged).status_code == 401


def test_one_address_trying_many_key_ids_is_limited(client, keys):
    limit = client.app.state.service.settings.auth_failures_per_address
    answers = [
        client.get("/v1/queue", headers=auth(f"trg_{i:012x}_guess")).status_code
        for i in range(limit + 2)
    ]
    assert answers == [401] * limit + [429, 429]


def test_the_workbench_sign_in_is_limited_too(client, keys, argon2_runs):
    limit = client.app.state.service.settings.auth_failures_per_key
    wrong = {"api_key": wrong_secret(keys["analyst"])}
    assert [client.post("/ui/login", data=wrong).status_code for _ in range(limit)] == [401] * limit
    refused = client.post("/ui/login", data=wrong, follow_redirects=False)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "set-cookie" not in refused.headers
    assert len(argon2_runs) == limit
    # the API shares the count: the same key id is refused there as well
    assert client.get("/v1/queue", headers=auth(wrong["api_key"])).status_code == 429
