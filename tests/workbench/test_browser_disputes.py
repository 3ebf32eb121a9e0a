"""In headless Chromium against a real uvicorn server: an analyst disputes a record on the case page,
finds it wrong, and sees it marked, and the case re-scored, on the page."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_an_analyst_disputes_a_call_finds_it_wrong_and_sees_it_on_the_case_page(served, page):
    page.goto(f"{served.base}/ui/")
    page.fill("#api_key", served.keys["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.base}/ui/")
    page.goto(f"{served.base}/ui/cases/{served.score_ids['C-101']}")
    call = page.locator("#history li.event[data-kind=call]")
    record = call.get_attribute("data-record")

    form = page.locator("#dispute-form")
    form.locator("select[name=record]").select_option(record)
    form.locator("select[name=reason]").select_option("not_this_family")
    form.locator("textarea[name=note]").fill("网格员核实：这通电话说的是另一家")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"saved=dispute"))
    assert page.inner_text("#review-saved") == "异议已登记，待核实。"
    assert call.locator(".chip").inner_text() == "有异议，待核实"

    page.locator("#record-disputes form.decide-form button[value=found_wrong]").click()
    page.wait_for_url(re.compile(r"saved=found_wrong"))

    assert served.score_ids["C-101"] not in page.url  # the case's new decision is shown
    assert page.locator(f"#history li.event[data-record='{record}'] .chip").inner_text() == (
        "已认定有误，不计入评分"
    )
    shown = page.locator("#record-disputes li.dispute")
    assert shown.get_attribute("data-status") == "found_wrong"
    assert page.locator("#record-disputes form.decide-form").count() == 0
    entry = page.locator("#case-timeline li.record-dispute")
    assert entry.get_attribute("data-record") == record and "已认定有误" in entry.inner_text()
    latest = page.locator("#case-timeline li.decision").last
    assert "记录认定有误后重新评分" in latest.inner_text()
    assert "found wrong" in latest.locator("ul.changes li").first.inner_text()
