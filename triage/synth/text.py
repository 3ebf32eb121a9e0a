"""Operator summaries, intake descriptions and mediation notes assembled from phrase lists.

Texts are concatenations of phrases picked per row, so they are built without a Python loop
over rows; a share is written in traditional characters (a character map in synth.yaml).
"""

from __future__ import annotations

import numpy as np

S = np.dtypes.StringDType()


class PhraseBook:
    """Phrase groups in simplified and traditional form, picked by group index per row."""

    def __init__(self, text_params: dict):
        pairs = text_params["traditional"].split()
        self._to_traditional = str.maketrans({pair[0]: pair[1] for pair in pairs})
        self.params = text_params

    def pick(
        self,
        rng: np.random.Generator,
        groups: list[list[str]],
        group: np.ndarray,
        traditional: np.ndarray,
    ) -> np.ndarray:
        """For each row, a random phrase of ``groups[group[row]]``, traditional where asked."""
        sizes = np.array([len(g) for g in groups])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        flat = [phrase for g in groups for phrase in g]
        table = np.array(flat + [p.translate(self._to_traditional) for p in flat], dtype=S)
        index = offsets[group] + (rng.random(len(group)) * sizes[group]).astype(np.int64)
        return table[index + traditional * len(flat)]

    def one_group(self, rng, phrases: list[str], n: int, traditional: np.ndarray) -> np.ndarray:
        return self.pick(rng, [phrases], np.zeros(n, dtype=np.int64), traditional)

    def call_text(
        self,
        rng,
        channels: list[str],
        channel: np.ndarray,
        categories: list[str],
        category: np.ndarray,
        threat: np.ndarray,
        traditional: np.ndarray,
    ) -> np.ndarray:
        """opener (by channel) + subject (by category) + a threat or a neutral detail + a request."""
        p = self.params
        opener = self.pick(rng, [p["openers"][c] for c in channels], channel, traditional)
        subject = self.pick(rng, [p["subjects"][c] for c in categories], category, traditional)
        return _join(
            opener,
            subject,
            ",",
            self._detail(rng, threat, traditional),
            self.one_group(rng, p["requests"], len(channel), traditional),
        )

    def description(
        self,
        rng,
        dispute_types: list[str],
        dispute: np.ndarray,
        threat: np.ndarray,
        traditional: np.ndarray,
    ) -> np.ndarray:
        """An intake summary: how the case came up, what it is about, and how heated it is."""
        p = self.params
        opener = self.one_group(rng, p["description_openers"], len(dispute), traditional)
        subject = self.pick(rng, [p["subjects"][c] for c in dispute_types], dispute, traditional)
        return _join(opener, subject, ",", self._detail(rng, threat, traditional))

    def mediation_note(
        self, rng, outcomes: list[str], outcome: np.ndarray, traditional: np.ndarray
    ) -> np.ndarray:
        return self.pick(
            rng, [self.params["mediation_notes"][o] for o in outcomes], outcome, traditional
        )

    def _detail(self, rng, threat: np.ndarray, traditional: np.ndarray) -> np.ndarray:
        p = self.params
        return self.pick(
            rng, [p["calm_details"], p["threats"]], threat.astype(np.int64), traditional
        )


def _join(*parts) -> np.ndarray:
    out = parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return out
