"""Override analytics over HTTP and on the command line, on SQLite and PostgreSQL: agreement by analyst,
the alerts with the thresholds of the service's ``domain.yaml``, and overrides proved right by the
incidents of the service database."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.support.service import auth, case_request
from tests.support.overrides import domain_with_thresholds
from triage.cli import app as cli
from triage.settings import Settings

#: Opened long enough before the small city's last record (20 May 2025) for the 180-day label to be known.
OPENED = {"opened_at": "2024-10-15T09:00:00+08:00", "as_of": "2024-10-15T10:00:00+08:00"}
#: Not in any route, so adding it raises one.
EXTRA = ("guardianship_group", "psych_outreach", "care_group")
#: An analyst's note that must never leave the service: a name and a phone number.
PII_NOTE = "PIIMARK-名 说对方电话 13800001234"


@pytest.fixture
def settings(service_db: str, tmp_path) -> Settings:
    """Alerts from one review on, so that three reviews can show one."""
    return Settings(
        home=tmp_path / "home",
        database_url=service_db,
        domain_file=domain_with_thresholds(tmp_path, min_reviews=1, min_overrides=1),
    )


@pytest.fixture
def reviewed(client, keys) -> dict[str, dict]:
    """H-3's case of October 2024 (an assault followed in April 2025) raised and H-4's (nothing followed)
    lowered by the analyst; a June 2025 case (no label yet) agreed by the admin."""
    bodies = [
        case_request("C-1", "H-3", counterparty=None, **OPENED),
        case_request("C-2", "H-4", counterparty=None, persons=[], **OPENED),
        case_request("C-3", "H-1"),
    ]
    response = client.post(
        "/v1/cases/batch-score", json={"cases": bodies}, headers=auth(keys["scorer"])
    )
    scored = {r["case_id"]: r for r in response.json()["results"]}
    raised, lowered = scored["C-1"]["route"], scored["C-2"]["route"]
    verdicts = [
        (
            "C-1",
            "analyst",
            {"teams": [*raised["teams"], next(t for t in EXTRA if t not in raised["teams"])]},
        ),
        ("C-2", "analyst", {"teams": lowered["teams"][:-1], "priority": "low"}),
        ("C-3", "admin", None),
    ]
    for case_id, role, override in verdicts:
        body = (
            {"verdict": "override", "note": PII_NOTE, **override}
            if override
            else {"verdict": "agree", "note": PII_NOTE}
        )
        answer = client.post(
            f"/v1/scores/{scored[case_id]['score_id']}/review", json=body, headers=auth(keys[role])
        )
        assert answer.status_code == 201, answer.text
    return scored


def summary(client, keys, **params) -> dict:
    response = client.get("/v1/overrides/summary", params=params, headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_summary_counts_agreement_alerts_and_overrides_proved_right(client, keys, reviewed):
    found = summary(client, keys)
    assert len(reviewed["C-2"]["route"]["teams"]) > 1  # so that dropping one lowers it
    assert (found["overall"]["reviews"], found["overall"]["agreed"]) == (3, 1)
    assert [
        (r["group"], r["reviews"], r["agreed"], r["raised"], r["lowered"])
        for r in found["by_analyst"]
    ] == [
        (keys["analyst_id"], 2, 0, 1, 1),
        (keys["admin_id"], 1, 1, 0, 0),
    ]
    # the admin agreed with everything they reviewed: with min_reviews 1, that is automation bias
    assert [(a["kind"], a["analyst"]) for a in found["alerts"]] == [
        ("automation_bias", keys["admin_id"])
    ]
    outcomes = {o["direction"]: o for o in found["outcomes"]}
    assert {d: (o["labelled"], o["escalated"], o["proved_right"]) for d, o in outcomes.items()} == {
        "raise": (1, 1, 1),  # raised, and the assault followed
        "lower": (1, 0, 1),  # lowered, and nothing followed
    }
    assert found["data_end"].startswith("2025-05-20") and found["horizon_days"] == 180
    assert sum(r["reviews"] for r in found["by_month"]) == 3
    assert PII_NOTE not in json.dumps(found, ensure_ascii=False)

    before = summary(client, keys, as_of="2024-01-01T00:00:00+08:00")
    assert before["window"]["figures"]["reviews"] == 0 and before["alerts"] == []


def test_a_scorer_key_and_a_malformed_moment_are_refused_as_problems(client, keys, reviewed):
    refused = client.get("/v1/overrides/summary", headers=auth(keys["scorer"]))
    invalid = client.get(
        "/v1/overrides/summary", params={"as_of": "soon"}, headers=auth(keys["analyst"])
    )
    assert (refused.status_code, invalid.status_code) == (403, 422)
    assert {refused.headers["content-type"], invalid.headers["content-type"]} == {
        "application/problem+json"
    }


def test_the_export_writes_every_review_and_the_summary_without_notes_or_identities(
    reviewed, settings, tmp_path
):
    out = tmp_path / "reviews.csv"
    result = CliRunner().invoke(
        cli, ["overrides", "export", "--out", str(out), "--db", settings.db_url]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["by_direction"] == {"raise": 1, "lower": 1, "agree": 1}
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert frame[["case_id", "direction", "escalated", "proved_right"]].values.tolist() == [
        ["C-1", "raise", "True", "True"],
        ["C-2", "lower", "False", "True"],
        ["C-3", "agree", "", ""],
    ]
    assert not {"note", "household_id", "request", "name"} & set(frame.columns)

    as_json = CliRunner().invoke(
        cli, ["overrides", "export", "--format", "json", "--db", settings.db_url]
    )
    assert as_json.exit_code == 0, as_json.output
    exported = json.loads(as_json.stdout)
    assert exported["summary"]["overall"]["reviews"] == len(exported["reviews"]) == 3
    for text in (out.read_text(encoding="utf-8"), as_json.stdout):
        assert "PIIMARK" not in text and "13800001234" not in text and "H-3" not in text
