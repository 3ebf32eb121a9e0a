"""Cities for the monitoring tests: a generated city, a drifted one, and an older, smaller export."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import triage.synth as synth
from tests.support.cities import generated_city
from triage.synth.params import load_synth_params


def city(out: Path, seed: int) -> Path:
    generated_city(out, "medium", seed=seed)
    return out


def drifted_city(out: Path, seed: int) -> Path:
    """The same simulator with most cases now arriving through the hotline, and a new district."""
    params = copy.deepcopy(load_synth_params())
    params["cases"]["source_by_state"]["hotline"] = [0.85, 0.85, 0.75]
    params["city"]["districts"].append(
        {
            "name": "新区",
            "id_prefix": "433199",
            "rural_share": 0.3,
            "minority_share": 0.3,
            "streets": ["新区街道"],
        }
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synth, "load_synth_params", lambda: params)
        generated_city(out, "medium", seed=seed)
    return out


def older_smaller_export(out: Path, seed: int) -> Path:
    """What the first champion learnt from: a smaller export whose police records were linked to the wrong
    households, so its model learnt noise and any model trained on the real export is clearly better.

    (A merely smaller city is not enough: on a few dozen test escalations the AUC difference is noise.)
    """
    generated_city(out, "small", seed=seed)
    incidents = pd.read_csv(out / "incidents.csv", dtype=str, keep_default_na=False)
    incidents["household_id"] = np.random.default_rng(seed).permutation(
        incidents["household_id"].to_numpy()
    )
    incidents["person_id"] = ""
    incidents["case_id"] = ""
    incidents.to_csv(out / "incidents.csv", index=False)
    return out
