"""Point-in-time features of the escalation (case) and tier (person) models.

The one entry point for training, batch scoring and the service::

    from triage.features import build_case_features, feature_names, feature_labels
    frame = build_case_features(cases_with_as_of, tables, text_model=model)
    X = frame[feature_names("case")]
"""

from triage.features.build import (
    as_utc,
    build_case_features,
    build_person_features,
    case_columns,
    case_feature_arrays,
    person_feature_arrays,
    point_columns,
    rule_tier_values,
    rule_tiers,
)
from triage.features.registry import (
    FEATURES,
    Feature,
    categorical_features,
    feature_labels,
    feature_names,
    features_of,
)
from triage.features.text import THREAT_PHRASES, CallTextModel, carries_threat, normalise

__all__ = [
    "FEATURES",
    "THREAT_PHRASES",
    "CallTextModel",
    "Feature",
    "as_utc",
    "build_case_features",
    "build_person_features",
    "carries_threat",
    "case_columns",
    "case_feature_arrays",
    "categorical_features",
    "feature_labels",
    "feature_names",
    "features_of",
    "normalise",
    "person_feature_arrays",
    "point_columns",
    "rule_tier_values",
    "rule_tiers",
]
