"""The threat flag and learned score of each text, remembered per process (texts never change)."""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pandas as pd

from triage.features.text import carries_threat


class TextScores:
    """Per text model, the threat flag and learned score of each text seen (both depend on the text only).

    Call texts never change once stored, and a household's calls are read again for each of its
    cases, so each process remembers them (at most ``limit`` texts per model, then starts over).
    """

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self._by_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._plain: dict[str, tuple[bool, float]] = {}  # without a text model
        self._lock = threading.Lock()

    def of(self, texts, text_model, also=None) -> tuple[np.ndarray, np.ndarray]:
        """(threat flag, text score) per text; False/NaN for a missing text.

        ``also``: texts that will be asked for next (a case's description), learnt in the same
        pass: the threat lexicon and the text model each cost milliseconds per call, whatever its size.
        """
        codes, distinct = pd.factorize(texts)
        distinct = np.asarray(distinct, dtype=object)  # iterating an Arrow array costs µs per text
        if len(distinct) > self.limit:  # a training-sized history: in one go, nothing kept
            texts = pd.Series(texts, dtype="string")
            return (
                carries_threat(texts).to_numpy(dtype=bool),
                text_model.score(texts) if text_model is not None else np.full(len(texts), np.nan),
            )
        extra = [] if also is None else pd.unique(np.asarray(also, dtype=object))
        with self._lock:
            known = self._plain if text_model is None else self._by_model.setdefault(text_model, {})
            found = [known.get(text) for text in distinct]
            unseen = list(
                dict.fromkeys(
                    [text for text, pair in zip(distinct, found) if pair is None]
                    + [text for text in extra if isinstance(text, str) and text not in known]
                )
            )
        if unseen:
            unseen_texts = pd.Series(unseen, dtype="string")
            threat = carries_threat(unseen_texts).to_numpy(dtype=bool).tolist()
            score = (
                text_model.score(unseen_texts)
                if text_model is not None
                else np.full(len(unseen), np.nan)
            ).tolist()
            learned = dict(zip(unseen, zip(threat, score)))
            found = [
                pair if pair is not None else learned[text] for text, pair in zip(distinct, found)
            ]
            if len(learned) <= self.limit:
                with self._lock:
                    if len(known) + len(learned) > self.limit:
                        known.clear()
                    known.update(learned)
        flags = np.array([pair[0] for pair in found] + [False], dtype=bool)
        scores = np.array([pair[1] for pair in found] + [np.nan], dtype=np.float64)
        return flags[codes], scores[codes]  # code -1 (missing text) reads the last slot


TEXT_SCORES = TextScores()
