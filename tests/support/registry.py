"""A real MLflow registry for tests: fits of both models logged as new versions under an alias."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import mlflow

from triage.models.pyfunc import EscalationPyfunc, TierPyfunc, pip_requirements
from triage.models.registry import Champions, configure_mlflow
from triage.settings import Settings


def register(settings: Settings, champions: Champions) -> dict[str, Path]:
    """Log both models of ``champions`` (the session's fits: ``champions``, ``rival``) as new
    versions, make them champion; their artifact folders."""
    return register_models(settings, champions, settings.champion_alias)


def register_models(settings: Settings, champions: Champions, alias: str) -> dict[str, Path]:
    """Log both models of ``champions`` as new versions with ``alias``; their artifact folders."""
    client = configure_mlflow(settings)
    folders = {}
    with mlflow.start_run(run_name=f"test-{alias}"):
        for role, name, wrapper in (
            ("escalation", settings.escalation_model_name, EscalationPyfunc),
            ("tier", settings.tier_model_name, TierPyfunc),
        ):
            info = mlflow.pyfunc.log_model(
                name=role,
                python_model=wrapper(getattr(champions, role)),
                registered_model_name=name,
                pip_requirements=pip_requirements(),
            )
            version = str(info.registered_model_version)
            client.set_registered_model_alias(name, alias, version)
            folders[role] = Path(
                urlparse(mlflow.get_logged_model(info.model_id).artifact_location).path
            )
    return folders
