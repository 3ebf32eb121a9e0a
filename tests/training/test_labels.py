"""The 民转刑 label of docs/data-format.md, rule by rule."""

import pandas as pd
import pytest

from triage.evaluation.labels import escalation_labels

UTC = "UTC"


def ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz=UTC)


def cases_frame(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["case_id", "opened_at", "household_id", "counterparty_household_id"]
    )


def incidents_frame(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["household_id", "case_id", "occurred_at", "offence"])


END = ts("2025-06-30")


@pytest.mark.parametrize(
    "incident, expected",
    [
        (("H1", None, ts("2024-02-01"), "assault"), 1.0),  # own household, inside window
        (("H2", None, ts("2024-02-01"), "homicide"), 1.0),  # counterparty household
        (("H9", "C1", ts("2024-02-01"), "arson"), 1.0),  # names the case
        (("H1", None, ts("2024-02-01"), "threat"), 0.0),  # threats are not 民转刑
        (("H1", None, ts("2024-01-01"), "assault"), 0.0),  # before opening: history, not label
        (
            ("H1", None, ts("2024-01-01 00:00:00"), "assault"),
            0.0,
        ),  # at opening exactly: not after it
        (("H1", None, ts("2024-06-29"), "intentional_injury"), 1.0),  # day 180 is inside
        (("H1", None, ts("2024-06-30"), "intentional_injury"), 0.0),  # day 181 is outside
        (("H9", None, ts("2024-02-01"), "assault"), 0.0),  # someone else's household
    ],
)
def test_label_window_and_parties(incident, expected):
    cases = cases_frame(("C1", ts("2024-01-01"), "H1", "H2"))
    labels = escalation_labels(cases, incidents_frame(incident), horizon_days=180, data_end=END)
    assert labels.iloc[0] == expected


def test_recent_cases_are_censored_not_negative():
    cases = cases_frame(
        ("old", ts("2024-01-01"), "H1", None), ("recent", ts("2025-03-01"), "H1", None)
    )
    labels = escalation_labels(cases, incidents_frame(), horizon_days=180, data_end=END)
    assert labels.iloc[0] == 0.0
    assert pd.isna(labels.iloc[1])


def test_horizon_is_configurable():
    cases = cases_frame(("C1", ts("2024-01-01"), "H1", None))
    late = incidents_frame(("H1", None, ts("2024-03-15"), "assault"))
    assert escalation_labels(cases, late, horizon_days=60, data_end=END).iloc[0] == 0.0
    assert escalation_labels(cases, late, horizon_days=90, data_end=END).iloc[0] == 1.0
