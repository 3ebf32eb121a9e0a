"""Request-size limit, enforced before any parsing: 413 problem+json above ``max_body_bytes``."""

from __future__ import annotations

import json

from triage.serving.problems import PROBLEM_JSON


class BodyLimitMiddleware:
    """Refuses a body larger than ``max_bytes`` whether or not it declares its length.

    A declared ``Content-Length`` is checked at once; a chunked body is read up to the limit
    and then replayed to the app, so no route ever parses an oversized document.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                return await self._too_large(scope, send)
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message]), send)
            chunks.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await self._too_large(scope, send)
            if not message.get("more_body", False):
                return await self.app(scope, _replay(chunks, receive), send)

    async def _too_large(self, scope, send):
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"the request body is larger than {self.max_bytes} bytes",
                "instance": scope["path"],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages, receive=None):
    pending = list(messages)

    async def replay():
        if pending:
            return pending.pop(0)
        return await receive() if receive else {"type": "http.disconnect"}

    return replay
