"""The training population of an escalation model, and the cases that fall outside it.

A model knows only the cases it learnt from.  A case from a district it never saw, of a dispute
type absent from the training data, with a value far beyond anything in training, or with no
recorded history at all is still scored, but staff are told so and lean on their own judgement.
The profile is learnt with the model (``triage train``) and kept on it as plain data
(``EscalationModel.population_``), so it travels with the registered version; a model registered
before profiles existed simply has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from triage.config.domain import Population


@dataclass(frozen=True)
class PopulationProfile:
    """What the training cases looked like: categories seen, numeric ranges, districts."""

    categories: dict[str, list[str]]  # categorical feature → values seen in training
    ranges: dict[str, list[float]]  # numeric feature → [low quantile, high quantile, min, max]
    # (``unchecked_features`` of the config are left out)
    districts: list[str]  # districts of the training cases' households
    range_slack: float  # "far outside": beyond the quantile range by this share of
    # its width, and beyond anything seen in training
    history_features: list[str]  # all missing or zero → the household has no recorded history
    max_listed_features: int

    @classmethod
    def learn(
        cls, X: pd.DataFrame, districts: Sequence[str], cfg: Population
    ) -> "PopulationProfile":
        """The profile of training frame ``X`` (features) whose cases' households lie in ``districts``."""
        low, high = cfg.range_quantiles
        categories, ranges = {}, {}
        for name in X.columns:
            column = X[name]
            if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
                column
            ):
                categories[name] = sorted(str(v) for v in column.dropna().unique())
                continue
            values = pd.to_numeric(column, errors="coerce").astype("float64").dropna().to_numpy()
            if len(values) and name not in cfg.unchecked_features:
                q_low, q_high = np.quantile(values, [low, high])
                ranges[name] = [
                    float(q_low),
                    float(q_high),
                    float(values.min()),
                    float(values.max()),
                ]
        return cls(
            categories=categories,
            ranges=ranges,
            districts=sorted({str(d) for d in districts if d is not None and not pd.isna(d)}),
            range_slack=float(cfg.range_slack),
            history_features=[f for f in cfg.history_features if f in X.columns],
            max_listed_features=int(cfg.max_listed_features),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PopulationProfile":
        return cls(**data)

    def warnings(
        self,
        X: pd.DataFrame | Mapping[str, np.ndarray],
        districts: Sequence[str | None],
        labels: dict[str, dict],
    ) -> list[list[str]]:
        """For each row of ``X`` (a case's features, as a frame or as arrays by name; ``districts[i]``
        its household's district, None when the household is unknown), the ways it lies outside the
        training population."""
        out: list[list[str]] = [[] for _ in range(len(districts))]
        for name, seen in self.categories.items():
            if name not in X:
                continue
            seen = set(seen)
            for i, value in enumerate(np.asarray(X[name], dtype=object)):
                if not pd.isna(value) and str(value) not in seen:
                    out[i].append(
                        f"outside the training population: {_label(name, labels)} '{value}' "
                        "never occurred in the training cases; lean on your own judgement"
                    )
        if self.districts:
            for i, district in enumerate(districts):
                if district is not None and district not in self.districts:
                    out[i].append(
                        f"outside the training population: district '{district}' never occurred "
                        "in the training cases; lean on your own judgement"
                    )
        numeric = [n for n in self.ranges if n in X]
        values = _floats(X, numeric, len(out))
        q_low, q_high, seen_min, seen_max = (
            np.array([self.ranges[n] for n in numeric]).reshape(-1, 4).T
        )
        slack = self.range_slack * (q_high - q_low)
        with np.errstate(invalid="ignore"):  # NaN (unknown) is never far outside
            outside = ((values < q_low - slack) & (values < seen_min)) | (
                (values > q_high + slack) & (values > seen_max)
            )
        for i in np.flatnonzero(outside.any(axis=1)):
            far = [(numeric[j], values[i, j]) for j in np.flatnonzero(outside[i])]
            if far:
                listed = "; ".join(
                    f"{_label(n, labels)} = {v:g} (training cases: "
                    f"{self.ranges[n][0]:g}–{self.ranges[n][1]:g})"
                    for n, v in far[: self.max_listed_features]
                )
                more = (
                    f"; and {len(far) - self.max_listed_features} more"
                    if len(far) > self.max_listed_features
                    else ""
                )
                out[i].append(
                    f"outside the training population: values far beyond the training range: "
                    f"{listed}{more}; lean on your own judgement"
                )
        if self.history_features:
            history = np.nan_to_num(_floats(X, self.history_features, len(out)))
            for i in np.flatnonzero((history == 0).all(axis=1)):
                if (
                    districts[i] is not None
                ):  # an unknown household is already said to have no history
                    out[i].append(
                        "no recorded history for this household (calls, cases, incidents, "
                        "screenings): the score rests on the case alone; lean on your own judgement"
                    )
        return out


def _floats(X: pd.DataFrame | Mapping[str, np.ndarray], names: list[str], rows: int) -> np.ndarray:
    """The (float64) columns ``names`` of ``X`` as one matrix."""
    if isinstance(X, pd.DataFrame):
        return X[names].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.column_stack([X[name] for name in names]) if names else np.empty((rows, 0))


def _label(name: str, labels: dict[str, dict]) -> str:
    label = labels.get(name, {})
    return f"{label.get('zh', name)} ({name})" if label else name


def profile_of(model) -> PopulationProfile | None:
    """The profile stored on an escalation model; None for a model trained before profiles existed."""
    data = getattr(model, "population_", None)
    return PopulationProfile.from_dict(data) if data else None


def population_warnings(
    model,
    X: pd.DataFrame | Mapping[str, np.ndarray],
    household_ids: pd.Series,
    households: pd.DataFrame,
    labels: dict[str, dict],
) -> list[list[str]]:
    """Each case's out-of-population warnings (none when the model carries no profile).

    ``household_ids`` are the cases' households, ``households`` the rows known of them.
    """
    profile = profile_of(model)
    if profile is None:
        return [[] for _ in range(len(household_ids))]
    district_of = dict(
        zip(households["household_id"].astype(str), households["district"].astype(str))
    )
    return profile.warnings(X, [district_of.get(str(h)) for h in household_ids], labels)
