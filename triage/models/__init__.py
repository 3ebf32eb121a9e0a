"""The two models: 民转刑 escalation (binary, calibrated) and the 绿黄红 tier (multiclass)."""

from triage.models.escalation import EscalationModel
from triage.models.tier import TierModel

__all__ = ["EscalationModel", "TierModel"]
