"""The declarative base every table of the service database hangs off (one metadata, one Alembic history)."""

import importlib

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: Every module that declares tables on ``Base``.  Alembic's env.py, the schema tests and the
#: test harness import them all through :func:`all_models_metadata`, so a new module of tables
#: (e.g. ``"triage.db.service_models"``) is added here once and then seen everywhere.
MODEL_MODULES: tuple[str, ...] = ("triage.db.models", "triage.db.service_models")


def all_models_metadata() -> MetaData:
    """``Base.metadata`` with every module of :data:`MODEL_MODULES` imported: the whole schema."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
