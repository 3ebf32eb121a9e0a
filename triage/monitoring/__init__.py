"""Monitoring: drift, outcome and fairness reports of the champion, and the retraining job.

The workbench's models page reads the latest results through the two functions below; both read
MLflow only and return ``None`` when there is nothing to show yet.
"""

from __future__ import annotations

from triage.settings import Settings

__all__ = ["latest_fairness_table", "latest_monitoring_summary"]


def _latest_run(settings: Settings, filter_string: str):
    import mlflow

    from triage.models.registry import EXPERIMENT, configure_mlflow

    configure_mlflow(settings)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    runs = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string=filter_string,
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return runs[0] if runs else None


def latest_monitoring_summary(settings: Settings) -> dict | None:
    """The JSON summary of the latest ``triage monitor`` run (``status``, ``reasons``, …), or None."""
    import mlflow

    from triage.monitoring.monitor import RUN_KIND

    run = _latest_run(settings, f"tags.`triage.run_kind` = '{RUN_KIND}'")
    if run is None:
        return None
    return mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/summary.json") | {
        "run_id": run.info.run_id
    }


def latest_fairness_table(settings: Settings) -> list[dict] | None:
    """Rows (attribute, group, n, selection_rate, tpr, fpr, calibration…, then each attribute's gap
    with its CI) of the latest fairness audit, from a monitor or a training run, or None."""
    import mlflow

    from triage.evaluation.fairness import fairness_table

    run = _latest_run(settings, "tags.fairness_audit = 'true'")
    if run is None:
        return None
    audit = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/fairness/audit.json")
    return [row | {"run_id": run.info.run_id} for row in fairness_table(audit)]
