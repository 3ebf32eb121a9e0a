"""Out-of-population warnings: a case unlike the training cases is named as such, a familiar one is not."""

import numpy as np
import pandas as pd
import pytest

from tests.support.domain import SHIPPED_DOMAIN
from triage.models.population import PopulationProfile, population_warnings

LABELS = {"threat_calls": {"zh": "威胁来电", "en": "threat calls"}}
CFG = SHIPPED_DOMAIN.population.model_copy(
    update={"history_features": ["threat_calls", "prior_cases"]}
)


@pytest.fixture(scope="module")
def profile() -> PopulationProfile:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "threat_calls": rng.poisson(0.5, 2000).astype(float),
            "prior_cases": rng.poisson(1.0, 2000).astype(float),
            "dispute_type": pd.Categorical(
                rng.choice(["neighbor", "commercial"], 2000),
                categories=["neighbor", "commercial", "medical"],
            ),
        }
    )
    return PopulationProfile.learn(X, ["城关区", "河东区"], CFG)


def case(**values) -> pd.DataFrame:
    return pd.DataFrame(
        [{"threat_calls": 1.0, "prior_cases": 1.0, "dispute_type": "neighbor", **values}]
    )


def test_a_case_like_the_training_cases_has_no_warning(profile):
    assert profile.warnings(case(), ["城关区"], LABELS) == [[]]


def test_a_category_allowed_by_the_contract_but_never_trained_on_is_named(profile):
    (warnings,) = profile.warnings(case(dispute_type="medical"), ["城关区"], LABELS)
    assert len(warnings) == 1 and "'medical'" in warnings[0] and "never occurred" in warnings[0]


def test_an_unseen_district_is_named(profile):
    (warnings,) = profile.warnings(case(), ["新区"], LABELS)
    assert warnings == [
        "outside the training population: district '新区' never occurred in the training cases; "
        "lean on your own judgement"
    ]


def test_a_value_far_beyond_the_training_range_is_named_with_that_range(profile):
    (warnings,) = profile.warnings(case(threat_calls=40.0), ["城关区"], LABELS)
    assert len(warnings) == 1
    assert "威胁来电 (threat_calls) = 40" in warnings[0] and "training cases: 0–" in warnings[0]
    (within,) = profile.warnings(
        case(threat_calls=profile.ranges["threat_calls"][3]), ["城关区"], LABELS
    )
    assert within == []


def test_a_known_household_without_any_history_is_named_but_an_unknown_one_is_left_to_its_own_warning(
    profile,
):
    empty = case(threat_calls=np.nan, prior_cases=0.0)
    assert any("no recorded history" in w for w in profile.warnings(empty, ["城关区"], LABELS)[0])
    assert profile.warnings(empty, [None], LABELS) == [[]]


def test_the_profile_survives_a_round_trip_as_plain_data(profile):
    assert PopulationProfile.from_dict(profile.to_dict()) == profile


def test_a_model_without_a_profile_warns_of_nothing(profile):
    class OlderModel:
        pass

    households = pd.DataFrame({"household_id": ["H-1"], "district": ["新区"]})
    assert population_warnings(
        OlderModel(), case(dispute_type="medical"), pd.Series(["H-1"]), households, LABELS
    ) == [[]]


def test_arrays_by_name_warn_like_the_frame(profile):
    frame = pd.concat(
        [
            case(),
            case(dispute_type="medical", threat_calls=40.0),
            case(threat_calls=0.0, prior_cases=0.0),
        ]
    )
    arrays = {
        name: frame[name].to_numpy(dtype=object if name == "dispute_type" else np.float64)
        for name in frame
    }
    districts = ["城关区", "新区", "河东区"]
    assert profile.warnings(arrays, districts, LABELS) == profile.warnings(frame, districts, LABELS)
