"""Small generated cities (1,500 households), generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.support.cities import generated_city
from tests.synth.contract_reading import read_tables


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("city")
    return out, generated_city(out, "small", seed=11)


@pytest.fixture(scope="session")
def city_tables(city) -> dict[str, pd.DataFrame]:
    return read_tables(city[0])


@pytest.fixture(scope="session")
def city_with_bad_rows(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bad_city")
    return out, generated_city(out, "small", seed=11, bad_row_share=0.01)
