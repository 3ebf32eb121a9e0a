"""A service database holding the small city with a key per role, served by a real uvicorn process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import uvicorn_process
from tests.support.keys import make_keys
from tests.support.service import small_city
from triage.db.load import load_frames

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
    return City(url=url, home=home, keys=make_keys(url))
