"""Retention in tests: a policy with round periods, a city whose records straddle its cut-offs, and the
difference between two reads of the exchange tables.

As of :data:`AS_OF` (2025-06-01 00:00 UTC) the one-year rules cut at 2024-06-01 00:00 UTC and the
two-year identity rules at 2023-06-02 00:00 UTC; the city has a record a minute on each side of both.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from tests.factories import City
from tests.support.domain import domain_with
from triage.contract import TABLES

AS_OF = datetime(2025, 6, 1, tzinfo=timezone.utc)
POLICY: dict = {
    "placeholders": False,
    "rules": [
        {"table": "screenings", "data": "health", "action": "delete", "days": 365},
        {"table": "psych_assessments", "data": "health", "action": "delete", "days": 365},
        {
            "table": "persons",
            "data": "identity",
            "action": "mask",
            "columns": ["name", "id_number", "phone"],
            "days": 730,
        },
        {
            "table": "persons",
            "data": "registers",
            "action": "mask",
            "columns": ["alcohol_problem", "mental_health_registry"],
            "days": 730,
        },
        {
            "table": "hotline_calls",
            "data": "call_text",
            "action": "mask",
            "columns": ["text"],
            "days": 365,
        },
        {
            "table": "cases",
            "data": "free_text",
            "action": "mask",
            "columns": ["description"],
            "days": 365,
        },
        {
            "table": "mediation_events",
            "data": "free_text",
            "action": "mask",
            "columns": ["note"],
            "days": 365,
        },
        {"table": "decisions", "data": "raw_values", "action": "mask", "days": 365},
    ],
}
#: Every personal or free-text value of the city: none may appear in a report or an audit entry.
MARKERS = (
    "王五",
    "110101199001010011",
    "13900000001",
    "赵六",
    "13900000002",
    "孙七",
    "周八",
    "吴九",
    "旧来电",
    "界来电",
    "新来电",
    "旧案情",
    "开放案情",
    "新案情",
    "旧调解",
    "新调解",
)


def retention_city() -> City:
    """Households whose last records fall on either side of the cut-offs (times in UTC)."""
    return (
        City()
        # Nothing of this household since a minute before the identity cut-off: its person is masked.
        .household("H-gone", registered_at="2019-01-01T00:00:00Z")
        .person(
            "P-gone",
            name="王五",
            id_number="110101199001010011",
            phone="13900000001",
            alcohol_problem=True,
        )
        .call("H-gone", "2020-01-01T00:00:00Z", call_id="K-notext")
        .call("H-gone", "2022-05-01T00:00:00Z", text="旧来电", call_id="K-old")
        .call("H-gone", "2023-06-01T23:59:00Z", text="界来电", call_id="K-edge-identity")
        .case(
            "C-gone",
            "H-gone",
            "2022-03-01T00:00:00Z",
            description="旧案情",
            status="mediated",
            closed_at="2022-04-01T00:00:00Z",
        )
        .mediation("C-gone", "2022-03-15T00:00:00Z", note="旧调解")
        .screening("P-gone", "2022-01-01T00:00:00Z", score=21, item9=2)
        .assessment("P-gone", "2022-02-01T00:00:00Z", "red", assessment_id="A-old")
        # A call a minute after the identity cut-off keeps its person.  A screening as recent keeps no
        # one: it is past its own (health) period, and a record that goes keeps nothing.
        .household("H-recent", registered_at="2019-01-01T00:00:00Z")
        .person("P-recent", name="赵六", phone="13900000002", mental_health_registry=True)
        .call(None, "2023-06-02T00:01:00Z", person_id="P-recent", call_id="K-person")
        .person("P-screened", name="吴九")
        .screening("P-screened", "2023-06-02T00:01:00Z", score=5)
        # A case opened long ago and still open keeps its household's persons.
        .household("H-open", registered_at="2019-01-01T00:00:00Z")
        .person("P-open", name="孙七")
        .case("C-open", "H-open", "2020-01-01T00:00:00Z", description="开放案情")
        # Recent household records keep a member who has none of their own.
        .household("H-now", registered_at="2019-01-01T00:00:00Z")
        .person("P-now", name="周八")
        .person("P-quiet", name="周八")
        .call("H-now", "2024-05-31T23:59:00Z", text="界来电", call_id="K-edge")
        .call("H-now", "2024-06-01T00:01:00Z", text="新来电", call_id="K-new")
        .screening("P-now", "2024-05-31T23:59:00Z", score=9)
        .screening("P-now", "2024-06-01T00:01:00Z", score=12)
        .assessment("P-now", "2025-01-01T00:00:00Z", "yellow", assessment_id="A-new")
        .case("C-now", "H-now", "2025-01-01T00:00:00Z", description="新案情")
        .mediation("C-now", "2025-01-10T00:00:00Z", note="新调解")
    )


#: What the policy does to the city as of AS_OF: rows deleted and cells emptied, by table and key.
EXPECTED = {
    "screenings": {"deleted": {"S2", "S3", "S4"}, "masked": set()},
    "psych_assessments": {"deleted": {"A-old"}, "masked": set()},
    "persons": {
        "deleted": set(),
        "masked": {("P-gone", c) for c in ("name", "id_number", "phone", "alcohol_problem")}
        | {("P-screened", "name")},
    },
    "hotline_calls": {
        "deleted": set(),
        "masked": {("K-old", "text"), ("K-edge-identity", "text"), ("K-edge", "text")},
    },
    "cases": {"deleted": set(), "masked": {("C-gone", "description"), ("C-open", "description")}},
    "mediation_events": {"deleted": set(), "masked": {("M1", "note")}},
}
#: The counts each rule reports for the city, in the order the report lists them (persons first).
EXPECTED_COUNTS = [
    ("persons", "identity", 2),
    ("persons", "registers", 1),
    ("screenings", "health", 3),
    ("psych_assessments", "health", 1),
    ("hotline_calls", "call_text", 3),
    ("cases", "free_text", 2),
    ("mediation_events", "free_text", 1),
    ("decisions", "raw_values", 0),
]


def table_changes(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> dict:
    """Per table: the keys of rows gone, and the (key, column) cells that held a value and now hold none.
    Any other difference (a row added, a value changed) fails the test here."""
    out = {}
    for table, old in before.items():
        key = TABLES[table].key
        old, new = old.set_index(key), after[table].set_index(key)
        assert set(new.index) <= set(old.index), f"{table}: rows appeared"
        deleted = set(old.index) - set(new.index)
        masked = set()
        for k in new.index:
            for c in new.columns:
                was, now = old.at[k, c], new.at[k, c]
                if pd.isna(now):
                    if not pd.isna(was):
                        masked.add((k, c))
                else:
                    assert not pd.isna(was) and was == now, f"{table}.{c} of {k} changed"
        out[table] = {"deleted": deleted, "masked": masked}
    return out


def domain_with_retention(folder: Path, policy: dict = POLICY) -> Path:
    """The shipped ``domain.yaml`` with another ``retention`` section, written to ``folder``."""
    return domain_with(folder, retention=policy)
