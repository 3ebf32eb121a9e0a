"""End to end in headless Chromium against a real uvicorn server: sign in, filter, read a case, override.

``make screenshots`` runs these tests to write the pictures of ``docs/screenshots/`` from the real pages
(the ``screenshot`` fixture); a plain test run writes none.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.service import auth
from tests.support.analyst_cases import CASES, CODES, THREAT_CALLS, mediated_case, raw_identifiers
from tests.support.service import ingest

pytestmark = pytest.mark.browser


def sign_in(page, served, role: str = "analyst") -> None:
    page.goto(f"{served.base}/ui/")
    assert page.url.endswith("/ui/login")
    page.fill("#api_key", served.keys[role])
    page.click("button[type=submit]")


def stored(served, score_id: str, top: int | str = 8) -> dict:
    response = httpx.get(
        f"{served.base}/v1/scores/{score_id}",
        params={"top": top},
        headers=auth(served.keys["analyst"]),
        timeout=30,
    )
    assert response.status_code == 200
    return response.json()


def test_a_scorer_key_is_refused_and_an_analyst_gets_an_http_only_session(served, page):
    sign_in(page, served, "scorer")
    assert "评分密钥（scorer）" in page.inner_text("#sign-in-error")
    assert [c["name"] for c in page.context.cookies()] == [
        "triage_csrf"
    ]  # its forms' token, no session
    page.fill("#api_key", served.keys["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.base}/ui/")
    assert served.keys["analyst"] not in page.url
    (cookie,) = (c for c in page.context.cookies() if c["name"] == "triage_workbench")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/ui"
    assert served.keys["analyst"] not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # not readable by scripts
    page.click("header form button")
    page.wait_for_url(f"{served.base}/ui/login")
    page.goto(f"{served.base}/ui/")
    assert page.url.endswith("/ui/login")


def test_the_queue_is_highest_risk_first_filters_and_counts_bands(served, page, screenshot):
    sign_in(page, served)
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == len(CASES)
    shown = [
        float(x)
        for x in rows.evaluate_all(
            "rs => rs.map(r => r.querySelector('td.num strong').textContent.replace('%', ''))"
        )
    ]
    assert shown == sorted(shown, reverse=True)
    counts = page.locator(".band-count strong").all_inner_texts()
    assert sum(map(int, counts)) == len(CASES)
    assert page.locator("td.deadline .state").first.inner_text() in {"时限内", "即将到期", "已超时"}
    screenshot(page, "queue")

    page.select_option("select[name=dispute_type]", "neighbor")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r"dispute_type=neighbor"))
    neighbours = [c[0] for c in CASES if c[3] == "neighbor"]
    assert sorted(rows.locator(".case-link").all_inner_texts()) == neighbours
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.disputeType)")) == {"neighbor"}
    assert page.inner_text("#queue-total") == f"共 {len(neighbours)} 件"

    band = page.locator("table.queue tbody tr").first.get_attribute("data-band")
    page.click(f".band-count[data-band={band}]")
    page.wait_for_url(re.compile(rf"band={band}"))
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.band)")) == {band}
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.disputeType)")) == {"neighbor"}


def test_the_case_view_draws_the_explanation_with_chinese_labels(served, page, screenshot):
    sign_in(page, served)
    page.click("a.case-link:text('C-101')")
    page.wait_for_url(re.compile(r"/ui/cases/"))
    score = stored(served, served.score_ids["C-101"])
    factors = score["escalation"]["factors"]
    bars = page.locator(".waterfall .bar")
    labels = page.locator(".waterfall .factor-label").all_text_contents()
    assert labels[: len(factors)] == [f["label_zh"] for f in factors]  # whole, never cut
    assert 1 <= len(labels) - len(factors) <= 6 and all(
        label.startswith("其余") for label in labels[len(factors) :]
    )
    values = page.locator(".waterfall .factor-value").all_text_contents()
    for shown, factor in zip(values, factors):
        assert (shown == "未知") == (factor["value"] is None)
    ups = bars.evaluate_all("bs => bs.map(b => b.classList.contains('up'))")
    assert ups[: len(factors)] == [f["contribution"] > 0 for f in factors]
    assert all(
        w > 0 for w in bars.evaluate_all("bs => bs.map(b => b.getBoundingClientRect().width)")
    )
    assert page.inner_text("#risk-path").endswith(page.inner_text("#probability"))
    assert page.inner_text("#probability") != ""
    assert page.locator("#persons tr.person").count() == 2
    assert page.locator("#route li.team").count() == len(score["route"]["teams"])
    assert page.locator("#history li.event").count() > 0
    assert page.locator("#history li.event[data-kind=call]").count() >= 1  # the threat call of H-1
    assert "13800001234" not in page.content()
    screenshot(page, "case")


def unclear_factor_labels(page) -> list[str]:
    """The factor labels that are cut, or run into their value (none on a page that reads well)."""
    return page.locator(".waterfall .factor").evaluate_all("""rows => rows.flatMap(row => {
        const label = row.querySelector('.factor-label'), value = row.querySelector('.factor-value');
        const l = label.getBoundingClientRect(), v = value.getBoundingClientRect();
        const cut = label.scrollWidth > label.clientWidth + 1 || label.textContent.endsWith('…');
        return cut || (v.width > 0 && l.right > v.left + 0.5) ? [label.textContent] : [];
    })""")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width, height", [(1366, 900), (768, 1024)])
def test_every_factor_label_is_whole_and_clear_of_its_value(served, browser, lang, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        sign_in(page, served)
        score_id = served.score_ids["C-101"]
        page.goto(f"{served.base}/ui/cases/{score_id}?lang={lang}")
        factors = stored(served, score_id)["escalation"]["factors"]
        labels = page.locator(".waterfall .factor-label").all_text_contents()
        assert labels[: len(factors)] == [f[f"label_{lang}"] for f in factors]
        assert unclear_factor_labels(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width, height", [(1366, 900), (768, 1024)])
def test_the_queue_s_first_screen_shows_cases(served, browser, lang, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        sign_in(page, served)
        page.goto(f"{served.base}/ui/?lang={lang}")
        first = page.locator("table.queue tbody tr").first.bounding_box()
        assert first["y"] + first["height"] <= height
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width, height", [(1366, 900), (768, 1024)])
def test_no_page_shows_a_raw_identifier(served, browser, lang, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        sign_in(page, served)
        for path in (
            "/ui/",
            "/ui/models",
            "/ui/overrides",
            *(f"/ui/cases/{served.score_ids[c]}" for c in ("C-101", "C-107")),
        ):
            page.goto(f"{served.base}{path}?lang={lang}")
            assert raw_identifiers(page.inner_text("body"), lang) == [], path
            alone = page.locator("body *").evaluate_all(
                "(elements, codes) => elements.filter(e => !e.children.length && codes.includes(e.textContent.trim()))"
                ".map(e => e.textContent)",
                list(CODES),
            )
            assert alone == [], path
    finally:
        context.close()


def test_the_queue_shows_each_team_s_load_against_its_capacity(served, page):
    sign_in(page, served)
    response = httpx.get(
        f"{served.base}/v1/queue/teams", headers=auth(served.keys["analyst"]), timeout=30
    )
    loads = [t for t in response.json()["teams"] if t["due"]]
    rows = page.locator("#capacity tr.team-load")
    assert rows.evaluate_all(
        "rs => rs.map(r => [r.dataset.team, +r.dataset.due, +r.dataset.capacity, +r.dataset.over])"
    ) == [[t["team"], t["due"], t["capacity"], t["over_capacity"]] for t in loads]
    police = page.locator("#capacity tr.team-load[data-team=police_station]")
    assert (
        "over" in police.get_attribute("class")
        and police.locator("td").first.inner_text() == "派出所民警 / 警调联动"
    )
    within, beyond = (
        police.locator(f".load-bar .{part}").bounding_box()["width"]
        for part in ("within", "beyond")
    )
    assert (
        beyond > 0
        and within > 0
        and beyond / within == pytest.approx(int(police.get_attribute("data-over")), rel=0.05)
    )
    over = {c["case_id"] for t in loads for c in t["cases"] if c["over_capacity"]}
    flagged = page.locator("table.queue tbody tr", has=page.locator(".beyond-capacity")).locator(
        ".case-link"
    )
    assert set(flagged.all_inner_texts()) == over
    police.locator("a").click()
    page.wait_for_url(re.compile(r"team=police_station"))
    routed = page.locator("table.queue tbody tr td.teams").all_inner_texts()
    assert routed and all("派出所民警" in teams for teams in routed)


def test_a_case_unlike_the_training_cases_warns_before_the_score(served, page, screenshot):
    sign_in(page, served)
    row = page.locator(f"tr[data-score-id='{served.score_ids['C-107']}']")
    assert row.locator(".chip.warn").inner_text() == "⚠ 依据有限"
    row.locator(".case-link").click()
    page.wait_for_url(re.compile(r"/ui/cases/"))
    warnings = page.locator("#warnings")
    assert warnings.is_visible() and "请以自身判断为主" in warnings.locator("h2").inner_text()
    assert (
        warnings.bounding_box()["y"] < page.locator("#risk").bounding_box()["y"]
    )  # read before the score
    assert warnings.locator("li[data-kind=population] strong").inner_text() == "超出模型训练范围"
    assert (
        "'medical' never occurred"
        in warnings.locator("li[data-kind=population] .detail").inner_text()
    )
    page.click("#weak-estimate a")
    assert page.url.endswith("#warnings")
    screenshot(page, "case-warnings")


def test_an_override_that_adds_a_team_needs_a_note_and_takes_effect_at_once(served, page):
    score_id = served.score_ids["C-102"]
    route = stored(served, score_id)["route"]["teams"]
    sign_in(page, served)
    page.goto(f"{served.base}/ui/cases/{score_id}")
    page.check("input[name=verdict][value=override]")
    assert page.locator("fieldset.override-teams").is_visible()
    page.check("input[name=teams][value=family_mediation]")  # the route's teams stay checked
    page.fill("#note", "   ")
    page.click("#review button[type=submit]")
    # refused: back on the case's own address, the reason at the top of the first screen, the choice kept
    page.wait_for_url(f"{served.base}/ui/cases/{score_id}")
    refusal = page.locator("#form-refused")
    assert refusal.inner_text() == "改派必须填写说明。" and refusal.bounding_box()["y"] < 300
    assert page.is_checked("input[name=teams][value=family_mediation]")
    assert stored(served, score_id)["reviews"] == []
    page.reload()
    assert page.locator("#form-refused").count() == 0  # said once
    page.goto(f"{served.base}/ui/cases/{score_id}/review")  # the form's address opened again
    assert page.url == f"{served.base}/ui/cases/{score_id}"

    page.check("input[name=verdict][value=override]")
    page.check("input[name=teams][value=family_mediation]")
    page.fill("#note", "当事人近日再次报警，加派妇联介入")
    page.click("#review button[type=submit]")
    page.wait_for_url(re.compile(r"saved=true"))
    assert page.is_visible("#review-saved")
    (review,) = stored(served, score_id)["reviews"]
    assert (
        review["verdict"] == "override" and review["reviewer_key_id"] == served.keys["analyst_id"]
    )
    assert set(review["teams"]) == {*route, "family_mediation"} and review["status"] == "final"
    assert review["note"] == "当事人近日再次报警，加派妇联介入"
    assert "当事人近日再次报警" in page.inner_text("#review .reviews")
    assert (
        "妇联与婚姻家庭纠纷调解委员会" in page.locator("#effective-route li.team").all_inner_texts()
    )

    page.goto(f"{served.base}/ui/?reviewed=yes")
    row = page.locator(f"tr[data-score-id='{score_id}']")
    assert row.locator(".verdict").inner_text() == "改派"
    assert "妇联" in row.locator(".review-state").inner_text()


def api(served) -> httpx.Client:
    return httpx.Client(base_url=served.base, timeout=60)


def test_a_re_score_shows_its_rise_in_the_queue_and_the_case_timeline(served, page, screenshot):
    with api(served) as client:
        (rescored,) = ingest(client, served.keys, "hotline_calls", THREAT_CALLS)["rescored"]
    sign_in(page, served)
    row = page.locator(f"tr[data-score-id='{rescored['score_id']}']")
    assert row.locator(".chip.rise").inner_text() == "↑ 风险等级上升"
    assert row.locator("ul.changes li").first.inner_text() == rescored["changes"][0]
    older = page.locator(f"tr[data-score-id='{served.score_ids['C-104']}']")
    assert older.locator(".chip.muted-chip").inner_text() == "已有更新评分"
    row.locator(".case-link").click()
    page.wait_for_url(re.compile(rescored["score_id"]))
    assert page.locator("#band-rise").is_visible()
    assert page.locator("#band-rise ul.changes li").all_inner_texts() == rescored["changes"]
    decisions = page.locator("#case-timeline li.decision")
    assert decisions.evaluate_all("ds => ds.map(d => d.dataset.scoreId)") == [
        served.score_ids["C-104"],
        rescored["score_id"],
    ]
    assert (
        "rise" in decisions.nth(1).get_attribute("class")
        and "新来电后重新评分" in decisions.nth(1).inner_text()
    )
    screenshot(page, "case-timeline")
    decisions.nth(0).locator("a").click()
    assert page.locator("#newer-score").is_visible()


def test_four_eyes_an_override_dropping_a_required_team_waits_for_another_analyst(
    served, page, browser, screenshot
):
    score_id = served.score_ids["C-101"]
    sign_in(page, served)
    page.goto(f"{served.base}/ui/cases/{score_id}")
    assert page.locator("#route li.team.required[data-team=police_station]").count() == 1
    page.check("input[name=verdict][value=override]")
    for box in page.locator("input[name=teams]").all():
        box.uncheck()
    page.check("input[name=teams][value=family_mediation]")
    page.fill("#note", "双方已和解，由妇联跟进即可")
    page.click("#review button[type=submit]")
    page.wait_for_url(re.compile(r"saved=pending"))
    assert "须由另一位分析员确认后才生效" in page.inner_text("#review-saved")
    assert (
        page.locator(".review-entry.pending .waiting").is_visible()
        and page.locator(".settle-form").count() == 0
    )

    second = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        other = second.new_page()
        sign_in(other, served, "admin")
        other.goto(f"{served.base}/ui/cases/{score_id}")
        entry = other.locator(".review-entry.pending")
        assert entry.locator(".status").inner_text() == "待第二人确认"
        assert (
            served.keys["analyst_id"] in entry.inner_text()
            and entry.locator(".settle-form").is_visible()
        )
        entry.scroll_into_view_if_needed()
        screenshot(other, "four-eyes")
        entry.locator("textarea[name=note]").fill("已电话核实，同意改派")
        entry.locator("button[value=confirm]").click()
        other.wait_for_url(re.compile(r"saved=confirmed"))
        assert other.locator(".review-entry.confirmed .status").inner_text() == "已确认"
        assert other.locator("#effective-route li.team").all_inner_texts() == [
            "妇联与婚姻家庭纠纷调解委员会"
        ]
    finally:
        second.close()
    (review,) = stored(served, score_id)["reviews"]
    assert (review["status"], review["confirmed_by_key_id"]) == (
        "confirmed",
        served.keys["admin_id"],
    )


def test_missed_follow_up_visits_are_shown_and_a_visit_is_recorded(served, page, screenshot):
    with api(served) as client:
        score_id = mediated_case(client, served.keys)
    sign_in(page, served)
    row = page.locator(f"tr[data-score-id='{score_id}']")
    assert row.locator(".chip.missed").inner_text() == "回访逾期 3 次"
    row.locator(".case-link").click()
    visits = page.locator("#followups li.followup")
    assert visits.evaluate_all("vs => vs.map(v => v.dataset.state)") == ["missed"] * 3
    screenshot(page, "followups")
    first = visits.first
    first.locator("select[name=outcome]").select_option("stable")
    first.locator("textarea[name=note]").fill("协议履行中，双方关系缓和")
    first.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"saved=visit"))
    assert visits.evaluate_all("vs => vs.map(v => v.dataset.state)") == ["done", "missed", "missed"]
    assert "情况稳定" in visits.first.inner_text() and "协议履行中" in visits.first.inner_text()
    assert page.locator("#case-timeline li.followup[data-state=done]").count() == 1
    page.goto(f"{served.base}/ui/")
    assert row.locator(".chip.missed").inner_text() == "回访逾期 2 次"


def test_english_and_a_tablet_layout(served, browser):
    context = browser.new_context(viewport={"width": 820, "height": 1180}, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, served)
        page.goto(f"{served.base}/ui/?lang=en")
        assert page.inner_text("h1") == "Review queue"
        page.goto(
            f"{served.base}/ui/cases/{served.score_ids['C-101']}"
        )  # the language is remembered
        assert page.inner_text("#factors h2") == "What moves the risk estimate"
        assert page.evaluate("document.documentElement.scrollWidth") <= 820
        boxes = [
            page.locator(f"#{card}").bounding_box()
            for card in ("risk", "route", "factors", "history")
        ]
        assert len({box["x"] for box in boxes}) == 1  # one column on a tablet
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_on_a_tablet_route_and_review_come_within_two_screens_before_the_history(
    served, browser, lang
):
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    try:
        sign_in(page, served)
        page.goto(f"{served.base}/ui/cases/{served.score_ids['C-101']}?lang={lang}")
        route, form, history = (
            page.locator(selector).bounding_box()
            for selector in ("#route", "#review form.review-form", "#history")
        )
        assert route["y"] < form["y"] < history["y"]
        assert form["y"] + form["height"] <= 2 * 1024
    finally:
        context.close()


def test_the_api_docs_render_their_operations_with_the_network_blocked(served, browser):
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, extra_http_headers=auth(served.keys["analyst"])
    )  # the docs need a key
    elsewhere = []

    def only_the_service(route):
        if route.request.url.startswith(served.base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_service)
    page = context.new_page()
    try:
        page.goto(f"{served.base}/docs")
        page.wait_for_selector(".opblock", timeout=15_000)
        assert page.locator(".opblock").count() >= 10
        assert page.locator(".opblock-summary-path", has_text="/v1/cases/score").count() >= 1
        assert elsewhere == []
    finally:
        context.close()


def test_the_overrides_page_shows_agreement_and_alerts_as_the_api_does(served, page, screenshot):
    """The admin agrees with two routes: with the served thresholds (two reviews), that is automation bias."""
    with api(served) as client:
        for case_id in ("C-105", "C-106"):
            agreed = client.post(
                f"/v1/scores/{served.score_ids[case_id]}/review",
                json={"verdict": "agree"},
                headers=auth(served.keys["admin"]),
            )
            assert agreed.status_code == 201
        summary = client.get("/v1/overrides/summary", headers=auth(served.keys["analyst"])).json()
    sign_in(page, served)
    page.click("header nav a[href='/ui/overrides']")
    page.wait_for_url(f"{served.base}/ui/overrides")
    assert page.locator("header nav a.active").inner_text() == "改派分析"
    alerts = page.locator("#override-alerts li.alert")
    assert alerts.evaluate_all(
        "items => items.map(i => [i.dataset.kind, i.dataset.analyst, i.dataset.direction])"
    ) == [[a["kind"], a["analyst"] or "", a["direction"] or ""] for a in summary["alerts"]]
    admin = page.locator(
        f"#override-alerts li.alert[data-kind=automation_bias][data-analyst='{served.keys['admin_id']}']"
    )
    assert "100% 同意建议分派，高于 95%" in admin.inner_text()
    rows = page.locator("#by-analyst tbody tr:not(.total)")
    assert rows.evaluate_all(
        "rs => rs.map(r => [r.dataset.group, +r.querySelector('.reviews').textContent,"
        " +r.querySelector('.raised').textContent, +r.querySelector('.lowered').textContent])"
    ) == [[r["group"], r["reviews"], r["raised"], r["lowered"]] for r in summary["by_analyst"]]
    assert page.locator("#by-team tbody tr").count() == len(summary["by_team"])
    assert raw_identifiers(page.inner_text("body"), "zh") == []
    screenshot(page, "overrides")

    page.goto(f"{served.base}/ui/overrides?lang=en")
    assert "agreed with the suggested route, above 95%" in admin.inner_text()
    assert page.locator("#outcomes tr[data-direction=raise] td").first.inner_text() == "Raised"
    assert raw_identifiers(page.inner_text("body"), "en") == []


def test_the_challenger_page_is_reached_from_the_models_page_and_says_when_there_is_none(
    served, page
):
    """The served service has champions and no challenger: the page says so, in both languages."""
    with api(served) as client:
        models = client.get("/v1/models", headers=auth(served.keys["analyst"])).json()
    assert models["challenger"] is None
    sign_in(page, served)
    page.goto(f"{served.base}/ui/models")
    page.click("#challenger-link")
    page.wait_for_url(f"{served.base}/ui/models/challenger")
    assert page.locator("h1").inner_text() == "挑战者模型"
    assert "当前没有挑战者模型" in page.locator("#no-challenger").inner_text()
    page.goto(f"{served.base}/ui/models/challenger?lang=en")
    assert page.locator("h1").inner_text() == "Challenger model"
    assert "There is no challenger" in page.locator("#no-challenger").inner_text()
