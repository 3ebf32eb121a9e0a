"""The service database: models, migrations, bulk loading and the history adapter.

Adding tables (e.g. the service's decisions, reviews, API keys and audit log):
1. declare them on :class:`triage.db.base.Base` in a new module, e.g.
   ``triage/db/service_models.py``
   (use :class:`triage.db.types.UtcDateTime` for every timestamp);
2. add that module to :data:`triage.db.base.MODEL_MODULES`;
3. write the revision: ``TRIAGE_DATABASE_URL=sqlite:////tmp/rev.db alembic -c triage/db/alembic.ini
   upgrade head`` then ``… revision --autogenerate -m "service tables"`` and tidy the generated
   file in ``triage/db/migrations/versions/`` (it revises ``0001``);
4. ``tests/db/test_migrations.py`` then checks the new models against the migrations on SQLite
   and PostgreSQL, and the ``db_url`` test fixture gives every test a migrated, empty database.
"""

from triage.db.engine import engine_for, migrate
from triage.db.history import read_tables
from triage.db.load import load_frames

__all__ = ["engine_for", "load_frames", "migrate", "read_tables"]
