"""Browser-facing defences: security headers on every answer, and the API description behind a key.

The workbench's pages run no script and load nothing from elsewhere, so its policy allows only its
own stylesheet and images (inline ``style`` attributes draw its bars); no page may be framed, no
answer is sniffed as another type, and no URL leaks in a ``Referer``.  ``/docs``, ``/redoc`` and
``/openapi.json`` map every route and field of the service: they answer only a request with a
valid API key unless ``TRIAGE_API_DOCS_PUBLIC`` says they are public.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool

from triage.decisions.keys import TooManyFailures
from triage.serving.problems import PROBLEM_JSON

WORKBENCH_POLICY = (
    "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
OTHER_POLICY = "frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy (with frame-ancestors), X-Frame-Options, nosniff and Referrer-Policy."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = WORKBENCH_POLICY if scope["path"].startswith("/ui") else OTHER_POLICY
        extra = [
            (b"content-security-policy", policy.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        *(h for h in extra if h[0] not in names),
                    ],
                }
            await send(message)

        return await self.app(scope, receive, with_headers)


class DocsGateMiddleware:
    """``/docs``, ``/redoc`` and ``/openapi.json`` (and what they load below them) need a valid API key,
    unless ``public``."""

    def __init__(self, app, public: bool):
        self.app, self.public = app, public

    async def __call__(self, scope, receive, send):
        if self.public or scope["type"] != "http" or not scope["path"].startswith(DOCS_PATHS):
            return await self.app(scope, receive, send)
        state = scope["app"].state.service
        presented = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = presented.partition(" ")
        client = scope["client"][0] if scope.get("client") else None
        status, detail = (
            401,
            "the API description needs an API key: send 'Authorization: Bearer <key>'",
        )
        if scheme.lower() == "bearer" and key:
            try:
                if await run_in_threadpool(self._verified, state, key.strip(), client):
                    return await self.app(scope, receive, send)
                detail = "the API key is not valid or has been revoked"
            except TooManyFailures as exc:
                status, detail = 429, str(exc)
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Unauthorized" if status == 401 else "Too Many Requests",
                "status": status,
                "detail": detail,
                "instance": scope["path"],
            }
        ).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="triage"'),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _verified(state, key: str, client: str | None) -> bool:
        with state.sessions() as session:
            return state.verifier.verify(session, key, client) is not None
