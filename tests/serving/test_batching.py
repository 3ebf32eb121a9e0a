"""Dynamic batching of single-case requests (triage.serving.batching): scored together, answered alone."""

import asyncio
import threading
import time

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from tests.support.service import as_a_scorer_sees, auth, case_request


class HeldFirstBatch:
    """Wraps ``Scorer.score``: records each call's case ids and holds the first call until released,
    so that the requests sent meanwhile are certain to queue up behind it."""

    def __init__(self, score, fail_on: str | None = None, error: Exception | None = None):
        self.score, self.fail_on, self.error = score, fail_on, error
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def __call__(self, requests, champions, now=None):
        self.calls.append([r.case.case_id for r in requests])
        if len(self.calls) == 1:
            assert self.release.wait(timeout=30)
        if self.fail_on in self.calls[-1]:
            raise self.error
        return self.score(requests, champions, now)


async def send_concurrently(client, keys, bodies, held: HeldFirstBatch) -> list[httpx.Response]:
    """POST each body to /v1/cases/score at once; the first is scored alone while the rest wait."""
    transport = httpx.ASGITransport(
        app=client.app, raise_app_exceptions=False
    )  # a 500 is an answer here
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        first = asyncio.create_task(
            http.post("/v1/cases/score", json=bodies[0], headers=auth(keys["scorer"]))
        )
        while not held.calls:
            await asyncio.sleep(0.01)
        rest = [
            asyncio.create_task(http.post("/v1/cases/score", json=b, headers=auth(keys["scorer"])))
            for b in bodies[1:]
        ]
        while len(client.app.state.service.lane._waiting) < len(rest):
            await asyncio.sleep(0.01)
        held.release.set()
        return [await first, *[await r for r in rest]]


@pytest.fixture
def held(client, monkeypatch):
    def hold(**kwargs) -> HeldFirstBatch:
        scorer = client.app.state.service.scorer
        wrapper = HeldFirstBatch(scorer.score, **kwargs)
        monkeypatch.setattr(scorer, "score", wrapper)
        return wrapper

    return hold


BODIES = [
    case_request(f"C-{i}", household=h) for i, h in enumerate(["H-1", "H-3", "H-404", "H-1", "H-4"])
]


def test_requests_arriving_during_a_batch_are_scored_together_and_each_stored(client, keys, held):
    alone = [
        client.post(
            "/v1/cases/batch-score", json={"cases": [b]}, headers=auth(keys["scorer"])
        ).json()["results"][0]["escalation"]["probability"]
        for b in BODIES
    ]
    wrapper = held()
    responses = asyncio.run(send_concurrently(client, keys, BODIES, wrapper))

    assert [sorted(call) for call in wrapper.calls] == [["C-0"], ["C-1", "C-2", "C-3", "C-4"]]
    assert [r.status_code for r in responses] == [200] * 5
    answers = [r.json() for r in responses]
    assert [a["case_id"] for a in answers] == [b["case"]["case_id"] for b in BODIES]
    assert [a["escalation"]["probability"] for a in answers] == pytest.approx(alone, abs=1e-12)
    for answer in answers:  # each its own decision, stored before the answer
        stored = client.get(
            f"/v1/scores/{answer['score_id']}", headers=auth(keys["analyst"])
        ).json()
        assert (
            stored["case_id"] == answer["case_id"]
            and as_a_scorer_sees(stored)["escalation"] == answer["escalation"]
        )


def test_a_case_that_fails_its_batch_is_retried_alone_and_fails_alone(client, keys, held):
    wrapper = held(fail_on="C-2", error=ValueError("this case breaks the scorer"))
    responses = asyncio.run(send_concurrently(client, keys, BODIES, wrapper))

    assert sorted(wrapper.calls[1]) == ["C-1", "C-2", "C-3", "C-4"]
    assert wrapper.calls[2:] == [[case] for case in wrapper.calls[1]]  # then each alone
    assert [r.status_code for r in responses] == [200, 200, 500, 200, 200]
    assert responses[2].headers["content-type"] == "application/problem+json"
    queue = client.get("/v1/queue", headers=auth(keys["analyst"]), params={"limit": 50}).json()
    assert sorted(item["case_id"] for item in queue["items"]) == ["C-0", "C-1", "C-3", "C-4"]


def test_a_database_failure_answers_the_whole_batch_with_503_without_retrying_each(
    client, keys, held
):
    wrapper = held(
        fail_on="C-1", error=OperationalError("SELECT", {}, Exception("database is locked"))
    )
    responses = asyncio.run(send_concurrently(client, keys, BODIES, wrapper))

    assert len(wrapper.calls) == 2
    assert [r.status_code for r in responses] == [200, 503, 503, 503, 503]
    assert all(r.headers["retry-after"] for r in responses[1:])


def test_the_lane_serves_again_after_the_app_restarts(client, keys):
    """Leaving the lifespan stops the lane's thread; the next start of the same app scores again."""
    client.__exit__(None, None, None)
    with client:
        response = client.post(
            "/v1/cases/score", json=case_request("C-again"), headers=auth(keys["scorer"])
        )
    assert response.status_code == 200 and response.json()["case_id"] == "C-again"


def test_callers_just_answered_are_awaited_briefly_so_their_next_case_joins_the_waiting_ones(
    client, keys, held
):
    """A is scored alone while B waits; once A is answered the lane expects A's caller back (2 in play),
    so B is not scored alone: A's caller's next case C joins it."""
    lane = client.app.state.service.lane
    lane.linger = 10.0
    wrapper = held()

    async def scenario():
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service", headers=auth(keys["scorer"])
        ) as http:
            first = asyncio.create_task(http.post("/v1/cases/score", json=case_request("A")))
            while not wrapper.calls:
                await asyncio.sleep(0.01)
            second = asyncio.create_task(
                http.post("/v1/cases/score", json=case_request("B", household="H-3"))
            )
            while not lane._waiting:
                await asyncio.sleep(0.01)
            wrapper.release.set()
            await first
            return [
                await http.post("/v1/cases/score", json=case_request("C", household="H-4")),
                await second,
            ]

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200, 200]
    assert [sorted(call) for call in wrapper.calls] == [["A"], ["B", "C"]]


def test_a_lone_case_on_an_idle_lane_never_waits_for_the_linger(client, keys):
    client.app.state.service.lane.linger = 30.0
    started = time.monotonic()
    for case_id in (
        "L-1",
        "L-2",
        "L-3",
    ):  # each one arrives alone; the lane expects exactly that one
        response = client.post(
            "/v1/cases/score", json=case_request(case_id), headers=auth(keys["scorer"])
        )
        assert response.json()["case_id"] == case_id
    assert time.monotonic() - started < 15  # a single linger would have taken 30 s
