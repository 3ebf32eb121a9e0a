"""Retention of stored decisions: past its period a decision keeps its route, reasons, bands and
contributions, loses its raw sensitive values, and still reads back through the API and the workbench."""

from datetime import datetime, timezone

from sqlalchemy import select, update

from tests.support.service import auth, case_request
from tests.serving.test_safeguards_rescoring import EVENTS, H2_CASE, ingest, score
from tests.support.decisions import FEATURE_LISTS, scored_case
from tests.support.retention import POLICY
from triage.db import engine_for
from triage.db.service_models import Decision, ModelFeatureList
from triage.config.domain import RetentionPolicy
from triage.decisions.retention import masked_decision, raw_features, run_retention

DECISIONS_ONLY = RetentionPolicy.model_validate(
    {**POLICY, "rules": [r for r in POLICY["rules"] if r["table"] == "decisions"]}
)
LONG_AGO = datetime(2024, 1, 1, tzinfo=timezone.utc)


def read(client, keys, score_id: str) -> dict:
    response = client.get(f"/v1/scores/{score_id}?top=all", headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    return response.json()


def apply(url: str, dry_run: bool = False) -> int:
    (outcome,) = run_retention(url, DECISIONS_ONLY, datetime.now(timezone.utc), dry_run=dry_run)
    return outcome.count


def test_a_decision_past_its_period_keeps_route_reasons_and_contributions_and_loses_raw_values(
    client, keys, settings
):
    first = score(client, keys, H2_CASE)
    rescores = [
        ingest(client, keys, t, [EVENTS[t]])["rescored"][0]["score_id"]
        for t in ("incidents", "screenings")
    ]
    newer = score(client, keys, case_request("C-21", "H-3", counterparty=None, persons=["P-3-1"]))
    old = [first["score_id"], *rescores]
    url = settings.database_url
    with engine_for(url).begin() as connection:
        connection.execute(
            update(Decision).where(Decision.score_id.in_(old)).values(created_at=LONG_AGO)
        )
    before = {s: read(client, keys, s) for s in [*old, newer["score_id"]]}
    assert "new screening 2025-06-04 10:00 (phq9 21, item 9 = 2)" in before[rescores[1]]["changes"]

    assert apply(url, dry_run=True) == 3
    assert {s: read(client, keys, s) for s in before} == before
    assert apply(url) == 3

    raw = raw_features()
    for score_id in old:
        was, now = before[score_id], read(client, keys, score_id)
        for part in (
            "route",
            "models",
            "case_id",
            "as_of",
            "trigger",
            "previous_score_id",
            "band_rise",
        ):
            assert now[part] == was[part]
        assert {k: v for k, v in now["escalation"].items() if k != "factors"} == {
            k: v for k, v in was["escalation"].items() if k != "factors"
        }
        for old_factors, new_factors in [
            (was["escalation"]["factors"], now["escalation"]["factors"]),
            *((p["factors"], q["factors"]) for p, q in zip(was["persons"], now["persons"])),
        ]:
            assert [(f["feature"], f["contribution"]) for f in new_factors] == [
                (f["feature"], f["contribution"]) for f in old_factors
            ]
            for f, g in zip(old_factors, new_factors):
                assert (g["value"], g["withheld"]) == (
                    (None, True) if f["feature"] in raw else (f["value"], False)
                )
        assert [(p["tier"], p["probabilities"]) for p in now["persons"]] == [
            (p["tier"], p["probabilities"]) for p in was["persons"]
        ]
        assert now["request"]["case"]["description"] is None and now["raw_values_removed_at"]
        assert now["changes"] == [  # the new record's values go; the reasons of rules stay
            line.rsplit(" (", 1)[0] + " (values removed)"
            if line.startswith(("new police incident", "new screening"))
            else line
            for line in was["changes"]
        ]
    assert any(f["feature"] in raw for f in before[first["score_id"]]["escalation"]["factors"])
    assert read(client, keys, newer["score_id"]) == before[newer["score_id"]]
    with engine_for(url).connect() as connection:
        records = dict(connection.execute(select(Decision.score_id, Decision.response)).all())
        lists = dict(
            connection.execute(select(ModelFeatureList.version, ModelFeatureList.names)).all()
        )

    def raw_values(score_id: str) -> list:
        record = records[score_id]
        names = lists[record["models"]["escalation"]]
        return [v for n, v in zip(names, record["escalation"]["explanation"]["values"]) if n in raw]

    assert all(v is None for s in old for v in raw_values(s))
    assert any(v is not None for v in raw_values(newer["score_id"]))

    assert apply(url) == 0
    client.post("/ui/login", data={"api_key": keys["analyst"]})
    page = client.get(f"/ui/cases/{rescores[1]}?lang=en")
    assert (
        page.status_code == 200 and 'id="values-removed"' in page.text and ">removed<" in page.text
    )


def test_the_values_warnings_quote_are_removed_and_the_rest_of_the_warning_kept():
    record = scored_case(
        warnings=[
            "outside the training population: values far beyond the training range: "
            "暴力类警情次数 (hh_violent_incidents_365d) = 12 (training cases: 0–3); lean on your own judgement"
        ]
    ).record()
    masked, *_ = masked_decision(record, {"case": {}}, [], LONG_AGO, FEATURE_LISTS)
    assert masked["warnings"] == [
        "outside the training population: values far beyond the training range: "
        "暴力类警情次数 (hh_violent_incidents_365d) = … (training cases: 0–3); lean on your own judgement"
    ]
