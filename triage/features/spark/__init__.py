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
    case_scores,
    person_features,
    read_feature_parquet,
    release_frames,
    spark_training_frame,
    stage_case_inputs,
    staged_beside,
    staged_case_features,
    staged_case_probabilities,
    write_case_features,
    write_case_scores,
    write_training_features,
)
from triage.features.spark.session import spark_session
from triage.features.spark.tables import read_typed_tables, stage_typed_tables

__all__ = [
    "build_case_features_spark",
    "build_person_features_spark",
    "case_features",
    "case_probabilities",
    "case_scores",
    "person_features",
    "read_feature_parquet",
    "read_typed_tables",
    "release_frames",
    "spark_session",
    "spark_training_frame",
    "stage_case_inputs",
    "stage_typed_tables",
    "staged_beside",
    "staged_case_features",
    "staged_case_probabilities",
    "to_feature_frame",
    "write_case_features",
    "write_case_scores",
    "write_training_features",
]
