"""Alembic environment: runs on the connection storage.migrate hands over."""

from alembic import context

import storage.models  # noqa: F401  (registers every table on the metadata)
from storage.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through storage.migrate (sipas-bot db upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
