"""Readiness: the database answers (and is migrated), both champion models are loaded and routing rules
are in force (a broken rules file with good rules kept is still ready, and says so)."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from triage.db import migrate
from triage.decisions.champions import ChampionStore
from triage.routing import RoutingFile, RoutingUnavailable


def check_database(engine: Engine, url: str, migrated: bool) -> tuple[bool, str]:
    """(ok, what): migrates first when the start-up migration could not run."""
    try:
        if not migrated:
            migrate(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return False, f"unavailable ({type(exc).__name__})"
    return True, "ok"


def check_models(store: ChampionStore) -> tuple[bool, str]:
    if not store.ready:
        return False, f"not loaded ({store.last_error or 'no champions'})"
    return True, ", ".join(store.current.versions.values())


def check_routing(rules: RoutingFile) -> tuple[bool, str]:
    try:
        rules.current()
    except RoutingUnavailable as exc:
        return False, str(exc)
    return True, f"{rules.problem}; the last good rules serve" if rules.problem else "ok"
