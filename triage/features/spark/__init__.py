"""The Spark engine of the feature registry (``--engine spark``): same features, same scores.

from triage.features.spark import case_features
frame = case_features(points, tables, text_model=model)   # == build_case_features(...)
"""

from triage.features.spark.engine import (
    build_case_features_spark,
    build_person_features_spark,
    to_feature_frame,
)
from triage.features.spark.pipeline import (
    case_features,
    case_probabilities,
    person_features,
    probabilities,
    release_frames,
    release_memory,
    spark_training_frame,
    stage_case_inputs,
    staged_case_features,
    staged_case_probabilities,
)
from triage.features.spark.session import spark_session
from triage.features.spark.tables import read_typed_tables, stage_typed_tables

__all__ = [
    "build_case_features_spark",
    "build_person_features_spark",
    "case_features",
    "case_probabilities",
    "person_features",
    "probabilities",
    "read_typed_tables",
    "release_frames",
    "release_memory",
    "spark_session",
    "spark_training_frame",
    "stage_case_inputs",
    "stage_typed_tables",
    "staged_case_features",
    "staged_case_probabilities",
    "to_feature_frame",
]
