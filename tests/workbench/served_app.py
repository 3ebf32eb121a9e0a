"""The app the browser tests' uvicorn process serves: settings from the environment, and the test
session's own champions (pickled by the fixture), so that they are not trained a second time."""

import os
import pickle
from pathlib import Path

from triage.app import create_app
from triage.settings import Settings


def build():
    champions = pickle.loads(Path(os.environ["TRIAGE_TEST_CHAMPIONS"]).read_bytes())
    return create_app(Settings(), champions=champions)
