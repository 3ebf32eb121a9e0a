"""The learned text score: trained only on what was known before the cutoff, and picklable."""

from __future__ import annotations

import pickle
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from tests.factories import City, new_case
from triage.features import CallTextModel, build_case_features, carries_threat
from triage.features.registry import FEATURE_CONFIG
from triage.features.text import THREAT_PHRASES, char_ngram_counts, normalise
from triage.models.registry import same_text_model


def sklearn_vectorizer(model: CallTextModel) -> HashingVectorizer:
    """The vectoriser ``CallTextModel`` reproduces in numpy: the reference its matrix is checked against."""
    return HashingVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        n_features=model.n_features,
        alternate_sign=False,
        norm="l2",
        lowercase=False,
    )


def violent_city(households: int = 30) -> City:
    """Households whose calls speak of knives get an assault 30 days later; the others do not."""
    city = City()
    for i in range(households):
        city.household(f"H{i}")
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=i)
        if i % 2:
            city.call(f"H{i}", day, text="他喝醉了扬言要拿刀砍人").incident(
                f"H{i}", day + pd.Timedelta(days=30)
            )
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
    for day in range(5):  # calm texts outnumber threats, and repeat
        city.call(
            "H0", pd.Timestamp("2023-03-01") + pd.Timedelta(days=day), text="樓上漏水物業不管"
        )
    tables = city.tables()
    model = CallTextModel().fit(tables, cutoff="2024-01-01")
    texts, targets = model.training_set(tables, cutoff="2024-01-01")
    per_call = LogisticRegression(C=model.C, class_weight="balanced", max_iter=1000).fit(
        sklearn_vectorizer(model).transform([normalise(text) for text in texts]), targets
    )
    probes = ["邻居扬言拿刀砍人", "楼上漏水", "噪音扰民"]
    expected = per_call.predict_proba(
        sklearn_vectorizer(model).transform([normalise(t) for t in probes])
    )[:, 1]
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


def test_text_models_fitted_alike_are_the_same_text_model():
    """A challenger reuses the champion's features when their text models score alike; loaded from
    separate artifacts they are never one object, so their learnt weights are compared."""
    tables = violent_city().tables()
    model = CallTextModel().fit(tables, cutoff="2024-01-01")
    assert same_text_model(model, pickle.loads(pickle.dumps(model)))
    assert same_text_model(model, CallTextModel().fit(tables, cutoff="2024-01-01"))
    assert not same_text_model(model, CallTextModel().fit(tables, cutoff="2023-04-15"))
    assert not same_text_model(model, CallTextModel(n_features=2**10).fit(tables, "2024-01-01"))
    one_class = City().household("H1").call("H1", "2023-01-01", text="噪音").tables()
    constant = CallTextModel().fit(one_class, cutoff="2024-01-01")
    assert same_text_model(constant, CallTextModel().fit(one_class, cutoff="2024-01-01"))
    assert not same_text_model(model, constant) and not same_text_model(constant, model)
    assert same_text_model(None, None) and not same_text_model(model, None)
    assert not same_text_model(None, model)


def test_pickles_and_feeds_the_case_features():
    city = violent_city()
    model = pickle.loads(pickle.dumps(CallTextModel().fit(city.tables(), cutoff="2024-01-01")))
    frame = build_case_features(
        pd.concat(
            [
                new_case("A", "H1", "2023-01-10", description="扬言要拿刀砍人"),
                new_case("B", "H2", "2023-01-10"),
            ],
            ignore_index=True,
        ),
        city.tables(),
        text_model=model,
    )
    assert frame.loc[0, "hh_text_score_max_90d"] > frame.loc[1, "hh_text_score_max_90d"]
    assert frame.loc[0, "hh_text_score_mean_90d"] == pytest.approx(
        frame.loc[0, "hh_text_score_max_90d"]
    )
    assert frame.loc[0, "case_description_text_score"] > 0.5
    assert np.isnan(frame.loc[1, "case_description_text_score"])


# Scoring does not go through sklearn's vectoriser; these pin it to what sklearn gives.

