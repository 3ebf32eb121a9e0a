"""Generated cities and trained MLflow homes shared by the training tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cities import generated_city
from tests.support.domain import SHIPPED_DOMAIN
from triage.settings import Settings, get_settings
from triage.training.examples import read_oracle
from triage.training.fit import EscalationFit, fit_escalation


@pytest.fixture(scope="session")
def city_20k(tmp_path_factory) -> Path:
    """The default-size city (20,000 households, 2022-01 .. 2025-06), seed 7.

    The model-oracle gap varies with the seed: 0.019 on seed 7, 0.038 on seed 11 (see README).
    """
    out = tmp_path_factory.mktemp("city20k") / "city"
    generated_city(out, "large", seed=7)
    return out


@pytest.fixture(scope="session")
def small_city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city3k") / "city"
    generated_city(out, "medium", seed=5)
    return out


@pytest.fixture(scope="session")
def escalation_fit(city_20k) -> EscalationFit:
    from triage.data_contracts import validate_dataset

    tables = validate_dataset(city_20k).valid
    return fit_escalation(
        tables, horizon_days=180, domain=SHIPPED_DOMAIN, oracle=read_oracle(city_20k, "cases")
    )


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch) -> Settings:
    """Settings whose MLflow store and database live in a fresh temporary home."""
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
