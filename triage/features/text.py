"""Call and intake texts: normalisation, the threat lexicon and the learned text score.

Texts arrive in simplified or traditional Chinese (docs/data-format.md "Files"), so everything
that reads text first maps it to one script with the small traditional→simplified map of
``features.yaml``.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from triage.contract import ESCALATION_OFFENCES, TIMEZONE
from triage.features.registry import FEATURE_CONFIG

_T2S = {pair[0]: pair[1] for pair in FEATURE_CONFIG["t2s"].split()}
_TRADITIONAL = re.compile("[" + "".join(map(re.escape, _T2S)) + "]")


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, traditional characters → simplified.

    The map is applied by one regex scan: ``str.translate`` looks each character up in a dict,
    3x slower on Chinese text (and every scored text is normalised, 12,000 in a 1,000-case batch).
    """
    return _TRADITIONAL.sub(_simplified, unicodedata.normalize("NFKC", text).lower())


def _simplified(match: re.Match) -> str:
    return _T2S[match.group()]


THREAT_PHRASES: tuple[str, ...] = tuple(
    dict.fromkeys(normalise(p) for p in FEATURE_CONFIG["threat_phrases"])
)
_THREAT_PATTERN = re.compile("|".join(map(re.escape, THREAT_PHRASES)))


def _factorize(texts) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the distinct texts (-1 where missing), and those texts: each distinct text is read once.

    Factorised as an object array: a pandas string series costs ~0.1 ms more, as much as a case's texts.
    """
    return pd.factorize(np.asarray(texts, dtype=object))


def carries_threat(texts: pd.Series) -> pd.Series:
    """True where the (normalised) text holds a phrase of the threat lexicon; missing text → False."""
    codes, distinct = _factorize(texts)
    found = np.array(
        [_THREAT_PATTERN.search(normalise(text)) is not None for text in distinct] + [False]
    )
    return pd.Series(found[codes], index=texts.index)  # code -1 (missing) picks the trailing False


def escalation_targets(
    calls: pd.DataFrame, incidents: pd.DataFrame, horizon_days: int
) -> pd.Series:
    """Per call: did its household have a violent incident in (received_at, received_at + horizon]?"""
    violent = incidents.loc[
        incidents["offence"].isin(ESCALATION_OFFENCES), ["household_id", "occurred_at"]
    ]
    # households as integer codes: merge_asof would hold a million households' calls' ids as objects
    codes, _ = pd.factorize(
        pd.concat([calls["household_id"], violent["household_id"]], ignore_index=True)
    )
    keyed = pd.DataFrame(
        {"household": codes[: len(calls)], "received_at": calls["received_at"].array}
    )
    incident_times = pd.DataFrame(
        {"household": codes[len(calls) :], "next_incident": violent["occurred_at"].array}
    )
    incident_times = incident_times[incident_times["household"] >= 0].sort_values("next_incident")
    order = np.argsort(keyed["received_at"].to_numpy(dtype="int64"), kind="stable")
    after = pd.merge_asof(
        keyed.iloc[order],
        incident_times,
        left_on="received_at",
        right_on="next_incident",
        by="household",
        direction="forward",
        allow_exact_matches=False,
    )
    soon = np.empty(len(calls), dtype=bool)
    soon[order] = (
        (after["next_incident"] - after["received_at"] <= pd.Timedelta(days=horizon_days))
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    return pd.Series(soon, index=calls.index)


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

    def _matrix(self, normalised_texts: list[str]) -> sp.csr_matrix:
        """The texts' features: l2-normalised hashed char 1-3-gram counts (``char_ngram_counts``)."""
        return _l2_normalised(char_ngram_counts(normalised_texts, self.n_features))

    def training_set(self, tables: dict[str, pd.DataFrame], cutoff) -> tuple[pd.Series, np.ndarray]:
        """Texts and targets of the calls the model may learn from at ``cutoff`` (no offset: Asia/Shanghai)."""
        texts, usable, targets = self._learnable(tables, cutoff)
        return texts[usable], targets

    def _learnable(
        self, tables: dict[str, pd.DataFrame], cutoff
    ) -> tuple[pd.Series, np.ndarray, np.ndarray]:
        """Every call's text, which calls the model may learn from, and those calls' targets (the
        texts are not copied: at a million households they are 1.7 GB)."""
        cutoff = pd.Timestamp(cutoff)
        # no offset: Asia/Shanghai (docs/data-format.md "Types")
        cutoff = cutoff.tz_localize(TIMEZONE) if cutoff.tzinfo is None else cutoff
        calls = tables["hotline_calls"]
        usable = (
            calls["household_id"].notna()
            & calls["text"].notna()
            & (calls["received_at"] + pd.Timedelta(days=self.horizon_days) < cutoff)
        ).to_numpy(dtype=bool)
        incidents = tables["incidents"]
        incidents = incidents[incidents["occurred_at"] < cutoff]
        targets = escalation_targets(
            calls.loc[usable, ["household_id", "received_at"]], incidents, self.horizon_days
        )
        return calls["text"], usable, targets.to_numpy(dtype=bool)

    def fit(self, tables: dict[str, pd.DataFrame], cutoff) -> "CallTextModel":
        """Learn from the history before ``cutoff``; with one class only, the score is its share.

        Hotline summaries repeat (78k distinct texts among 1.3M calls of a 200k-household
        city), so each distinct (text, target) pair is vectorised and fitted once, weighted by
        how many calls carry it: the same objective as one row per call (with the balanced class
        weights of the calls), at a cost that grows with the distinct texts, not the calls.
        """
        texts, usable, targets = self._learnable(tables, cutoff)
        if len(targets) == 0:
            raise ValueError(f"no call with text and a complete follow-up window before {cutoff}")
        pairs = _weighted_pairs(texts, usable, targets)
        X = self._matrix(pairs["text"].to_list())
        y = pairs["target"].to_numpy(dtype=bool)
        if len(np.unique(targets)) < 2:
            self.classifier_ = DummyClassifier(strategy="prior").fit(
                X, y, sample_weight=pairs["calls"]
            )
        else:
            share = {
                target: len(targets) / (2 * np.sum(targets == target)) for target in (False, True)
            }
            weights = pairs["calls"].to_numpy(dtype=np.float64) * np.where(
                y, share[True], share[False]
            )
            self.classifier_ = LogisticRegression(C=self.C, max_iter=1000)
            self.classifier_.fit(X, y, sample_weight=weights)
        self.n_training_calls_ = len(targets)
        self.positive_share_ = float(targets.mean()) if len(targets) else 0.0
        return self

    def score(self, texts) -> np.ndarray:
        """Probability-like risk score per text; NaN for a missing text.

        ``predict_proba`` of the classifier on the vectoriser's matrix (``char_ngram_counts``);
        a logistic regression's is computed here directly, without the input checks that cost
        more than scoring a case's few texts.
        """
        codes, distinct = _factorize(texts)
        scores = np.full(len(distinct) + 1, np.nan)  # code -1 (missing) picks the trailing NaN
        for start in range(0, len(distinct), _TEXTS_PER_MATRIX):
            chunk = [normalise(text) for text in distinct[start : start + _TEXTS_PER_MATRIX]]
            scores[start : start + len(chunk)] = self._positive_proba(self._matrix(chunk))
        return scores[codes]

    def scores_like(self, other) -> bool:
        """Whether ``other`` gives every text this model's score: the same hashing width and the same
        learnt classifier state (what :meth:`_positive_proba` reads), compared array by array.

        Models loaded from separate artifacts are never one object, even when fitted alike."""
        if type(other) is not type(self) or other.n_features != self.n_features:
            return False
        mine, theirs = self.classifier_, other.classifier_
        return type(theirs) is type(mine) and all(
            np.array_equal(getattr(mine, name), getattr(theirs, name))
            for name in _LEARNT[type(mine)]
        )

    def _positive_proba(self, X: sp.csr_matrix) -> np.ndarray:
        """The classifier's probability of True per row of the normalised n-gram counts."""
        classifier = self.classifier_
        if isinstance(classifier, LogisticRegression):  # binary: [False, True]
            return expit(X @ classifier.coef_[0] + classifier.intercept_[0])
        classes = list(classifier.classes_)
        return classifier.predict_proba(X)[:, classes.index(True)] if True in classes else 0.0


