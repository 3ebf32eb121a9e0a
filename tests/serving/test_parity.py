"""One answer per case: the service and `triage score` give every case the same probability.

Every case of a generated city is scored as of its opening both ways: over HTTP (the service
reading its database, the case's description in the request, two household members named) and
in batch from the exported files.  A skew between the two paths would be a bug of one of them.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.support.service import auth
from tests.support.keys import TEST_HASHER
from tests.support.domain import SHIPPED_DOMAIN
from tests.support.second_city import write_second_city
from triage.app import create_app
from triage.batch_scoring import score_cases, scoring_points
from triage.data_contracts import validate_dataset
from triage.db import migrate
from triage.db.load import load_frames
from triage.decisions.keys import create_key
from triage.models.registry import Champions
from triage.routing import current_routing
from triage.settings import Settings
from triage.synth import generate_city
from triage.training.fit import fit_escalation, fit_tier

pytestmark = pytest.mark.slow

WRITERS = {"triage generate": generate_city, "second writer": write_second_city}


def score_request(case: pd.Series, members: list[str]) -> dict:
    """The case as an intake would send it: its own fields, as of its opening, two members named."""

    def given(value):
        return None if pd.isna(value) else value

    return {
        "case": {
            "case_id": case["case_id"],
            "opened_at": case["opened_at"].isoformat(),
            "household_id": case["household_id"],
            "counterparty_household_id": given(case["counterparty_household_id"]),
            "dispute_type": case["dispute_type"],
            "source": case["source"],
            "amount_cny": given(case["amount_cny"]),
            "parties_count": int(case["parties_count"]),
            "description": given(case["description"]),
        },
        "as_of": case["opened_at"].isoformat(),
        "persons": members[:2],
    }


@pytest.fixture(scope="module", params=list(WRITERS))
def city(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("parity") / "city"
    WRITERS[request.param](
        folder, households=1500, seed=21, start=date(2022, 1, 1), end=date(2024, 12, 31)
    )
    tables = validate_dataset(folder).valid
    domain = SHIPPED_DOMAIN
    champions = Champions(
        escalation=fit_escalation(tables, horizon_days=180, domain=domain, oracle=None).model,
        tier=fit_tier(tables, domain=domain, oracle=None).model,
        versions={"escalation": "triage-escalation/1", "tier": "triage-tier/1"},
        metrics={},
    )
    return tables, champions


def test_the_service_and_the_batch_give_every_case_the_same_probability(city, tmp_path):
    tables, champions = city
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(url)
    load_frames(url, tables)
    settings = Settings(home=tmp_path / "home", database_url=url)
    points = scoring_points(tables["cases"], None)
    batch = score_cases(
        points,
        tables,
        champions.escalation,
        current_routing(settings.routing_file, set(SHIPPED_DOMAIN.teams)),
    )
    members = tables["persons"].groupby("household_id")["person_id"].apply(list).to_dict()
    bodies = [
        score_request(case, members.get(case["household_id"], [])) for _, case in points.iterrows()
    ]
    with TestClient(create_app(settings, champions=champions)) as client:
        with client.app.state.service.sessions() as session:
            _, key = create_key(session, "scorer", "parity", hasher=TEST_HASHER)
            session.commit()
        served = {}
        for start in range(0, len(bodies), 500):
            response = client.post(
                "/v1/cases/batch-score",
                json={"cases": bodies[start : start + 500]},
                headers=auth(key),
            )
            assert response.status_code == 200, response.text
            served |= {
                r["case_id"]: r["escalation"]["probability"] for r in response.json()["results"]
            }
    over_http = np.array([served[c] for c in batch["case_id"]])
    skewed = np.flatnonzero(
        ~np.isclose(over_http, batch["escalation_probability"], rtol=0, atol=1e-9)
    )
    assert len(batch) > 500
    assert len(skewed) == 0, (
        batch.iloc[skewed][["case_id", "as_of", "escalation_probability"]]
        .assign(over_http=over_http[skewed])
        .head(10)
        .to_string()
    )
