"""The workbench under test: the real service app (injected champions, the small city) with stored decisions.

``client`` drives it in-process (TestClient) on SQLite; ``served`` runs it in a real uvicorn
process on 127.0.0.1 for the browser tests, which drive Debian's Chromium through Playwright.
"""

from __future__ import annotations

import os
import pickle
import re
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
from tests.support.overrides import domain_with_thresholds
from tests.support.workbench import BrowserClient
from tests.serving.conftest import (
    SHIPPED_DOMAIN,
    TEST_HASHER,
    auth,
    case_request,
    champions,  # noqa: F401
    domain_with_capacity,
    small_city,
    without_medical_in_population,
)
from triage.db import engine_for, migrate
from triage.db.load import load_frames
from triage.db.service_models import Decision
from triage.models.registry import Champions
from triage.app import create_app
from triage.decisions.keys import create_key
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

#: The decisions every workbench test starts from: (case id, household, counterparty, dispute type, persons, text).
CASES = [
    (
        "C-101",
        "H-1",
        "H-2",
        "marriage_family",
        ["P-1-1", "P-1-2"],
        "夫妻因财产分割争吵，男方酒后扬言动手",
    ),
    ("C-102", "H-3", "H-4", "neighbor", ["P-3-1"], "邻里因排水沟堵塞多次争执"),
    ("C-103", "H-4", None, "wage_arrears", ["P-4-1"], "工地拖欠工资三个月，讨薪未果"),
    ("C-104", "H-2", "H-1", "property_management", ["P-2-1"], "物业费纠纷，业主拒缴"),
    ("C-105", "H-3", None, "land_transfer", [], "土地流转合同到期后租金争议"),
    ("C-106", "H-1", "H-3", "neighbor", ["P-1-1"], "两户因宅基地边界争吵，对方曾报警"),
    ("C-107", "H-99", None, "medical", ["P-99-1"], "患者家属对手术结果不满，联系电话13800001234"),
]


#: Alerts of the override analytics from two reviews on, so that the browser can show one.
OVERRIDE_THRESHOLDS = {"min_reviews": 2, "min_overrides": 2}
#: Daily capacities small enough for the seven cases to overload the police and the task force.
CAPACITY = {**SHIPPED_DOMAIN["capacity"], "police_station": 1, "case_task_force": 1}
#: How long ago the stored cases were scored: every case whose response time is 72 hours or less is due today.
BACKLOG = timedelta(days=3)


#: Three threatening calls about household H-2 after the cases were scored: its open case C-104 is re-scored
#: into a higher band.
THREAT_CALLS = [
    {
        "call_id": f"K-{day}",
        "received_at": f"2025-06-0{day}T08:00:00+08:00",
        "channel": "110",
        "household_id": "H-2",
        "category": "neighbor",
        "text": "对方扬言要拿刀砍死我们全家",
    }
    for day in (2, 3, 4)
]


def batch_body() -> dict:
    """The seven cases as one batch-score request (one history read, one model call)."""
    return {
        "cases": [
            case_request(
                case_id,
                household,
                counterparty=counterparty,
                dispute_type=dispute_type,
                persons=persons,
                description=text,
            )
            for case_id, household, counterparty, dispute_type, persons, text in CASES
        ]
    }


def score_ids(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {r["case_id"]: r["score_id"] for r in response.json()["results"]}


def ingest(client, keys: dict[str, str], table: str, rows: list[dict]) -> dict:
    """Rows of one exchange table through ``POST /v1/ingest/{table}`` (a TestClient or an httpx client)."""
    response = client.post(f"/v1/ingest/{table}", json={"rows": rows}, headers=auth(keys["scorer"]))
    assert response.status_code == 200, response.text
    return response.json()


def mediated_case(client, keys: dict[str, str]) -> str:
    """Case C-0 of H-1 scored, then mediated to an agreement in May 2025: its 7-, 30- and 90-day visits
    are all missed by now. Returns the score id."""
    scored = client.post(
        "/v1/cases/score",
        headers=auth(keys["scorer"]),
        json=case_request(
            "C-0", "H-1", as_of="2025-05-01T10:00:00+08:00", opened_at="2025-01-05T09:00:00"
        ),
    )
    agreement = {
        "event_id": "E-8",
        "case_id": "C-0",
        "at": "2025-05-10T10:00:00+08:00",
        "level": "village",
        "outcome": "agreement",
    }
    ingest(client, keys, "mediation_events", [agreement])
    return scored.json()["score_id"]


#: Codes a page may hold only in its markup: fairness groups and roles.
CODES = ("han", "minority", "unrecorded", "gap", "analyst", "admin")


def raw_identifiers(text: str, lang: str) -> list[str]:
    """What a page's visible ``text`` shows that a reader should not meet, each with a little context:
    codes (metric keys, feature names), backticks, counts as 319.0000, modelling notes in factor labels,
    and the other language's punctuation (、（）： on an English page, an ASCII colon after Chinese)."""
    found = re.findall(r".{0,60}\b[a-z]+_[a-z0-9_]+\b", text)
    found += re.findall(r".{0,40}(?:`|\d\.0000|未登记为缺失|missing when never recorded)", text)
    found += re.findall(r".{0,40}[、（）：]" if lang == "en" else r".{0,40}[\u4e00-\u9fff]:", text)
    return found


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
