"""The scoring service under test: real models on real features, a small city in the database, keys per role.

The champions are the project's own ``EscalationModel`` / ``TierModel`` fitted in a second on
features built by ``triage.features`` from a random city, so that scoring, explanation and
calibration run exactly as in production; only the registry (MLflow) is bypassed by
injecting them into ``create_app``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.keys import make_keys
from tests.support.service import small_city
from tests.support.workbench import BrowserClient
from triage.app import create_app
from triage.db import migrate
from triage.db.load import load_frames
from triage.models.registry import Champions
from triage.settings import Settings


@pytest.fixture
def service_db(db_url: str) -> str:
    """``db_url`` (a fresh SQLite file, or PostgreSQL emptied of every table) with the small city loaded."""
    load_frames(db_url, small_city().tables())
    return db_url


@pytest.fixture
def sqlite_service_db(tmp_path) -> str:
    """The same on SQLite only, for modules whose behaviour does not depend on the database engine."""
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(url)
    load_frames(url, small_city().tables())
    return url


@pytest.fixture
def settings(service_db: str, tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=service_db)


@pytest.fixture
def client(settings: Settings, champions: Champions) -> Iterator[TestClient]:
    with BrowserClient(
        create_app(settings, champions=champions), raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def keys(client: TestClient) -> dict[str, str]:
    """One plain-text API key per role (and the key ids under ``"<role>_id"``)."""
    return make_keys(client.app.state.service.settings.db_url)
