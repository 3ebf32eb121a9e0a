"""The workbench under test: the real service app (injected champions, the small city) with stored decisions.

``client`` drives it in-process (TestClient) on SQLite; ``served`` runs it in a real uvicorn
process on 127.0.0.1 for the browser tests, which drive Debian's Chromium through Playwright.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.servers import running_uvicorn
from tests.support.analyst_cases import batch_body, city_db, score_ids
from tests.support.domain import SHIPPED_DOMAIN, domain_with_capacity
from tests.support.keys import make_keys
from tests.support.service import auth, without_medical_in_population
from tests.support.overrides import domain_with_thresholds
from tests.support.workbench import BrowserClient
from triage.app import create_app
from triage.db import engine_for
from triage.db.service_models import Decision
from triage.models.registry import Champions
from triage.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


#: Alerts of the override analytics from two reviews on, so that the browser can show one.
OVERRIDE_THRESHOLDS = {"min_reviews": 2, "min_overrides": 2}
#: Daily capacities small enough for the seven cases to overload the police and the task force.
CAPACITY = {**SHIPPED_DOMAIN.capacity, "police_station": 1, "case_task_force": 1}
#: How long ago the stored cases were scored: every case whose response time is 72 hours or less is due today.
BACKLOG = timedelta(days=3)


def backdate(url: str, by: timedelta = BACKLOG) -> None:
    """Make every stored decision as if scored ``by`` ago: a backlog whose deadlines fall today or earlier."""
    with Session(engine_for(url)) as session:
        session.execute(update(Decision).values(created_at=datetime.now(timezone.utc) - by))
        session.commit()


#: Metrics as a training run logs them (pooled, per source, counts, the backtest's range) for the models page.
RUN_METRICS = {
    "escalation": {
        "escalation_roc_auc": 0.71,
        "escalation_checklist_precision_top10": 0.32,
        "escalation_rows": 319.0,
        "escalation_base_rate": 0.04,
        "escalation_backtest_roc_auc_min": 0.68,
        "escalation_backtest_roc_auc_max": 0.74,
    },
    "tier": {"tier_macro_f1": 0.6, "tier_served_red_recall": 0.81, "tier_rule_coverage": 0.4},
}


@pytest.fixture(scope="session")
def profiled_champions(champions: Champions) -> Champions:  # noqa: F811
    """The test champions with the population profile of their training city minus its medical disputes,
    so that a medical case (C-107) is scored with an out-of-population warning, and a training run's metrics."""
    return replace(without_medical_in_population(champions), metrics=RUN_METRICS)


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
    return Settings(
        home=tmp_path / "home",
        database_url=city_db(tmp_path),
        domain_file=domain_with_capacity(tmp_path, CAPACITY),
    )


@pytest.fixture
def client(settings, profiled_champions) -> Iterator[TestClient]:
    with BrowserClient(
        create_app(settings, champions=profiled_champions), raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def stored(client) -> Workbench:
    """Keys and the seven cases scored through the API of the in-process app."""
    keys = make_keys(client.app.state.service.settings.db_url)
    response = client.post("/v1/cases/batch-score", json=batch_body(), headers=auth(keys["scorer"]))
    return Workbench(base="", keys=keys, score_ids=score_ids(response))


@pytest.fixture
def backlog(stored, settings) -> Workbench:
    """The seven stored cases as if scored three days ago."""
    backdate(settings.db_url)
    return stored


@pytest.fixture(scope="module")
def served(tmp_path_factory, profiled_champions) -> Iterator[Workbench]:
    """The service in a real uvicorn process with the seven cases scored over HTTP, three days ago."""
    folder = tmp_path_factory.mktemp("workbench")
    url = city_db(folder)
    keys = make_keys(url)
    (folder / "champions.pkl").write_bytes(pickle.dumps(profiled_champions))
    env = {
        "TRIAGE_HOME": str(folder / "home"),
        "TRIAGE_DATABASE_URL": url,
        "TRIAGE_TEST_CHAMPIONS": str(folder / "champions.pkl"),
        "TRIAGE_DOMAIN_FILE": str(
            domain_with_thresholds(
                folder, domain_with_capacity(folder, CAPACITY), **OVERRIDE_THRESHOLDS
            )
        ),
    }

    def ready(base):
        return (
            httpx.get(f"{base}/readyz", headers=auth(keys["scorer"]), timeout=1).status_code == 200
        )

    with running_uvicorn("tests.workbench.served_app:build", env, ready) as base:
        response = httpx.post(
            f"{base}/v1/cases/batch-score",
            json=batch_body(),
            headers=auth(keys["scorer"]),
            timeout=60,
        )
        backdate(url)
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
def screenshot():
    """``screenshot(page, name)`` writes the whole page as ``<name>.png`` into the folder named by
    ``TRIAGE_SCREENSHOTS`` (``make screenshots`` sets it to docs/screenshots); without it, nothing."""
    folder = os.environ.get("TRIAGE_SCREENSHOTS")

    def take(page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
