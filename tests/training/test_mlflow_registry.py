"""`triage train` logs to MLflow, registers versions and moves the champion alias only through the gates."""

import json
import re
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from triage.cli import app
from triage.data_contracts import validate_dataset
from triage.features import build_case_features
from triage.models.registry import configure_mlflow
from triage.settings import PACKAGE_DIR, Settings

pytestmark = pytest.mark.slow


def train_cli(dataset, *extra) -> dict:
    result = CliRunner().invoke(app, ["train", str(dataset), *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(small_city, tmp_path_factory):
    """One home trained once by `triage train`; tests read it, the gate test trains again."""
    home = tmp_path_factory.mktemp("home")
    domain = yaml.safe_load((PACKAGE_DIR / "config" / "domain.yaml").read_text(encoding="utf-8"))
    domain["gates"]["escalation"]["max_ece"] = (
        0.06  # a 3,000-household city calibrates on ~25 escalations
    )
    (home / "domain.yaml").write_text(yaml.safe_dump(domain, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        from triage.settings import get_settings

        mp.setenv("TRIAGE_HOME", str(home))
        mp.setenv("TRIAGE_DOMAIN_FILE", str(home / "domain.yaml"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        summary = train_cli(small_city)
        yield summary, get_settings()
        get_settings.cache_clear()


def test_first_versions_become_champions(trained):
    summary, settings = trained
    client = MlflowClient(settings.mlflow_tracking_uri)
    for name in ("triage-escalation", "triage-tier"):
        assert client.get_model_version_by_alias(name, "champion").version == 1
    assert summary["promotion"]["escalation"]["promoted"] is True


def test_a_version_carries_what_reproduces_it(trained, small_city):
    summary, settings = trained
    client = MlflowClient(settings.mlflow_tracking_uri)
    version = client.get_model_version("triage-escalation", "1")
    assert len(version.tags["data_fingerprint"]) == 64
    assert float(version.tags["escalation_roc_auc"]) == pytest.approx(
        summary["escalation"]["model"]["roc_auc"], rel=1e-5
    )
    info = mlflow.models.get_model_info("models:/triage-escalation/1")
    assert info.signature is not None and info.saved_input_example_info is not None
    assert [f["name"] for f in info.metadata["features"]][:3] == [
        "hh_calls_all_30d",
        "hh_calls_all_90d",
        "hh_calls_all_365d",
    ]
    assert info.metadata["validation"]["tables"]["cases"]["quarantined"] == 0
    run = client.get_run(version.run_id)
    plots = {
        role: {
            a.path.rpartition("/")[2]: client.download_artifacts(run.info.run_id, a.path)
            for a in client.list_artifacts(run.info.run_id, f"plots/{role}")
        }
        for role in ("escalation", "tier")
    }
    assert set(plots["escalation"]) == {
        "calibration_curve.png",
        "lift_chart.png",
        "shap_summary.png",
    }
    assert set(plots["tier"]) == {
        "calibration_curve.png",
        "confusion_matrix.png",
        "shap_summary.png",
    }
    assert (
        Path(plots["escalation"]["shap_summary.png"]).read_bytes()
        != Path(plots["tier"]["shap_summary.png"]).read_bytes()
    )
    assert run.data.params["data_fingerprint"] == version.tags["data_fingerprint"]


def test_pyfunc_predicts_from_a_feature_frame(trained, small_city):
    _, settings = trained
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    model = mlflow.pyfunc.load_model("models:/triage-escalation@champion")
    native = model.unwrap_python_model().model
    tables = validate_dataset(small_city).valid
    cases = tables["cases"].head(25).assign(as_of=lambda f: f["opened_at"])
    features = build_case_features(cases, tables, text_model=native.text_model_)
    scored = model.predict(native.schema_.signature_frame(features))
    assert list(scored.columns) == ["escalation_probability", "band"]
    assert scored["escalation_probability"].between(0, 1).all()
    assert set(scored["band"]) <= {"low", "medium", "high", "critical"}
    tier = mlflow.pyfunc.load_model("models:/triage-tier@champion")
    assert "p_red" in tier.metadata.get_output_schema().input_names()


def test_promote_never_registers_without_moving_the_alias(trained, small_city):
    _, settings = trained
    summary = train_cli(small_city, "--promote", "never")
    client = MlflowClient(settings.mlflow_tracking_uri)
    new = summary["promotion"]["escalation"]["version"]
    assert new != "1" and summary["promotion"]["escalation"]["promoted"] is False
    assert client.get_model_version_by_alias("triage-escalation", "champion").version == 1
    assert (
        client.get_model_version("triage-escalation", new).tags["promotion"].startswith("refused")
    )


def test_the_gate_compares_with_the_champion_on_the_same_window(trained, small_city, monkeypatch):
    """A new version that is worse on the held-out window is refused, and MLflow says why."""
    _, settings = trained
    from triage.training import pipeline

    real_fit = pipeline.EscalationModel.fit

    def fit_on_noise(self, X, y, **held_out):
        return real_fit(
            self, X.sample(frac=1.0, random_state=1).reset_index(drop=True), y, **held_out
        )  # labels detached

    monkeypatch.setattr(pipeline.EscalationModel, "fit", fit_on_noise)
    summary = train_cli(small_city)
    decision = summary["promotion"]["escalation"]
    assert decision["promoted"] is False
    assert "champion" in decision["reason"] or "ECE" in decision["reason"]
    client = MlflowClient(settings.mlflow_tracking_uri)
    assert client.get_model_version_by_alias("triage-escalation", "champion").version == 1


def test_train_keeps_the_population_profile_and_reports_no_overrides_as_none(trained):
    summary, settings = trained
    assert summary["overrides"] == {"overrides": 0, "judged": 0, "agreed": 0, "agreement": None}
    model = mlflow.pyfunc.load_model("models:/triage-escalation/1").unwrap_python_model().model
    assert model.population_["districts"] and "case_dispute_type" in model.population_["categories"]
    assert "case_age_days" not in model.population_["ranges"]
    run = MlflowClient(settings.mlflow_tracking_uri).get_run(summary["run_id"])
    artifacts = {
        a.path for a in MlflowClient(settings.mlflow_tracking_uri).list_artifacts(run.info.run_id)
    }
    assert {"population.json", "overrides.json"} <= artifacts
    assert "escalation_override_agreement" not in run.data.metrics


def test_every_registered_version_has_a_model_card_from_its_own_run(trained):
    summary, settings = trained
    client = MlflowClient(settings.mlflow_tracking_uri)
    for role, name in (("escalation", "triage-escalation"), ("tier", "triage-tier")):
        version = client.get_model_version(name, "1")
        card = mlflow.artifacts.load_text(f"runs:/{version.run_id}/{version.tags['model_card']}")
        assert card.startswith(f"# Model card: {name} version 1")
        assert "## Uses it must not serve" in card and "bootstrap" in card
        assert f"learnt from {summary['windows'][role]['refit']['rows']:,}" in card
        assert "`id_number`" in card and "`ethnicity`" in card.split("Barred from every model")[1]
    escalation = mlflow.artifacts.load_text(f"runs:/{summary['run_id']}/model_card/escalation.md")
    assert "| ethnicity | han |" in escalation and "Wilson" in escalation
    tier = mlflow.artifacts.load_text(f"runs:/{summary['run_id']}/model_card/tier.md")
    for label, key in (
        ("macro-F1", "macro_f1"),
        ("red recall", "red_recall"),
        ("green precision", "green_precision"),
    ):  # each figure of the backtest, inside its own bootstrap interval
        row = next(line for line in tier.splitlines() if line.startswith(f"| {label} |"))
        point, low, high = (float(x) for x in re.findall(r"\d+\.\d{3}", row))
        assert point == round(summary["tier"]["model"][key], 3) and low <= point <= high, row


def test_configuring_mlflow_for_one_home_leaves_another_home_its_own_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = Settings(home=tmp_path / "first")
    configure_mlflow(first)
    assert mlflow.get_tracking_uri() == first.mlflow_tracking_uri
    assert Settings(home=tmp_path / "second").mlflow_tracking_uri == (
        f"sqlite:///{tmp_path / 'second' / 'mlflow.db'}"
    )
