"""Who may do what (docs/interfaces.md): every endpoint × role, and no / wrong / revoked keys."""

import pytest

from tests.support.service import auth, case_request

#: (method, path, body, the least role allowed[, what an allowed call answers — 404 where the path names
#: nothing that exists: the key got past the role check]).  ``/healthz`` is open and tested apart.
ENDPOINTS = [
    ("POST", "/v1/cases/score", case_request(), "scorer"),
    ("POST", "/v1/cases/batch-score", {"cases": [case_request()]}, "scorer"),
    (
        "POST",
        "/v1/ingest/{table}",
        {
            "rows": [
                {
                    "household_id": "H-9",
                    "district": "城关区",
                    "street": "东关街道",
                    "grid_id": "G1",
                    "area_type": "urban",
                    "size": 2,
                    "low_income": False,
                    "registered_at": "2024-01-01",
                }
            ]
        },
        "scorer",
    ),
    ("GET", "/readyz", None, "scorer"),
    ("GET", "/metrics", None, "scorer"),
    ("GET", "/v1/scores/{score_id}", None, "analyst"),
    ("POST", "/v1/scores/{score_id}/review", {"verdict": "agree"}, "analyst"),
    ("GET", "/v1/queue", None, "analyst"),
    ("GET", "/v1/queue/teams", None, "analyst"),
    ("GET", "/v1/cases/{case_id}/timeline", None, "analyst"),
    ("GET", "/v1/overrides/summary", None, "analyst"),
    ("POST", "/v1/scores/{score_id}/reviews/{review_id}/confirm", {"note": "ok"}, "analyst", {404}),
    ("POST", "/v1/scores/{score_id}/reviews/{review_id}/reject", {"note": "no"}, "analyst", {404}),
    ("GET", "/v1/followups", None, "analyst"),
    (
        "POST",
        "/v1/followups/{followup_id}",
        {"note": "visited", "outcome": "stable"},
        "analyst",
        {404},
    ),
    # "households" is no table whose records may be disputed: the key got past the role check
    (
        "POST",
        "/v1/records/{table}/{record_id}/disputes",
        {"reason": "duplicate", "note": "twice"},
        "analyst",
        {422},
    ),
    ("GET", "/v1/records/{table}/{record_id}/disputes", None, "analyst", {422}),
    ("GET", "/v1/disputes", None, "analyst"),
    ("GET", "/v1/disputes/{dispute_id}", None, "analyst", {404}),
    ("POST", "/v1/disputes/{dispute_id}/decision", {"status": "upheld"}, "analyst", {404}),
    ("GET", "/v1/models", None, "analyst"),
    ("GET", "/v1/shadow", None, "analyst"),
    ("POST", "/v1/models/reload", None, "admin"),
    ("GET", "/v1/keys", None, "admin"),
    ("POST", "/v1/keys", {"role": "scorer", "name": "new"}, "admin"),
    ("GET", "/v1/audit", None, "admin"),
]
RANK = {"scorer": 0, "analyst": 1, "admin": 2}


@pytest.fixture
def stored_score(client, keys) -> str:
    return client.post("/v1/cases/score", json=case_request(), headers=auth(keys["scorer"])).json()[
        "score_id"
    ]


@pytest.fixture
def reload_to_same_models(client, champions):
    client.app.state.service.champions._loader = lambda: champions


def call(client, method, path, body, headers, score_id):
    """One endpoint with its path filled in: the stored score's ids, and ids that name nothing."""
    filled = path.format(
        score_id=score_id,
        case_id="C-1",
        table="households",
        review_id=999999,
        followup_id=999999,
        record_id="I-404",
        dispute_id=999999,
        key_id="000000000000",
    )
    return client.request(method, filled, json=body, headers=headers)


def test_the_matrix_lists_every_endpoint_the_service_documents(client):
    """A new endpoint cannot slip in untested: the OpenAPI operations are exactly the matrix, plus the open
    /healthz and key revocation (tested below)."""
    documented = {
        (method.upper(), path)
        for path, operations in client.app.openapi()["paths"].items()
        for method in operations
    }
    outside_matrix = {("GET", "/healthz"), ("POST", "/v1/keys/{key_id}/revoke")}
    assert documented - outside_matrix == {(method, path) for method, path, *_ in ENDPOINTS}


@pytest.mark.parametrize("role", ["scorer", "analyst", "admin"])
def test_each_role_may_do_exactly_what_interfaces_md_allows(
    client, keys, stored_score, role, reload_to_same_models
):
    for method, path, body, least, *answer in ENDPOINTS:
        response = call(client, method, path, body, auth(keys[role]), stored_score)
        if RANK[role] >= RANK[least]:
            assert response.status_code in (answer[0] if answer else {200, 201}), (
                role,
                path,
                response.text,
            )
        else:
            assert response.status_code == 403, (role, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"
            assert least in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Bearer trg_000000000000_wrong-secret"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["no key", "malformed key", "unknown key", "not bearer"],
)
def test_without_a_valid_key_every_endpoint_but_healthz_says_401(
    client, keys, stored_score, headers
):
    for method, path, body, *_ in ENDPOINTS:
        response = call(client, method, path, body, headers, stored_score)
        assert response.status_code == 401, (path, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/healthz").status_code == 200


def test_a_right_id_with_a_wrong_secret_is_refused_even_after_the_key_was_cached(client, keys):
    assert client.get("/v1/queue", headers=auth(keys["analyst"])).status_code == 200
    forged = keys["analyst"][:-4] + ("AAAA" if not keys["analyst"].endswith("AAAA") else "BBBB")
    assert client.get("/v1/queue", headers=auth(forged)).status_code == 401


def test_a_revoked_key_is_refused_from_the_next_request_on(client, keys):
    analyst = auth(keys["analyst"])
    assert client.get("/v1/queue", headers=analyst).status_code == 200  # now cached as verified
    revoked = client.post(f"/v1/keys/{keys['analyst_id']}/revoke", headers=auth(keys["admin"]))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/v1/queue", headers=analyst).status_code == 401
    actions = [e["action"] for e in client.get("/v1/audit", headers=auth(keys["admin"])).json()]
    assert "key.revoke" in actions


def test_keys_are_stored_only_as_argon2_hashes(client, keys):
    from triage.db.service_models import ApiKey

    with client.app.state.service.sessions() as session:
        stored = {k.id: k.hash for k in session.query(ApiKey)}
    assert stored[keys["scorer_id"]].startswith("$argon2id$")
    assert all(keys[role] not in stored.values() for role in ("scorer", "analyst", "admin"))


def test_an_admin_creates_a_key_that_works_at_once_and_is_never_shown_again(client, keys):
    created = client.post(
        "/v1/keys", json={"role": "analyst", "name": "desk 3"}, headers=auth(keys["admin"])
    )
    assert created.status_code == 201
    new_key = created.json()["key"]
    assert client.get("/v1/queue", headers=auth(new_key)).status_code == 200
    listed = client.get("/v1/keys", headers=auth(keys["admin"])).json()
    assert {"id", "name", "role", "created_at", "revoked_at"} == set(listed[0])
    assert new_key not in str(listed)
