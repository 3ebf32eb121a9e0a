"""Route facts on small histories: each row counted once, missing texts harmless, point in time."""

import numpy as np
import pandas as pd

from tests.factories import City
from triage.features import point_columns
from triage.features.history import History
from triage.features.facts import (
    CASE_COLUMNS,
    OPTIONAL_CASE_COLUMNS,
    route_fact_records,
    route_facts,
)


def _cases(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "case_id": c,
                "household_id": h,
                "counterparty_household_id": cp,
                "as_of": t,
                "parties_count": 2,
                "amount_cny": None,
                "description": d,
            }
            for c, h, cp, t, d in rows
        ]
    )
    frame["as_of"] = (
        pd.to_datetime(frame["as_of"]).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    )
    return frame


NO_ONE = pd.DataFrame({"row": pd.Series(dtype="int64"), "person_id": pd.Series(dtype="string")})


def test_a_call_without_text_names_no_weapon():
    tables = (
        City()
        .household("H-1")
        .household("H-2")
        .call("H-1", "2025-05-20T10:00:00", text=None)
        .tables()
    )
    facts = route_facts(_cases(("C-9", "H-1", None, "2025-06-01", None)), NO_ONE, tables, ["刀"])
    assert facts.loc[0, "weapon_mentions_30d"] == 0


def test_a_case_between_both_households_counts_once_and_never_itself():
    tables = (
        City()
        .household("H-1")
        .household("H-2")
        .case("C-0", "H-1", "2025-03-01", counterparty="H-2")
        .mediation("C-0", "2025-03-10", outcome="no_agreement")
        .case("C-1", "H-2", "2025-05-01", counterparty="H-1")
        .mediation("C-1", "2025-05-10", outcome="party_absent")
        .tables()
    )
    cases = _cases(
        ("C-1", "H-1", "H-2", "2025-06-01", "他说要拿刀"), ("C-2", "H-2", "H-1", "2025-04-01", None)
    )
    facts = route_facts(cases, NO_ONE, History(tables), ["刀"])
    assert facts["prior_cases_12m"].tolist() == [1.0, 1.0]  # C-0 only (C-1 is itself / later)
    assert facts["failed_mediations_12m"].tolist() == [1.0, 1.0]
    assert facts["weapon_mentions_30d"].tolist() == [1.0, 0.0]  # the description of C-1


def test_named_and_member_persons_count_once():
    tables = (
        City()
        .household("H-1")
        .person("P-1", alcohol_problem=True)
        .household("H-2")
        .screening("P-1", "2025-05-01", score=20, item9=2)
        .tables()
    )
    named = pd.DataFrame({"row": [0, 1], "person_id": ["P-1", "P-1"]})
    facts = route_facts(
        _cases(("C-1", "H-1", None, "2025-06-01", None), ("C-2", "H-2", None, "2025-04-01", None)),
        named,
        tables,
        [],
    )
    assert facts["alcohol_problem_persons"].tolist() == [1.0, 1.0]
    assert facts["max_item9_90d"].tolist() == [2.0, -1.0]  # not yet screened as of April


def test_records_are_the_frame_rows():
    tables = (
        City()
        .household("H-1")
        .household("H-2")
        .case("C-0", "H-1", "2025-03-01", counterparty="H-2")
        .call("H-2", "2025-05-20T10:00:00", text="他说要拿刀")
        .tables()
    )
    cases = _cases(
        ("C-1", "H-1", "H-2", "2025-06-01", "他说要拿刀"), ("C-2", "H-2", None, "2025-04-01", None)
    )
    named = pd.DataFrame({"row": [0], "person_id": ["P-9"]})
    columns = point_columns(cases, CASE_COLUMNS, OPTIONAL_CASE_COLUMNS)
    records = route_fact_records(
        columns, np.array([0]), np.array(["P-9"], dtype=object), History(tables), ["刀"]
    )
    assert records == route_facts(cases, named, History(tables), ["刀"]).to_dict("records")
