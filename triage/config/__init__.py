"""Readable data files of the domain (teams, bands, tier rule, routing rules) and their typed form."""

from triage.config.domain import Domain, load_domain

__all__ = ["Domain", "load_domain"]
