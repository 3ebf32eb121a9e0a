"""Call and intake texts: normalisation, the threat lexicon and the learned text score.

Texts arrive in simplified or traditional Chinese (CONTRACT.md), so everything that reads text
first maps it to one script with the small traditional→simplified map of ``features.yaml``.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from triage.contract import ESCALATION_OFFENCES, TIMEZONE
from triage.features.registry import FEATURE_CONFIG

_T2S = str.maketrans({pair[0]: pair[1] for pair in FEATURE_CONFIG["t2s"].split()})


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, traditional characters → simplified."""
    return unicodedata.normalize("NFKC", text).lower().translate(_T2S)


THREAT_PHRASES: tuple[str, ...] = tuple(dict.fromkeys(normalise(p) for p in FEATURE_CONFIG["threat_phrases"]))
_THREAT_PATTERN = re.compile("|".join(map(re.escape, THREAT_PHRASES)))


def normalise_texts(texts: pd.Series) -> pd.Series:
    """``normalise`` over a string series, keeping missing texts missing."""
    texts = texts.astype("string")
    distinct = texts.dropna().unique()          # hotline summaries repeat; normalise each once
    return texts.map(dict(zip(distinct, map(normalise, distinct)))).astype("string")


def carries_threat(texts: pd.Series) -> pd.Series:
    """True where the (normalised) text holds a phrase of the threat lexicon; missing text → False."""
    normalised = normalise_texts(texts)
    return normalised.str.contains(_THREAT_PATTERN, regex=True).fillna(False).astype(bool)


def escalation_targets(calls: pd.DataFrame, incidents: pd.DataFrame, horizon_days: int) -> pd.Series:
    """Per call: did its household have a violent incident in (received_at, received_at + horizon]?"""
    violent = incidents.loc[incidents["offence"].isin(ESCALATION_OFFENCES), ["household_id", "occurred_at"]]
    violent = violent.sort_values("occurred_at")
    keyed = calls[["household_id", "received_at"]].reset_index(names="_row").sort_values("received_at")
    after = pd.merge_asof(
        keyed, violent.rename(columns={"occurred_at": "next_incident"}),
        left_on="received_at", right_on="next_incident", by="household_id",
        direction="forward", allow_exact_matches=False,
    ).set_index("_row").reindex(calls.index)
    return (after["next_incident"] - after["received_at"] <= pd.Timedelta(days=horizon_days)).fillna(False)


class CallTextModel:
    """Learned text risk score: char 1-3-grams of normalised text, logistic regression.

    ``fit`` learns from calls received before ``cutoff`` whose follow-up window also ended
    before it, with target "the call's household had a violent incident (ESCALATION_OFFENCES)
    within ``horizon_days`` after the call"; so nothing at or after the cutoff is seen.
    Plain attributes only, so it pickles (it is saved in MLflow with the escalation model).

    The training cases' own calls are scored in-sample, so the score must not memorise: strong
    regularisation (``C=0.05``) is what kept it helpful out of time (with ``C=1`` the escalation
    model lost 0.01 AUC on later cases; measured on a 20k-household city).
    """

    def __init__(self, horizon_days: int = 90, n_features: int = 2**18, C: float = 0.05):
        self.horizon_days = horizon_days
        self.n_features = n_features
        self.C = C

    def _vectorizer(self) -> HashingVectorizer:
        return HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=self.n_features,
                                 alternate_sign=False, norm="l2", lowercase=False)

    def training_set(self, tables: dict[str, pd.DataFrame], cutoff) -> tuple[pd.Series, np.ndarray]:
        """Texts and targets of the calls the model may learn from at ``cutoff`` (no offset: Asia/Shanghai)."""
        cutoff = pd.Timestamp(cutoff)
        cutoff = cutoff.tz_localize(TIMEZONE) if cutoff.tzinfo is None else cutoff   # CONTRACT.md
        calls = tables["hotline_calls"]
        usable = calls[calls["household_id"].notna() & calls["text"].notna()
                       & (calls["received_at"] + pd.Timedelta(days=self.horizon_days) < cutoff)]
        incidents = tables["incidents"]
        incidents = incidents[incidents["occurred_at"] < cutoff]
        targets = escalation_targets(usable, incidents, self.horizon_days)
        return usable["text"], targets.to_numpy(dtype=bool)

    def fit(self, tables: dict[str, pd.DataFrame], cutoff) -> "CallTextModel":
        """Learn from the history before ``cutoff``; with one class only, the score is its share.

        Hotline summaries repeat (78k distinct texts among 1.3M calls of a 200k-household
        city), so each distinct (text, target) pair is vectorised and fitted once, weighted by
        how many calls carry it: the same objective as one row per call (with the balanced class
        weights of the calls), at a cost that grows with the distinct texts, not the calls.
        """
        texts, targets = self.training_set(tables, cutoff)
        if len(targets) == 0:
            raise ValueError(f"no call with text and a complete follow-up window before {cutoff}")
        pairs = (pd.DataFrame({"text": normalise_texts(texts).to_numpy(), "target": targets})
                 .value_counts(sort=False).reset_index(name="calls"))
        X = self._vectorizer().transform(pairs["text"].to_list())
        y = pairs["target"].to_numpy(dtype=bool)
        if len(np.unique(targets)) < 2:
            self.classifier_ = DummyClassifier(strategy="prior").fit(X, y, sample_weight=pairs["calls"])
        else:
            share = {target: len(targets) / (2 * np.sum(targets == target)) for target in (False, True)}
            weights = pairs["calls"].to_numpy(dtype=np.float64) * np.where(y, share[True], share[False])
            self.classifier_ = LogisticRegression(C=self.C, max_iter=1000)
            self.classifier_.fit(X, y, sample_weight=weights)
        self.n_training_calls_ = len(targets)
        self.positive_share_ = float(targets.mean()) if len(targets) else 0.0
        return self

    def score(self, texts) -> np.ndarray:
        """Probability-like risk score per text; NaN for a missing text."""
        codes, distinct = pd.factorize(pd.Series(texts, dtype="string"))   # call summaries repeat
        scores = np.full(len(distinct), np.nan)
        if len(distinct):
            X = self._vectorizer().transform([normalise(text) for text in distinct])
            proba = self.classifier_.predict_proba(X)
            classes = list(self.classifier_.classes_)
            scores[:] = proba[:, classes.index(True)] if True in classes else 0.0
        return np.where(codes >= 0, scores[np.maximum(codes, 0)] if len(distinct) else np.nan, np.nan)
