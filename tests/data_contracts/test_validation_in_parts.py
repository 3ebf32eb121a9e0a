"""A large table is validated a part of its rows at a time, with the same verdict as whole."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.cities import generated_city
from triage.data_contracts import validate_dataset, validation


@pytest.fixture(scope="module")
def city_with_bad_rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad-rows")
    generated_city(out, "tiny", seed=4, bad_row_share=0.02)
    return out


def test_parts_give_the_whole_tables_verdict(city_with_bad_rows, monkeypatch):
    whole = validate_dataset(city_with_bad_rows)
    monkeypatch.setattr(validation, "ROWS_PER_PART", 97)
    in_parts = validate_dataset(city_with_bad_rows)

    assert len(whole.valid["hotline_calls"]) > 10 * 97
    assert {"duplicate_id", "unknown_reference", "bad_timestamp"} <= set(whole.summary["by_rule"])
    assert in_parts.summary == whole.summary
    for table, frame in whole.valid.items():
        pd.testing.assert_frame_equal(in_parts.valid[table], frame)
        pd.testing.assert_frame_equal(in_parts.quarantine[table], whole.quarantine[table])
