"""The workbench rendered in-process (TestClient): sign-in and its cookie, refusals, reviews, queue, models."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

from matplotlib.figure import Figure
from mlflow import MlflowClient

from tests.support.service import auth
from tests.support.analyst_cases import CASES, CODES, THREAT_CALLS, mediated_case, raw_identifiers
from tests.support.service import ingest
from tests.support.keys import make_keys
from triage.decisions import keys as key_store
from triage.workbench import views
from triage.workbench.auth import COOKIE


def signed_in(client, key: str):
    response = client.post("/ui/login", data={"api_key": key}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    return response


def back_on_the_case(response) -> str:
    """A refused form's answer: redirected to its case page, which says why at its top; the page."""
    assert [r.status_code for r in response.history] == [303] and response.status_code == 200
    assert re.fullmatch(r"/ui/cases/[^/]+", response.url.path)
    return (
        re.search(
            r'<p class="alert" role="alert" id="form-refused">([^<]*)</p>', response.text
        ).group(1)
        + response.text
    )


def test_pages_need_a_session_and_send_the_browser_to_sign_in(stored, client):
    for path in ("/ui/", f"/ui/cases/{stored.score_ids['C-101']}", "/ui/models", "/ui/overrides"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    # an API key in the Authorization header is not a workbench session
    response = client.get("/ui/", headers=auth(stored.keys["analyst"]), follow_redirects=False)
    assert response.status_code == 303


def test_a_scorer_key_is_refused_with_a_clear_message_and_no_cookie(stored, client):
    response = client.post(
        "/ui/login", data={"api_key": stored.keys["scorer"]}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "评分密钥（scorer）只能调用评分接口，不能登录工作台" in response.text
    assert "set-cookie" not in response.headers
    wrong = client.post(
        "/ui/login", data={"api_key": stored.keys["analyst"] + "x"}, follow_redirects=False
    )
    assert wrong.status_code == 401 and "密钥无效或已被吊销" in wrong.text


def test_the_session_cookie_is_http_only_same_site_and_never_holds_the_key(stored, client):
    cookie = signed_in(client, stored.keys["analyst"]).headers["set-cookie"]
    assert re.search(r"; HttpOnly", cookie) and re.search(r"; SameSite=lax", cookie, re.I)
    assert "; Path=/ui" in cookie and re.search(r"; Max-Age=43200", cookie)
    assert "; Secure" not in cookie  # plain http on 127.0.0.1; https requests get Secure
    value = client.cookies[COOKIE]
    assert stored.keys["analyst"] not in value and stored.keys["analyst_id"] not in value
    assert client.get("/ui/").status_code == 200


def test_an_admin_key_signs_in_and_signing_out_ends_the_session(stored, client):
    signed_in(client, stored.keys["admin"])
    assert "admin test key" in client.get("/ui/").text
    out = client.post("/ui/logout", follow_redirects=False)
    assert out.status_code == 303 and 'triage_workbench=""' in out.headers["set-cookie"]
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_or_a_revoked_key_signs_the_analyst_out(stored, client):
    signed_in(client, stored.keys["analyst"])
    key_id, issued, mac = client.cookies[COOKIE].split(".")
    client.cookies.set(COOKIE, f"{stored.keys['admin_id']}.{issued}.{mac}", path="/ui")
    assert client.get("/ui/", follow_redirects=False).status_code == 303

    signed_in(client, stored.keys["analyst"])
    state = client.app.state.service
    with state.sessions() as session:
        key_store.revoke_key(session, stored.keys["analyst_id"])
        session.commit()
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"


def test_the_queue_filters_by_date_range_team_and_review_state(stored, client):
    signed_in(client, stored.keys["analyst"])
    today = date.today()
    page = client.get(
        "/ui/",
        params={
            "scored_from": str(today - timedelta(days=1)),
            "scored_to": "",
            "band": [],
            "team": "",
            "reviewed": "",
        },
    ).text
    assert page.count('class="case-link"') == len(CASES)
    yesterday = client.get("/ui/", params={"scored_to": str(today - timedelta(days=2))}).text
    assert "没有符合条件的案件" in yesterday and "共 0 件" in yesterday
    by_team = client.get("/ui/", params={"team": "medical_mediation"}).text
    assert re.findall(r'class="case-link"[^>]*>([^<]+)<', by_team) == ["C-107"]
    assert client.get("/ui/", params={"band": "severe"}).status_code == 422


def test_an_agreement_needs_no_note_and_an_override_does(stored, client):
    signed_in(client, stored.keys["analyst"])
    score_id = stored.score_ids["C-103"]
    refused = client.post(
        f"/ui/cases/{score_id}/review",
        data={"verdict": "override", "teams": ["police_station"], "note": "   "},
    )
    assert "改派必须填写说明" in back_on_the_case(refused)
    empty = client.post(f"/ui/cases/{score_id}/review", data={"verdict": "override", "note": "x"})
    assert "改派至少选择一个单位" in back_on_the_case(empty)
    bogus = client.post(
        f"/ui/cases/{score_id}/review",
        data={"verdict": "override", "teams": ["fire_brigade"], "note": "x"},
    )
    assert "fire_brigade" in back_on_the_case(bogus)
    assert (
        client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()["reviews"]
        == []
    )

    agreed = client.post(
        f"/ui/cases/{score_id}/review", data={"verdict": "agree", "teams": ["police_station"]}
    )
    assert agreed.status_code == 200 and "研判已保存" in agreed.text
    (review,) = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()[
        "reviews"
    ]
    route = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()[
        "route"
    ]["teams"]
    assert review["verdict"] == "agree" and review["teams"] == route and review["note"] is None


def test_the_case_page_hides_digits_and_says_unknown_for_a_missing_case(stored, client):
    signed_in(client, stored.keys["analyst"])
    page = client.get(f"/ui/cases/{stored.score_ids['C-107']}").text
    assert "13800001234" not in page and "联系电话＊＊＊" in page
    assert "unknown household H-99" in page  # the service's warning is shown
    missing = client.get("/ui/cases/no-such-score")
    assert missing.status_code == 404 and "没有这个评分记录" in missing.text
    for form in ({"verdict": "agree"}, {"verdict": "override", "teams": ["police_station"]}):
        assert client.post("/ui/cases/no-such-score/review", data=form).status_code == 404


def test_english_is_a_switch_that_is_remembered(stored, client):
    signed_in(client, stored.keys["analyst"])
    english = client.get("/ui/?lang=en")
    assert "Review queue" in english.text and 'lang="en"' in english.text
    assert "Estimated escalation risk" in client.get(f"/ui/cases/{stored.score_ids['C-101']}").text
    assert "研判队列" in client.get("/ui/?lang=zh").text


#: The plots a training run logs for each model, under ``plots/<role>/``.
ROLE_PLOTS = {
    "escalation": ("calibration_curve.png", "lift_chart.png", "shap_summary.png"),
    "tier": ("calibration_curve.png", "confusion_matrix.png", "shap_summary.png"),
}


def register_plots(settings, versions: dict[str, str]) -> None:
    """One run (both models are trained in one) that logged each model's plots under ``plots/<role>/``, each
    model's drawn with a line of its own, in the real MLflow store under ``home``; versions named like the
    champions."""
    from triage.models.registry import configure_mlflow

    client = configure_mlflow(settings)  # the experiment may exist already: the page read it
    run = client.create_run(client.get_experiment_by_name("triage").experiment_id)
    for slope, (role, names) in enumerate(ROLE_PLOTS.items(), start=1):
        figure = Figure(figsize=(2, 2))
        figure.add_subplot().plot([0, 1], [0, slope])
        for name in names:
            client.log_figure(run.info.run_id, figure, f"plots/{role}/{name}")
    client.set_terminated(run.info.run_id)
    for version in versions.values():
        name = version.split("/")[0]
        client.create_registered_model(name)
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)


def test_the_models_page_shows_metrics_plots_from_mlflow_and_its_ui(stored, client, settings):
    signed_in(client, stored.keys["analyst"])
    unregistered = client.get("/ui/models").text
    assert "无法从 MLflow 读取评估图" in unregistered and "triage-tier/1" in unregistered

    register_plots(settings, client.app.state.service.champions.current.versions)
    page = client.get("/ui/models").text
    assert "triage-escalation/1" in page and "0.71" in page
    assert 'href="http://127.0.0.1:5000/"' in page
    png = client.get("/ui/models/escalation/plots/calibration_curve.png")
    assert (
        png.status_code == 200
        and png.headers["content-type"] == "image/png"
        and png.content[:4] == b"\x89PNG"
    )
    assert client.get("/ui/models/escalation/plots/model.pkl").status_code == 404
    assert client.get("/ui/models/escalation/plots/..%2F..%2Fmeta.yaml").status_code == 404


def test_each_model_shows_its_own_plots(stored, client, settings):
    signed_in(client, stored.keys["analyst"])
    register_plots(settings, client.app.state.service.champions.current.versions)
    page = client.get("/ui/models").text
    for role, names in ROLE_PLOTS.items():
        assert re.findall(rf'src="/ui/models/{role}/plots/([\w.]+)"', page) == list(names)
    assert client.get("/ui/models/escalation/plots/confusion_matrix.png").status_code == 404
    escalation, tier = (
        client.get(f"/ui/models/{role}/plots/shap_summary.png") for role in ROLE_PLOTS
    )
    assert escalation.status_code == tier.status_code == 200 and escalation.content != tier.content


def log_monitoring(settings) -> None:
    """A `triage monitor` run that raised an alert and a training run's fairness audit, in the MLflow store."""
    import mlflow

    from triage.models.registry import configure_mlflow

    configure_mlflow(settings)
    with mlflow.start_run(run_name="monitor", tags={"triage.run_kind": "monitor"}):
        mlflow.log_dict(
            {
                "status": "alert",
                "created_at": "2026-11-24T10:00:00+00:00",
                "reasons": [
                    {"level": "alert", "check": "population", "message": "新区 is 12% of cases"}
                ],
            },
            "summary.json",
        )
    audit = {
        "attributes": {
            "area_type": {
                "groups": [
                    {
                        "group": "rural",
                        "n": 400,
                        "selection_rate": 0.21,
                        "tpr": 0.6,
                        "fpr": 0.15,
                        "calibration": 0.02,
                    },
                    {
                        "group": "urban",
                        "n": 600,
                        "selection_rate": 0.18,
                        "tpr": 0.55,
                        "fpr": 0.12,
                        "calibration": 0.01,
                    },
                ]
            },
            "ethnicity": {
                "groups": [
                    {
                        "group": group,
                        "n": n,
                        "selection_rate": 0.2,
                        "tpr": 0.6,
                        "fpr": 0.1,
                        "calibration": 0.01,
                    }
                    for group, n in (("han", 900), ("minority", 60), ("unrecorded", 40))
                ]
            },
        }
    }
    for result in audit["attributes"].values():
        result["gaps"] = {
            m: {"gap": 0.05, "ci_low": 0.01, "ci_high": 0.09}
            for m in ("selection_rate", "tpr", "fpr", "calibration")
        }
    with mlflow.start_run(run_name="train", tags={"fairness_audit": "true"}):
        mlflow.log_dict(audit, "fairness/audit.json")


def test_the_models_page_shows_the_latest_monitoring_status_and_fairness(stored, client, settings):
    signed_in(client, stored.keys["analyst"])
    assert "尚未运行监测" in client.get("/ui/models").text
    log_monitoring(settings)
    page = client.get("/ui/models").text
    assert "status-alert" in page and "新区 is 12% of cases" in page and "人群构成变化" in page
    assert page.count("<td>城乡</td>") == 3 and "0.210" in page and "<td>少数民族</td>" in page


def visible_text(page: str) -> str:
    """What a reader sees of a page: its text without markup, scripts or styles."""
    page = re.sub(r"<(script|style|title)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_no_page_shows_a_raw_identifier_in_either_language(stored, client, settings):
    signed_in(client, stored.keys["analyst"])
    register_plots(settings, client.app.state.service.champions.current.versions)
    log_monitoring(settings)
    paths = [
        "/ui/",
        "/ui/models",
        "/ui/overrides",
        *(f"/ui/cases/{score_id}" for score_id in stored.score_ids.values()),
    ]
    for lang in ("zh", "en"):
        for path in paths:
            page = client.get(path, params={"lang": lang}).text
            assert raw_identifiers(visible_text(page), lang) == [], path
            assert not re.findall(rf">\s*(?:{'|'.join(CODES)})\s*<", page), (
                path
            )  # a code alone in its element
    models = visible_text(client.get("/ui/models", params={"lang": "en"}).text)
    assert (
        "Escalation rate of the riskiest 10%" in models
        and "319" in models
        and "0.680 – 0.740" in models
    )


def teams_api(client, keys) -> list[dict]:
    response = client.get("/v1/queue/teams", headers=auth(keys["analyst"]))
    assert response.status_code == 200
    return response.json()["teams"]


def test_the_queue_shows_each_team_s_cases_due_today_against_its_capacity(backlog, client):
    signed_in(client, backlog.keys["analyst"])
    page = client.get("/ui/").text
    shown = re.findall(
        r'class="team-load[^"]*" data-team="(\w+)" data-due="(\d+)"\s+data-capacity="(\d+)" '
        r'data-over="(\d+)"',
        page,
    )
    loads = [t for t in teams_api(client, backlog.keys) if t["due"]]
    assert shown == [
        (t["team"], str(t["due"]), str(t["capacity"]), str(t["over_capacity"])) for t in loads
    ]
    assert ("police_station", "1") in [(team, capacity) for team, _, capacity, _ in shown]
    assert any(int(over) > 0 for *_, over in shown) and "各单位今日到期案件与处理能力" in page
    beyond = {c["case_id"] for t in loads for c in t["cases"] if c["over_capacity"]}
    flagged = set(
        re.findall(
            r'class="case-link" href="/ui/cases/[^"]+">([^<]+)</a>(?:(?!</tr>).)*超出今日能力',
            page,
            re.S,
        )
    )
    assert flagged == beyond and beyond


def test_a_team_s_due_today_link_lists_exactly_the_cases_it_counts(backlog, client):
    # an override waiting for a second analyst: reviewed, yet still open and due
    pending = client.post(
        f"/v1/scores/{backlog.score_ids['C-101']}/review",
        headers=auth(backlog.keys["analyst"]),
        json={"verdict": "override", "teams": ["family_mediation"], "note": "已和解"},
    )
    assert pending.json()["status"] == "pending"
    signed_in(client, backlog.keys["analyst"])
    links = re.findall(r'data-due="(\d+)"[^>]*>\s*<td><a href="([^"]+)"', client.get("/ui/").text)
    assert links
    for due, link in links:
        listed = client.get(html.unescape(link)).text
        assert len(re.findall(r"<tr data-score-id=", listed)) == int(due), link


def test_a_day_with_nothing_due_says_so(client):
    keys = make_keys(client.app.state.service.settings.db_url)
    signed_in(client, keys["analyst"])
    page = client.get("/ui/").text
    assert "今天没有到期未研判的案件" in page and 'class="team-load' not in page


def test_a_case_unlike_the_training_cases_says_to_lean_on_one_s_own_judgement(stored, client):
    signed_in(client, stored.keys["analyst"])
    score_id = stored.score_ids["C-107"]
    warnings = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()[
        "warnings"
    ]
    page = client.get(f"/ui/cases/{score_id}").text
    assert "请以自身判断为主" in page and "此估计依据有限" in page
    kinds = re.findall(r'<li class="warning" data-kind="(\w+)"><strong>([^<]+)</strong>', page)
    assert [kind for kind, _ in kinds] == ["unknown_household", "unknown_person", "population"]
    assert ("population", "超出模型训练范围") in kinds and len(kinds) == len(warnings)
    assert all(views.FEATURE_CODE.sub("", w) in html.unescape(page) for w in warnings)
    queue = client.get("/ui/").text
    row = re.search(rf'<tr data-score-id="{score_id}".*?</tr>', queue, re.S).group(0)
    assert "依据有限" in row
    english = client.get(f"/ui/cases/{score_id}?lang=en").text
    assert "Lean on your own judgement" in english and "Unlike the training cases" in english


def row_of(page: str, score_id: str) -> str:
    return re.search(rf'<tr data-score-id="{score_id}".*?</tr>', page, re.S).group(0)


def test_a_rise_of_band_is_flagged_in_the_queue_with_what_changed_and_the_case_keeps_its_timeline(
    stored, client
):
    signed_in(client, stored.keys["analyst"])
    (rescored,) = ingest(client, stored.keys, "hotline_calls", THREAT_CALLS)["rescored"]
    first = stored.score_ids["C-104"]
    assert rescored["band_rise"] and rescored["previous_score_id"] == first

    queue = client.get("/ui/").text
    assert "↑ 风险等级上升" in row_of(queue, rescored["score_id"])
    assert html.escape(rescored["changes"][0]) in row_of(queue, rescored["score_id"])
    assert "已有更新评分" in row_of(queue, first) and "风险等级上升" not in row_of(queue, first)
    risen = client.get("/ui/", params={"band_rise": "yes"}).text
    assert re.findall(r'<tr data-score-id="([^"]+)"', risen) == [rescored["score_id"]]

    page = client.get(f"/ui/cases/{rescored['score_id']}").text
    box = re.search(r'<div class="band-rise" id="band-rise">.*?</div>', page, re.S).group(0)
    assert "新来电后重新评分" in box and all(
        html.escape(line) in box for line in rescored["changes"]
    )
    entries = re.findall(
        r'<li class="entry decision([^"]*)" data-type="decision" data-score-id="([^"]+)"', page
    )
    assert [score_id for _, score_id in entries] == [first, rescored["score_id"]]
    assert "rise" in entries[1][0] and "current" in entries[1][0] and "rise" not in entries[0][0]
    older = client.get(f"/ui/cases/{first}").text
    assert "本案已有更新的评分" in older and f'href="/ui/cases/{rescored["score_id"]}"' in older


def test_an_override_dropping_a_team_a_rule_requires_waits_for_a_second_analyst(stored, client):
    score_id = stored.score_ids["C-101"]
    api = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()
    assert "police_station" in api["route"]["required_teams"]  # the weapon threat of H-1
    signed_in(client, stored.keys["analyst"])
    proposed = client.post(
        f"/ui/cases/{score_id}/review",
        data={"verdict": "override", "teams": ["family_mediation"], "note": "已和解，仅需妇联跟进"},
        follow_redirects=False,
    )
    assert proposed.headers["location"] == f"/ui/cases/{score_id}?saved=pending"
    page = client.get(proposed.headers["location"]).text
    assert "须由另一位分析员确认后才生效" in page and "这是您提出的改派" in page
    assert 'class="settle-form"' not in page and "待第二人确认" in page
    (review,) = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()[
        "reviews"
    ]
    assert review["status"] == "pending"
    own = client.post(f"/ui/cases/{score_id}/reviews/{review['id']}", data={"action": "confirm"})
    assert "四眼原则" in back_on_the_case(own)
    assert "待第二人复核" in row_of(client.get("/ui/").text, score_id)

    signed_in(client, stored.keys["admin"])
    page = client.get(f"/ui/cases/{score_id}").text
    assert f'id="settle-{review["id"]}"' in page and "另一位分析员提出了改派" in page
    unexplained = client.post(
        f"/ui/cases/{score_id}/reviews/{review['id']}", data={"action": "reject", "note": " "}
    )
    assert "驳回须填写说明" in back_on_the_case(unexplained)
    confirmed = client.post(
        f"/ui/cases/{score_id}/reviews/{review['id']}",
        data={"action": "confirm", "note": "核实无误"},
    )
    assert confirmed.status_code == 200 and "已确认改派" in confirmed.text
    assert re.search(r'id="effective-route">.*?data-team="family_mediation"', confirmed.text, re.S)
    (review,) = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()[
        "reviews"
    ]
    assert (review["status"], review["confirmed_by_key_id"], review["confirm_note"]) == (
        "confirmed",
        stored.keys["admin_id"],
        "核实无误",
    )


def test_lowering_the_priority_a_rule_requires_waits_too_and_raising_it_does_not(stored, client):
    signed_in(client, stored.keys["analyst"])
    for case_id, priority, status in (("C-101", "high", "pending"), ("C-107", "critical", "final")):
        score_id = stored.score_ids[case_id]
        route = client.get(f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])).json()[
            "route"
        ]
        saved = client.post(
            f"/ui/cases/{score_id}/review",
            follow_redirects=False,
            data={
                "verdict": "override",
                "teams": route["teams"],
                "priority": priority,
                "note": "按实际情况调整紧急程度",
            },
        )
        assert saved.headers["location"].endswith("pending" if status == "pending" else "true")
        (review,) = client.get(
            f"/v1/scores/{score_id}", headers=auth(stored.keys["analyst"])
        ).json()["reviews"]
        assert (review["priority"], review["status"]) == (priority, status)
    bogus = client.post(
        f"/ui/cases/{stored.score_ids['C-102']}/review",
        data={"verdict": "override", "teams": ["care_group"], "priority": "asap", "note": "x"},
    )
    assert "研判内容无效" in back_on_the_case(bogus)


