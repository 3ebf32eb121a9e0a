"""The app a real uvicorn process serves in ``test_uvicorn.py``: settings from the environment,
champions trained in-process (there is no MLflow registry in the test)."""

from tests.support.service import train_champions
from triage.app import create_app
from triage.settings import Settings


def build():
    return create_app(Settings(), champions=train_champions())
