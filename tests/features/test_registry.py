"""The registry: one definition per feature, with labels, and nothing a model may not see."""

from __future__ import annotations

from triage.contract import AUDIT_ONLY_COLUMNS, DISPUTE_TYPES, PII_COLUMNS
from triage.features import (
    FEATURES,
    THREAT_PHRASES,
    categorical_features,
    feature_labels,
    feature_names,
    normalise,
)
from triage.features.registry import FEATURE_CONFIG


def test_every_feature_has_both_labels_and_a_unique_name():
    labels = feature_labels()
    assert len(labels) == len(FEATURES)
    assert all(label["zh"] and label["en"] for label in labels.values())
    assert labels["hh_threat_calls_90d"] == {
        "zh": "本户近90天含威胁内容的来电次数",
        "en": "Calls about the household whose text carries threats, last 90 days",
    }


def test_no_pii_ethnicity_or_after_the_fact_column_feeds_a_feature():
    forbidden = PII_COLUMNS | AUDIT_ONLY_COLUMNS | {"status", "closed_at"}
    for feature in FEATURES:
        assert feature.value not in forbidden, feature.name
        assert not {column for column, _ in feature.where} & forbidden, feature.name
        assert not any(word in feature.name for word in forbidden), feature.name


def test_windows_are_the_documented_ones():
    windows = {f.window for f in FEATURES}
    assert windows == {None, 30, 90, 365}
    assert {"hh_calls_110_30d", "hh_calls_110_90d", "hh_calls_110_365d"} <= set(
        feature_names("case")
    )


def test_categorical_features_take_their_codes_from_the_contract():
    assert categorical_features("case") == ["hh_area_type", "case_dispute_type", "case_source"]
    dispute = next(f for f in FEATURES if f.name == "case_dispute_type")
    assert dispute.categories == DISPUTE_TYPES
    assert categorical_features("person") == ["person_sex", "person_employment"]


def test_every_traditional_threat_phrase_has_its_simplified_twin():
    raw = FEATURE_CONFIG["threat_phrases"]
    assert len(THREAT_PHRASES) < len(raw)  # traditional seeds folded onto simplified
    assert set(THREAT_PHRASES) == {normalise(p) for p in raw}
    assert normalise("揚言要同歸於盡") == "扬言要同归于尽"