def test_missed_follow_up_visits_show_in_the_queue_and_a_visit_of_concern_re_scores_the_case(
    stored, client
):
    score_id = mediated_case(client, stored.keys)
    signed_in(client, stored.keys["analyst"])
    assert "回访逾期 3 次" in row_of(client.get("/ui/").text, score_id)
    page = client.get(f"/ui/cases/{score_id}").text
    visits = re.findall(r'<li class="followup (\w+)" data-followup-id="(\d+)"', page)
    assert [state for state, _ in visits] == ["missed"] * 3 and "7 天回访" in page
    first = visits[0][1]

    silent = client.post(
        f"/ui/cases/{score_id}/followups/{first}", data={"outcome": "concern", "note": ""}
    )
    assert "回访须填写情况说明" in back_on_the_case(silent)
    unsaid = client.post(
        f"/ui/cases/{score_id}/followups/{first}", data={"outcome": "", "note": "见到了"}
    )
    assert "请选择回访结果" in back_on_the_case(unsaid)
    done = client.post(
        f"/ui/cases/{score_id}/followups/{first}",
        data={"outcome": "concern", "note": "双方又因赔偿款争吵"},
        follow_redirects=False,
    )
    rescored = done.headers["location"].split("/ui/cases/")[1].split("?")[0]
    assert rescored != score_id and done.headers["location"].endswith("?saved=visit")
    page = client.get(done.headers["location"]).text
    assert "回访已记录" in page and "出现新的风险迹象" in page and "双方又因赔偿款争吵" in page
    assert [
        state
        for state, _ in re.findall(r'<li class="followup (\w+)" data-followup-id="(\d+)"', page)
    ] == ["done", "missed", "missed"]
    assert re.search(r'data-score-id="' + rescored + r'">.*?回访后重新评分', page, re.S)
    assert "回访逾期 2 次" in row_of(client.get("/ui/").text, rescored)


def test_the_models_page_links_each_champion_s_model_card(stored, client, settings):
    signed_in(client, stored.keys["analyst"])
    register_plots(settings, client.app.state.service.champions.current.versions)
    mlflow_client = MlflowClient(settings.mlflow_tracking_uri)
    version = mlflow_client.get_model_version("triage-escalation", "1")
    mlflow_client.log_text(
        version.run_id, "# Model card: triage-escalation version 1\n", "model_card/escalation.md"
    )
    assert client.get("/ui/models/escalation/card").status_code == 404  # no card tagged yet
    mlflow_client.set_model_version_tag(
        "triage-escalation", "1", "model_card", "model_card/escalation.md"
    )
    assert 'href="/ui/models/escalation/card"' in client.get("/ui/models").text
    card = client.get("/ui/models/escalation/card")
    assert card.status_code == 200 and card.headers["content-type"].startswith("text/markdown")
    assert card.text.startswith("# Model card: triage-escalation version 1")
    assert "Model card" in client.get("/ui/models?lang=en").text
