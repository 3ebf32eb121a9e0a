"""A real MLflow registry for tests: fresh fits of both models logged as new champion versions."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import mlflow

from tests.support.service import train_champions
from triage.models.pyfunc import EscalationPyfunc, TierPyfunc
from triage.models.registry import configure_mlflow
from triage.settings import Settings


def register(settings: Settings, seed: int) -> dict[str, Path]:
    """Log both models of a fresh fit as new versions, make them champion; their artifact folders."""
    client = configure_mlflow(settings)
    champions = train_champions(seed=seed)
    folders = {}
    with mlflow.start_run(run_name=f"test-{seed}"):
        for role, name, wrapper in (
            ("escalation", settings.escalation_model_name, EscalationPyfunc),
            ("tier", settings.tier_model_name, TierPyfunc),
        ):
            info = mlflow.pyfunc.log_model(
                name=role,
                python_model=wrapper(getattr(champions, role)),
                registered_model_name=name,
            )
            version = str(info.registered_model_version)
            client.set_registered_model_alias(name, settings.champion_alias, version)
            folders[role] = Path(
                urlparse(mlflow.get_logged_model(info.model_id).artifact_location).path
            )
    return folders
