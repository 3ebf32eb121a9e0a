"""Data contracts: docs/data-format.md as great-expectations suites, and row-level quarantine."""

from triage.data_contracts.outputs import render_report, write_validation_outputs
from triage.data_contracts.reading import DatasetUnreadable, as_text_frame, read_dataset
from triage.data_contracts.suites import build_suite
from triage.data_contracts.validation import ValidationResult, validate_dataset, validate_frames

__all__ = [
    "DatasetUnreadable",
    "ValidationResult",
    "as_text_frame",
    "build_suite",
    "read_dataset",
    "render_report",
    "validate_dataset",
    "validate_frames",
    "write_validation_outputs",
]
