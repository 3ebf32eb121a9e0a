"""``triage generate`` with injected bad rows, then validation: exactly those rows are quarantined."""

from __future__ import annotations

from datetime import date

import pandas as pd

from tests.support.cities import generated_city
from triage.data_contracts import validate_dataset


def test_validation_quarantines_exactly_the_rows_the_generator_broke(tmp_path):
    generated_city(
        tmp_path / "city",
        "tiny",
        seed=3,
        start=date(2023, 1, 1),
        end=date(2024, 6, 30),
        bad_row_share=0.03,
    )
    expected = pd.read_csv(
        tmp_path / "city" / "_expected" / "bad_rows.csv",
        dtype={"table": "str", "row_number": "int64", "rule": "str"},
    )

    result = validate_dataset(tmp_path / "city")

    quarantined = pd.concat(
        [
            rows[["row_number", "rule"]].assign(table=table)
            for table, rows in result.quarantine.items()
        ]
    )
    key = ["table", "row_number", "rule"]
    assert len(expected) > 50
    assert sorted(
        map(tuple, quarantined[key].astype({"row_number": "int64"}).values.tolist())
    ) == sorted(map(tuple, expected[key].values.tolist()))
