"""The workbench's challenger page rendered in-process: it says when there is no challenger, and
shows the report ``GET /v1/shadow`` answers when there is one."""

from __future__ import annotations

import re

from tests.support.analyst_cases import batch_body
from tests.support.service import auth
from tests.support.shadow import with_challenger


def test_the_challenger_page_shows_the_report_or_says_there_is_none(
    stored, client, profiled_champions, rival
):
    client.post("/ui/login", data={"api_key": stored.keys["analyst"]})
    assert 'href="/ui/models/challenger"' in client.get("/ui/models").text
    assert 'id="no-challenger"' in client.get("/ui/models/challenger").text

    store = client.app.state.service.champions
    store._loader = lambda: with_challenger(profiled_champions, rival)
    store.reload()
    scored = client.post(
        "/v1/cases/batch-score", json=batch_body(), headers=auth(stored.keys["scorer"])
    )
    assert scored.status_code == 200, scored.text
    report = client.get("/v1/shadow", headers=auth(stored.keys["analyst"])).json()

    page = client.get("/ui/models/challenger").text
    assert "triage-escalation/2" in page and 'id="no-challenger"' not in page
    assert f'data-cases="{report["cases"]}"' in page and report["cases"] == len(
        batch_body()["cases"]
    )
    assert re.findall(r'<tr data-case="([^"]+)"', page) == [m["case_id"] for m in report["movers"]]
    assert 'data-passes="no"' in page and "fewer than 500" in page
    english = client.get("/ui/models/challenger?lang=en").text
    assert "Cases scored by both models" in english and "挑战者模型" not in english
