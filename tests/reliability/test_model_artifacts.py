"""A corrupt or missing model artifact at ``POST /v1/models/reload``: the old champions keep serving.

Real MLflow this time (a registry in the test's home): version 1 of both models is champion and
loaded at start; version 2 is registered and made champion, then its escalation artifact is
damaged (a tier model put in its place, the pickle overwritten or cut in half, the whole folder
deleted).  Each reload then
answers 502 problem+json, ``/v1/models`` and every score still name version 1, and the audit
log records each failed reload with the admin's key.  Pointing the alias back at a sound
version makes the next reload succeed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient
from fastapi.testclient import TestClient

from tests.support.service import auth, case_request
from tests.support.keys import TEST_HASHER
from tests.support.registry import register
from triage.app import create_app
from triage.decisions.keys import create_key
from triage.settings import Settings

pytestmark = pytest.mark.slow
V1 = {"escalation": "triage-escalation/1", "tier": "triage-tier/1"}


def tier_model_in_its_place(folders: dict[str, Path]) -> None:
    shutil.copy(folders["tier"] / "python_model.pkl", folders["escalation"] / "python_model.pkl")


def overwrite_pickle(folders: dict[str, Path]) -> None:
    (folders["escalation"] / "python_model.pkl").write_bytes(b"\x80\x05 this is not a pickle")


def cut_pickle_in_half(folders: dict[str, Path]) -> None:
    pickle = folders["escalation"] / "python_model.pkl"
    pickle.write_bytes(pickle.read_bytes()[: pickle.stat().st_size // 2])


def delete_folder(folders: dict[str, Path]) -> None:
    shutil.rmtree(folders["escalation"])


#: Each damage in turn to version 2's escalation model, and the error the reload then meets.
DAMAGE = [
    (tier_model_in_its_place, "TypeError"),
    (overwrite_pickle, "UnpicklingError"),
    (cut_pickle_in_half, "UnpicklingError"),
    (delete_folder, "MlflowException"),
]


@pytest.fixture
def service(db_url, tmp_path, monkeypatch, champions):
    """The app loading champions from a real MLflow registry, a version 2 to spoil, and keys."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings(home=tmp_path / "home", database_url=db_url)
    register(settings, champions)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        with app.state.service.sessions() as session:
            keys = {
                role: create_key(session, role, f"artifact {role}", hasher=TEST_HASHER)[1]
                for role in ("scorer", "analyst", "admin")
            }
            session.commit()
        yield client, keys, settings


def test_a_damaged_artifact_at_reload_keeps_the_old_champions_serving(service, rival):
    client, keys, settings = service
    assert (
        client.get("/v1/models", headers=auth(keys["analyst"])).json()["models"]["escalation"][
            "version"
        ]
        == V1["escalation"]
    )
    version_2 = register(settings, rival)
    for spoil, _ in DAMAGE:
        spoil(version_2)
        failed = client.post("/v1/models/reload", headers=auth(keys["admin"]))
        assert failed.status_code == 502, (spoil.__name__, failed.text)
        assert failed.headers["content-type"] == "application/problem+json"
        assert "the models in use are unchanged" in failed.json()["detail"]

        models = client.get("/v1/models", headers=auth(keys["analyst"])).json()["models"]
        assert {role: model["version"] for role, model in models.items()} == V1
        score = client.post(
            "/v1/cases/score",
            json=case_request(f"ART-{spoil.__name__}"),
            headers=auth(keys["scorer"]),
        )
        assert score.status_code == 200 and score.json()["models"] == V1

    audit = client.get("/v1/audit", headers=auth(keys["admin"])).json()
    failures = [entry for entry in audit if entry["action"] == "models.reload_failed"]
    assert [entry["detail"]["error"] for entry in reversed(failures)] == [
        error for _, error in DAMAGE
    ]
    assert {entry["key_id"] for entry in failures} == {keys["admin"].split("_")[1]}

    for name in (
        settings.escalation_model_name,
        settings.tier_model_name,
    ):  # back to a sound version
        MlflowClient().set_registered_model_alias(name, settings.champion_alias, "1")
    reloaded = client.post("/v1/models/reload", headers=auth(keys["admin"]))
    assert (
        reloaded.status_code == 200 and reloaded.json()["models"]["tier"]["version"] == V1["tier"]
    )
