"""A tiny city as exchange rows (text, as a file holds them), and writing rows as CSV."""

from __future__ import annotations

import csv
import io

Rows = dict[str, list[dict[str, str]]]


TINY_CITY: Rows = {
    "households": [
        {
            "household_id": "hh-north-01",
            "district": "江城区",
            "street": "东湖街道",
            "grid_id": "g-07",
            "area_type": "urban",
            "size": "3",
            "low_income": "false",
            "registered_at": "2019-05-01T09:00:00+08:00",
        },
        {
            "household_id": "hh-north-02",
            "district": "江城区",
            "street": "东湖街道",
            "grid_id": "g-07",
            "area_type": "urban",
            "size": "5",
            "low_income": "true",
            "registered_at": "2020-11-12T16:30:00+08:00",
        },
        {
            "household_id": "hh-south-01",
            "district": "临水县",
            "street": "青石镇",
            "grid_id": "g-31",
            "area_type": "rural",
            "size": "1",
            "low_income": "false",
            "registered_at": "2021-02-03T00:00:00Z",
        },
    ],
    "persons": [
        {
            "person_id": "p-0001",
            "household_id": "hh-north-01",
            "sex": "female",
            "birth_year": "1978",
            "employment": "employed",
            "returned_migrant": "false",
            "alcohol_problem": "false",
            "prior_conviction": "false",
            "mental_health_registry": "false",
            "ethnicity": "han",
            "name": "李秀英",
            "id_number": "420102197803150027",
            "phone": "13800000001",
        },
        {
            "person_id": "p-0002",
            "household_id": "hh-north-01",
            "sex": "male",
            "birth_year": "1975",
            "employment": "migrant_worker",
            "returned_migrant": "true",
            "alcohol_problem": "true",
            "prior_conviction": "false",
            "mental_health_registry": "false",
            "ethnicity": "han",
            "name": "王建国",
            "id_number": "420102197501020019",
            "phone": "13800000002",
        },
        {
            "person_id": "p-0003",
            "household_id": "hh-north-02",
            "sex": "male",
            "birth_year": "2008",
            "employment": "student",
            "returned_migrant": "",
            "alcohol_problem": "",
            "prior_conviction": "",
            "mental_health_registry": "",
            "ethnicity": "minority",
            "name": "",
            "id_number": "",
            "phone": "",
        },
        {
            "person_id": "p-0004",
            "household_id": "hh-south-01",
            "sex": "female",
            "birth_year": "1950",
            "employment": "",
            "returned_migrant": "false",
            "alcohol_problem": "false",
            "prior_conviction": "true",
            "mental_health_registry": "true",
            "ethnicity": "",
            "name": "赵桂兰",
            "id_number": "",
            "phone": "13900000004",
        },
    ],
    "hotline_calls": [
        {
            "call_id": "call-9001",
            "received_at": "2024-03-01T21:15:00+08:00",
            "channel": "12345",
            "household_id": "hh-north-01",
            "person_id": "p-0001",
            "category": "marriage_family",
            "text": "来电人称丈夫酒后吵闹,扬言要动手。",
        },
        {
            "call_id": "call-9002",
            "received_at": "2024-03-02T08:00:00+08:00",
            "channel": "grid_report",
            "household_id": "hh-south-01",
            "person_id": "",
            "category": "land_transfer",
            "text": "网格员报告:土地流转款未付,双方争执。",
        },
        {
            "call_id": "call-9003",
            "received_at": "2024-03-03T10:10:00+08:00",
            "channel": "110",
            "household_id": "",
            "person_id": "",
            "category": "public_order",
            "text": "",
        },
    ],
    "cases": [
        {
            "case_id": "case-501",
            "opened_at": "2024-03-04T10:00:00+08:00",
            "household_id": "hh-north-01",
            "counterparty_household_id": "",
            "dispute_type": "marriage_family",
            "source": "hotline",
            "amount_cny": "",
            "parties_count": "2",
            "description": "夫妻矛盾,多次报警。",
            "status": "open",
            "closed_at": "",
        },
        {
            "case_id": "case-502",
            "opened_at": "2024-03-05T14:20:00+08:00",
            "household_id": "hh-south-01",
            "counterparty_household_id": "hh-north-02",
            "dispute_type": "land_transfer",
            "source": "grid_patrol",
            "amount_cny": "35000.50",
            "parties_count": "2",
            "description": "土地流转纠纷。",
            "status": "mediated",
            "closed_at": "2024-04-01T11:00:00+08:00",
        },
        {
            "case_id": "case-503",
            "opened_at": "2024-05-20T09:00:00+08:00",
            "household_id": "hh-north-02",
            "counterparty_household_id": "",
            "dispute_type": "wage_arrears",
            "source": "walk_in",
            "amount_cny": "120000",
            "parties_count": "240",
            "description": "",
            "status": "referred",
            "closed_at": "2024-05-20T09:00:00+08:00",
        },
    ],
    "mediation_events": [
        {
            "event_id": "ev-1",
            "case_id": "case-501",
            "at": "2024-03-04T10:00:00+08:00",
            "level": "village",
            "outcome": "no_agreement",
            "note": "双方情绪激动。",
        },
        {
            "event_id": "ev-2",
            "case_id": "case-501",
            "at": "2024-03-11T15:00:00+08:00",
            "level": "township",
            "outcome": "party_absent",
            "note": "",
        },
        {
            "event_id": "ev-3",
            "case_id": "case-502",
            "at": "2024-03-20T09:30:00+08:00",
            "level": "village",
            "outcome": "agreement",
            "note": "达成协议。",
        },
    ],
    "screenings": [
        {
            "screening_id": "scr-1",
            "person_id": "p-0001",
            "at": "2024-03-06T10:00:00+08:00",
            "instrument": "phq9",
            "score": "17",
            "item9": "2",
        },
        {
            "screening_id": "scr-2",
            "person_id": "p-0001",
            "at": "2024-03-06T10:20:00+08:00",
            "instrument": "gad7",
            "score": "21",
            "item9": "",
        },
        {
            "screening_id": "scr-3",
            "person_id": "p-0004",
            "at": "2024-04-01T10:00:00+08:00",
            "instrument": "phq9",
            "score": "0",
            "item9": "0",
        },
    ],
    "psych_assessments": [
        {
            "assessment_id": "as-1",
            "person_id": "p-0001",
            "at": "2024-03-08T14:00:00+08:00",
            "tier": "red",
        },
        {
            "assessment_id": "as-2",
            "person_id": "p-0004",
            "at": "2024-04-02T14:00:00+08:00",
            "tier": "green",
        },
    ],
    "incidents": [
        {
            "incident_id": "inc-1",
            "occurred_at": "2024-03-09T23:40:00+08:00",
            "household_id": "hh-north-01",
            "person_id": "p-0002",
            "offence": "assault",
            "case_id": "case-501",
        },
        {
            "incident_id": "inc-2",
            "occurred_at": "2024-06-01T02:00:00+08:00",
            "household_id": "hh-north-02",
            "person_id": "",
            "offence": "property_damage",
            "case_id": "",
        },
    ],
}


def rows_as_csv(
    rows: list[dict[str, str]], columns: list[str], *, bom: bool = False, line_end: str = "\n"
) -> bytes:
    """RFC 4180 text of ``rows`` in the column order given."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=columns, lineterminator=line_end, extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")