VARIED_TEXTS = [
    "他喝醉了扬言要拿刀砍人",
    "揚言要拿刀砍人，樓上漏水",
    "ＡＢＣ１２３全角 扬言",
    "",
    " ",
    "a",
    "ab",
    "噪音  扰民\n\n\t深夜",
    "😀😡🔪",
    "刀😀",
    "𠀀𠀁𠀂 rare CJK",
    "Ünïcödé café",
    "扬言" * 40,
]
_TEXT = st.text(
    st.characters(exclude_categories=("Cs",)), max_size=30
)  # any code point but a surrogate


def _sklearn_scores(model: CallTextModel, texts: list[str]) -> np.ndarray:
    """The score as it was first written: sklearn's vectoriser and ``predict_proba``."""
    proba = model.classifier_.predict_proba(
        sklearn_vectorizer(model).transform([normalise(t) for t in texts])
    )
    classes = list(model.classifier_.classes_)
    return proba[:, classes.index(True)] if True in classes else np.zeros(len(texts))


@pytest.fixture(scope="module")
def fitted_models() -> dict[str, CallTextModel]:
    one_class = City().household("H1").call("H1", "2023-01-01", text="噪音").tables()
    return {
        "logistic": CallTextModel().fit(violent_city().tables(), cutoff="2024-01-01"),
        "dummy": CallTextModel().fit(one_class, cutoff="2024-01-01"),
    }


@pytest.mark.parametrize("kind", ["logistic", "dummy"])
def test_scores_are_those_of_the_sklearn_pipeline(fitted_models, kind):
    model = pickle.loads(pickle.dumps(fitted_models[kind]))
    texts = pd.Series(VARIED_TEXTS + [None] + VARIED_TEXTS[:3], dtype="string")

    scores = model.score(texts)

    present = texts.notna().to_numpy()
    expected = _sklearn_scores(model, texts[present].tolist())
    np.testing.assert_allclose(scores[present], expected, rtol=0, atol=1e-12)
    assert np.isnan(scores[~present]).all()
    assert model.score([]).shape == (0,)


def test_many_texts_are_scored_in_parts_with_the_same_result(fitted_models, monkeypatch):
    model, texts = fitted_models["logistic"], VARIED_TEXTS * 2
    whole = model.score(texts)
    monkeypatch.setattr("triage.features.text._TEXTS_PER_MATRIX", 3)
    np.testing.assert_array_equal(model.score(texts), whole)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(_TEXT, min_size=1, max_size=6), n_features=st.sampled_from([2**18, 16, 7]))
def test_char_ngram_counts_are_the_hashing_vectorizers(texts, n_features):
    """Same matrix entry by entry, hash collisions (a small ``n_features``) and all."""
    expected = (
        sklearn_vectorizer(CallTextModel(n_features=n_features))
        .set_params(norm=None)
        .transform(texts)
    )
    expected.sort_indices()

    counts = char_ngram_counts(texts, n_features)

    assert counts.shape == expected.shape
    np.testing.assert_array_equal(counts.indptr, expected.indptr)
    np.testing.assert_array_equal(counts.indices, expected.indices)
    np.testing.assert_array_equal(counts.data, expected.data)


def test_normalise_maps_traditional_characters_as_the_table_says():
    table = str.maketrans({pair[0]: pair[1] for pair in FEATURE_CONFIG["t2s"].split()})
    for text in VARIED_TEXTS + ["".join(pair[0] for pair in FEATURE_CONFIG["t2s"].split())]:
        assert normalise(text) == unicodedata.normalize("NFKC", text).lower().translate(table)


def test_threat_flags_follow_the_lexicon_and_keep_the_index():
    texts = pd.Series(
        VARIED_TEXTS + [None, THREAT_PHRASES[-1]], index=range(100, 115), dtype="string"
    )

    flags = carries_threat(texts)

    expected = (
        texts.map(normalise, na_action="ignore")
        .str.contains("|".join(map(re.escape, THREAT_PHRASES)))
        .fillna(False)
    )
    pd.testing.assert_series_equal(flags, expected.astype(bool))
    assert flags.iloc[-1] and not flags.iloc[-2]
