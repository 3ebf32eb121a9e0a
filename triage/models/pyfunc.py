"""MLflow pyfunc flavours of the two models.

``mlflow.pyfunc.load_model("models:/triage-escalation@champion").predict(features)`` works with
nothing but this package installed.  The service unwraps the native model
(``unwrap_python_model().model``) instead of going through pyfunc's per-request schema checks.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from triage.contract import TIERS


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
