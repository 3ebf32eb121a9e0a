"""The outbox of re-scores in the service: two ingests of the same rows at once re-score each case
once; with no champion loaded the re-scores wait, and loading one drains them; two drains at once
store each re-score once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.service import auth
from tests.support.outbox import (
    service_without_champions,
    NEW_ROWS,
    TOUCHED,
    open_case_requests,
    pending_cases,
    rescores_per_case,
)
from triage.decisions import outbox
from triage.decisions.champions import ChampionStore


def score_open_cases(client, keys) -> None:
    for body in open_case_requests():
        response = client.post("/v1/cases/score", json=body, headers=auth(keys["scorer"]))
        assert response.status_code == 200, response.text


def ingest(client, keys, table: str) -> dict:
    response = client.post(
        f"/v1/ingest/{table}", json={"rows": NEW_ROWS[table]}, headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_two_ingests_of_the_same_rows_at_once_rescore_each_case_once(client, keys, monkeypatch):
    """Both ingests are validated before either writes; then the first writes, re-scores and answers
    before the second writes: the worst interleaving, made certain by the ingest's pause point."""
    score_open_cases(client, keys)
    arrived, lock = [], threading.Lock()
    both_validated, first_answered = threading.Barrier(2, timeout=30), threading.Event()

    def pause(moment: str, table: str) -> None:
        if moment != "writing":
            return
        with lock:
            arrived.append(table)
            second = len(arrived) == 2
        both_validated.wait()
        if second:
            assert first_answered.wait(60)

    def send() -> dict:
        try:
            return ingest(client, keys, "incidents")
        finally:
            first_answered.set()

    monkeypatch.setattr("triage.decisions.ingest.pause_point", pause)
    with ThreadPoolExecutor(2) as pool:
        answers = [f.result(timeout=120) for f in [pool.submit(send) for _ in range(2)]]

    assert sorted(a["stored"]["inserted"] for a in answers) == [0, 1]
    assert sorted(len(a["rescored"]) for a in answers) == [0, 1]
    assert rescores_per_case(client.app.state.service.settings.db_url) == {"C-OB-3": 1}
    assert pending_cases(client.app.state.service.settings.db_url) == set()


@pytest.fixture
def unready(settings, champions, monkeypatch):
    """A second service on the same database whose registry has no champion until ``promote()``."""
    with service_without_champions(settings, champions, monkeypatch) as client:
        yield client


def test_rescores_wait_while_no_champion_is_loaded_and_are_done_when_one_is(client, keys, unready):
    score_open_cases(client, keys)  # through the first service, which has champions
    url = client.app.state.service.settings.db_url

    answers = [ingest(unready, keys, table) for table in NEW_ROWS]
    assert all(
        a["rescored"] == [] and "wait for re-scoring" in a["rescoring_skipped"] for a in answers
    )
    assert pending_cases(url) == TOUCHED and rescores_per_case(url) == {}

    unready.promote()
    reload = unready.post("/v1/models/reload", headers=auth(keys["admin"]))
    assert reload.status_code == 200, reload.text
    assert unready.app.state.service.outbox.wait(60)
    assert pending_cases(url) == set() and rescores_per_case(url) == dict.fromkeys(TOUCHED, 1)

    again = unready.post("/v1/models/reload", headers=auth(keys["admin"]))
    assert again.status_code == 200 and unready.app.state.service.outbox.wait(60)
    assert rescores_per_case(url) == dict.fromkeys(TOUCHED, 1)


def test_two_drains_at_once_store_each_rescore_once(client, keys, unready, champions, monkeypatch):
    """Both drainers read and score the same pending rows before either claims them."""
    score_open_cases(client, keys)
    for table in NEW_ROWS:
        ingest(unready, keys, table)
    state = client.app.state.service
    together = threading.Barrier(2, timeout=30)
    score = outbox.score_targets

    def score_together(*args):
        together.wait()
        return score(*args)

    monkeypatch.setattr("triage.decisions.outbox.score_targets", score_together)
    store = ChampionStore(lambda: champions, champions)
    with ThreadPoolExecutor(2) as pool:
        drained = [
            f.result(timeout=120)
            for f in [
                pool.submit(outbox.drain, state.engine, state.scorer, store) for _ in range(2)
            ]
        ]

    assert sorted(len(d) for d in drained) == [0, len(TOUCHED)]
    assert rescores_per_case(state.settings.db_url) == dict.fromkeys(TOUCHED, 1)
    assert pending_cases(state.settings.db_url) == set()
