"""The scoring service (FastAPI): ``create_app`` builds it, ``triage serve`` runs it.

``create_app`` is imported on first use so that light commands (``triage keys``) do not load
the whole service stack (pandas features, data contracts) to reach one module of it.
"""

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from triage.serving.app import create_app

        return create_app
    raise AttributeError(name)
