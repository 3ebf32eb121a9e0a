"""One History, two inputs: the typed frames training reads and the column arrays the service reads.

The service builds its ``History`` from ``read_history`` (column arrays straight from the
database) instead of typed frames; the features must not notice.  Threat flags and text scores
are remembered per text and text model, so a second request (or another model) must still see
exactly what a fresh computation gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.support.domain import SHIPPED_DOMAIN
from triage.db import load_frames, read_tables
from triage.db.history import read_history
from triage.features import build_case_features, build_person_features, rule_tiers
from triage.features.history import History

TIER_RULE = SHIPPED_DOMAIN.tier_rule


class LengthModel:
    """A stand-in text model whose score is the text's length divided by ``scale``."""

    def __init__(self, scale: float):
        self.scale = scale

    def score(self, texts) -> np.ndarray:
        return np.array(
            [
                len(t) / self.scale if isinstance(t, str) else np.nan
                for t in pd.Series(texts, dtype=object)
            ]
        )


def _case_c2(as_of: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "case_id": "C2-NEW",
                "opened_at": pd.Timestamp("2024-03-01T10:00", tz="Asia/Shanghai"),
                "as_of": pd.Timestamp(as_of, tz="Asia/Shanghai"),
                "household_id": "H1",
                "counterparty_household_id": "H2",
                "dispute_type": "marriage_family",
                "source": "police_referral",
                "amount_cny": 20000.0,
                "parties_count": 2,
                "description": "他扬言要砍人",
            }
        ]
    )


def _points(as_of: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": pd.array(["P1", "P2", "P3", "P-UNKNOWN"], dtype="string"),
            "as_of": pd.Timestamp(as_of, tz="Asia/Shanghai"),
        }
    )


@pytest.mark.parametrize("as_of", ["2024-03-01T10:00", "2024-03-06T00:00", "2023-09-01T00:00"])
def test_column_arrays_from_the_database_give_the_features_of_typed_frames(
    db_url, quarrel_city, as_of
):
    load_frames(db_url, quarrel_city.tables())
    scope = {
        "household_ids": {"H1", "H2"},
        "person_ids": {"P1", "P2", "P3", "P-UNKNOWN"},
        "as_of": pd.Timestamp(as_of, tz="Asia/Shanghai"),
    }
    model = LengthModel(100.0)
    from_frames = History(read_tables(db_url, **scope), model)
    from_columns = History(read_history(db_url, **scope), model, texts=["他扬言要砍人"])

    cases = _case_c2(as_of)
    expected = build_case_features(cases, from_frames)
    pd.testing.assert_frame_equal(build_case_features(cases, from_columns), expected)
    pd.testing.assert_frame_equal(
        build_person_features(_points(as_of), from_columns),
        build_person_features(_points(as_of), from_frames),
    )
    pd.testing.assert_series_equal(
        rule_tiers(_points(as_of), from_columns, TIER_RULE),
        rule_tiers(_points(as_of), from_frames, TIER_RULE),
    )
    assert expected.loc[0, "case_description_text_score"] == pytest.approx(
        len("他扬言要砍人") / 100
    )
    assert expected.loc[0, "case_description_threat"] == 1.0


def test_remembered_text_scores_belong_to_their_text_model(quarrel_city):
    tables = quarrel_city.tables()
    cases = _case_c2("2024-03-01T10:00")
    first, second = LengthModel(100.0), LengthModel(10.0)

    cold = build_case_features(cases, History(tables, first))
    warm = build_case_features(cases, History(tables, first))
    other = build_case_features(cases, History(tables, second))

    pd.testing.assert_frame_equal(warm, cold)
    assert other.loc[0, "case_description_text_score"] == pytest.approx(len("他扬言要砍人") / 10)
    assert other.loc[0, "hh_text_score_max_90d"] == pytest.approx(
        10 * cold.loc[0, "hh_text_score_max_90d"]
    )
    # the threat lexicon does not depend on the model
    assert other.loc[0, "hh_threat_calls_90d"] == cold.loc[0, "hh_threat_calls_90d"] == 1.0
