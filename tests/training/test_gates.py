"""The promotion gates on figures alone: what promotes, what is refused, and the reason given."""

import pytest

from tests.support.domain import SHIPPED_DOMAIN
from triage.training.gates import escalation_gate, retrain_gate, tier_gate

GATES = SHIPPED_DOMAIN.gates
CALIBRATED = {"roc_auc": 0.88, "ece": 0.01, "ece_noise_floor": 0.02}


def champion(old: float, new: float, scope: str = "the same cases") -> dict:
    return {"roc_auc": old, "candidate_roc_auc": new, "scope": scope}


def test_a_first_calibrated_version_is_promoted():
    passed, reason = escalation_gate(CALIBRATED, None, GATES.escalation)
    assert passed and reason.startswith("first version")


def test_miscalibration_refuses_even_a_first_version():
    passed, reason = escalation_gate(CALIBRATED | {"ece": 0.08}, None, GATES.escalation)
    assert not passed and "ECE 0.0800 above" in reason


def test_the_ece_bound_is_never_read_below_the_noise_of_few_cases():
    assert escalation_gate(
        CALIBRATED | {"ece": 0.05, "ece_noise_floor": 0.06}, None, GATES.escalation
    )[0]


@pytest.mark.parametrize(
    ("old", "new", "promoted"), [(0.88, 0.88, True), (0.88, 0.876, True), (0.88, 0.87, False)]
)
def test_a_candidate_may_not_fall_below_the_champion_on_the_same_cases(old, new, promoted):
    passed, reason = escalation_gate(CALIBRATED, champion(old, new), GATES.escalation)
    assert passed is promoted and "on the same cases" in reason


def test_tier_gate_compares_macro_f1_where_both_were_judged():
    refused = tier_gate(
        {"macro_f1": 0.5},
        {"macro_f1": 0.55, "candidate_macro_f1": 0.5, "scope": "x"},
        GATES.tier,
    )
    assert not refused[0] and "below champion's 0.5500" in refused[1]
    assert tier_gate(
        {"macro_f1": 0.5},
        {"macro_f1": 0.505, "candidate_macro_f1": 0.5, "scope": "x"},
        GATES.tier,
    )[0]


def test_retraining_needs_a_margin_and_other_data():
    assert not retrain_gate(
        "escalation", CALIBRATED, champion(0.88, 0.881), same_data=False, gates=GATES
    )[0]
    assert retrain_gate(
        "escalation", CALIBRATED, champion(0.88, 0.885), same_data=False, gates=GATES
    )[0]
    same = retrain_gate("escalation", CALIBRATED, champion(0.80, 0.90), same_data=True, gates=GATES)
    assert not same[0] and "already learnt" in same[1]
