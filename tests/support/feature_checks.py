"""Checks the feature tests share."""

from __future__ import annotations

import numpy as np
import pandas as pd


def assert_arrays_hold_the_frame(
    arrays: dict[str, np.ndarray], frame: pd.DataFrame, names: list[str]
) -> None:
    """The service's feature arrays equal the training frame's columns (missing: None / NaN)."""
    assert list(arrays) == names
    for name, values in arrays.items():
        expected = frame[name].to_numpy(dtype=object if values.dtype == object else np.float64)
        if values.dtype == object:
            expected = np.where(pd.isna(expected), None, expected)
        np.testing.assert_array_equal(values, expected, err_msg=name)
