"""The escalation model judged out of time: above the checklist floor, below the oracle ceiling."""

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_beats_the_checklist_and_approaches_the_oracle(escalation_fit):
    model, oracle, checklist = (
        escalation_fit.metrics[k]["roc_auc"] for k in ("model", "oracle", "checklist")
    )
    assert model >= checklist + 0.03, f"model {model:.3f} vs checklist {checklist:.3f}"
    assert model >= oracle - 0.03, f"model {model:.3f} vs oracle {oracle:.3f}"


def test_never_beats_the_oracle(escalation_fit):
    """A score above the simulator's own probability can only come from leakage."""
    metrics = escalation_fit.metrics
    assert metrics["model"]["roc_auc"] <= metrics["oracle"]["roc_auc"] + 0.005
    assert metrics["model"]["average_precision"] <= metrics["oracle"]["average_precision"] + 0.01


def test_test_window_is_later_than_every_training_label(escalation_fit):
    folds = escalation_fit.folds
    assert len(folds) >= 3
    assert escalation_fit.test_points["opened_at"].min() > folds[0].cut
    assert len(escalation_fit.y_test) == sum(split.test.sum() for split in folds)


def test_the_served_model_learns_from_every_labelled_case(escalation_fit):
    refit = escalation_fit.refit
    assert (
        refit["rows"]
        == refit["labelled_rows"]
        > max(split.train.sum() for split in escalation_fit.folds)
    )
    assert pd.Timestamp(refit["last"]) > escalation_fit.folds[-1].cut


def test_probabilities_are_calibrated_on_later_cases(escalation_fit):
    metrics = escalation_fit.metrics["model"]
    assert metrics["ece"] < 0.03
    assert abs(escalation_fit.p_test.mean() - escalation_fit.y_test.mean()) < 0.02


def test_bands_put_the_riskiest_cases_first(escalation_fit):
    bands = escalation_fit.model.bands(escalation_fit.p_test)
    rate = {
        b: escalation_fit.y_test[bands == b].mean() for b in ("low", "medium", "high", "critical")
    }
    assert rate["low"] < rate["medium"] < rate["high"] < rate["critical"]
    assert np.isclose((bands == "critical").mean(), 0.05, atol=0.03)
