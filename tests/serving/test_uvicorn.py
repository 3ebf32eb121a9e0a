"""One real ``uvicorn`` process serving the app factory over HTTP, with concurrent clients."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.servers import running_uvicorn
from tests.support.service import case_request, small_city
from tests.support.keys import TEST_HASHER
from triage.db import engine_for, migrate
from triage.db.load import load_frames
from triage.decisions.keys import create_key


@pytest.fixture
def server(tmp_path):
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(url)
    load_frames(url, small_city().tables())
    with Session(engine_for(url)) as session:
        _, scorer = create_key(session, "scorer", hasher=TEST_HASHER)
        _, analyst = create_key(session, "analyst", hasher=TEST_HASHER)
        session.commit()
    env = {"TRIAGE_HOME": str(tmp_path / "home"), "TRIAGE_DATABASE_URL": url}
    with running_uvicorn(
        "tests.serving.served_app:build",
        env,
        ready=lambda base: httpx.get(f"{base}/healthz", timeout=1).status_code == 200,
    ) as base:
        yield base, scorer, analyst


def test_a_real_uvicorn_process_scores_concurrently_and_stores_every_decision(server):
    base, scorer, analyst = server
    with httpx.Client(base_url=base, timeout=60) as http:

        def score(i):
            return http.post(
                "/v1/cases/score",
                json=case_request(f"C-{i}"),
                headers={"Authorization": f"Bearer {scorer}"},
            )

        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(score, range(8)))
        assert [r.status_code for r in responses] == [200] * 8
        score_ids = {r.json()["score_id"] for r in responses}
        queue = http.get("/v1/queue", headers={"Authorization": f"Bearer {analyst}"}).json()
        assert {item["score_id"] for item in queue["items"]} == score_ids
        stored = http.get(
            f"/v1/scores/{responses[0].json()['score_id']}",
            headers={"Authorization": f"Bearer {analyst}"},
        )
        assert stored.json()["escalation"] == responses[0].json()["escalation"]
        refused = http.get("/v1/queue", headers={"Authorization": f"Bearer {scorer}"})
        assert (
            refused.status_code == 403
            and refused.headers["content-type"] == "application/problem+json"
        )
