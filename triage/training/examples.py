"""What models are judged against: the generator's oracle (ceiling) and the paper checklist (floor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from triage.config.domain import ChecklistItem


def read_oracle(dataset: Path, name: str) -> pd.DataFrame | None:
    """The generator's true probabilities (``_oracle/<name>.csv``), when the dataset has them."""
    path = Path(dataset) / "_oracle" / f"{name}.csv"
    return (
        pd.read_csv(path, dtype={"case_id": str, "assessment_id": str}) if path.exists() else None
    )


def oracle_probabilities(
    oracle: pd.DataFrame | None, ids: pd.Series, columns: list[str]
) -> np.ndarray | None:
    """The oracle's columns for ``ids`` (in order), or None when there is no oracle or it misses an id."""
    if oracle is None:
        return None
    key = oracle.columns[0]
    values = pd.DataFrame({key: ids.to_numpy()}).merge(oracle, on=key, how="left")[columns]
    return None if values.isna().any().any() else values.to_numpy(dtype=float)


def checklist_score(X: pd.DataFrame, checklist: list[ChecklistItem]) -> np.ndarray:
    """The floor: how many warning signs of a paper checklist a case shows (missing counts as absent)."""
    ticks = [
        (pd.to_numeric(X[item.feature], errors="coerce").fillna(-np.inf) >= item.at_least)
        for item in checklist
    ]
    return np.sum(ticks, axis=0).astype(float)
