"""MLflow as the registry: where runs go, which version is champion, and loading champions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from triage.settings import Settings

log = logging.getLogger(__name__)
EXPERIMENT = "triage"


def configure_mlflow(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured tracking store and make sure the experiment exists."""
    settings.ensure_home()
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.mlflow_artifact_root)
    mlflow.set_experiment(EXPERIMENT)
    return MlflowClient()


def champion_version(client: MlflowClient, name: str, alias: str = "champion"):
    """The model version behind the alias, or None when nothing was promoted yet."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_native(uri: str):
    """The project's own model object behind a pyfunc URI (no pyfunc schema checks per call)."""
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().model


@dataclass
class Champions:
    """The models the service scores with, and where they came from."""

    escalation: object
    tier: object
    versions: dict[str, str]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def feature_lists(self) -> dict[str, list[str]]:
        """Each version's feature names in its order: how stored explanations are read back."""
        return {
            self.versions["escalation"]: list(self.escalation.feature_names_),
            self.versions["tier"]: list(self.tier.feature_names_),
        }


def load_champions(settings: Settings) -> Champions:
    """Load both champions by alias; raises when either has not been promoted yet."""
    client = configure_mlflow(settings)
    loaded, versions, metrics = {}, {}, {}
    for role, name in (
        ("escalation", settings.escalation_model_name),
        ("tier", settings.tier_model_name),
    ):
        version = champion_version(client, name, settings.champion_alias)
        if version is None:
            raise LookupError(
                f"no '{settings.champion_alias}' alias on registered model {name}: run `triage train`"
            )
        loaded[role] = load_native(f"models:/{name}/{version.version}")
        versions[role] = f"{name}/{version.version}"
        metrics[role] = {
            k: float(v)
            for k, v in client.get_run(version.run_id).data.metrics.items()
            if k.startswith(role)
        }
        log.info("loaded %s version %s", name, version.version)
    return Champions(
        escalation=loaded["escalation"], tier=loaded["tier"], versions=versions, metrics=metrics
    )
