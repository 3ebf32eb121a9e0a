"""Disputing a record on the case page (in-process): registered, found wrong, shown in both languages."""

from __future__ import annotations

import re

from tests.support.service import auth
from triage.workbench import csrf

#: A note naming someone, which the page keeps for analysts with its digits masked.
NOTE = "网格员张某核实：这通电话说的是另一家，电话13912345678"


def signed_in(client, key: str) -> None:
    response = client.post("/ui/login", data={"api_key": key}, follow_redirects=False)
    assert response.status_code == 303


def the_weapon_call(page: str) -> str:
    """The record of H-1's threatening call, as the case page's history names it."""
    (record,) = re.findall(r'data-kind="call" data-record="(hotline_calls/[^"]+)"', page)
    return record


def test_an_analyst_disputes_a_call_and_finds_it_wrong_in_chinese_and_english(stored, client):
    signed_in(client, stored.keys["analyst"])
    score_id = stored.score_ids["C-101"]
    page = client.get(f"/ui/cases/{score_id}").text
    record = the_weapon_call(page)
    assert "暂无记录异议" in page

    refused = client.post(
        f"/ui/cases/{score_id}/disputes", data={"record": record, "reason": "not_this_family"}
    )
    assert "异议须说明谁提出、为什么。" in refused.text
    registered = client.post(
        f"/ui/cases/{score_id}/disputes",
        data={"record": record, "reason": "not_this_family", "note": NOTE},
    )
    assert registered.url.query == b"saved=dispute" and "有异议，待核实" in registered.text
    (dispute_id,) = re.findall(r'data-dispute-id="(\d+)"', registered.text)
    assert "13912345678" not in registered.text and "网格员张某" in registered.text

    decided = client.post(
        f"/ui/cases/{score_id}/disputes/{dispute_id}", data={"status": "found_wrong"}
    )

    new_score = decided.url.path.rsplit("/", 1)[-1]
    assert new_score != score_id and decided.url.query == b"saved=found_wrong"
    assert "已认定记录有误" in decided.text
    assert re.search(r'data-type="record_dispute"[^>]*data-status="found_wrong"', decided.text)
    assert "记录认定有误后重新评分" in decided.text
    stored_now = client.get(f"/v1/scores/{new_score}", headers=auth(stored.keys["analyst"]))
    before = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"]))
    assert "weapon_threat_30d" in before.json()["route"]["rules"]
    assert "weapon_threat_30d" not in stored_now.json()["route"]["rules"]
    english = client.get(f"/ui/cases/{new_score}?lang=en").text
    assert "found wrong, left out of scores" in english
    assert "re-scored after a record was found wrong" in english


def test_a_dispute_form_without_this_browser_s_csrf_token_is_refused(stored, client):
    signed_in(client, stored.keys["analyst"])
    score_id = stored.score_ids["C-101"]
    record = the_weapon_call(client.get(f"/ui/cases/{score_id}").text)
    for token in ("", "forged"):
        response = client.post(
            f"/ui/cases/{score_id}/disputes",
            data={"record": record, "reason": "duplicate", "note": "n", csrf.FIELD: token},
        )
        assert response.status_code == 403
    assert "暂无记录异议" in client.get(f"/ui/cases/{score_id}").text
