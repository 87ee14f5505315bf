"""Migrations build exactly the schema the models describe, and come back down."""

from __future__ import annotations

from datetime import date, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

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


async def test_month_rollups_are_filled_from_the_day_rollups(db_url):
    db = Database(db_url)
    try:
        await downgrade(db, "0009_month_rollups-1")
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO unit (id, code, name, kind, path, questionnaire_code, legacy, "
                    "created_at) VALUES (901, 'M.W', 'Phường', 'ward', '/901/', 'quick', false, "
                    ":now)"
                ),
                {"now": datetime(2027, 1, 1)},
            )
            await conn.execute(
                text(
                    "INSERT INTO rollup_response (unit_id, day, field_id, responses) "
                    "VALUES (901, :day, :field, :n)"
                ),
                [
                    {"day": date(2027, 1, 1), "field": 0, "n": 2},
                    {"day": date(2027, 1, 31), "field": 0, "n": 3},
                    {"day": date(2027, 1, 31), "field": 7, "n": 1},
                    {"day": date(2027, 2, 1), "field": 0, "n": 4},
                ],
            )
        await upgrade(db)
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT month, field_id, responses FROM rollup_response_month")
                )
            ).all()
        as_date = lambda v: v if isinstance(v, date) else date.fromisoformat(v)  # noqa: E731
        assert sorted((as_date(m), f, n) for m, f, n in rows) == [
            (date(2027, 1, 1), 0, 5),
            (date(2027, 1, 1), 7, 1),
            (date(2027, 2, 1), 0, 4),
        ]
    finally:
        await db.dispose()
