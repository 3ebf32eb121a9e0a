"""Readable data files of the domain (teams, bands, tier rule, routing rules) and their loader."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from triage.settings import get_settings


@lru_cache(maxsize=8)
def _read_yaml(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_domain(path: Path | None = None) -> dict:
    """The domain constants (``config/domain.yaml`` unless ``TRIAGE_DOMAIN_FILE`` says otherwise)."""
    return _read_yaml(str(path or get_settings().domain_file))
