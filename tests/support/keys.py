"""API keys for tests: one per role, made with cheap argon2 parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from triage.db import engine_for
from triage.decisions.keys import create_key

#: Still argon2id, with parameters cheap enough to make keys for every test.
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

ROLES = ("scorer", "analyst", "admin")


def make_keys(url: str) -> dict[str, str]:
    """A plain-text key per role under its name, and each key's id under ``<role>_id``."""
    out = {}
    with Session(engine_for(url)) as session:
        for role in ROLES:
            row, plain = create_key(session, role, f"{role} test key", hasher=TEST_HASHER)
            out[role], out[f"{role}_id"] = plain, row.id
        session.commit()
    return out
