"""Alembic environment: runs on the connection handed over by vaxreg.registry.db.upgrade()."""

from alembic import context

from vaxreg.registry.tables import all_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=all_metadata(), render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
