"""The model wrappers: calibrated, explainable, and in scikit-learn's estimator shape."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from triage.models import EscalationModel, TierModel


@pytest.fixture(scope="module")
def cases():
    """A learnable toy problem with a categorical feature and missing values."""
    rng = np.random.default_rng(3)
    n = 6000
    threats = rng.poisson(0.4, n).astype(float)
    alcohol = rng.choice([0.0, 1.0, np.nan], n, p=[0.6, 0.2, 0.2])
    dispute = pd.Categorical(
        rng.choice(["marriage_family", "neighbor", "wage_arrears"], n),
        categories=["marriage_family", "neighbor", "wage_arrears", "other"],
    )
    logit = (
        -3.5 + 1.2 * threats + 1.0 * np.nan_to_num(alcohol) + 0.8 * (dispute == "marriage_family")
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)
    X = pd.DataFrame(
        {
            "threat_calls": threats,
            "alcohol": alcohol,
            "dispute_type": dispute,
            "noise": rng.normal(size=n),
        }
    )
    return X, y


@pytest.fixture(scope="module")
def fitted(cases):
    X, y = cases
    return EscalationModel(n_estimators=200).fit(X.iloc[:5000], y[:5000])


def test_probabilities_are_calibrated_on_later_cases(fitted, cases):
    X, y = cases
    p = fitted.predict_proba(X.iloc[5000:])[:, 1]
    assert abs(p.mean() - y[5000:].mean()) < 0.02
    assert np.all((p > 0) & (p < 1))


def test_shap_contributions_add_up_to_the_margin(fitted, cases):
    X, _ = cases
    contributions, base = fitted.explain(X.iloc[:50])
    np.testing.assert_allclose(
        base + contributions.sum(axis=1), fitted.decision_function(X.iloc[:50]), atol=1e-6
    )
    top = np.abs(contributions).mean(axis=0)
    assert fitted.feature_names_[int(top.argmax())] == "threat_calls"


def test_one_pass_gives_the_probability_and_its_explanation(fitted, cases):
    """The service's call: the same probabilities as predict_proba (whose calibration is sklearn's
    logistic function, computed directly) and the same contributions as explain."""
    X, _ = cases
    probability, contributions, base = fitted.predict_and_explain(
        fitted.schema_.matrix(X.iloc[:200])
    )
    np.testing.assert_allclose(
        probability, fitted.predict_proba(X.iloc[:200])[:, 1], rtol=0, atol=1e-12
    )
    margin = fitted.decision_function(X.iloc[:200]).reshape(-1, 1)
    np.testing.assert_allclose(
        probability, fitted.calibrator_.predict_proba(margin)[:, 1], rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(contributions, fitted.explain(X.iloc[:200])[0])
    np.testing.assert_array_equal(base, fitted.explain(X.iloc[:200])[1])


def test_bands_follow_the_stored_thresholds(fitted):
    t = fitted.band_thresholds_
    assert t["medium"] < t["high"] < t["critical"]
    p = np.array([0.0, t["medium"], t["high"], t["critical"], 1.0])
    assert list(fitted.bands(p)) == ["low", "medium", "high", "critical", "critical"]


def test_strings_and_unseen_categories_score_like_categoricals(fitted, cases):
    X, _ = cases
    as_strings = X.iloc[:20].astype({"dispute_type": "string"})
    np.testing.assert_allclose(fitted.predict_proba(as_strings), fitted.predict_proba(X.iloc[:20]))
    unseen = X.iloc[:1].astype({"dispute_type": "string"}).assign(dispute_type="a type never seen")
    assert np.isfinite(fitted.predict_proba(unseen)).all()


def test_missing_feature_column_is_an_error_not_a_zero(fitted, cases):
    X, _ = cases
    with pytest.raises(KeyError, match="alcohol"):
        fitted.predict_proba(X.drop(columns="alcohol").iloc[:5])


def test_estimator_contract(fitted):
    params = fitted.get_params()
    assert clone(fitted).get_params() == params
    assert not hasattr(clone(fitted), "booster_")


def test_tier_model_orders_classes_and_explains_the_predicted_class():
    rng = np.random.default_rng(5)
    phq9 = rng.integers(0, 28, 3000).astype(float)
    tier = np.where(phq9 >= 20, "red", np.where(phq9 >= 10, "yellow", "green"))
    X = pd.DataFrame({"phq9_latest": phq9, "noise": rng.normal(size=3000)})
    model = TierModel(n_estimators=60).fit(X, tier)
    assert list(model.classes_) == ["green", "yellow", "red"]
    assert (model.predict(X) == tier).mean() > 0.95
    predicted = model.predict_proba(X.iloc[:10]).argmax(axis=1)
    contributions, base = model.explain(X.iloc[:10], predicted)
    raw = model.booster_.predict(model.schema_.matrix(X.iloc[:10]), raw_score=True)
    np.testing.assert_allclose(
        base + contributions.sum(axis=1), raw[np.arange(10), predicted], atol=1e-6
    )


def test_tier_explanations_equal_lightgbm_multiclass_shap_for_every_class_and_survive_pickling():
    rng = np.random.default_rng(6)
    X = pd.DataFrame(
        {"phq9_latest": rng.integers(0, 28, 2000).astype(float), "noise": rng.normal(size=2000)}
    )
    tier = np.where(
        X["phq9_latest"] >= 20, "red", np.where(X["phq9_latest"] >= 10, "yellow", "green")
    )
    model = TierModel(n_estimators=40).fit(X, tier)
    rows = X.iloc[:90]
    multiclass = model.booster_.predict(model.schema_.matrix(rows), pred_contrib=True).reshape(
        90, 3, 3
    )
    asked = np.arange(90) % 3  # every class, not only the predicted one
    for explained in (model, pickle.loads(pickle.dumps(model))):
        contributions, base = explained.explain(rows, asked)
        np.testing.assert_allclose(contributions, multiclass[np.arange(90), asked, :-1], atol=1e-9)
        np.testing.assert_allclose(base, multiclass[np.arange(90), asked, -1], atol=1e-9)


def test_arrays_by_name_give_the_frame_matrix(fitted, cases):
    X, _ = cases
    rows = X.iloc[:50]
    arrays = {
        name: rows[name].to_numpy(dtype=object if name == "dispute_type" else np.float64)
        for name in X
    }
    arrays["dispute_type"][0] = "a type never seen"
    expected = fitted.schema_.matrix(
        rows.astype({"dispute_type": "string"}).assign(
            dispute_type=lambda frame: frame["dispute_type"].where(
                frame.index != rows.index[0], "a type never seen"
            )
        )
    )
    np.testing.assert_array_equal(fitted.schema_.matrix(arrays), expected)


def test_the_refit_learns_from_every_row_and_calibrates_on_given_held_out_margins(fitted, cases):
    X, y = cases
    refit = EscalationModel(n_estimators=fitted.n_trees_).fit(
        X.iloc[:5000],
        y[:5000],
        held_out_margin=fitted.decision_function(X.iloc[5000:]),
        held_out_y=y[5000:],
    )
    assert (
        refit.booster_.current_iteration() == fitted.n_trees_ and refit.booster_.best_iteration == 0
    )
    later = refit.predict_proba(X.iloc[5000:])[:, 1]
    assert abs(later.mean() - y[5000:].mean()) < 0.02


def distressed_people(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """People whose tier follows a latent distress that their PHQ-9 reads with noise."""
    rng = np.random.default_rng(seed)
    distress = rng.normal(size=n)
    X = pd.DataFrame({"phq9_latest": distress + rng.normal(0, 1.2, n), "noise": rng.normal(size=n)})
    return X, np.where(distress > 1.6, "red", np.where(distress > 0.3, "yellow", "green"))


def fitted_with_held_out(X, tier, first: int, held_out: int, **params) -> TierModel:
    """A tier model on the first ``first + held_out`` rows, its thresholds and sets from a first
    fit's probabilities of the last ``held_out`` of them, as training does."""
    end = first + held_out
    before = TierModel(n_estimators=60).fit(X.iloc[:first], tier[:first])
    return TierModel(n_estimators=60, **params).fit(
        X.iloc[:end],
        tier[:end],
        held_out_proba=before.predict_proba(X.iloc[first:end]),
        held_out_y=tier[first:end],
    )


