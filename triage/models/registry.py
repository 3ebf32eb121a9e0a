"""MLflow as the registry: where runs go, which version is champion, and loading champions.

A version may also carry the ``challenger`` alias: it is loaded beside the champions and scored in
shadow (``triage.decisions.shadow``).  A challenger is optional, per model, and never in the way:
a missing one is normal, and one that fails to load is logged and left out.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from triage.features import CallTextModel
from triage.models.escalation import EscalationModel
from triage.models.tier import TierModel
from triage.settings import Settings

log = logging.getLogger(__name__)
EXPERIMENT = "triage"


def configure_mlflow(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured tracking store and make sure the experiment exists.

    MLflow also exports the URI as ``MLFLOW_TRACKING_URI`` for its subprocesses. Unless the
    operator had set it, that export is taken back: otherwise every later ``Settings`` of this
    process, whatever its home, would read this store as the operator's choice.
    """
    settings.ensure_home()
    operator_chose = "MLFLOW_TRACKING_URI" in os.environ
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    if not operator_chose:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.mlflow_artifact_root)
    mlflow.set_experiment(EXPERIMENT)
    return MlflowClient()


def version_by_alias(client: MlflowClient, name: str, alias: str = "champion"):
    """The model version holding the alias (champion or challenger), or None when none holds it."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


#: The class each role's model must be.
KINDS = {"escalation": EscalationModel, "tier": TierModel}


def check_kind(role: str, model, what: str) -> None:
    """Raise TypeError unless ``model`` is the kind ``role`` needs (``what`` names it in the error):
    an artifact swapped or mislabelled in the registry would otherwise score nonsense."""
    kind = KINDS[role]
    if not isinstance(model, kind):
        raise TypeError(f"{what} is a {type(model).__name__}, not a {kind.__name__}")


def load_native(uri: str):
    """The project's own model object behind a pyfunc URI (no pyfunc schema checks per call)."""
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().model


@dataclass(frozen=True)
class Challenger:
    """The versions with the ``challenger`` alias: each of the two models may be absent (None)."""

    escalation: object | None = None
    tier: object | None = None
    versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The escalation challenger reads texts as the champion does, so the champion's feature
    #: values serve it too; otherwise its features are computed again with its own text model.
    shares_features: bool = True

    @classmethod
    def beside(cls, champion_escalation, **models_and_versions) -> "Challenger":
        """A challenger of these models, ``shares_features`` found against the champion's."""
        escalation = models_and_versions.get("escalation")
        return cls(
            **models_and_versions,
            shares_features=escalation is None
            or same_text_model(escalation.text_model_, champion_escalation.text_model_),
        )


@dataclass
class Champions:
    """The models the service scores with, where they came from, and the challenger in shadow."""

    escalation: object
    tier: object
    versions: dict[str, str]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    challenger: Challenger | None = None
    #: Role → ``name/version`` of each challenger model that failed to load (the service counts them).
    challenger_left_out: dict[str, str] = field(default_factory=dict)

    @property
    def announced(self) -> dict:
        """Every version in use, the challenger's too: what other workers compare on a reload."""
        challenger = self.challenger.versions if self.challenger else {}
        return {**self.versions, "challenger": challenger}

    @property
    def feature_lists(self) -> dict[str, list[str]]:
        """Each version's feature names in its order: how stored explanations are read back."""
        return {
            self.versions["escalation"]: list(self.escalation.feature_names_),
            self.versions["tier"]: list(self.tier.feature_names_),
        }


def _model_names(settings: Settings) -> tuple[tuple[str, str], ...]:
    return (("escalation", settings.escalation_model_name), ("tier", settings.tier_model_name))


def _metrics(client: MlflowClient, version, role: str) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in client.get_run(version.run_id).data.metrics.items()
        if k.startswith(role)
    }


def load_champions(settings: Settings) -> Champions:
    """Load both champions by alias, and the challenger when there is one; raises when either
    champion has not been promoted yet."""
    client = configure_mlflow(settings)
    loaded, versions, metrics = {}, {}, {}
    for role, name in _model_names(settings):
        version = version_by_alias(client, name, settings.champion_alias)
        if version is None:
            raise LookupError(
                f"no '{settings.champion_alias}' alias on registered model {name}: run `triage train`"
            )
        loaded[role] = load_native(f"models:/{name}/{version.version}")
        versions[role] = f"{name}/{version.version}"
        metrics[role] = _metrics(client, version, role)
        log.info("loaded %s version %s", name, version.version)
    challenger, left_out = load_challenger(client, settings, loaded["escalation"])
    return Champions(
        escalation=loaded["escalation"],
        tier=loaded["tier"],
        versions=versions,
        metrics=metrics,
        challenger=challenger,
        challenger_left_out=left_out,
    )


def load_challenger(
    client: MlflowClient, settings: Settings, champion_escalation
) -> tuple[Challenger | None, dict[str, str]]:
    """The versions behind the challenger alias, each model on its own (None when neither loads),
    and role → ``name/version`` of those that failed to load.

    A challenger never stops the champions from serving: whatever goes wrong is logged and that
    model is left out.
    """
    loaded, versions, metrics, left_out = {}, {}, {}, {}
    for role, name in _model_names(settings):
        version = version_by_alias(client, name, settings.challenger_alias)
        if version is None:
            continue
        try:
            model = load_native(f"models:/{name}/{version.version}")
            check_kind(role, model, f"the {role} challenger")
            metrics[role] = _metrics(client, version, role)
        except Exception as exc:  # noqa: BLE001 - a broken challenger is left out, never fatal
            log.warning(
                "challenger %s version %s left out: %s: %s",
                name,
                version.version,
                type(exc).__name__,
                exc,
            )
            left_out[role] = f"{name}/{version.version}"
            continue
        loaded[role] = model
        versions[role] = f"{name}/{version.version}"
        log.info("loaded challenger %s version %s", name, version.version)
    if not loaded:
        return None, left_out
    return Challenger.beside(
        champion_escalation,
        escalation=loaded.get("escalation"),
        tier=loaded.get("tier"),
        versions=versions,
        metrics=metrics,
    ), left_out


def same_text_model(a, b) -> bool:
    """Whether two fitted text models score every text alike: the same object (or both none), or
    two call-text models with the same learnt weights (compared directly, not pickled whole)."""
    return a is b or (isinstance(a, CallTextModel) and a.scores_like(b))


def challenger_versions(client: MlflowClient, settings: Settings) -> dict[str, str]:
    """Role → ``name/version`` of each model with the challenger alias (none: empty)."""
    found = {}
    for role, name in _model_names(settings):
        version = version_by_alias(client, name, settings.challenger_alias)
        if version is not None:
            found[role] = f"{name}/{version.version}"
    return found


def promote_challenger(client: MlflowClient, settings: Settings) -> dict[str, str]:
    """Move the champion alias to each challenger version and take the challenger alias off it;
    what was promoted, role → ``name/version``.  The service picks it up on its next reload."""
    promoted = challenger_versions(client, settings)
    for versioned in promoted.values():
        name, version = versioned.rsplit("/", 1)
        client.set_registered_model_alias(name, settings.champion_alias, version)
        client.delete_registered_model_alias(name, settings.challenger_alias)
    return promoted
