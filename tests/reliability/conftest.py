"""A real uvicorn process serving the small city over loopback, on SQLite and PostgreSQL.

The champions are trained in the server process (``tests.serving.served_app``), so nothing but
the database is shared between the test and the server: what the test counts afterwards is
what the service really stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.served_city import City, city_in


@pytest.fixture
def city(db_url: str, tmp_path: Path) -> City:
    return city_in(db_url, tmp_path / "home")
