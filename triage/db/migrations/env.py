"""Alembic environment of the service database.

``triage.db.migrate(url)`` hands in an open connection (``config.attributes["connection"]``);
the ``alembic`` command line falls back to the ``TRIAGE_*`` settings' database URL.
The target metadata is every model module listed in ``triage.db.base.MODEL_MODULES``.
"""

from alembic import context

from triage.db.base import all_models_metadata
from triage.db.engine import engine_for
from triage.settings import get_settings

target_metadata = all_models_metadata()


def _run(connection) -> None:
    # SQLite cannot ALTER most things in place: batch mode lets later revisions copy-and-move.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    # `alembic upgrade head --sql`: the DDL for a DBA to review instead of running it.
    context.configure(
        url=get_settings().db_url, target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
elif (shared_connection := context.config.attributes.get("connection")) is not None:
    _run(shared_connection)
else:
    with engine_for(get_settings().db_url).begin() as own_connection:
        _run(own_connection)
