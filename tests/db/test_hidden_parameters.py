"""A failed write of ``persons`` (names, identity numbers, phones) raises an error that does not quote
the row: SQLAlchemy's part of the message hides the bound parameters on every engine.  What the
driver adds (PostgreSQL repeats the failing row in its detail) is never printed: the service and the
command line describe database errors by class, SQLSTATE and constraint only (test_cli_errors.py,
tests/serving/test_ingest_api.py)."""

import pytest
from sqlalchemy.exc import DBAPIError

from tests.db.test_cli_load import PII_OF_THE_TINY_CITY
from tests.support.refusing import persons_refused
from triage.db import load_frames
from triage.db.engine import describe_error


def test_a_failed_persons_write_hides_its_parameters(db_url, tiny_city):
    with persons_refused(db_url), pytest.raises(DBAPIError) as failed:
        load_frames(db_url, tiny_city)
    error = failed.value
    assert error.hide_parameters
    own_text = str(error).replace(str(error.orig), "")
    assert "refuse_all" in describe_error(error) or "persons refused" in describe_error(error)
    for pii in PII_OF_THE_TINY_CITY:
        assert pii not in own_text and pii not in describe_error(error)
