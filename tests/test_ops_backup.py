"""Backups taken while citizens answer surveys, checked and restored, on both databases."""

from __future__ import annotations

import asyncio
import os
import uuid

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.core.app import App
from storage import backup
from storage.db import Database
from storage.models import Answer, InboundEvent, Outbox, Response, RollupResponse
from tests.builders import Citizen, make_org
from tests.citizens import ANSWERS, PRESSES, issue_codes

CITIZENS = 24


async def survey(app: App, user: str, code: str) -> None:
    citizen = Citizen(app, user, channel="test")
    await citizen.say(code)
    for press in PRESSES:
        await citizen.press(press)


async def figures(db: Database) -> dict[str, int]:
    """Row counts, and the checks a torn copy would fail."""
    async with db.read() as session:

        async def n(stmt) -> int:
            return (await session.exec(stmt)).scalar_one() or 0

        completed = await n(
            select(func.count()).select_from(Response).where(Response.status == "completed")
        )
        counted = await n(select(func.sum(RollupResponse.responses)))
        answers = await n(select(func.count()).select_from(Answer))
        events = await n(select(func.count()).select_from(InboundEvent))
        rows = await n(select(func.count()).select_from(Outbox))
        of_completed = await n(
            select(func.count())
            .select_from(Answer)
            .join(Response, Answer.response_id == Response.id)
            .where(Response.status == "completed")
        )
    assert counted == completed, "rollups and responses from different moments"
    assert of_completed == completed * len(ANSWERS), "a completed response lost answers"
    return {"completed": completed, "answers": answers, "events": events, "outbox": rows}


@pytest.fixture
def fresh_url(db_url, tmp_path):
    """An empty database of the same kind as ``db_url``, for restoring into."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    base = make_url(db_url)
    name = f"sipas_restore_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_backup_taken_under_load_restores_to_a_consistent_state(app, tmp_path, fresh_url):
    org = await make_org(app)
    codes = await issue_codes(app, org.ward, org.procedure, CITIZENS)
    await asyncio.gather(*(survey(app, f"early{i}", codes[i]) for i in range(4)))
    target = tmp_path / "backup.sipas"

    load = asyncio.gather(*(survey(app, f"c{i}", codes[i]) for i in range(4, CITIZENS)))
    async with asyncio.timeout(60):  # the load is well under way
        while (await figures(app.db))["events"] < 4 * 9 + 60:  # noqa: ASYNC110 (polls the db)
            await asyncio.sleep(0.01)
    await asyncio.to_thread(backup.backup, app.db, target)
    await load
    after = await figures(app.db)
    assert after["completed"] == CITIZENS

    info = await asyncio.to_thread(backup.check, app.db, target)
    assert info.counts  # it names the tables it holds
    restored_db = Database(fresh_url)
    try:
        await asyncio.to_thread(backup.restore, restored_db, target)
        restored = await figures(restored_db)
    finally:
        await restored_db.dispose()
    assert 4 <= restored["completed"] <= after["completed"]
    assert restored["events"] >= 4 * 9 + 60  # taken in the middle of the load
    for key, value in restored.items():
        assert value <= after[key]
    if app.db.is_sqlite:
        assert info.counts["response"] >= restored["completed"]
        assert info.counts["inbound_event"] == restored["events"]

    # Restoring over the live database (the server stopped) brings its content back.
    await app.db.dispose()
    await asyncio.to_thread(backup.restore, app.db, target)
    assert await figures(app.db) == restored


async def test_backup_refuses_an_existing_file_and_check_refuses_what_is_no_backup(app, tmp_path):
    existing = tmp_path / "taken.bak"
    existing.write_bytes(b"precious")
    with pytest.raises(backup.BackupError, match="exists"):
        await asyncio.to_thread(backup.backup, app.db, existing)
    assert existing.read_bytes() == b"precious"
    with pytest.raises(backup.BackupError):
        await asyncio.to_thread(backup.check, app.db, existing)
    with pytest.raises(backup.BackupError):  # a bad file changes nothing
        await asyncio.to_thread(backup.restore, app.db, existing)
    assert (await figures(app.db))["events"] == 0
