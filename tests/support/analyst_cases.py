"""The seven cases the workbench tests score, rows that follow them, and what a page must not show."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.service import auth, case_request, ingest, small_city
from triage.db import migrate
from triage.db.load import load_frames

#: The decisions every workbench test starts from: (case id, household, counterparty, dispute type, persons, text).
CASES = [
    (
        "C-101",
        "H-1",
        "H-2",
        "marriage_family",
        ["P-1-1", "P-1-2"],
        "夫妻因财产分割争吵，男方酒后扬言动手",
    ),
    ("C-102", "H-3", "H-4", "neighbor", ["P-3-1"], "邻里因排水沟堵塞多次争执"),
    ("C-103", "H-4", None, "wage_arrears", ["P-4-1"], "工地拖欠工资三个月，讨薪未果"),
    ("C-104", "H-2", "H-1", "property_management", ["P-2-1"], "物业费纠纷，业主拒缴"),
    ("C-105", "H-3", None, "land_transfer", [], "土地流转合同到期后租金争议"),
    ("C-106", "H-1", "H-3", "neighbor", ["P-1-1"], "两户因宅基地边界争吵，对方曾报警"),
    ("C-107", "H-99", None, "medical", ["P-99-1"], "患者家属对手术结果不满，联系电话13800001234"),
]


#: Three threatening calls about household H-2 after the cases were scored: its open case C-104 is re-scored
#: into a higher band.
THREAT_CALLS = [
    {
        "call_id": f"K-{day}",
        "received_at": f"2025-06-0{day}T08:00:00+08:00",
        "channel": "110",
        "household_id": "H-2",
        "category": "neighbor",
        "text": "对方扬言要拿刀砍死我们全家",
    }
    for day in (2, 3, 4)
]


def batch_body() -> dict:
    """The seven cases as one batch-score request (one history read, one model call)."""
    return {
        "cases": [
            case_request(
                case_id,
                household,
                counterparty=counterparty,
                dispute_type=dispute_type,
                persons=persons,
                description=text,
            )
            for case_id, household, counterparty, dispute_type, persons, text in CASES
        ]
    }


def score_ids(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {r["case_id"]: r["score_id"] for r in response.json()["results"]}


#: Case C-0 of H-1 (opened in January 2025) as scored on 1 May 2025.
C0_REQUEST = case_request(
    "C-0", "H-1", as_of="2025-05-01T10:00:00+08:00", opened_at="2025-01-05T09:00:00"
)
#: Its mediation of 10 May 2025, which ends in an agreement.
C0_AGREEMENT = {
    "event_id": "E-8",
    "case_id": "C-0",
    "at": "2025-05-10T10:00:00+08:00",
    "level": "village",
    "outcome": "agreement",
}


def mediated_case(client, keys: dict[str, str]) -> str:
    """Case C-0 of H-1 scored, then mediated to an agreement in May 2025: its 7-, 30- and 90-day visits
    are all missed by now. Returns the score id."""
    scored = client.post("/v1/cases/score", headers=auth(keys["scorer"]), json=C0_REQUEST)
    ingest(client, keys, "mediation_events", [C0_AGREEMENT])
    return scored.json()["score_id"]


#: Codes a page may hold only in its markup: fairness groups and roles.
CODES = ("han", "minority", "unrecorded", "gap", "analyst", "admin")


def raw_identifiers(text: str, lang: str) -> list[str]:
    """What a page's visible ``text`` shows that a reader should not meet, each with a little context:
    codes (metric keys, feature names), backticks, counts as 319.0000, modelling notes in factor labels,
    and the other language's punctuation (、（）： on an English page, an ASCII colon after Chinese)."""
    found = re.findall(r".{0,60}\b[a-z]+_[a-z0-9_]+\b", text)
    found += re.findall(r".{0,40}(?:`|\d\.0000|未登记为缺失|missing when never recorded)", text)
    found += re.findall(r".{0,40}[、（）：]" if lang == "en" else r".{0,40}[\u4e00-\u9fff]:", text)
    return found


def city_db(folder: Path) -> str:
    url = f"sqlite:///{folder / 'triage.db'}"
    migrate(url)
    load_frames(url, small_city().tables())
    return url
