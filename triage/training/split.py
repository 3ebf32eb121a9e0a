"""Out-of-time split: train on the past, test on later cases, as a retraining job on the cut date would."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class TimeSplit:
    """Row masks and the dates that define them (logged to MLflow)."""

    train: pd.Series
    test: pd.Series
    cut: pd.Timestamp
    test_end: pd.Timestamp

    def describe(self) -> dict:
        return {"cut": self.cut.isoformat(), "test_end": self.test_end.isoformat(),
                "train_rows": int(self.train.sum()), "test_rows": int(self.test.sum())}


def out_of_time_split(times: pd.Series, labelled: pd.Series, *, test_months: int,
                      label_delay_days: int = 0) -> TimeSplit:
    """Test on the last ``test_months`` of labelled rows; train on rows whose label was known by the cut.

    ``label_delay_days`` is the horizon H for escalation: a training case opened at t is only
    labelled at t + H, so it is used for training only when t + H ≤ cut.
    """
    test_end = times[labelled].max()
    cut = test_end - pd.DateOffset(months=test_months)
    test = labelled & (times > cut)
    train = labelled & (times + pd.Timedelta(days=label_delay_days) <= cut)
    if not train.any() or not test.any():
        raise ValueError(f"not enough history for an out-of-time split at {cut:%Y-%m-%d}: "
                         f"{int(train.sum())} training and {int(test.sum())} test rows")
    return TimeSplit(train=train, test=test, cut=cut, test_end=test_end)
