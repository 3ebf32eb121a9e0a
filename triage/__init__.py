"""triage: 民转刑 escalation-risk and 绿黄红 psychological-tier scoring."""

__version__ = "0.1.0"
