"""The fairness gate refuses a deliberately unfair model, with the reason in MLflow."""

from __future__ import annotations

from mlflow import MlflowClient

from tests.monitoring.unfair import UnfairEscalationModel
from triage.settings import Settings
from triage.training import fit, pipeline


def test_an_unfair_model_is_refused_promotion_with_the_reason_in_mlflow(
    full_city, tmp_path, monkeypatch
):
    monkeypatch.setattr(fit, "EscalationModel", UnfairEscalationModel)
    settings = Settings(home=tmp_path / "home")
    summary = pipeline.train(full_city, settings=settings, promote="auto")
    assert not summary["fairness_gate"]["passed"]
    assert not summary["promotion"]["escalation"]["promoted"]
    assert summary["promotion"]["tier"]["promoted"]  # the gate is about the escalation score
    client = MlflowClient()
    tags = client.get_run(summary["run_id"]).data.tags
    assert (
        tags["fairness_gate"].startswith("refused: unfair: ")
        and "area_type" in tags["fairness_gate"]
    )
    assert tags["promotion_escalation"].startswith("refused: unfair: ")
    version = client.get_model_version(
        settings.escalation_model_name, summary["promotion"]["escalation"]["version"]
    )
    assert version.tags["promotion"].startswith("refused: unfair: ")
    assert "champion" not in version.aliases
    metrics = client.get_run(summary["run_id"]).data.metrics
    assert metrics["fairness_area_type_calibration_gap"] > 0.05
