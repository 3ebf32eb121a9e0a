"""`triage demo` run twice on the same home changes nothing the first left; a busy port stops it before any work."""

from __future__ import annotations

import socket
import stat

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from triage import demo
from triage.cli import app
from triage.db import engine_for
from triage.db.service_models import ApiKey, Decision
from triage.settings import get_settings


@pytest.fixture
def home(tmp_path, monkeypatch, champions):  # noqa: F811
    """A fresh home; the session's test champions stand in for the ones the demo would train."""
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRIAGE_DATABASE_URL", raising=False)
    monkeypatch.delenv(
        "TRIAGE_MLFLOW_UI_URL", raising=False
    )  # the demo sets it to its MLflow UI's port
    monkeypatch.setattr(demo, "ensure_champions", lambda settings, city: None)
    monkeypatch.setattr("triage.models.registry.load_champions", lambda settings: champions)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def counts(settings) -> tuple[int, int]:
    with Session(engine_for(settings.db_url)) as session:
        return (
            session.scalar(select(func.count()).select_from(Decision)),
            session.scalar(select(func.count()).select_from(ApiKey)),
        )


def test_a_second_demo_keeps_the_decisions_and_keys_and_prints_the_same_keys(home, capsys):
    first = demo.run_demo(households=300, serve=False)
    decisions, keys = counts(home)
    assert decisions > 0 and keys == len(demo.ROLES)
    assert stat.S_IMODE(demo.keys_file(home).stat().st_mode) == 0o600
    capsys.readouterr()

    assert demo.run_demo(households=300, serve=False) == first
    assert counts(home) == (decisions, keys)
    printed = capsys.readouterr().out
    assert f"0 decisions stored; {decisions} demo cases were in the queue already" in printed
    assert first["analyst"] in printed and str(demo.keys_file(home)) in printed


def test_a_busy_port_is_named_before_any_work(home, monkeypatch):
    monkeypatch.setenv("TRIAGE_WORKBENCH_SECRET", "s" * 40)
    get_settings.cache_clear()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for options in (["--port", str(port)], ["--mlflow-port", str(port)]):
            result = CliRunner().invoke(app, ["demo", "--households", "300", *options])
            assert result.exit_code == 6, result.output
            assert (
                f"port {port} on 127.0.0.1 is already in use" in result.output
                and options[0] in result.output
            )
    assert not (home.home / "demo").exists()
