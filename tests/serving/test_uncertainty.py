"""Per-case uncertainty: every score carries its probability's interval and each model tier its
conformal set; a case the model cannot tell is marked "needs judgement" in the answer, the stored
decision, the queue and the workbench."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.service import auth, case_request, score, with_tier_sets
from tests.support.workbench import BrowserClient
from triage.app import create_app
from triage.contract import TIERS

CASES = [
    case_request("C-1", "H-1", persons=["P-1-1", "P-1-2"]),
    case_request("C-2", "H-3", counterparty=None, persons=["P-3-1"]),
    case_request("C-3", "H-2", counterparty="H-4", persons=["P-2-1", "P-4-1"]),
    case_request("C-4", "H-4", counterparty=None, dispute_type="neighbor", persons=[]),
]


@pytest.fixture
def sets_champions(champions):
    return with_tier_sets(champions)


@pytest.fixture
def client(settings, sets_champions):
    with BrowserClient(
        create_app(settings, champions=sets_champions), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def expected_judgement(answer: dict, model) -> bool:
    """The documented rule, worked out from the answer: the interval's ends in another band than
    the probability, or a model tier's set not holding exactly one tier."""
    escalation = answer["escalation"]
    ends = model.bands(np.array(escalation["interval"]))
    spans = any(band != escalation["band"] for band in ends)
    return spans or any(
        p["tier_set"] is not None and len(p["tier_set"]) != 1 for p in answer["persons"]
    )


def test_each_score_carries_an_interval_and_each_model_tier_a_set(client, keys, sets_champions):
    answers = [score(client, keys, body) for body in CASES]
    for answer in answers:
        p0, p1 = answer["escalation"]["interval"]
        assert 0 <= p0 <= p1 <= 1
        for person in answer["persons"]:
            if person["tier_source"] == "rule":
                assert person["tier_set"] is None
            else:
                assert set(person["tier_set"]) <= set(TIERS)
        assert answer["needs_judgement"] == expected_judgement(answer, sets_champions.escalation)
    assert any(p["tier_source"] == "model" for a in answers for p in a["persons"])
    assert any(a["needs_judgement"] for a in answers)


def test_the_mark_is_kept_with_the_decision_and_shown_in_the_queue_and_on_the_case_page(
    client, keys
):
    answers = {a["score_id"]: a for a in (score(client, keys, body) for body in CASES)}
    analyst = auth(keys["analyst"])
    for score_id, answer in answers.items():
        stored = client.get(f"/v1/scores/{score_id}", headers=analyst).json()
        assert (stored["needs_judgement"], stored["escalation"]["interval"]) == (
            answer["needs_judgement"],
            answer["escalation"]["interval"],
        )
    queue = client.get("/v1/queue", headers=analyst).json()["items"]
    assert {i["score_id"]: i["needs_judgement"] for i in queue} == {
        s: a["needs_judgement"] for s, a in answers.items()
    }

    client.post("/ui/login", data={"api_key": keys["analyst"]})
    for lang, words in (("zh", "需人工研判"), ("en", "Needs judgement")):
        page = client.get(f"/ui/?lang={lang}").text
        assert page.count(words) == sum(a["needs_judgement"] for a in answers.values())
    unsure = next(s for s, a in answers.items() if a["needs_judgement"])
    sure = [s for s, a in answers.items() if not a["needs_judgement"]]
    assert 'id="needs-judgement"' in client.get(f"/ui/cases/{unsure}?lang=en").text
    assert all('id="needs-judgement"' not in client.get(f"/ui/cases/{s}").text for s in sure)
