"""The workbench's pages under ``/ui/``: parse the request, call the views, render a template."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from triage.contract import DISPUTE_TYPES, LOCAL_ZONE
from triage.decisions.champions import NoChampions
from triage.decisions.keys import TooManyFailures
from triage.decisions.record_disputes import REASONS as DISPUTE_REASONS
from triage.web import ServiceDep, SessionDep, client_address
from triage.workbench import csrf, plots, views
from triage.workbench.auth import (
    COOKIE,
    AnalystSession,
    CookieSigner,
    SignInRefused,
    case_viewed,
    sign_in,
    sign_out,
    signer_of,
)
from triage.workbench.history import mask_digits
from triage.workbench.i18n import LANG_COOKIE, LANGS, Translator, pick_lang

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TEMPLATES.env.filters.update(
    local=lambda moment: pd.Timestamp(moment).tz_convert(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M"),
    pct=lambda p: f"{p:.0%}" if p >= 0.1 or p == 0 else f"{p:.1%}",  # a small share keeps a decimal
    masked=mask_digits,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
#: Every form POST carries the browser's CSRF token (triage.workbench.csrf).
CSRF = [Depends(csrf.checked)]


def translator(request: Request) -> Translator:
    lang = pick_lang(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))
    return Translator(lang, request.app.state.workbench_teams)


def render(request: Request, template: str, status: int = 200, **context) -> Response:
    """A page in the reader's language; ``?lang=`` is remembered in a cookie."""
    t = translator(request)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {"t": t, "csrf_token": csrf.form_token(request), **context},
        status_code=status,
    )
    csrf.keep_seed(request, response)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(
            LANG_COOKIE, t.lang, max_age=365 * 86400, path="/ui", httponly=True, samesite="lax"
        )
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login", dependencies=CSRF)
def login(
    request: Request,
    session: SessionDep,
    state: ServiceDep,
    api_key: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the key once, then keep only a signed session cookie (HTTP-only, SameSite)."""
    try:
        session_id = sign_in(session, state.verifier, api_key, client_address(request))
    except SignInRefused as refused:
        return render(
            request,
            "login.html",
            status=401 if refused.reason == "key_invalid" else 403,
            error=refused.reason,
        )
    except TooManyFailures as exc:
        response = render(request, "login.html", status=429, error="too_many_failures")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    session.commit()
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        COOKIE,
        signer_of(request).sign(session_id),
        path="/ui",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(timedelta(hours=state.settings.workbench_session_hours).total_seconds()),
    )
    return response


@router.post("/logout", dependencies=CSRF)
def logout(request: Request, session: SessionDep) -> Response:
    """End the session on the server, then drop the cookie."""
    sign_out(request, session)
    session.commit()
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("/")
def queue_page(
    request: Request,
    key: AnalystSession,
    session: SessionDep,
    state: ServiceDep,
    query: Annotated[views.QueueQuery, Query()],
) -> Response:
    view = views.queue_view(session, query, state.settings.domain)
    return render(
        request,
        "queue.html",
        key=key,
        query=query,
        view=view,
        bands=views.BANDS_DOWN,
        teams=sorted(state.scorer.teams),
        dispute_types=DISPUTE_TYPES,
    )


#: What the case page confirms after a form was stored (``?saved=``), as a key of the workbench's messages.
SAVED = {
    "true": "review_saved",
    "pending": "review_pending_saved",
    "confirmed": "review_confirmed",
    "rejected": "review_rejected",
    "visit": "visit_saved",
    "dispute": "dispute_saved",
    "found_wrong": "dispute_found_wrong",
    "upheld": "dispute_upheld",
}


#: The cookie that carries a refused form back to its case page, and how long it waits for it.
REFUSED, REFUSED_SECONDS = "triage_refused", 120
#: Browsers keep about 4 kB a cookie: past this, the typed note is not carried back.
REFUSED_BYTES = 3500


def _refusal_signer(request: Request) -> CookieSigner:
    """Signs with a key of its own, so that a refusal's cookie can never pass for a session's."""
    return CookieSigner(signer_of(request).secret + b"/refused", REFUSED_SECONDS)


def _sealed(request: Request, content: dict) -> str:
    """``content`` signed (base64url JSON holds no dot, which the signer's format uses)."""
    packed = (
        base64.urlsafe_b64encode(json.dumps(content, ensure_ascii=False).encode())
        .decode()
        .rstrip("=")
    )
    return _refusal_signer(request).sign(packed)


def _unsealed(request: Request) -> dict | None:
    packed = _refusal_signer(request).session_id(request.cookies.get(REFUSED, ""))
    if not packed:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    except ValueError:
        return None


def case_response(
    request: Request, score_id: str, key, session, state, status: int = 200, **context
) -> Response:
    """The case page (or 404); after a refused form, ``context`` carries the error and what was typed."""
    view = views.case_view(
        session, state.engine, score_id, translator(request), state.settings.domain.followups
    )
    if view is None:
        return render(request, "not_found.html", status=404, key=key)
    return render(
        request,
        "case.html",
        status=status,
        key=key,
        view=view,
        teams=sorted(state.scorer.teams),
        horizon_days=state.settings.horizon_days,
        outcomes=state.settings.domain.followups.outcomes,
        dispute_reasons=DISPUTE_REASONS,
        page_path=f"/ui/cases/{score_id}",
        **context,
    )


def refused(
    request: Request, score_id: str, rejected: views.ReviewRejected, where: str, session, **form
) -> Response:
    """Back to the case page (post, redirect, get: the address bar shows the case, and reloading it is safe),
    the refusal and what was typed carried there in a short-lived signed cookie of that page only."""
    session.rollback()
    content = {"message": rejected.message, "fields": rejected.fields, "for": where, "form": form}
    value = _sealed(request, content)
    if len(value) > REFUSED_BYTES:
        value = _sealed(request, content | {"form": {k: v for k, v in form.items() if k != "note"}})
    response = RedirectResponse(f"/ui/cases/{score_id}", status_code=303)
    response.set_cookie(
        REFUSED,
        value,
        max_age=REFUSED_SECONDS,
        path=f"/ui/cases/{score_id}",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/cases/{score_id}", dependencies=[Depends(case_viewed)])
def case_page(
    request: Request,
    score_id: str,
    key: AnalystSession,
    session: SessionDep,
    state: ServiceDep,
    saved: Literal[tuple(SAVED)] | None = None,
) -> Response:  # type: ignore[valid-type]
    """The case; after a refused form, its message at the top and the form as it was typed (shown once)."""
    came_back = _unsealed(request)
    context = (
        {}
        if came_back is None
        else {
            "error": translator(request)(came_back["message"], **came_back["fields"]),
            "error_for": came_back["for"],
            "form": came_back["form"],
        }
    )
    response = case_response(
        request, score_id, key, session, state, saved=SAVED.get(saved), **context
    )
    if REFUSED in request.cookies:
        response.delete_cookie(REFUSED, path=f"/ui/cases/{score_id}")
    return response


@router.get("/cases/{score_id}/{form_address:path}")
def form_address(score_id: str) -> Response:
    """A form's address opened again (the back button, a bookmark): the case page, not a 405."""
    return RedirectResponse(f"/ui/cases/{score_id}", status_code=303)


@router.post("/cases/{score_id}/review", dependencies=CSRF)
def review(
    request: Request,
    score_id: str,
    key: AnalystSession,
    session: SessionDep,
    state: ServiceDep,
    verdict: Annotated[str, Form()] = "agree",
    teams: Annotated[list[str], Form()] = [],  # noqa: B006
    priority: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Store the verdict as ``POST /v1/scores/{id}/review`` does, then show the case again."""
    try:
        stored = views.submit_review(
            session,
            score_id,
            verdict,
            teams,
            priority,
            note,
            key.id,
            state.scorer.teams,
            state.scorer.routing,
        )
    except views.ReviewRejected as rejected:
        return refused(
            request,
            score_id,
            rejected,
            "review",
            session,
            verdict=verdict,
            teams=teams,
            priority=priority,
            note=note,
        )
    if stored is None:
        return render(request, "not_found.html", status=404, key=key)
    session.commit()
    return RedirectResponse(
        f"/ui/cases/{score_id}?saved={'pending' if stored.status == 'pending' else 'true'}",
        status_code=303,
    )


@router.post("/cases/{score_id}/reviews/{review_id}", dependencies=CSRF)
def settle(
    request: Request,
    score_id: str,
    review_id: int,
    key: AnalystSession,
    session: SessionDep,
    state: ServiceDep,
    action: Annotated[Literal["confirm", "reject"], Form()],
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Four eyes: confirm or reject another analyst's pending override, as the API does."""
    try:
        settled = views.settle_review(session, score_id, review_id, action, note, key.id)
    except views.ReviewRejected as rejected:
        return refused(request, score_id, rejected, f"settle-{review_id}", session, note=note)
    if settled is None:
        return render(request, "not_found.html", status=404, key=key)
    session.commit()
    return RedirectResponse(f"/ui/cases/{score_id}?saved={settled.status}", status_code=303)


@router.post("/cases/{score_id}/followups/{followup_id}", dependencies=CSRF)
def visit(
    request: Request,
    score_id: str,
    followup_id: int,
    key: AnalystSession,
    session: SessionDep,
    state: ServiceDep,
    outcome: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
    rescore: Annotated[bool, Form()] = False,
) -> Response:
    """Record a follow-up visit as ``POST /v1/followups/{id}`` does; a re-score opens the new decision."""
    try:
        done = views.record_visit(
            session,
            followup_id,
            outcome,
            note,
            rescore,
            key.id,
            state.settings.domain.followups,
            state.scorer,
            state.champions,
        )
    except views.ReviewRejected as rejected:
        return refused(
            request, score_id, rejected, f"visit-{followup_id}", session, outcome=outcome, note=note
        )
    if done is None:
        return render(request, "not_found.html", status=404, key=key)
    session.commit()
    shown = done.rescored.score_id if done.rescored else score_id
    return RedirectResponse(f"/ui/cases/{shown}?saved=visit", status_code=303)


@router.post("/cases/{score_id}/disputes", dependencies=CSRF)
def dispute_record(
    request: Request,
    score_id: str,
    key: AnalystSession,
    session: SessionDep,
    record: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Register a dispute of one of the households' records, as the API does."""
    try:
        views.submit_dispute(session, record, reason, note, key.id)
    except views.ReviewRejected as rejected:
        return refused(
            request, score_id, rejected, "dispute", session, record=record, reason=reason, note=note
        )
    session.commit()
    return RedirectResponse(f"/ui/cases/{score_id}?saved=dispute", status_code=303)


@router.post("/cases/{score_id}/disputes/{dispute_id}", dependencies=CSRF)
def decide_dispute(
    request: Request,
    score_id: str,
    dispute_id: int,
    key: AnalystSession,
    session: SessionDep,
    state: ServiceDep,
    status: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Find a disputed record wrong or uphold it, as the API does; the case's re-score, if any, opens."""
    try:
        decided = views.decide_dispute(
            session, dispute_id, status, note, key.id, state.scorer, state.champions
        )
    except views.ReviewRejected as rejected:
        return refused(request, score_id, rejected, f"dispute-{dispute_id}", session, note=note)
    if decided is None:
        return render(request, "not_found.html", status=404, key=key)
    case_id = views.case_of(session, score_id)
    shown = next((r.score_id for r in decided.rescored if r.case_id == case_id), score_id)
    return RedirectResponse(f"/ui/cases/{shown}?saved={decided.status}", status_code=303)


@router.get("/overrides")
def overrides_page(
    request: Request, key: AnalystSession, session: SessionDep, state: ServiceDep
) -> Response:
    """Agreement with the suggested route by analyst, team, band and month, the alerts, and the
    overrides the labels proved right (``GET /v1/overrides/summary``)."""
    return render(
        request, "overrides.html", key=key, summary=views.overrides_view(session, state.settings)
    )


@router.get("/models")
def models_page(request: Request, key: AnalystSession, state: ServiceDep) -> Response:
    try:
        champions = state.champions.current
    except NoChampions as exc:
        return render(
            request,
            "models.html",
            key=key,
            champions=None,
            problem=str(exc),
            mlflow_ui=str(state.settings.mlflow_ui_url),
        )
    return render(
        request,
        "models.html",
        key=key,
        champions=champions,
        plot_sets=plots.plot_sets(state.settings, champions.versions),
        metric_tables={
            role: views.metric_table(role, champions.metrics.get(role, {}))
            for role in champions.versions
        },
        monitoring=views.monitoring_overview(state.settings),
        mlflow_ui=str(state.settings.mlflow_ui_url),
    )


@router.get("/models/challenger")
def challenger_page(
    request: Request, key: AnalystSession, session: SessionDep, state: ServiceDep
) -> Response:
    """The challenger in shadow against the champions on the same live cases (``GET /v1/shadow``)."""
    try:
        champions = state.champions.current
    except NoChampions as exc:
        return render(request, "models.html", key=key, champions=None, problem=str(exc))
    return render(
        request,
        "challenger.html",
        key=key,
        view=views.shadow_view(session, state.settings, champions),
        bands=views.BANDS_DOWN,
    )


@router.get("/models/{role}/card")
def model_card(role: str, key: AnalystSession, state: ServiceDep) -> Response:
    """The champion version's model card, as ``triage train`` wrote it (Markdown)."""
    version = state.champions.current.versions.get(role)
    card = plots.model_card(state.settings, version) if version else None
    if card is None:
        return Response(status_code=404)
    return Response(card, media_type="text/markdown; charset=utf-8")


@router.get("/models/{role}/plots/{name}")
def plot(role: str, name: str, key: AnalystSession, state: ServiceDep) -> Response:
    """One PNG logged by the champion's training run, served from the local cache."""
    version = state.champions.current.versions.get(role)
    path = plots.plot_file(state.settings, role, version, name) if version else None
    if path is None:
        return Response(status_code=404)
    return FileResponse(
        path, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )
