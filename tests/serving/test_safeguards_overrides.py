"""Overrides teach: exported for evaluation (no identities, no notes), and a new model's agreement
with them is measured on the overridden cases."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.support.service import auth, case_request, small_city
from tests.support.keys import TEST_HASHER
from triage.cli import app as cli
from triage.decisions.keys import create_key
from triage.training.overrides import override_agreement, read_overrides


@pytest.fixture
def overridden(client, keys) -> dict:
    """H-1's case raised by one analyst, lowered below its rules by another and confirmed by a third key."""
    scored = client.post(
        "/v1/cases/score", json=case_request("C-1", "H-1"), headers=auth(keys["scorer"])
    ).json()
    score_id, route = scored["score_id"], scored["route"]
    extra = next(
        t for t in ("guardianship_group", "care_group", "psych_outreach") if t not in route["teams"]
    )
    client.post(
        f"/v1/scores/{score_id}/review", json={"verdict": "agree"}, headers=auth(keys["analyst"])
    )
    client.post(
        f"/v1/scores/{score_id}/review",
        headers=auth(keys["analyst"]),
        json={"verdict": "override", "teams": [*route["teams"], extra], "note": "加派"},
    )
    lowered = client.post(
        f"/v1/scores/{score_id}/review",
        headers=auth(keys["admin"]),
        json={"verdict": "override", "teams": ["family_mediation"], "note": "已和解"},
    ).json()
    with client.app.state.service.sessions() as session:
        _, second = create_key(session, "analyst", "second analyst", hasher=TEST_HASHER)
        session.commit()
    client.post(
        f"/v1/scores/{score_id}/reviews/{lowered['id']}/confirm", json={}, headers=auth(second)
    )
    return scored


def test_overrides_are_exported_with_their_direction_and_status_but_no_note_or_request(
    overridden, settings, tmp_path
):
    out = tmp_path / "overrides.csv"
    result = CliRunner().invoke(
        cli, ["overrides", "export", "--out", str(out), "--db", settings.db_url]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["by_direction"] == {
        "agree": 1,
        "raise": 1,
        "lower": 1,
    }

    frame = pd.read_csv(out)
    overrides = frame[frame["verdict"] == "override"]
    assert list(overrides[["direction", "status"]].itertuples(index=False, name=None)) == [
        ("raise", "final"),
        ("lower", "confirmed"),
    ]
    assert not {"note", "request", "household_id"} & set(frame.columns)
    text = out.read_text(encoding="utf-8")
    assert "夫妻因财产分割" not in text and "加派" not in text  # no case text, no note


def test_the_same_model_on_the_same_history_sides_with_no_override(overridden, settings, champions):
    report = override_agreement(
        champions.escalation, small_city().tables(), read_overrides(settings.db_url)
    )
    assert report == {
        "overrides": 2,
        "judged": 2,
        "agreed": 0,
        "agreement": 0.0,
        "by_direction": {"raise": {"judged": 1, "agreed": 0}, "lower": {"judged": 1, "agreed": 0}},
    }


def test_no_overrides_and_no_database_are_reported_as_none(settings, champions, tmp_path):
    for url in (settings.db_url, f"sqlite:///{tmp_path / 'never-created.db'}"):
        report = override_agreement(
            champions.escalation, small_city().tables(), read_overrides(url)
        )
        assert (report["overrides"], report["agreement"]) == (0, None)
    assert not (tmp_path / "never-created.db").exists()
