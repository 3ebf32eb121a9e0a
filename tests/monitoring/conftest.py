"""One MLflow home for the monitoring tests, built once: cities, a champion from an older, smaller export.

The retraining tests then retrain on the full export (promoting it) and again (promoting nothing);
the monitor tests run against whatever is champion after the first retraining.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.monitoring.cities import city, drifted_city, older_smaller_export
from tests.support.service import auth, case_request
from tests.support.keys import TEST_HASHER
from triage.training.retrain import retrain
from triage.app import create_app
from triage.decisions.keys import create_key
from triage.settings import Settings, get_settings
from triage.training import pipeline


@pytest.fixture(scope="session")
def monitoring_env(tmp_path_factory):
    """``TRIAGE_HOME`` for the session (the CLI reads settings from the environment)."""
    home = tmp_path_factory.mktemp("monitoring") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIAGE_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("TRIAGE_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def full_city(tmp_path_factory) -> Path:
    return city(tmp_path_factory.mktemp("full") / "city", seed=31)


@pytest.fixture(scope="session")
def fresh_city(tmp_path_factory) -> Path:
    """Another sample of the same generator settings."""
    return city(tmp_path_factory.mktemp("fresh") / "city", seed=32)


@pytest.fixture(scope="session")
def drifted(tmp_path_factory) -> Path:
    return drifted_city(tmp_path_factory.mktemp("drifted") / "city", seed=33)


@pytest.fixture(scope="session")
def first_champion(monitoring_env: Settings, tmp_path_factory) -> dict:
    """Version 1 of both models, trained on an older, smaller export and promoted."""
    older = older_smaller_export(tmp_path_factory.mktemp("older") / "city", seed=34)
    return pipeline.train(older, settings=monitoring_env, promote="force")


@pytest.fixture(scope="session")
def first_retrain(monitoring_env, first_champion, full_city, tmp_path_factory):
    """Retrain on the full export while a client scores in a loop against the running service.

    The job itself asks the service to reload (through the test client); every response is kept.
    """
    settings = Settings(
        home=monitoring_env.home,
        database_url=f"sqlite:///{tmp_path_factory.mktemp('service') / 'triage.db'}",
    )
    responses: list[tuple[int, str | None]] = []
    stop = threading.Event()
    with TestClient(create_app(settings)) as client:
        with client.app.state.service.sessions() as session:
            _, scorer = create_key(session, "scorer", "loop", hasher=TEST_HASHER)
            _, admin = create_key(session, "admin", "retrain job", hasher=TEST_HASHER)
            session.commit()

        def score_in_a_loop():
            i = 0
            while not stop.is_set():
                r = client.post(
                    "/v1/cases/score", json=case_request(f"C-loop-{i}"), headers=auth(scorer)
                )
                responses.append((r.status_code, r.json().get("models", {}).get("escalation")))
                i += 1
                time.sleep(0.05)

        loop = threading.Thread(target=score_in_a_loop)
        loop.start()
        try:
            summary = retrain(
                full_city,
                settings=settings,
                service_url=str(client.base_url),
                admin_key=admin,
                http=client,
            )
            time.sleep(1.0)  # a few more requests on the new champion
        finally:
            stop.set()
            loop.join()
    return summary, responses
