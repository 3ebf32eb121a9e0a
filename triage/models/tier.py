"""绿黄红 tier model: multiclass LightGBM on person features as of an assessment."""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pandas as pd
from crepes import ConformalClassifier
from crepes.extras import hinge
from sklearn.base import BaseEstimator, ClassifierMixin

from triage.contract import TIERS
from triage.models.matrix import FeatureSchema


class TierModel(ClassifierMixin, BaseEstimator):
    """Predicts the tier a counsellor would give, for people without a recent screening.

    ``y`` holds tier codes (``green``/``yellow``/``red``); ``classes_`` keeps that order so
    that class index 2 is always red.

    Red first: a red person missed is the costly error, so the tier is not the most probable
    class but read along the order green < yellow < red (:meth:`decide`): red when P(red) reaches
    ``red_threshold_``, else yellow when P(yellow or red) reaches ``yellow_threshold_``.  Both are
    chosen on held-out probabilities (:meth:`fit`'s ``held_out_*``), red's for a red recall of at
    least ``red_recall_target``; without them the rule is the most probable class.

    The same held-out rows calibrate a split conformal classifier (:meth:`prediction_sets`): the
    tiers that cannot be ruled out at ``set_confidence``, a set that holds the counsellor's tier
    for that share of people like those held out.
    """

    def __init__(
        self,
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=30,
        feature_fraction=0.9,
        reg_lambda=1.0,
        red_recall_target=0.5,
        set_confidence=0.9,
        random_state=0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.reg_lambda = reg_lambda
        self.red_recall_target = red_recall_target
        self.set_confidence = set_confidence
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y, *, held_out_proba=None, held_out_y=None) -> "TierModel":
        """Fit the trees on every row; thresholds from ``held_out_proba`` (of earlier fits, on
        assessments they had not seen) and their tiers ``held_out_y``, when given."""
        self.schema_ = FeatureSchema.from_frame(X)
        self.feature_names_ = list(self.schema_.names)
        self.n_features_in_ = len(self.feature_names_)
        self.classes_ = np.array(TIERS)
        codes = _codes(y)
        params = {
            "objective": "multiclass",
            "num_class": len(TIERS),
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "verbose": -1,
        }
        data = lgb.Dataset(
            self.schema_.matrix(X),
            codes,
            feature_name=self.feature_names_,
            categorical_feature=self.schema_.categorical_indices or "auto",
        )
        self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.__dict__.pop("_per_class", None)
        self.red_threshold_, self.yellow_threshold_, self.conformal_ = None, None, None
        if held_out_proba is not None:
            held_out_proba, held_out_codes = np.asarray(held_out_proba), _codes(held_out_y)
            self.red_threshold_, self.yellow_threshold_ = red_first_thresholds(
                held_out_proba, held_out_codes, self.red_recall_target
            )
            self.conformal_ = ConformalClassifier().fit(
                hinge(held_out_proba, np.arange(len(TIERS)), held_out_codes)
            )
        return self

    def predict_proba(self, X: pd.DataFrame, *, matrix: np.ndarray | None = None) -> np.ndarray:
        """``matrix``: ``schema_.matrix(X)`` when the caller has it already (the service explains too)."""
        matrix = self.schema_.matrix(X) if matrix is None else matrix
        return self.booster_.predict(matrix, num_threads=1 if len(matrix) < 64 else 0)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.decide(self.predict_proba(X))]

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """The tier index (0 green, 1 yellow, 2 red) of each row of probabilities, red first."""
        return ordinal_decision(
            proba, getattr(self, "red_threshold_", None), getattr(self, "yellow_threshold_", None)
        )

    def prediction_sets(self, proba: np.ndarray) -> np.ndarray | None:
        """Which tiers each row's conformal set holds, shape (n, 3) of bools in ``classes_`` order;
        None for a model trained without held-out rows."""
        conformal = getattr(self, "conformal_", None)
        if conformal is None:
            return None
        return conformal.predict_set(hinge(proba), confidence=self.set_confidence).astype(bool)

    def explain(
        self, X: pd.DataFrame, class_index: np.ndarray, *, matrix: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
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
                chosen[rows] = booster.predict(
                    matrix[rows], pred_contrib=True, num_threads=1 if len(rows) < 64 else 0
                )
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
            for key, value in (
                ("num_class", "1"),
                ("num_tree_per_iteration", "1"),
                ("objective", "regression"),
            ):
                single = re.sub(rf"^{key}=.*$", f"{key}={value}", single, flags=re.M)
            self.__dict__["_per_class"] = [
                lgb.Booster(
                    model_str=single
                    + "\n"
                    + "\n\n".join(
                        re.sub(r"^Tree=\d+", f"Tree={j}", block)
                        for j, block in enumerate(blocks[k :: len(TIERS)])
                    )
                    + "\n\nend of trees\n"
                    + tail
                )
                for k in range(len(TIERS))
            ]
        return self.__dict__["_per_class"]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_per_class", None)
        return state


def _codes(y) -> np.ndarray:
    codes = pd.Categorical(np.asarray(y), categories=TIERS).codes
    if (codes < 0).any():
        raise ValueError("tier labels must be green, yellow or red")
    return codes


def ordinal_decision(
    proba: np.ndarray, red_threshold: float | None, yellow_threshold: float | None
) -> np.ndarray:
    """Red when P(red) ≥ the red threshold, else yellow when P(yellow) + P(red) ≥ the yellow one, else
    green; the most probable tier when there are no thresholds."""
    proba = np.asarray(proba)
    if red_threshold is None:
        return proba.argmax(axis=1)
    return np.select(
        [proba[:, 2] >= red_threshold, proba[:, 1] + proba[:, 2] >= yellow_threshold], [2, 1], 0
    )


def red_first_thresholds(
    proba: np.ndarray, codes: np.ndarray, red_recall_target: float
) -> tuple[float, float]:
    """Thresholds with the best macro-F1 among those whose red recall reaches ``red_recall_target``.

    Red's threshold is at most the P(red) that catches that share of the held-out red persons
    (a higher one would miss more); among such candidates, and every yellow threshold, the
    pair with the highest macro-F1 on the held-out rows wins.
    """
    red_scores = np.sort(proba[codes == 2, 2])[::-1]
    if len(red_scores) == 0:
        return 1.0 + 1e-9, 0.5
    reach = red_scores[min(int(np.ceil(red_recall_target * len(red_scores))), len(red_scores)) - 1]
    red_candidates = np.unique(np.quantile(proba[:, 2], np.linspace(0.5, 0.995, 60)))
    red_candidates = np.append(red_candidates[red_candidates <= reach], reach)
    yellow_candidates = np.unique(
        np.quantile(proba[:, 1] + proba[:, 2], np.linspace(0.05, 0.95, 37))
    )
    best = (-1.0, reach, 0.5)
    for red in red_candidates:
        for yellow in yellow_candidates:
            score = _macro_f1(codes, ordinal_decision(proba, red, yellow))
            if score > best[0]:
                best = (score, float(red), float(yellow))
    return best[1], best[2]


def _macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """``f1_score(truth, predicted, average="macro", labels=[0, 1, 2], zero_division=0)`` from one
    confusion count: the threshold search evaluates it a few thousand times."""
    confusion = np.bincount(truth * 3 + predicted, minlength=9).reshape(3, 3)
    hits, actual, called = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(actual + called > 0, 2 * hits / (actual + called), 0.0)
    return float(f1.mean())
