"""Migrations build exactly the schema the models describe, and come back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import Database
from storage.migrate import current_revision, downgrade, head_revision, upgrade
from storage.models import metadata


async def test_upgrade_matches_models_and_downgrade_empties(db_url):
    db = Database(db_url)
    try:
        assert await current_revision(db) == head_revision()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), metadata
                )
            )
        assert diff == [], f"models and migrations differ: {diff}"

        await downgrade(db, "base")
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
        await upgrade(db)
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()
