"""Migrations build exactly the schema the models describe, and come back down."""

from __future__ import annotations

from datetime import date, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from storage.db import Database
from storage.migrate import (
    alembic_current,
    alembic_head,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
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


async def test_the_revisions_read_without_alembic_are_alembics(db_url):
    """Every command checks the revision without importing Alembic (storage/revision.py):
    its answers, at the head, one step down, at base and with no table at all."""
    db = Database(db_url)
    try:
        assert head_revision() == alembic_head()
        assert await current_revision(db) == await alembic_current(db) == head_revision()
        await downgrade(db, "-1")
        below = await current_revision(db)
        assert below == await alembic_current(db) and below not in (None, head_revision())
        await downgrade(db, "base")
        assert await current_revision(db) is None and await alembic_current(db) is None
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE alembic_version"))
        assert await current_revision(db) is None and await alembic_current(db) is None
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


async def test_answer_month_and_channel_year_rollups_are_filled_from_the_existing_ones(db_url):
    db = Database(db_url)
    try:
        await downgrade(db, "0014_report_rollups-1")
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO unit (id, code, name, kind, path, questionnaire_code, legacy, "
                    "created_at) VALUES (902, 'Y.W', 'Phường', 'ward', '/902/', 'quick', false, "
                    ":now)"
                ),
                {"now": datetime(2027, 1, 1)},
            )
            await conn.execute(
                text(
                    "INSERT INTO rollup_answer (unit_id, day, item_code, element_code, "
                    "n1, n2, n3, n4, n5, skipped) VALUES (902, :day, :item, 'E1', :n1, 0, 0, "
                    ":n4, 0, :skipped)"
                ),
                [
                    {"day": date(2027, 1, 1), "item": "E1.1", "n1": 1, "n4": 2, "skipped": 0},
                    {"day": date(2027, 1, 31), "item": "E1.1", "n1": 0, "n4": 3, "skipped": 1},
                    {"day": date(2027, 1, 31), "item": "E1.2", "n1": 5, "n4": 0, "skipped": 0},
                    {"day": date(2027, 2, 1), "item": "E1.1", "n1": 4, "n4": 0, "skipped": 0},
                ],
            )
            await conn.execute(
                text(
                    "INSERT INTO rollup_channel_month (unit_id, month, field_id, channel, "
                    "responses) VALUES (902, :month, :field, :channel, :n)"
                ),
                [
                    {"month": date(2026, 12, 1), "field": 0, "channel": "zalo", "n": 7},
                    {"month": date(2027, 1, 1), "field": 0, "channel": "zalo", "n": 2},
                    {"month": date(2027, 12, 1), "field": 0, "channel": "zalo", "n": 3},
                    {"month": date(2027, 12, 1), "field": 5, "channel": "zalo", "n": 1},
                    {"month": date(2027, 6, 1), "field": 0, "channel": "web", "n": 4},
                ],
            )
        await upgrade(db)
        async with db.engine.connect() as conn:
            months = (
                await conn.execute(
                    text(
                        "SELECT month, item_code, element_code, n1, n4, skipped "
                        "FROM rollup_answer_month"
                    )
                )
            ).all()
            years = (
                await conn.execute(
                    text("SELECT year, field_id, channel, responses FROM rollup_channel_year")
                )
            ).all()
        as_date = lambda v: v if isinstance(v, date) else date.fromisoformat(v)  # noqa: E731
        assert sorted((as_date(m), *rest) for m, *rest in months) == [
            (date(2027, 1, 1), "E1.1", "E1", 1, 5, 1),
            (date(2027, 1, 1), "E1.2", "E1", 5, 0, 0),
            (date(2027, 2, 1), "E1.1", "E1", 4, 0, 0),
        ]
        assert sorted((as_date(y), *rest) for y, *rest in years) == [
            (date(2026, 1, 1), 0, "zalo", 7),
            (date(2027, 1, 1), 0, "web", 4),
            (date(2027, 1, 1), 0, "zalo", 5),
            (date(2027, 1, 1), 5, "zalo", 1),
        ]
    finally:
        await db.dispose()
