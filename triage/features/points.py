"""The moments a model learns from: every case as of its opening, every assessment as of its time.

Training, batch scoring, monitoring and the Spark engine all take their points from here, so
"as of its opening" is written once (docs/data-format.md, "Point in time").
"""

from __future__ import annotations

import pandas as pd


def case_points(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every case as of its opening, oldest first (ties by case id, so the order is reproducible)."""
    cases = (
        tables["cases"].sort_values(["opened_at", "case_id"], kind="stable").reset_index(drop=True)
    )
    return cases.assign(as_of=cases["opened_at"])


def assessment_points(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every counsellor assessment as of its own time, oldest first, with the tier it gave.

    ``exclude_assessment_id`` keeps the assessment being predicted out of its own person features.
    """
    assessments = tables["psych_assessments"].sort_values(["at", "assessment_id"], kind="stable")
    assessments = assessments.reset_index(drop=True)
    return pd.DataFrame(
        {
            "person_id": assessments["person_id"],
            "as_of": assessments["at"],
            "exclude_assessment_id": assessments["assessment_id"],
            "tier": assessments["tier"],
        }
    )
