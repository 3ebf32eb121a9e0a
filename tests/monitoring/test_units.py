"""PSI, tests and the fairness audit on numbers whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.support.domain import SHIPPED_DOMAIN
from triage.evaluation.fairness import fairness_audit, fairness_gate
from triage.evaluation.groups import case_groups
from triage.monitoring.drift import categorical_drift, drift_level, numeric_drift

CFG = SHIPPED_DOMAIN.monitoring
FAIR = SHIPPED_DOMAIN.gates.fairness


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    same = numeric_drift(
        pd.Series(rng.normal(size=5000)), pd.Series(rng.normal(size=5000)), bins=10, floor=1e-4
    )
    moved = numeric_drift(
        pd.Series(rng.normal(size=5000)), pd.Series(rng.normal(1, 1, 5000)), bins=10, floor=1e-4
    )
    assert same["psi"] < 0.02 and drift_level(same, CFG) == "ok"
    assert moved["psi"] > 0.5 and moved["p_value"] < 1e-6 and drift_level(moved, CFG) == "alert"


def test_missing_values_are_a_bin_of_their_own():
    ref = pd.Series([0.0, 1.0, 2.0, 3.0] * 500)
    cur = ref.where(np.arange(len(ref)) % 2 == 0)  # half the values now missing
    result = numeric_drift(ref, cur, bins=10, floor=1e-4)
    assert result["current_missing"] == pytest.approx(0.5) and result["psi"] > 1.0


def test_an_unseen_category_is_an_alert_even_when_small_shifts_are_not():
    ref = pd.Series(["a"] * 500 + ["b"] * 500)
    cur = pd.Series(["a"] * 490 + ["b"] * 490 + ["c"] * 20)
    result = categorical_drift(ref, cur, floor=1e-4)
    assert result["unseen_categories"] == {"c": pytest.approx(0.02)}
    assert drift_level(result, CFG) == "alert"


def test_groups_come_from_the_household_and_its_first_registered_member():
    tables = {
        "households": pd.DataFrame(
            {"household_id": ["H1", "H2"], "area_type": ["rural", "urban"], "district": ["A", "B"]}
        ),
        "persons": pd.DataFrame(
            {
                "person_id": ["P2", "P1", "P3"],
                "household_id": ["H1", "H1", "H2"],
                "sex": ["male", "female", "male"],
                "ethnicity": ["han", "minority", None],
            }
        ),
    }
    groups = case_groups(pd.DataFrame({"household_id": ["H2", "H1"]}), tables)
    assert groups.to_dict("records") == [
        {"ethnicity": "unrecorded", "sex": "male", "area_type": "urban", "district": "B"},
        {"ethnicity": "minority", "sex": "female", "area_type": "rural", "district": "A"},
    ]


def _cases(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    groups = pd.DataFrame(
        {a: rng.choice(["g1", "g2"], n) for a in ("ethnicity", "sex", "area_type", "district")}
    )
    p = rng.beta(2, 12, n)  # mean 0.14
    y = (rng.random(n) < p).astype(float)
    return y, p, groups


def test_a_calibrated_score_passes_and_a_group_scored_down_is_refused():
    y, p, groups = _cases()
    audit = fairness_audit(y, p, groups, threshold=0.25, cfg=FAIR)
    gap = audit["attributes"]["sex"]["gaps"]["calibration"]
    assert gap["ci_low"] <= gap["gap"] <= gap["ci_high"]
    assert fairness_gate(audit, FAIR)[0]
    rural = (groups["area_type"] == "g1").to_numpy()
    biased = fairness_audit(y, np.where(rural, p / 4, p), groups, threshold=0.25, cfg=FAIR)
    passed, reason = fairness_gate(biased, FAIR)
    assert not passed and "calibration gap by area_type" in reason and "by sex" not in reason


def test_the_per_group_table_agrees_with_the_bootstrap_point_estimate():
    y, p, groups = _cases(seed=1)
    audit = fairness_audit(y, p, groups, threshold=0.1, cfg=FAIR)
    rows = {g["group"]: g for g in audit["attributes"]["district"]["groups"]}
    assert audit["attributes"]["district"]["gaps"]["tpr"]["gap"] == pytest.approx(
        abs(rows["g1"]["tpr"] - rows["g2"]["tpr"])
    )
    g1 = (groups["district"] == "g1").to_numpy()
    assert rows["g1"]["selection_rate"] == pytest.approx((p[g1] >= 0.1).mean())
