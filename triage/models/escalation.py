"""民转刑 escalation model: LightGBM on point-in-time case features, calibrated on later cases."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from venn_abers import VennAbers

from triage.contract import BANDS
from triage.models.matrix import FeatureSchema


class EscalationModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees with Platt calibration learnt on cases later than the trees saw.

    Rows passed to :meth:`fit` must be in time order (oldest first); see :meth:`fit` for the two
    ways calibration is held out (an evaluation fold, or the refit served on every labelled case).

    Parameters
    ----------
    band_top_shares : dict
        Share of calibration cases at or above each band, e.g. ``{"critical": 0.05,
        "high": 0.15, "medium": 0.40}``; the thresholds are stored in ``band_thresholds_``.
    num_leaves, min_child_samples : int
        Small, well-populated leaves: escalations are rare (~5 %) and out-of-time AUC fell with
        bigger trees.
    text_model : object, optional
        The fitted call-text model whose scores are features; kept with the model so that
        serving computes the same features.

    Training also sets ``population_`` (a plain dict, see :mod:`triage.models.population`): the
    profile of the training cases that out-of-population warnings compare a scored case with.

    Each probability comes with an interval (:meth:`intervals`): the inductive Venn-ABERS pair
    [p0, p1] learnt on the same held-out cases as the calibration, a conformal predictor whose
    width says how much those cases pin the probability down near this one.
    """

    def __init__(
        self,
        n_estimators=1500,
        learning_rate=0.02,
        num_leaves=7,
        min_child_samples=100,
        feature_fraction=0.8,
        bagging_fraction=0.8,
        reg_lambda=1.0,
        calibration_share=0.25,
        early_stopping_rounds=60,
        band_top_shares=None,
        text_model=None,
        random_state=0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.reg_lambda = reg_lambda
        self.calibration_share = calibration_share
        self.early_stopping_rounds = early_stopping_rounds
        self.band_top_shares = band_top_shares
        self.text_model = text_model
        self.random_state = random_state

    def fit(
        self, X: pd.DataFrame, y, *, held_out_margin=None, held_out_y=None
    ) -> "EscalationModel":
        """Fit on rows in time order (oldest first).

        Without ``held_out_*`` (an evaluation fold): the last ``calibration_share`` of the rows stops
        boosting early, calibrates and cuts the bands, so calibration is learnt on cases later than
        the trees saw.  With them (the refit that is served): the trees learn from every row for
        ``n_estimators`` rounds, and calibration and bands come from ``held_out_margin`` and
        ``held_out_y``, margins of earlier fits on cases they had not seen (out of time), since no
        case of the refit is held out of it.
        """
        X = _as_frame(X)
        y = np.asarray(y, dtype=np.float64)
        self.schema_ = FeatureSchema.from_frame(X)
        self.feature_names_ = list(self.schema_.names)
        self.n_features_in_ = len(self.feature_names_)
        self.classes_ = np.array([0, 1])
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "num_threads": 0,
            "verbose": -1,
        }
        categorical = self.schema_.categorical_indices or "auto"
        if held_out_margin is not None:
            # the matrix is LightGBM's alone, so it is freed once binned (the refit's is the largest)
            train_set = lgb.Dataset(
                self.schema_.matrix(X),
                y,
                categorical_feature=categorical,
                feature_name=self.feature_names_,
            )
            self.booster_ = lgb.train(params, train_set, num_boost_round=self.n_estimators)
            margin, margin_y = (
                np.asarray(held_out_margin, dtype=np.float64),
                np.asarray(held_out_y, dtype=np.float64),
            )
        else:
            matrix = self.schema_.matrix(X)
            n_calibration = max(int(round(len(y) * self.calibration_share)), 1)
            fit_rows, cal_rows = (
                slice(0, len(y) - n_calibration),
                slice(len(y) - n_calibration, None),
            )
            train_set = lgb.Dataset(
                matrix[fit_rows],
                y[fit_rows],
                categorical_feature=categorical,
                feature_name=self.feature_names_,
                free_raw_data=False,
            )
            valid_set = lgb.Dataset(matrix[cal_rows], y[cal_rows], reference=train_set)
            self.booster_ = lgb.train(
                params,
                train_set,
                num_boost_round=self.n_estimators,
                valid_sets=[valid_set],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            margin, margin_y = self._margin(matrix[cal_rows]), y[cal_rows]
        self.calibrator_ = LogisticRegression(C=1e4).fit(margin.reshape(-1, 1), margin_y)
        p_held_out = self._calibrate(margin)
        self.band_thresholds_ = self._band_thresholds(p_held_out)
        with _quiet_venn_abers():
            self.venn_abers_ = VennAbers().fit(_two_columns(p_held_out), margin_y)
        return self

    @property
    def n_trees_(self) -> int:
        """Boosting rounds kept (after early stopping, when it stopped)."""
        return self.booster_.best_iteration or self.booster_.current_iteration()

    @property
    def text_model_(self):
        return self.text_model

    def predict_proba(self, X: pd.DataFrame, *, matrix: np.ndarray | None = None) -> np.ndarray:
        """``matrix``: ``schema_.matrix(X)`` when the caller has it already (the service explains too)."""
        p = self._calibrate(self._margin(self._matrix(X, matrix)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The uncalibrated margin (log-odds) that SHAP contributions add up to."""
        return self._margin(self.schema_.matrix(_as_frame(X, self.feature_names_)))

    def explain(
        self, X: pd.DataFrame, *, matrix: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """TreeSHAP contributions in log-odds, shape (n, features), and the base value per row.

        ``base + contributions.sum(axis=1)`` equals :meth:`decision_function`; ``matrix`` as in
        :meth:`predict_proba`.
        """
        matrix = self._matrix(X, matrix)
        contrib = self.booster_.predict(
            matrix, pred_contrib=True, num_threads=1 if len(matrix) < 64 else 0
        )
        return contrib[:, :-1], contrib[:, -1]

    def predict_and_explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability of escalation, contributions, base value) per row of ``schema_.matrix(X)``.

        The probability is calibrated from the explanation's own margin (base + Σ contributions,
        equal to :meth:`decision_function` to 1e-9): one pass over the trees instead of two.
        """
        contributions, base = self.explain(None, matrix=matrix)
        return self._calibrate(base + contributions.sum(axis=1)), contributions, base

    def intervals(self, p: np.ndarray) -> np.ndarray | None:
        """The Venn-ABERS interval [p0, p1] of each calibrated probability, shape (n, 2); None for a
        model trained without one."""
        venn_abers = getattr(self, "venn_abers_", None)
        if venn_abers is None:
            return None
        with _quiet_venn_abers():
            return venn_abers.predict_proba(_two_columns(np.asarray(p, dtype=np.float64)))[1]

    def _matrix(self, X, matrix: np.ndarray | None) -> np.ndarray:
        return self.schema_.matrix(_as_frame(X, self.feature_names_)) if matrix is None else matrix

    def bands(self, p: np.ndarray) -> np.ndarray:
        upper = BANDS[:0:-1]  # the highest band first: a case takes the first it reaches
        return np.select(
            [p >= self.band_thresholds_[band] for band in upper], upper, default=BANDS[0]
        )

    def _margin(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster_.predict(
            matrix, raw_score=True, num_threads=1 if len(matrix) < 64 else 0
        )

    def _calibrate(self, margin: np.ndarray) -> np.ndarray:
        """Platt scaling: the calibrator's ``predict_proba`` (a logistic function of the margin),
        computed directly; its input checks cost more than the rest of a case's model calls."""
        calibrator = self.calibrator_
        return expit(
            np.asarray(margin, dtype=np.float64) * calibrator.coef_[0, 0] + calibrator.intercept_[0]
        )

    def _band_thresholds(self, p_calibration: np.ndarray) -> dict[str, float]:
        shares = self.band_top_shares or {"critical": 0.05, "high": 0.15, "medium": 0.40}
        return {band: float(np.quantile(p_calibration, 1.0 - shares[band])) for band in BANDS[1:]}


@contextmanager
def _quiet_venn_abers():
    """The library takes a nanmin over slices that may be empty, which numpy warns of; harmless."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _two_columns(p: np.ndarray) -> np.ndarray:
    """P(no escalation), P(escalation): the shape Venn-ABERS reads probabilities in."""
    return np.column_stack([1.0 - p, p])


def _as_frame(X, names=None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X)
    return pd.DataFrame(X, columns=names or [f"f{i}" for i in range(X.shape[1])])
