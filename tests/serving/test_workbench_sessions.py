"""Workbench sign-in as an attacker would try it: a copied cookie after sign-out, and forms posted
from another site (no CSRF token, a wrong one, or the token of another browser)."""

from fastapi.testclient import TestClient

from tests.support.workbench import form_token
from triage.workbench import csrf
from triage.workbench.auth import COOKIE


def signed_in(client, key: str) -> str:
    response = client.post("/ui/login", data={"api_key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.cookies[COOKIE]


def test_signing_out_ends_the_session_on_the_server(client, keys):
    copied = signed_in(client, keys["analyst"])
    assert client.get("/ui/", follow_redirects=False).status_code == 200
    assert client.post("/ui/logout", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, copied, path="/ui")  # the cookie as an attacker kept it
    replayed = client.get("/ui/", follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"] == "/ui/login"


def test_every_form_page_carries_the_token_and_sets_its_cookie(client, keys):
    page = client.get("/ui/login")
    assert f'name="{csrf.FIELD}" value="{form_token(client)}"' in page.text
    assert "samesite=strict" in page.headers["set-cookie"].lower()
    signed_in(client, keys["analyst"])
    queue = client.get("/ui/").text
    assert queue.count(f'name="{csrf.FIELD}"') >= 1  # the sign-out form


def test_forms_without_the_right_token_are_refused(client, keys):
    token = form_token(client)
    for bad in ("", "0" * 64, token[:-1] + ("0" if token[-1] != "0" else "1")):
        refused = client.post(
            "/ui/login", data={"api_key": keys["analyst"], csrf.FIELD: bad}, follow_redirects=False
        )
        assert refused.status_code == 403 and COOKIE not in refused.headers.get("set-cookie", "")
    signed_in(client, keys["analyst"])
    other_browser = TestClient(client.app)
    stolen = {csrf.FIELD: form_token(other_browser)}  # valid, but for another browser's seed
    assert client.post("/ui/logout", data=stolen, follow_redirects=False).status_code == 403
    assert client.get("/ui/", follow_redirects=False).status_code == 200  # still signed in
