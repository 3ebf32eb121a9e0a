"""Driving the workbench as a browser does: every form it posts carries the page's CSRF token."""

from __future__ import annotations

from fastapi.testclient import TestClient

from triage.workbench import csrf


def form_token(client: TestClient) -> str:
    """The token the workbench writes into this client's forms (a page is fetched first when the client
    has no CSRF cookie yet, as a browser always has one before it can post a form)."""
    if csrf.COOKIE not in client.cookies:
        client.get("/ui/login")
    return csrf.token_for(client.app.state.workbench_signer.secret, client.cookies[csrf.COOKIE])


class BrowserClient(TestClient):
    """A TestClient whose form posts to ``/ui/`` carry the CSRF token unless the test gives its own."""

    def post(self, url, *args, data=None, **kwargs):
        if str(url).startswith("/ui/") and csrf.FIELD not in (data or {}):
            data = {**(data or {}), csrf.FIELD: form_token(self)}
        return super().post(url, *args, data=data, **kwargs)
