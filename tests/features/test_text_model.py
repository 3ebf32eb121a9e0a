"""The learned text score: trained only on what was known before the cutoff, and picklable."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from tests.factories import City, new_case
from triage.features import CallTextModel, build_case_features
from triage.features.text import normalise, normalise_texts


def violent_city(households: int = 30) -> City:
    """Households whose calls speak of knives get an assault 30 days later; the others do not."""
    city = City()
    for i in range(households):
        city.household(f"H{i}")
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=i)
        if i % 2:
            city.call(f"H{i}", day, text="他喝醉了扬言要拿刀砍人").incident(f"H{i}", day + pd.Timedelta(days=30))
        else:
            city.call(f"H{i}", day, text="楼上漏水物业不管")
    return city


def test_learns_which_texts_precede_violence():
    model = CallTextModel().fit(violent_city().tables(), cutoff="2024-01-01")
    threat, calm, missing = model.score(["邻居扬言拿刀砍人", "物业不管漏水", None])
    assert threat > 0.5 > calm
    assert np.isnan(missing)
    assert model.n_training_calls_ == 30 and model.positive_share_ == 0.5


def test_repeated_texts_fit_once_with_the_weight_of_their_calls():
    """Distinct (text, target) pairs weighted by their calls: the per-call fit, at the cost of distinct texts."""
    city = violent_city()
    for day in range(5):                                  # calm texts outnumber threats, and repeat
        city.call("H0", pd.Timestamp("2023-03-01") + pd.Timedelta(days=day), text="樓上漏水物業不管")
    tables = city.tables()
    model = CallTextModel().fit(tables, cutoff="2024-01-01")
    texts, targets = model.training_set(tables, cutoff="2024-01-01")
    per_call = LogisticRegression(C=model.C, class_weight="balanced", max_iter=1000).fit(
        model._vectorizer().transform(normalise_texts(texts).to_list()), targets)
    probes = ["邻居扬言拿刀砍人", "楼上漏水", "噪音扰民"]
    expected = per_call.predict_proba(model._vectorizer().transform([normalise(t) for t in probes]))[:, 1]
    np.testing.assert_allclose(model.score(probes), expected, atol=1e-3)
    assert model.n_training_calls_ == 35 and model.positive_share_ == pytest.approx(15 / 35)


def test_traditional_text_scores_like_simplified():
    model = CallTextModel().fit(violent_city().tables(), cutoff="2024-01-01")
    simplified, traditional = model.score(["扬言要拿刀砍人", "揚言要拿刀砍人"])
    assert simplified == pytest.approx(traditional)


def test_only_calls_whose_follow_up_ended_before_the_cutoff_are_used():
    tables = violent_city().tables()
    texts, targets = CallTextModel(horizon_days=90).training_set(tables, cutoff="2023-04-15")
    # calls of 2023-01-01 .. 2023-01-14 have their 90 days over before 2023-04-15
    assert len(texts) == 14
    # incidents at or after the cutoff are invisible: a cutoff right after the calls sees no violence
    _, early = CallTextModel(horizon_days=10).training_set(tables, cutoff="2023-01-25")
    assert not early.any()


def test_one_class_history_gives_a_constant_score():
    tables = City().household("H1").call("H1", "2023-01-01", text="噪音").tables()
    model = CallTextModel().fit(tables, cutoff="2024-01-01")
    assert model.score(["扬言砍人"]).tolist() == [0.0]


def test_pickles_and_feeds_the_case_features():
    city = violent_city()
    model = pickle.loads(pickle.dumps(CallTextModel().fit(city.tables(), cutoff="2024-01-01")))
    frame = build_case_features(pd.concat([
        new_case("A", "H1", "2023-01-10", description="扬言要拿刀砍人"),
        new_case("B", "H2", "2023-01-10"),
    ], ignore_index=True), city.tables(), text_model=model)
    assert frame.loc[0, "hh_text_score_max_90d"] > frame.loc[1, "hh_text_score_max_90d"]
    assert frame.loc[0, "hh_text_score_mean_90d"] == pytest.approx(frame.loc[0, "hh_text_score_max_90d"])
    assert frame.loc[0, "case_description_text_score"] > 0.5
    assert np.isnan(frame.loc[1, "case_description_text_score"])
