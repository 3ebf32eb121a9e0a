"""A real uvicorn process serving the small city over loopback, on SQLite and PostgreSQL.

The champions are trained in the server process (``tests.serving.served_app``), so nothing but
the database is shared between the test and the server: what the test counts afterwards is
what the service really stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.servers import uvicorn_process
from tests.serving.conftest import TEST_HASHER, small_city
from triage.db import engine_for
from triage.db.load import load_frames
from triage.decisions.keys import create_key

SERVED_APP = "tests.serving.served_app:build"


@dataclass
class City:
    """A service database holding the small city, with one API key per role."""

    url: str
    home: Path
    keys: dict[str, str]

    def env(self) -> dict[str, str]:
        return {"TRIAGE_HOME": str(self.home), "TRIAGE_DATABASE_URL": self.url}

    @contextmanager
    def served(self, log: Path | None = None) -> Iterator[tuple[str, object]]:
        """A uvicorn process serving this city: ``(base_url, process)``; stopped at the end."""
        with uvicorn_process(
            SERVED_APP,
            self.env(),
            ready=lambda base: (
                httpx.get(f"{base}/readyz", headers=self.auth("scorer"), timeout=2).status_code
                == 200
            ),
            log=log,
        ) as served:
            yield served

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def city_in(url: str, home: Path) -> City:
    """Load the small city into the migrated database at ``url`` and make a key per role."""
    load_frames(url, small_city().tables())
    keys = {}
    with Session(engine_for(url)) as session:
        for role in ("scorer", "analyst", "admin"):
            keys[role] = create_key(session, role, f"reliability {role}", hasher=TEST_HASHER)[1]
        session.commit()
    return City(url=url, home=home, keys=keys)


@pytest.fixture
def city(db_url: str, tmp_path: Path) -> City:
    return city_in(db_url, tmp_path / "home")
