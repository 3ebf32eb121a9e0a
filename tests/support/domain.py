"""The shipped domain constants, and copies of ``domain.yaml`` with one section changed for a test."""

from __future__ import annotations

from pathlib import Path

import yaml

from triage.config import Domain, load_domain
from triage.settings import PACKAGE_DIR

SHIPPED_DOMAIN: Domain = load_domain(PACKAGE_DIR / "config" / "domain.yaml")


def domain_with(folder: Path, **sections) -> Path:
    """``domain.yaml`` as shipped with ``sections`` replaced (plain data), written to ``folder``."""
    path = folder / "domain.yaml"
    plain = SHIPPED_DOMAIN.model_dump(mode="json") | sections
    path.write_text(yaml.safe_dump(plain, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def domain_with_capacity(folder: Path, capacity: dict) -> Path:
    """``domain.yaml`` as shipped with another ``capacity`` section."""
    return domain_with(folder, capacity=capacity)
