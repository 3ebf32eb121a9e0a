"""`triage demo` run twice on the same home: the second run changes nothing the first left."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.serving.conftest import champions  # noqa: F401
from triage import demo
from triage.db import engine_for
from triage.db.service_models import ApiKey, Decision
from triage.settings import get_settings


@pytest.fixture
def home(tmp_path, monkeypatch, champions):  # noqa: F811
    """A fresh home; the session's test champions stand in for the ones the demo would train."""
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRIAGE_DATABASE_URL", raising=False)
    monkeypatch.setattr(demo, "ensure_champions", lambda settings, city: None)
    monkeypatch.setattr("triage.models.registry.load_champions", lambda settings: champions)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def counts(settings) -> tuple[int, int]:
    with Session(engine_for(settings.db_url)) as session:
        return (session.scalar(select(func.count()).select_from(Decision)),
                session.scalar(select(func.count()).select_from(ApiKey)))


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
