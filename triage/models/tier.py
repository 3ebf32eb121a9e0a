"""绿黄红 tier model: multiclass LightGBM on person features as of an assessment."""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from triage.contract import TIERS
from triage.models.matrix import FeatureSchema


class TierModel(ClassifierMixin, BaseEstimator):
    """Predicts the tier a counsellor would give, for people without a recent screening.

    ``y`` holds tier codes (``green``/``yellow``/``red``); ``classes_`` keeps that order so
    that class index 2 is always red.
    """

    def __init__(self, n_estimators=300, learning_rate=0.05, num_leaves=15, min_child_samples=30,
                 feature_fraction=0.9, reg_lambda=1.0, random_state=0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.reg_lambda = reg_lambda
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> "TierModel":
        self.schema_ = FeatureSchema.from_frame(X)
        self.feature_names_ = list(self.schema_.names)
        self.n_features_in_ = len(self.feature_names_)
        self.classes_ = np.array(TIERS)
        codes = pd.Categorical(np.asarray(y), categories=TIERS).codes
        if (codes < 0).any():
            raise ValueError("tier labels must be green, yellow or red")
        params = {
            "objective": "multiclass", "num_class": len(TIERS), "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction, "lambda_l2": self.reg_lambda,
            "seed": self.random_state, "deterministic": True, "verbose": -1,
        }
        data = lgb.Dataset(self.schema_.matrix(X), codes, feature_name=self.feature_names_,
                           categorical_feature=self.schema_.categorical_indices or "auto")
        self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.__dict__.pop("_per_class", None)
        return self

    def predict_proba(self, X: pd.DataFrame, *, matrix: np.ndarray | None = None) -> np.ndarray:
        """``matrix``: ``schema_.matrix(X)`` when the caller has it already (the service explains too)."""
        matrix = self.schema_.matrix(X) if matrix is None else matrix
        return self.booster_.predict(matrix, num_threads=1 if len(matrix) < 64 else 0)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def explain(self, X: pd.DataFrame, class_index: np.ndarray, *,
                matrix: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """TreeSHAP contributions (log-odds of the softmax) towards each row's ``class_index``.

        Each class is explained by its own trees only (see :meth:`_class_boosters`): the same values as
        the multiclass ``pred_contrib``, at a third of its cost, since that explains every class.
        """
        matrix = self.schema_.matrix(X) if matrix is None else matrix
        class_index = np.asarray(class_index)
        chosen = np.empty((len(matrix), len(self.feature_names_) + 1))
        for k, booster in enumerate(self._class_boosters()):
            rows = np.flatnonzero(class_index == k)
            if len(rows):
                chosen[rows] = booster.predict(matrix[rows], pred_contrib=True,
                                               num_threads=1 if len(rows) < 64 else 0)
        return chosen[:, :-1], chosen[:, -1]

    def _class_boosters(self) -> list[lgb.Booster]:
        """One single-output booster per class, holding that class's trees (every ``len(TIERS)``-th tree).

        The raw score of class k is the sum of its own trees, so TreeSHAP on them alone gives class k's
        contributions.  Built from the model text on first use; not pickled (rebuilt after loading).
        """
        if "_per_class" not in self.__dict__:
            text = self.booster_.model_to_string()
            header, rest = text.split("\nTree=0\n", 1)
            trees, tail = rest.split("\nend of trees\n", 1)
            blocks = re.split(r"\n(?=Tree=\d+\n)", "Tree=0\n" + trees.strip("\n"))
            single = re.sub(r"\ntree_sizes=.*", "", header)
            for key, value in (("num_class", "1"), ("num_tree_per_iteration", "1"), ("objective", "regression")):
                single = re.sub(rf"^{key}=.*$", f"{key}={value}", single, flags=re.M)
            self.__dict__["_per_class"] = [
                lgb.Booster(model_str=single + "\n" + "\n\n".join(
                    re.sub(r"^Tree=\d+", f"Tree={j}", block) for j, block in enumerate(blocks[k::len(TIERS)]))
                    + "\n\nend of trees\n" + tail)
                for k in range(len(TIERS))]
        return self.__dict__["_per_class"]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_per_class", None)
        return state
