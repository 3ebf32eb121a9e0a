"""`triage monitor`: ok for a fresh sample of the training distribution, alert for a drifted city."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.support.domain import SHIPPED_DOMAIN
from triage.cli import app
from triage.monitoring import latest_fairness_table, latest_monitoring_summary


@pytest.fixture(scope="module")
def champion(first_retrain):
    """The champion after retraining on the full city (its run carries the monitoring reference)."""
    return first_retrain[0]


def monitor(dataset, out):
    result = CliRunner().invoke(app, ["monitor", str(dataset), "--out", str(out)])
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def test_a_fresh_sample_of_the_training_distribution_is_ok(
    champion, fresh_city, tmp_path, monitoring_env
):
    result, status = monitor(fresh_city, tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert status["status"] == "ok", status["reasons"]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text(encoding="utf-8"))
    assert not [
        f
        for f, d in summary["feature_drift"].items()
        if d["level"] != "ok" and f not in SHIPPED_DOMAIN.monitoring.trending_features
    ]
    assert summary["outcomes"]["labelled_cases"] > 300 and summary["outcomes"]["by_month"]
    assert summary["fairness"]["gate"]["passed"]
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "Fairness" in html
    latest = latest_monitoring_summary(monitoring_env)
    assert latest["status"] == "ok" and latest["run_id"] == status["run_id"]


def test_a_drifted_city_raises_an_alert_and_exits_1(champion, drifted, tmp_path, monitoring_env):
    result, status = monitor(drifted, tmp_path / "report")
    assert result.exit_code == 1, result.output
    assert status["status"] == "alert"
    checks = {r["check"]: r["message"] for r in status["reasons"] if r["level"] == "alert"}
    assert "新区" in checks["unseen_categories"]  # the new district
    assert "case_source" in checks["feature_drift"]  # the hotline mix
    assert latest_monitoring_summary(monitoring_env)["status"] == "alert"
    table = latest_fairness_table(monitoring_env)
    assert {row["attribute"] for row in table} == {"ethnicity", "sex", "area_type", "district"}
    assert any(row["group"] == "新区" for row in table)


def test_monitor_without_a_dataset_exits_2(champion, tmp_path):
    result = CliRunner().invoke(app, ["monitor", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
