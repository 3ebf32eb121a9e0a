"""Turning a feature frame into the float matrix LightGBM is fast on.

The booster is trained and queried on a plain ``float64`` array (docs/design.md "Conventions":
the sklearn wrapper's input checks dominate single-row latency).  Categorical features are
encoded as the codes of categories fixed at fit time, so a string, a pandas ``category`` or an
unseen value all map the same way at serving time (unseen → missing).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


#: Rows copied from a frame at a time: a million cases' features are copied once, not three times.
_ROWS_PER_BLOCK = 65_536


@functools.cache
def _codes_of(categories: tuple[str, ...]) -> dict[str, float]:
    return {category: float(i) for i, category in enumerate(categories)}


@dataclass(frozen=True)
class FeatureSchema:
    names: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]

    @classmethod
    def from_frame(cls, X: pd.DataFrame) -> "FeatureSchema":
        categories = {}
        for name in X.columns:
            column = X[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                categories[name] = tuple(str(c) for c in column.cat.categories)
            elif not pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(
                column
            ):
                categories[name] = tuple(sorted(str(v) for v in column.dropna().unique()))
        return cls(names=tuple(str(c) for c in X.columns), categories=categories)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.names) if name in self.categories]

    def matrix(self, X: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
        """The float matrix of ``X`` in schema order; a missing column is an error, not a zero.

        ``X``: a feature frame, or its columns as arrays by name (float64, objects for a
        categorical: its code, None when missing), as ``case_feature_arrays`` gives them.
        float64 columns are copied in one block and a ``category`` column with the schema's
        categories gives its codes directly: per-column conversions cost more than the model
        itself on a single row.
        """
        missing = [n for n in self.names if n not in X]
        if missing:
            raise KeyError(f"feature frame lacks columns {missing}")
        if not isinstance(X, pd.DataFrame):
            return self._matrix_of_arrays(X)
        out = np.empty((len(X), len(self.names)), dtype=np.float64)
        dtypes = X.dtypes
        plain = [
            j
            for j, name in enumerate(self.names)
            if name not in self.categories and dtypes[name] == np.float64
        ]
        plain_names = [self.names[j] for j in plain]
        for start in range(0, len(X), _ROWS_PER_BLOCK):  # a block's copy at a time, not the frame's
            rows = slice(start, start + _ROWS_PER_BLOCK)
            block = X if len(X) <= _ROWS_PER_BLOCK else X.iloc[rows]
            out[rows, plain] = block[plain_names].to_numpy(dtype=np.float64)
        for j in sorted(set(range(len(self.names))) - set(plain)):
            name, column = self.names[j], X[self.names[j]]
            if name in self.categories:
                if (
                    isinstance(column.dtype, pd.CategoricalDtype)
                    and tuple(map(str, column.cat.categories)) == self.categories[name]
                ):
                    codes = column.cat.codes.to_numpy()
                else:
                    codes = pd.Categorical(
                        column.astype("string"), categories=self.categories[name]
                    ).codes
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = (
                    pd.to_numeric(column, errors="coerce")
                    .astype("float64")
                    .to_numpy(na_value=np.nan)
                )
        return out

    def _matrix_of_arrays(self, X: Mapping[str, np.ndarray]) -> np.ndarray:
        out = np.empty((len(X[self.names[0]]), len(self.names)), dtype=np.float64)
        for j, name in enumerate(self.names):
            if name in self.categories:
                code_of = _codes_of(self.categories[name])
                out[:, j] = [
                    code_of.get(v, np.nan) if isinstance(v, str) else np.nan for v in X[name]
                ]
            else:
                out[:, j] = X[name]
        return out

    def signature_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with plain dtypes (str / float64) that MLflow's schema can describe."""
        frame = pd.DataFrame(index=range(len(X)))
        for name in self.names:
            column = X[name].reset_index(drop=True)
            if name in self.categories:
                frame[name] = column.astype("object").where(column.notna(), None)
            else:
                frame[name] = pd.to_numeric(column, errors="coerce").astype("float64")
        return frame
