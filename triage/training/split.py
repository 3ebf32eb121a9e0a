"""Out-of-time splits: train on the past, test on later cases, as a retraining job on the cut date would."""

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
        return {
            "cut": self.cut.isoformat(),
            "test_end": self.test_end.isoformat(),
            "train_rows": int(self.train.sum()),
            "test_rows": int(self.test.sum()),
        }


def rolling_origin_splits(
    times: pd.Series,
    labelled: pd.Series,
    *,
    folds: int,
    test_months: int,
    label_delay_days: int = 0,
) -> list[TimeSplit]:
    """A rolling-origin backtest: ``folds`` cut dates, ``test_months`` apart, oldest first.

    The last fold tests on the last ``test_months`` of labelled rows, each earlier fold on the
    months before (the windows do not overlap); every fold trains on all rows labelled by its cut.
    """
    test_end = times[labelled].max()
    splits = []
    for k in range(folds, 0, -1):
        cut = test_end - pd.DateOffset(months=test_months * k)
        window_end = test_end - pd.DateOffset(months=test_months * (k - 1))
        test = labelled & (times > cut) & (times <= window_end)
        train = labelled & (times + pd.Timedelta(days=label_delay_days) <= cut)
        if not train.any() or not test.any():
            raise ValueError(
                f"not enough history for a backtest fold cut at {cut:%Y-%m-%d}: "
                f"{int(train.sum())} training and {int(test.sum())} test rows"
            )
        splits.append(TimeSplit(train=train, test=test, cut=cut, test_end=window_end))
    return splits
