"""``triage compare`` and ``triage promote-challenger`` against a real MLflow registry: the promotion
refuses while the shadow report fails the gates, and when forced moves the aliases and is audited.
(A report that passes the gates is in test_shadow_report.py; one registry here: logging models is
the slow part.)"""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from tests.support.registry import register_models
from tests.support.service import auth
from tests.support.shadow import score_in_shadow
from triage.cli import app as cli
from triage.models.registry import load_champions
from triage.settings import get_settings


@pytest.fixture
def service_db(sqlite_service_db):
    """The command line reads the database as the HTTP report does: SQLite is enough here."""
    return sqlite_service_db


pytestmark = pytest.mark.slow


@pytest.fixture
def registry(settings, champions, rival, monkeypatch) -> MlflowClient:
    """Version 1 of both models champion and version 2 challenger, in the test's home (the
    challenger's artifact folders as ``.challenger_folders``); the command line configured like
    the service."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TRIAGE_HOME", str(settings.home))
    monkeypatch.setenv("TRIAGE_DATABASE_URL", settings.db_url)
    get_settings.cache_clear()
    register_models(settings, champions, settings.champion_alias)
    client = MlflowClient()
    client.challenger_folders = register_models(settings, rival, settings.challenger_alias)
    yield client
    get_settings.cache_clear()


def aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}


def test_compare_reports_and_promotion_refuses_below_the_gates_unless_forced(
    client, keys, settings, champions, rival, registry
):
    loaded = load_champions(settings)
    assert loaded.challenger.versions == {
        "escalation": "triage-escalation/2",
        "tier": "triage-tier/2",
    }
    # a challenger whose artifact is the wrong kind is left out; the champions load as ever
    pickle = registry.challenger_folders["escalation"] / "python_model.pkl"
    sound = pickle.read_bytes()
    pickle.write_bytes((registry.challenger_folders["tier"] / "python_model.pkl").read_bytes())
    spoiled = load_champions(settings)
    assert spoiled.versions == loaded.versions
    assert spoiled.challenger.versions == {"tier": "triage-tier/2"}
    assert spoiled.challenger_left_out == {"escalation": "triage-escalation/2"}
    pickle.write_bytes(sound)

    score_in_shadow(client, keys, champions, rival)
    report = CliRunner().invoke(cli, ["compare", "--json"])
    assert report.exit_code == 0, report.output
    body = json.loads(report.stdout)
    assert body["cases"] == 3 and body["challenger_versions"] == [
        "triage-escalation/2",
        "triage-tier/2",
    ]
    assert "3 cases scored by both models, fewer than 500" in body["promotion_refused_because"]
    text = CliRunner().invoke(cli, ["compare", "--since", "2999-01-01"])
    assert "cases scored by both: 0" in text.stdout and "refuse" in text.stdout

    refused = CliRunner().invoke(cli, ["promote-challenger"])
    assert refused.exit_code == 1 and "does not pass the promotion gates" in refused.stderr
    assert aliases(registry, "triage-escalation") == {"challenger": "2", "champion": "1"}

    forced = CliRunner().invoke(cli, ["promote-challenger", "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["forced"] is True
    assert aliases(registry, "triage-escalation") == {"champion": "2"}
    assert aliases(registry, "triage-tier") == {"champion": "2"}
    (entry,) = [
        e
        for e in client.get("/v1/audit", headers=auth(keys["admin"])).json()
        if e["action"] == "models.promote_challenger"
    ]
    assert entry["detail"]["forced"] and entry["detail"]["refused_because"]

    gone = CliRunner().invoke(cli, ["promote-challenger"])
    assert gone.exit_code == 5 and "no version has the alias 'challenger'" in gone.stderr
    told = CliRunner().invoke(cli, ["compare"])
    assert told.exit_code == 0 and "no version has the alias 'challenger' yet" in told.stdout

    store = client.app.state.service.champions
    store._loader = lambda: load_champions(settings)
    assert store.reload().versions["escalation"] == "triage-escalation/2"
    assert store.current.challenger is None
