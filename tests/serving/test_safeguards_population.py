"""Out-of-population warnings through the API: an unusual case is still scored, and says why it is unusual."""

import pytest

from tests.support.service import auth, case_request, score, without_medical_in_population

OUTSIDE = "outside the training population"
#: H-1 and H-2 have disputed before (C-0); no two households of the champions' random training city
#: ever did, so a case between them is rightly out of population.  H-4 has never met H-1.
FIRST_MEETING = "H-4"


@pytest.fixture(scope="module")
def champions(champions):
    """The service's test champions, their population without medical disputes."""
    return without_medical_in_population(champions)


def test_a_case_like_the_training_cases_carries_no_population_warning(client, keys):
    scored = score(client, keys, case_request(counterparty=FIRST_MEETING, dispute_type="neighbor"))
    assert [w for w in scored["warnings"] if OUTSIDE in w or "no recorded history" in w] == []


def test_a_dispute_type_the_model_never_saw_is_scored_with_a_warning(client, keys):
    scored = score(client, keys, case_request(counterparty=FIRST_MEETING, dispute_type="medical"))
    assert 0 < scored["escalation"]["probability"] < 1
    assert [w for w in scored["warnings"] if OUTSIDE in w] == [
        f"{OUTSIDE}: 本案纠纷类型 (case_dispute_type) 'medical' never occurred in the training cases; "
        "lean on your own judgement"
    ]
    stored = client.get(f"/v1/scores/{scored['score_id']}", headers=auth(keys["analyst"])).json()
    assert stored["warnings"] == scored["warnings"]


def test_values_far_beyond_the_training_range_are_named(client, keys):
    scored = score(
        client, keys, case_request(dispute_type="neighbor", amount_cny=1e12, parties_count=5000)
    )
    (far,) = [w for w in scored["warnings"] if "far beyond the training range" in w]
    assert "(case_parties) = 5000" in far and "(case_log_amount) = 27.6" in far


def test_a_household_from_a_new_district_without_history_is_named_twice(client, keys):
    households = [
        {
            "household_id": "H-new",
            "district": "高新区",
            "street": "创业街道",
            "grid_id": "G9",
            "area_type": "urban",
            "size": 2,
            "low_income": False,
            "registered_at": "2025-05-01T00:00:00+08:00",
        }
    ]
    ingested = client.post(
        "/v1/ingest/households", json={"rows": households}, headers=auth(keys["scorer"])
    )
    assert ingested.json()["stored"]["inserted"] == 1
    scored = score(
        client,
        keys,
        case_request(household="H-new", counterparty=None, persons=[], dispute_type="neighbor"),
    )
    assert (
        f"{OUTSIDE}: district '高新区' never occurred in the training cases; lean on your own judgement"
        in scored["warnings"]
    )
    assert any(w.startswith("no recorded history for this household") for w in scored["warnings"])
    assert not any(w.startswith("unknown household") for w in scored["warnings"])
