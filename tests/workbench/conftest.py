"""The workbench under test: the real service app (injected champions, the small city) with stored decisions.

``client`` drives it in-process (TestClient) on SQLite; ``served`` runs it in a real uvicorn
process on 127.0.0.1 for the browser tests, which drive Debian's Chromium through Playwright.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.servers import running_uvicorn
from tests.serving.conftest import TEST_HASHER, auth, case_request, champions, small_city  # noqa: F401
from triage.db import engine_for, migrate
from triage.db.load import load_frames
from triage.serving import create_app
from triage.serving.keys import create_key
from triage.settings import Settings

ROOT = Path(__file__).resolve().parents[2]   # the repository (screenshots go under docs/)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]

#: The decisions every workbench test starts from: (case id, household, counterparty, dispute type, persons, text).
CASES = [
    ("C-101", "H-1", "H-2", "marriage_family", ["P-1-1", "P-1-2"], "夫妻因财产分割争吵，男方酒后扬言动手"),
    ("C-102", "H-3", "H-4", "neighbor", ["P-3-1"], "邻里因排水沟堵塞多次争执"),
    ("C-103", "H-4", None, "wage_arrears", ["P-4-1"], "工地拖欠工资三个月，讨薪未果"),
    ("C-104", "H-2", "H-1", "property_management", ["P-2-1"], "物业费纠纷，业主拒缴"),
    ("C-105", "H-3", None, "land_transfer", [], "土地流转合同到期后租金争议"),
    ("C-106", "H-1", "H-3", "neighbor", ["P-1-1"], "两户因宅基地边界争吵，对方曾报警"),
    ("C-107", "H-99", None, "medical", ["P-99-1"], "患者家属对手术结果不满，联系电话13800001234"),
]


def batch_body() -> dict:
    """The seven cases as one batch-score request (one history read, one model call)."""
    return {"cases": [case_request(case_id, household, counterparty=counterparty, dispute_type=dispute_type,
                                   persons=persons, description=text)
                      for case_id, household, counterparty, dispute_type, persons, text in CASES]}


def score_ids(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {r["case_id"]: r["score_id"] for r in response.json()["results"]}


def make_keys(url: str) -> dict[str, str]:
    """A plain-text key per role (cheap argon2 parameters), and ``<role>_id``."""
    out = {}
    with Session(engine_for(url)) as session:
        for role in ("scorer", "analyst", "admin"):
            row, plain = create_key(session, role, f"{role} test key", hasher=TEST_HASHER)
            out[role], out[f"{role}_id"] = plain, row.id
        session.commit()
    return out


def city_db(folder: Path) -> str:
    url = f"sqlite:///{folder / 'triage.db'}"
    migrate(url)
    load_frames(url, small_city().tables())
    return url


@dataclass
class Workbench:
    """A running workbench: where it is, its keys, and the score id of each stored case."""

    base: str
    keys: dict[str, str]
    score_ids: dict[str, str]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """A private home; MLflow's store is the one under it, whatever an earlier test pointed MLflow at."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Settings(home=tmp_path / "home", database_url=city_db(tmp_path))


@pytest.fixture
def client(settings, champions) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(settings, champions=champions), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def stored(client) -> Workbench:
    """Keys and the seven cases scored through the API of the in-process app."""
    keys = make_keys(client.app.state.service.settings.db_url)
    response = client.post("/v1/cases/batch-score", json=batch_body(), headers=auth(keys["scorer"]))
    return Workbench(base="", keys=keys, score_ids=score_ids(response))


@pytest.fixture(scope="module")
def served(tmp_path_factory, champions) -> Iterator[Workbench]:  # noqa: F811
    """The service in a real uvicorn process with the seven cases scored over HTTP."""
    folder = tmp_path_factory.mktemp("workbench")
    url = city_db(folder)
    keys = make_keys(url)
    (folder / "champions.pkl").write_bytes(pickle.dumps(champions))
    env = {"TRIAGE_HOME": str(folder / "home"), "TRIAGE_DATABASE_URL": url,
           "TRIAGE_TEST_CHAMPIONS": str(folder / "champions.pkl")}
    ready = lambda base: httpx.get(f"{base}/readyz", headers=auth(keys["scorer"]), timeout=1).status_code == 200  # noqa: E731
    with running_uvicorn("tests.workbench.served_app:build", env, ready) as base:
        response = httpx.post(f"{base}/v1/cases/batch-score", json=batch_body(), headers=auth(keys["scorer"]),
                              timeout=60)
        yield Workbench(base=base, keys=keys, score_ids=score_ids(response))


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser build)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