#: The fitted attributes that decide a classifier's scores, by the classes ``fit`` uses.
_LEARNT = {
    LogisticRegression: ("classes_", "coef_", "intercept_"),
    DummyClassifier: ("classes_", "class_prior_"),
}


def _weighted_pairs(texts: pd.Series, usable: np.ndarray, targets: np.ndarray) -> pd.DataFrame:
    """Each distinct (normalised text, target) of the ``usable`` calls and how many of them carry
    it, in the order of their first call; each distinct text is normalised once, and no call's
    text is copied."""
    codes, distinct = pd.factorize(texts)
    normalised_codes, normalised = pd.factorize(
        np.array([normalise(text) for text in np.asarray(distinct, dtype=object)], dtype=object)
    )
    keys = normalised_codes[codes[usable]] * 2 + targets.astype(np.int64)
    pairs, first, calls = np.unique(keys, return_index=True, return_counts=True)
    in_order = np.argsort(first)
    pairs, calls = pairs[in_order], calls[in_order]
    return pd.DataFrame({"text": normalised[pairs // 2], "target": pairs % 2 == 1, "calls": calls})


#: Texts vectorised at a time when scoring: bounds the n-gram arrays (about 100 per text) of a large history.
_TEXTS_PER_MATRIX = 4096

#: sklearn's ``_VectorizerMixin._white_spaces``: runs of white space are one space before n-grams are cut.
_WHITE_SPACES = re.compile(r"\s\s+")


def char_ngram_counts(texts: list[str], n_features: int) -> sp.csr_matrix:
    """``HashingVectorizer(analyzer="char", ngram_range=(1, 3), alternate_sign=False, norm=None,
    lowercase=False, n_features=n_features).transform(texts)``, the same matrix, in numpy.

    sklearn cuts and hashes each n-gram in Python (about 0.3 s for the 12,000 texts of a
    1,000-case batch); here the n-grams are byte ranges of the texts' joint UTF-8 encoding,
    hashed all at once.
    """
    texts = [_WHITE_SPACES.sub(" ", text) for text in texts]
    joined = "".join(texts)
    code_points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    utf8_lengths = 1 + (code_points >= 0x80) + (code_points >= 0x800) + (code_points >= 0x10000)
    byte_starts = np.concatenate([[0], np.cumsum(utf8_lengths)])  # of each character, and the end
    text_lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    text_ends = np.repeat(np.cumsum(text_lengths), text_lengths)  # of each character's text
    # the n-grams in text order: from each character, its 1-, 2- and 3-gram where the text is long enough
    first = np.repeat(np.arange(len(code_points)), 3)
    last = first + np.tile([1, 2, 3], len(code_points))  # the character after the n-gram
    fits = last <= np.repeat(text_ends, 3)
    first, last = first[fits], last[fits]
    ngrams_per_text = (
        text_lengths + np.maximum(text_lengths - 1, 0) + np.maximum(text_lengths - 2, 0)
    )
    starts, lengths = byte_starts[first], byte_starts[last] - byte_starts[first]
    hashes = _murmurhash3_32(joined.encode("utf-8"), starts, lengths)
    columns = np.abs(hashes.astype(np.int64)) % n_features  # as sklearn's _hashing_fast
    X = sp.csr_matrix(
        (np.ones(len(first)), columns, np.concatenate([[0], np.cumsum(ngrams_per_text)])),
        shape=(len(texts), n_features),
    )
    X.sum_duplicates()
    return X


def _l2_normalised(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled in place to unit length: ``sklearn.preprocessing.normalize(X, copy=False)``.

    Without its input checks (0.4 ms a call); squared counts sum exactly, so the norms are the same.
    """
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    X.data /= np.sqrt(np.bincount(rows, X.data**2, minlength=X.shape[0]))[rows]
    return X


_M = np.uint32  # murmurhash3 works modulo 2**32


def _murmurhash3_32(data: bytes, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``sklearn.utils.murmurhash3_32(data[start:start + length], seed=0)`` (int32) per key of ≤ 12 bytes."""
    padded = np.frombuffer(data + bytes(16), dtype=np.uint8)
    # the little-endian 4-byte word at each byte offset
    words = np.ndarray((len(padded) - 3,), dtype="<u4", buffer=padded, strides=(1,))
    blocks = lengths // 4
    h = np.zeros(len(starts), dtype=np.uint32)
    for block in range(blocks.max(initial=0)):
        mixed = _rotl(h ^ _scramble(words[starts + 4 * block]), 13) * _M(5) + _M(0xE6546B64)
        h = np.where(blocks > block, mixed, h)
    tail_masks = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)
    h ^= _scramble(words[starts + 4 * blocks] & tail_masks[lengths % 4])  # no tail: scrambles to 0
    h ^= lengths.astype(np.uint32)
    h ^= h >> _M(16)
    h *= _M(0x85EBCA6B)
    h ^= h >> _M(13)
    h *= _M(0xC2B2AE35)
    h ^= h >> _M(16)
    return h.view(np.int32)


def _scramble(k: np.ndarray) -> np.ndarray:
    return _rotl(k * _M(0xCC9E2D51), 15) * _M(0x1B873593)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << _M(r)) | (x >> _M(32 - r))
