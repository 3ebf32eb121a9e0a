"""Cities for the monitoring tests: a generated city, a drifted one, and an older, smaller export."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest

import triage.synth as synth
from triage.synth.params import load_synth_params

HOUSEHOLDS = 3_000
START, END = date(2022, 1, 1), date(2025, 6, 30)


def city(out: Path, seed: int) -> Path:
    synth.generate_city(out, households=HOUSEHOLDS, seed=seed, start=START, end=END)
    return out


def drifted_city(out: Path, seed: int) -> Path:
    """The same simulator with most cases now arriving through the hotline, and a new district."""
    params = copy.deepcopy(load_synth_params())
    params["cases"]["source_by_state"]["hotline"] = [0.85, 0.85, 0.75]
    params["city"]["districts"].append({"name": "新区", "id_prefix": "433199", "rural_share": 0.3,
                                        "minority_share": 0.3, "streets": ["新区街道"]})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synth, "load_synth_params", lambda: params)
        synth.generate_city(out, households=HOUSEHOLDS, seed=seed, start=START, end=END)
    return out


def older_smaller_export(out: Path, seed: int) -> Path:
    """What the first champion learnt from: a city a quarter the size, so a weaker model."""
    synth.generate_city(out, households=HOUSEHOLDS // 4, seed=seed, start=START, end=END)
    return out
