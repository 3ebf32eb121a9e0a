"""The evaluation plots and model cards of the champion versions, fetched from MLflow (plots cached).

Both models are trained in one run, which logs each model's PNGs under ``plots/<role>/``; the model
version names that run.  Only names MLflow itself lists are served, so a request cannot walk out of
the cache folder.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

from triage.settings import Settings

PLOTS = "plots"


@dataclass(frozen=True)
class PlotSet:
    version: str  # e.g. triage-escalation/3
    run_id: str | None
    names: list[str]  # PNG file names under plots/<role>/
    error: str | None = None


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri)


def _run_id(client: MlflowClient, version: str) -> str:
    name, _, number = version.rpartition("/")
    return client.get_model_version(name, number).run_id


def _folder(role: str) -> str:
    return f"{PLOTS}/{role}"


def plot_sets(settings: Settings, versions: dict[str, str]) -> dict[str, PlotSet]:
    """For each role, the PNGs its version's run logged for it; an unreachable registry is reported, not raised."""
    out = {}
    client = _client(settings)
    for role, version in versions.items():
        try:
            run_id = _run_id(client, version)
            names = sorted(
                Path(a.path).name
                for a in client.list_artifacts(run_id, _folder(role))
                if not a.is_dir and a.path.endswith(".png")
            )
            out[role] = PlotSet(version, run_id, names)
        # the registry is another service: the page still shows the metrics
        except Exception as exc:
            out[role] = PlotSet(version, None, [], error=f"{type(exc).__name__}: {str(exc)[:200]}")
    return out


def plot_file(settings: Settings, role: str, version: str, name: str) -> Path | None:
    """A local copy of ``plots/<role>/<name>`` of the version's run; None when the run logged no such plot."""
    client = _client(settings)
    run_id = _run_id(client, version)
    if name not in {
        Path(a.path).name for a in client.list_artifacts(run_id, _folder(role)) if not a.is_dir
    }:
        return None
    cached = settings.home / "workbench" / "plots" / run_id / role / name
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:  # same disk: the move is atomic
            Path(client.download_artifacts(run_id, f"{_folder(role)}/{name}", tmp)).replace(cached)
    return cached


def model_card(settings: Settings, version: str) -> str | None:
    """The Markdown model card ``triage train`` logged for the version (its ``model_card`` tag), or None."""
    client = _client(settings)
    name, _, number = version.rpartition("/")
    path = client.get_model_version(name, number).tags.get("model_card")
    if path is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return Path(client.download_artifacts(_run_id(client, version), path, tmp)).read_text(
            encoding="utf-8"
        )
