"""Exchange tables as column arrays (:data:`Columns`), and the conversions every feature read uses.

A pandas call costs tens of microseconds whatever its size, which made a service request (one
case, a few dozen history rows) cost tens of milliseconds; so features read numpy arrays, each
table converted once.  Training passes typed frames; the service passes the column arrays its
database read gives (``read_history``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from triage.contract import TABLES
from triage.features.windows import to_ns

NAT_NS = np.iinfo(np.int64).min  # what ``to_ns`` gives a missing time
_OBJECT_TYPES = ("id", "enum", "text")

#: A table as column arrays of equal length: int64 UTC nanoseconds for timestamps (``NAT_NS``
#: when missing), objects (None when missing) for ids, codes and text, float64 (NaN) for
#: numbers and booleans.  A frame's ``text`` may stay a pandas string array (no copy of
#: millions of call texts); anything ``pd.factorize`` and ``carries_threat`` read will do.
Columns = dict[str, np.ndarray]


def as_float(values) -> np.ndarray:
    """Numbers/booleans as float64 with NaN for missing (LightGBM's missing value)."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        return values.astype(np.float64, copy=False)
    if (
        isinstance(values, pd.Series)
        and isinstance(values.dtype, np.dtype)
        and values.dtype.kind in "biuf"
    ):
        return values.to_numpy(dtype=np.float64)  # no missing-value mask: ~10x cheaper than below
    if not isinstance(values, pd.Series):
        values = pd.Series(values, copy=False)
    return values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def as_objects(values) -> np.ndarray:
    """Ids and codes as an object array with None for missing."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    if isinstance(values, pd.Series) and values.dtype == object:  # as below, at a tenth of the cost
        values = values.to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        return values
    values = pd.Series(values)
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        values = values.astype("string")
    return values.to_numpy(dtype=object, na_value=None)


def take(values: np.ndarray, positions: np.ndarray, missing=np.nan) -> np.ndarray:
    """``values[positions]``, ``missing`` where a position is -1 (no such row)."""
    if len(values) == 0:
        return np.full(len(positions), missing, dtype=values.dtype if missing is None else None)
    return np.where(positions >= 0, values[np.maximum(positions, 0)], missing)


def columns_of(name: str, frame: pd.DataFrame, keep: list[str] | None = None) -> Columns:
    """The ``keep`` columns (default all) of a typed frame of table ``name`` as :data:`Columns`."""
    types = {c.name: c.type for c in TABLES[name].columns}
    out = {}
    for column in keep or list(frame.columns):
        values = frame[column]
        if types[column] == "timestamp":
            out[column] = to_ns(values)
        elif types[column] == "text":
            out[column] = values.array
        elif types[column] in _OBJECT_TYPES:
            out[column] = as_objects(values)
        else:
            out[column] = as_float(values)
    return out


def empty_columns(name: str, keep: list[str]) -> Columns:
    """No rows of table ``name``, with the ``keep`` columns in their array types."""
    types = {c.name: c.type for c in TABLES[name].columns}
    return {
        column: np.empty(
            0,
            dtype=np.int64
            if types[column] == "timestamp"
            else object
            if types[column] in _OBJECT_TYPES
            else np.float64,
        )
        for column in keep
    }
