"""The analyst workbench at ``/ui/``: the queue, the case with its explanation, reviews and models.

Server-rendered pages (Jinja2, inline SVG charts, one CSS file shipped in the package): no
JavaScript framework and nothing fetched from the network at run time.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from triage.workbench.auth import COOKIE, CookieSigner, SignInRequired
from triage.workbench.router import HERE, router


def mount_workbench(app: FastAPI) -> None:
    """Add the workbench to an app built by :func:`triage.app.create_app`, on its :class:`triage.web.Service`."""
    settings = app.state.service.settings
    app.state.workbench_signer = CookieSigner(
        settings.session_secret(), settings.workbench_session_hours * 3600
    )
    app.state.workbench_teams = settings.domain.teams
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="workbench-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request, exc: SignInRequired):
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response


__all__ = ["mount_workbench"]
