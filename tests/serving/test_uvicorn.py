"""One real ``uvicorn`` process serving the app factory over HTTP, with concurrent clients."""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.serving.conftest import TEST_HASHER, case_request, small_city
from triage.db import engine_for, migrate
from triage.db.load import load_frames
from triage.serving.keys import create_key

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(url)
    load_frames(url, small_city().tables())
    with Session(engine_for(url)) as session:
        _, scorer = create_key(session, "scorer", hasher=TEST_HASHER)
        _, analyst = create_key(session, "analyst", hasher=TEST_HASHER)
        session.commit()
    port = _free_port()
    env = {**os.environ, "TRIAGE_HOME": str(tmp_path / "home"), "TRIAGE_DATABASE_URL": url,
           "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tests.serving.served_app:build", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"uvicorn exited: {process.stdout.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            pytest.fail("uvicorn did not answer /healthz within 120 s")
        yield base, scorer, analyst
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_real_uvicorn_process_scores_concurrently_and_stores_every_decision(server):
    base, scorer, analyst = server
    with httpx.Client(base_url=base, timeout=60) as http:
        def score(i):
            return http.post("/v1/cases/score", json=case_request(f"C-{i}"), headers={"Authorization": f"Bearer {scorer}"})

        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(score, range(8)))
        assert [r.status_code for r in responses] == [200] * 8
        score_ids = {r.json()["score_id"] for r in responses}
        queue = http.get("/v1/queue", headers={"Authorization": f"Bearer {analyst}"}).json()
        assert {item["score_id"] for item in queue["items"]} == score_ids
        stored = http.get(f"/v1/scores/{responses[0].json()['score_id']}", headers={"Authorization": f"Bearer {analyst}"})
        assert stored.json()["escalation"] == responses[0].json()["escalation"]
        refused = http.get("/v1/queue", headers={"Authorization": f"Bearer {scorer}"})
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
