import numpy as np
import pandas as pd
import pytest

from triage.evaluation.metrics import (
    binary_metrics,
    expected_calibration_error,
    tier_metrics,
    top_share_metrics,
)
from triage.training.split import rolling_origin_splits


def test_each_fold_trains_on_labels_known_by_its_cut_and_tests_on_the_months_after():
    times = pd.Series(pd.date_range("2022-01-01", "2024-12-31", freq="D", tz="UTC"))
    folds = rolling_origin_splits(
        times, pd.Series(True, index=times.index), folds=3, test_months=3, label_delay_days=180
    )
    assert [f.cut for f in folds] == [
        pd.Timestamp(d, tz="UTC") for d in ("2024-03-31", "2024-06-30", "2024-09-30")
    ]
    for split in folds:
        assert (times[split.train] + pd.Timedelta(days=180) <= split.cut).all()
        assert (times[split.test] > split.cut).all() and (times[split.test] <= split.test_end).all()
        assert not (split.train & split.test).any()
    tested = sum(f.test.astype(int) for f in folds)
    assert tested.max() == 1 and times[tested == 1].min() > folds[0].cut  # windows do not overlap


def test_backtest_refuses_too_little_history():
    times = pd.Series(pd.date_range("2024-06-01", periods=30, freq="D", tz="UTC"))
    with pytest.raises(ValueError, match="not enough history"):
        rolling_origin_splits(
            times, pd.Series(True, index=times.index), folds=3, test_months=3, label_delay_days=180
        )


def test_perfectly_calibrated_scores_have_small_ece():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, 200_000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    assert expected_calibration_error(y, p) < 0.005
    assert expected_calibration_error(y, np.clip(p * 2, 0, 1)) > 0.05


def test_top_share_counts_recall_and_precision():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1.0])
    score = np.arange(10)[::-1].astype(float)  # case 0 ranked first, case 9 last
    assert top_share_metrics(y, score, 0.1) == (0.5, 1.0)
    metrics = binary_metrics(y, score, is_probability=False)
    assert metrics["roc_auc"] == pytest.approx(0.5)
    assert "brier" not in metrics


def test_tier_metrics_reward_ordinal_closeness():
    truth = ["green", "yellow", "red", "red"]
    close = np.eye(3)[[0, 1, 1, 2]]  # one red called yellow
    far = np.eye(3)[[0, 1, 0, 2]]  # one red called green
    assert tier_metrics(truth, close)["qwk"] > tier_metrics(truth, far)["qwk"]
    assert tier_metrics(truth, close)["red_recall"] == 0.5


def test_ece_noise_floor_shrinks_with_more_cases():
    rng = np.random.default_rng(1)
    few, many = rng.uniform(0, 0.12, 700), rng.uniform(0, 0.12, 70_000)
    from triage.evaluation.metrics import ece_noise_floor

    assert ece_noise_floor(few) > 0.01 > ece_noise_floor(many, draws=20)
