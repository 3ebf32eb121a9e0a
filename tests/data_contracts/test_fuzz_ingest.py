"""Hostile bodies for ``POST /v1/ingest/{table}``: a 4xx problem or every row accounted for, on SQLite and PostgreSQL.

Rows are drawn with every JSON value a client could put in a cell (huge and negative numbers,
floats, booleans, nulls, formula text, NUL characters, lists and objects, very long text);
bodies are nested tens of thousands of levels deep.  The answer is either a documented
problem (400 not JSON, 422 not readable as the table) or a 200 where each row received is
stored or quarantined with its rule, and the database holds exactly the rows stored.
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from sqlalchemy import text

from tests.support.service import train_champions
from tests.support.keys import TEST_HASHER
from triage.contract import RULES, TABLES
from triage.app import create_app
from triage.decisions.keys import create_key
from triage.settings import Settings

PROBLEM = "application/problem+json"
HOUSEHOLD = {
    "household_id": "H-1",
    "district": "江城区",
    "street": "东湖街道",
    "grid_id": "g-07",
    "area_type": "urban",
    "size": 3,
    "low_income": False,
    "registered_at": "2020-01-01T08:00:00+08:00",
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-5, 40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "=cmd|' /C calc'!A0",
            "@SUM(1)",
            "+1",
            "-1",
            "a\x00b",
            "urban",
            "rural",
            "true",
            "1e3",
            "2024-02-30T00:00:00",
            "2024-03-05 14:20",
            " H-1",
            "x" * 4001,
        ]
    ),
)
cells = st.one_of(
    scalars,
    scalars,
    scalars,
    st.lists(scalars, max_size=2),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)


@st.composite
def household_rows(draw) -> list[dict]:
    """Good households with some cells replaced, some columns dropped and some added."""
    rows = []
    for i in range(draw(st.integers(1, 6))):
        row = dict(HOUSEHOLD, household_id=f"H-{i}")
        for column in draw(st.sets(st.sampled_from(TABLES["households"].column_names), max_size=3)):
            if draw(st.booleans()):
                row[column] = draw(cells)
            else:
                del row[column]
        row.update(draw(st.dictionaries(st.sampled_from(["note", "=x", ""]), cells, max_size=1)))
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def ingest_champions():
    return train_champions()


@pytest.fixture
def ingest(db_url, tmp_path, ingest_champions):
    """A function posting JSON (or raw bytes) to the ingest route as a scorer, on ``db_url``."""
    app = create_app(
        Settings(home=tmp_path / "home", database_url=db_url), champions=ingest_champions
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        with app.state.service.sessions() as session:
            _, key = create_key(session, "scorer", "fuzz", hasher=TEST_HASHER)
            session.commit()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def post(table: str, *, json=None, content: bytes | None = None):
            return client.post(f"/v1/ingest/{table}", json=json, content=content, headers=headers)

        post.engine = app.state.service.engine
        yield post


def stored_households(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM households")).scalar_one()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=household_rows())
def test_every_row_is_stored_or_quarantined_or_the_call_is_a_problem(ingest, rows):
    before = stored_households(ingest.engine)
    response = ingest("households", json={"rows": rows})
    after = stored_households(ingest.engine)
    if response.status_code == 422:
        assert response.headers["content-type"] == PROBLEM and response.json()["detail"]
        assert after == before  # nothing half-stored
        event("422 for the whole call")
        return
    assert response.status_code == 200, response.text
    result = response.json()
    counts = result["stored"]
    assert result["received"] == len(rows)
    assert counts["inserted"] + counts["updated"] + counts["unchanged"] + len(
        result["quarantined"]
    ) == len(rows)
    assert {q["rule"] for q in result["quarantined"]} <= set(RULES)
    assert after == before + counts["inserted"]
    event("200, rows stored or quarantined")


@pytest.mark.parametrize("depth", [1_000, 100_000, 2_000_000])
@pytest.mark.parametrize("shape", ["list", "object"])
def test_a_deeply_nested_body_is_a_400_or_422_problem(ingest, depth, shape):
    opened, closed = ("[", "]") if shape == "list" else ('{"a":', "}")
    body = ('{"rows": [{"household_id": ' + opened * depth + "1" + closed * depth + "}]}").encode()
    response = ingest("households", content=body)
    assert response.status_code in (400, 422), response.text[:200]
    assert (
        response.headers["content-type"] == PROBLEM
        and response.json()["instance"] == "/v1/ingest/households"
    )
