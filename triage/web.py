"""What both front ends of the service app, the HTTP API and the workbench, take from a request.

The app holds one :class:`Service` (``app.state.service``); the API and the workbench reach it
and a database session per request through these dependencies, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from triage.decisions.champions import ChampionStore
from triage.decisions.keys import KeyVerifier
from triage.decisions.scoring import Scorer
from triage.settings import Settings


@dataclass
class Service:
    """What one app instance holds for its requests, whichever front end they come through."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker
    champions: ChampionStore
    verifier: KeyVerifier
    scorer: Scorer


async def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_session(service: ServiceDep) -> Iterator[Session]:
    with service.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def client_address(request: Request) -> str | None:
    """The peer's address, as failed authentications are counted by (behind a proxy: the proxy's)."""
    return request.client.host if request.client else None
