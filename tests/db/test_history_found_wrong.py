"""Rows found wrong are left out of the history scores are computed from, and only those."""

from sqlalchemy.orm import Session

from tests.support.keys import make_keys
from triage.db import engine_for, load_frames, read_tables
from triage.db.history import read_history
from triage.decisions import record_disputes
from triage.decisions.types import DisputeDecisionIn, DisputeIn


def _dispute(url: str, key_id: str, table: str, record_id: str, status: str | None) -> None:
    with Session(engine_for(url)) as session:
        registered = record_disputes.register(
            session, table, record_id, DisputeIn(reason="wrong_household", note="n"), key_id
        )
        if status is not None:
            record_disputes.decide(session, registered.id, DisputeDecisionIn(status=status), key_id)
        session.commit()


def test_rows_found_wrong_leave_the_history_and_a_case_takes_its_mediations(db_url, tiny_city):
    load_frames(db_url, tiny_city)
    key = make_keys(db_url)["analyst_id"]
    _dispute(db_url, key, "cases", "K1", "found_wrong")
    _dispute(db_url, key, "hotline_calls", "CL1", "found_wrong")
    _dispute(db_url, key, "hotline_calls", "CL2", None)  # disputed, not decided: still counts
    _dispute(db_url, key, "incidents", "I1", "upheld")

    history = read_history(db_url, household_ids=["H1", "H2"])

    assert set(history["hotline_calls"]["call_id"]) == {"CL2", "CL4"}
    assert "K1" not in set(history["cases"]["case_id"])
    assert not {"E1", "E2"} & set(history["mediation_events"]["event_id"])
    assert "I1" in set(history["incidents"]["incident_id"])
    kept = read_tables(db_url, household_ids=["H1", "H2"])  # the workbench shows them, marked
    assert {"CL1", "CL2"} <= set(kept["hotline_calls"]["call_id"])
    assert "K1" in set(kept["cases"]["case_id"])