def test_tier_thresholds_put_red_first_on_held_out_people():
    """A red person is hard to tell from a yellow one: the most probable tier misses most reds; the
    thresholds learnt on held-out people catch at least the target share of them."""
    X, tier = distressed_people(9000, seed=8)
    model = fitted_with_held_out(X, tier, 5000, 1000, red_recall_target=0.6)
    later, truth = model.predict_proba(X.iloc[6000:]), tier[6000:] == "red"
    assert (later.argmax(axis=1)[truth] == 2).mean() < 0.4
    assert (model.decide(later)[truth] == 2).mean() >= 0.55
    assert list(model.predict(X.iloc[6000:6010])) == list(
        np.array(model.classes_)[model.decide(later[:10])]
    )


def test_the_threshold_search_scores_macro_f1_as_sklearn_does():
    from sklearn.metrics import f1_score

    from triage.models.tier import _macro_f1

    rng = np.random.default_rng(2)
    truth, predicted = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    predicted[predicted == 1] = 0  # a tier never predicted counts as F1 0
    assert _macro_f1(truth, predicted) == pytest.approx(
        f1_score(truth, predicted, average="macro", labels=[0, 1, 2], zero_division=0.0)
    )


def test_conformal_tier_sets_hold_the_true_tier_as_often_as_promised_on_later_people():
    X, tier = distressed_people(10_000, seed=9)
    model = fitted_with_held_out(X, tier, 5000, 2000, set_confidence=0.9)
    sets = model.prediction_sets(model.predict_proba(X.iloc[7000:]))
    truth = pd.Categorical(tier[7000:], categories=model.classes_).codes
    assert abs(sets[np.arange(len(truth)), truth].mean() - 0.9) <= 0.03
    assert 1 < sets.sum(axis=1).mean() < 3  # informative: neither one tier always nor all three
    assert TierModel(n_estimators=5).fit(X, tier).prediction_sets(np.full((1, 3), 1 / 3)) is None


def test_the_escalation_interval_is_wider_where_few_held_out_cases_pin_the_probability(
    fitted, cases
):
    X, _ = cases
    p = fitted.predict_proba(X.iloc[5000:])[:, 1]
    intervals = fitted.intervals(p)
    width = intervals[:, 1] - intervals[:, 0]
    assert intervals.shape == (len(p), 2) and np.all(width >= 0)
    top = p >= np.quantile(p, 0.98)
    assert np.median(width[top]) > 2 * np.median(width)
