"""The rollup increments are written last in their transaction, summed, and never twice.

On PostgreSQL an upsert keeps its row locked until the commit, and every completion at a
unit on one day updates the same rollup rows; so the increments wait until the step's
other work is done (``storage.rollups``). These tests hold that order and the sums.
"""

from __future__ import annotations

import re

from sqlalchemy import event, func, select

from bot.core import engine
from bot.core.app import App
from storage import pg_driver, rollups
from storage.models import Response, RollupAnswer, RollupResponse
from tests.builders import Citizen, make_org, new_code
from tests.builders import event as make_event

driver_run = pg_driver.run


async def complete_recording_the_last_press(app: App, user: str) -> list[str]:
    """Take a survey to its end; the statements of the press that completed it."""
    org = await make_org(app)
    citizen = Citizen(app, user=user)
    replies = await citizen.say(f"/start {await new_code(app, org.ward, procedure=org.procedure)}")
    seen: list[str] = []

    def record(conn, cursor, statement, params, context, executemany):
        seen.append(" ".join(statement.split()).lower())

    async def record_driver(session, method, sql, args):  # the step's own statements
        record(None, None, sql, args, None, False)
        return await driver_run(session, method, sql, args)

    for _ in range(30):
        buttons = [b for m in replies for b in m.get("buttons", [])]
        assert buttons, replies
        seen.clear()
        for each in app.db.engines:
            event.listen(each.sync_engine, "before_cursor_execute", record)
        pg_driver.run = record_driver
        try:
            await engine.handle(
                app, make_event(user, payload=buttons[0]["payload"], channel="test")
            )
        finally:
            pg_driver.run = driver_run
            for each in app.db.engines:
                event.remove(each.sync_engine, "before_cursor_execute", record)
        async with app.db.read() as session:
            status = (await session.exec(select(Response.status))).scalar_one()
        if status == "completed":
            return seen
        replies = await citizen.inbox()
    raise AssertionError("the survey never completed")


async def totals(app: App) -> tuple[int, int]:
    async with app.db.read() as session:
        responses = (await session.exec(select(func.sum(RollupResponse.responses)))).scalar()
        answered = (
            await session.exec(
                select(
                    func.sum(
                        RollupAnswer.n1
                        + RollupAnswer.n2
                        + RollupAnswer.n3
                        + RollupAnswer.n4
                        + RollupAnswer.n5
                        + RollupAnswer.skipped
                    )
                )
            )
        ).scalar()
    return responses or 0, answered or 0


async def test_the_completing_press_writes_its_rollups_last_before_the_commit(app):
    seen = await complete_recording_the_last_press(app, "rollup-order")
    writes = [s for s in seen if not s.startswith(("begin", "commit", "select"))]
    touching = [i for i, s in enumerate(writes) if "rollup_" in s]
    # answers by day and month; responses by day and month; by channel, day, month, year
    tables = {t for s in writes for t in re.findall(r"insert into (rollup_\w+)", s)}
    response_tables = {
        "rollup_answer",
        "rollup_answer_month",
        "rollup_response",
        "rollup_response_month",
        "rollup_channel",
        "rollup_channel_month",
        "rollup_channel_year",
    }
    # (PostgreSQL's one statement names the dossier rollups too, with no rows for them.)
    assert response_tables <= tables, writes
    # One statement on PostgreSQL (its row locks wait for the commit), one per table on
    # SQLite; either way the last before the commit.
    statements = 1 if app.db.dialect == "postgresql" else 7
    assert touching == list(range(len(writes) - statements, len(writes))), writes
    assert any("outbox" in s for s in writes[: touching[0]])  # the step's work came first
    assert await totals(app) == (1, len(await answers_of_the_response(app)))


async def answers_of_the_response(app: App) -> list:
    from storage.models import Answer

    async with app.db.read() as session:
        return list(
            (await session.exec(select(Answer).where(Answer.scale == "satisfaction"))).scalars()
        )


async def test_counts_added_and_removed_in_one_transaction_write_nothing(app):
    await complete_recording_the_last_press(app, "rollup-net")
    counted = await totals(app)
    assert counted[0] == 1
    async with app.db.read() as session:
        response_id = (await session.exec(select(Response.id))).scalar_one()

    async with app.db.write() as session:  # removed and added back: no change at all
        assert await rollups.apply_response(session, response_id, app.tz, sign=-1)
        assert await rollups.apply_response(session, response_id, app.tz, sign=1)
    assert await totals(app) == counted

    async with app.db.write() as session:  # counted twice, then rebuilt: rebuilt wins
        assert await rollups.apply_response(session, response_id, app.tz)
        await rollups.rebuild(session, app.tz)
    assert await totals(app) == counted

    try:  # a transaction that fails writes none of its increments
        async with app.db.write() as session:
            assert await rollups.apply_response(session, response_id, app.tz)
            raise RuntimeError("the step failed")
    except RuntimeError:
        pass
    assert await totals(app) == counted
