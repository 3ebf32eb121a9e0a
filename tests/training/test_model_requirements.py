"""A registered model records pinned pip requirements without MLflow inferring them at each log.

``register`` passes ``pip_requirements()`` to ``mlflow.pyfunc.log_model``.  The logged
``requirements.txt`` must still name every distribution MLflow's own inference finds for the
model (the set below, found with MLflow 3.17), pinned to the installed version, and
``conda.yaml`` / ``python_env.yaml`` must carry the same list, so that ``mlflow models serve``
rebuilds an environment that loads the model.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest
import yaml

from tests.factories import random_tables
from triage.features import build_case_features, feature_names
from triage.models.pyfunc import EscalationPyfunc
from triage.models.registry import configure_mlflow
from triage.settings import Settings
from triage.training.tracking import register

#: What ``mlflow.pyfunc.log_model`` wrote to ``requirements.txt`` when left to infer.
INFERRED = {
    "mlflow",
    "cloudpickle",
    "crepes",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "triage",
    "venn-abers",
}


@pytest.fixture(scope="module")
def logged(champions, tmp_path_factory) -> Path:
    """The session's cheap escalation model registered by ``register``; its artifact folder."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'triage.db'}")
        client = configure_mlflow(settings)
        tables = random_tables(40, seed=3)
        cases = tables["cases"].assign(as_of=lambda f: f["opened_at"])
        X = build_case_features(cases, tables)[feature_names("case")]
        model = champions.escalation
        with mlflow.start_run():
            registered = register(
                client, "triage-escalation", EscalationPyfunc(model), model, X, {}, {}
            )
        source = client.get_model_version("triage-escalation", registered).source
        info = mlflow.models.get_model_info(source)
        return Path(urlparse(mlflow.get_logged_model(info.model_id).artifact_location).path)


def pinned(lines) -> dict[str, str]:
    """``["numpy==2.4.6", …]`` → ``{"numpy": "2.4.6", …}``; fails on any line not pinned with ==."""
    pins = {}
    for line in lines:
        name, sep, pin = line.partition("==")
        assert sep and pin, f"{line!r} is not pinned"
        pins[name] = pin
    return pins


def test_requirements_name_what_mlflow_infers_pinned_to_the_installed_versions(logged):
    lines = (logged / "requirements.txt").read_text().split()
    pins = pinned(lines)
    assert set(pins) == INFERRED
    assert pins == {name: version(name).split("+")[0] for name in INFERRED}
    conda = yaml.safe_load((logged / "conda.yaml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert pip_section == lines
    python_env = yaml.safe_load((logged / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]
