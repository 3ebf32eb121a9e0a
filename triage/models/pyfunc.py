"""MLflow pyfunc flavours of the two models.

``mlflow.pyfunc.load_model("models:/triage-escalation@champion").predict(features)`` works with
nothing but this package installed.  The service unwraps the native model
(``unwrap_python_model().model``) instead of going through pyfunc's per-request schema checks.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version

import mlflow.pyfunc
import pandas as pd

from triage.contract import TIERS

#: What ``mlflow.pyfunc.log_model`` (MLflow 3.17) writes for both models when left to infer:
#: ``mlflow``, ``cloudpickle`` (which pickles a ``python_model``) and the distributions of the
#: modules that loading the model and predicting its input example import, less those another one
#: on the list requires (lightgbm comes with ``triage``).
MODEL_DISTRIBUTIONS = (
    "mlflow",
    "cloudpickle",
    "crepes",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "triage",
    "venn-abers",
)


@cache
def pip_requirements() -> tuple[str, ...]:
    """The pip requirements both models are logged with, pinned to this process's versions.

    Passed to ``mlflow.pyfunc.log_model(pip_requirements=...)`` so that MLflow does not infer
    them: inference starts a subprocess that loads the model, which costs seconds per logged
    model.  The list must name what that inference would (``MODEL_DISTRIBUTIONS``), each as
    ``name==version`` of the installed distribution without a local label, as MLflow pins them,
    so ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml`` rebuild the environment that
    loads and serves the model (``tests/training/test_model_requirements.py`` holds it to
    what MLflow infers).  Built once per process.
    """
    return tuple(f"{name}=={version(name).split('+')[0]}" for name in MODEL_DISTRIBUTIONS)


class EscalationPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, model):
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        p = self.model.predict_proba(model_input)[:, 1]
        return pd.DataFrame({"escalation_probability": p, "band": self.model.bands(p)})


class TierPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, model):
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        proba = self.model.predict_proba(model_input)
        frame = pd.DataFrame(proba, columns=[f"p_{t}" for t in TIERS])
        frame["tier"] = self.model.predict(model_input)
        return frame
