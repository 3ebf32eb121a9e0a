"""CSRF tokens for the workbench's forms (signed double-submit).

Each browser gets a random seed in an HTTP-only, SameSite=Strict cookie; every form carries
``csrf_token`` = HMAC(secret, seed).  A POST is accepted only when its token matches the seed of
its own cookie: another site can make the browser send the cookie, but can neither read it nor
compute the token without the service's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request, Response

COOKIE = "triage_csrf"
FIELD = "csrf_token"


def token_for(secret: bytes, seed: str) -> str:
    return hmac.new(secret, f"csrf.{seed}".encode(), hashlib.sha256).hexdigest()


def _secret(request: Request) -> bytes:
    return request.app.state.workbench_signer.secret


def form_token(request: Request) -> str:
    """The token for this browser's forms; a browser without a seed gets one (see :func:`keep_seed`)."""
    seed = request.cookies.get(COOKIE) or getattr(request.state, "csrf_seed", None)
    if seed is None:
        seed = request.state.csrf_seed = secrets.token_urlsafe(32)
    return token_for(_secret(request), seed)


def keep_seed(request: Request, response: Response) -> None:
    """Set the seed cookie when :func:`form_token` made a new one for this page."""
    seed = getattr(request.state, "csrf_seed", None)
    if seed is not None and COOKIE not in request.cookies:
        response.set_cookie(
            COOKIE,
            seed,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


async def checked(request: Request) -> None:
    """Dependency of every workbench POST: 403 unless the form's token matches the browser's seed."""
    seed = request.cookies.get(COOKIE, "")
    token = (await request.form()).get(FIELD, "")
    if not (
        seed
        and isinstance(token, str)
        and hmac.compare_digest(token, token_for(_secret(request), seed))
    ):
        raise HTTPException(
            403, "the form is out of date or did not come from the workbench; reload the page"
        )
