"""``triage retrain DIR``: train on the latest export and promote only a better, fair model.

It is ``triage train`` with the stricter retraining gate (see
:func:`triage.training.gates.retrain_gate`: a margin over the champion on the same recent window,
and never from an export the champion already learnt from) and the fairness gate.  The decision and
its reasons are tags of the training run.  An export both champions already learnt from is not
trained on again: the job logs a short run saying so and stops (a weekly job on an unchanged export
costs nothing).  When a version was promoted and a service URL is given,
the running service is asked to swap champions (``POST /v1/models/reload``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import mlflow
from mlflow import MlflowClient

from triage.models.registry import configure_mlflow, version_by_alias
from triage.settings import Settings
from triage.training.pipeline import train
from triage.training.tracking import dataset_fingerprint

log = logging.getLogger(__name__)
RELOAD_TIMEOUT_SECONDS = 120.0


def reload_service(service_url: str, admin_key: str, http: httpx.Client | None = None) -> dict:
    """Ask a running service to load the champions now; returns its answer (raises on failure).

    ``http``: the client to send with (e.g. a FastAPI ``TestClient``); a plain one by default.
    """
    if http is None:
        with httpx.Client() as fresh:
            return reload_service(service_url, admin_key, fresh)
    response = http.post(
        f"{str(service_url).rstrip('/')}/v1/models/reload",
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=RELOAD_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    return response.json()


def retrain(
    dataset: Path,
    *,
    settings: Settings,
    service_url: str | None = None,
    admin_key: str | None = None,
    http: httpx.Client | None = None,
) -> dict:
    """Train with ``promote="retrain"``, tag the run with the decision, reload the service if promoted."""
    client = configure_mlflow(settings)
    fingerprint = dataset_fingerprint(dataset)
    champions = [
        version_by_alias(client, name, settings.champion_alias)
        for name in (settings.escalation_model_name, settings.tier_model_name)
    ]
    if all(c is not None and c.tags.get("data_fingerprint") == fingerprint for c in champions):
        return _unchanged_export(fingerprint, [f"{c.name}/{c.version}" for c in champions])
    summary = train(dataset, settings=settings, promote="retrain")
    promoted = sorted(role for role, p in summary["promotion"].items() if p["promoted"])
    decision = (
        (f"promoted {', '.join(promoted)}" if promoted else "kept the champions")
        + ": "
        + "; ".join(f"{role} {p['reason']}" for role, p in summary["promotion"].items())
    )
    client = MlflowClient()
    client.set_tag(summary["run_id"], "triage.run_kind", "retrain")
    client.set_tag(summary["run_id"], "retrain_decision", decision[:5000])
    reloaded = None
    if promoted and service_url:
        if not admin_key:
            raise ValueError("reloading the service needs an admin API key (TRIAGE_ADMIN_API_KEY)")
        reloaded = reload_service(service_url, admin_key, http)
        log.info("service at %s reloaded: %s", service_url, reloaded)
    return summary | {
        "retrain": {"promoted": promoted, "decision": decision, "service_reload": reloaded}
    }


def _unchanged_export(fingerprint: str, champions: list[str]) -> dict:
    """Record in MLflow that retraining was skipped because the champions already learnt from this export."""
    decision = f"kept the champions: {', '.join(champions)} already learnt from this export (same data fingerprint)"
    with mlflow.start_run(run_name="retrain") as run:
        mlflow.set_tags(
            {
                "triage.run_kind": "retrain",
                "data_fingerprint": fingerprint,
                "retrain_decision": decision,
            }
        )
    log.info(decision)
    return {
        "run_id": run.info.run_id,
        "versions": {},
        "promotion": {},
        "retrain": {"promoted": [], "decision": decision, "service_reload": None, "skipped": True},
    }
