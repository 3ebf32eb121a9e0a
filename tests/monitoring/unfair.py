"""A deliberately unfair escalation model: it scores rural households down and urban ones up."""

from __future__ import annotations

import numpy as np

from triage.models import EscalationModel


class UnfairEscalationModel(EscalationModel):
    """The real model, with its probabilities divided by five for rural cases and doubled for urban ones."""

    def predict_proba(self, X):
        p = super().predict_proba(X)[:, 1]
        rural = (X["hh_area_type"].astype(str) == "rural").to_numpy()
        p = np.where(rural, p / 5, np.minimum(p * 2, 1.0))
        return np.column_stack([1.0 - p, p])
