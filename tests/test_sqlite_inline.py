"""storage/sqlite_inline.py: a short write transaction on SQLite runs on the event loop's
thread, never waits for another process's lock there, and its log is still copied into
the database file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from sqlalchemy import event, text

from storage import sqlite_inline
from storage.db import Database, sqlite_file


def where_statements_run(db: Database) -> None:
    """Give every connection of ``db`` a SQL function naming the thread it runs in."""
    for engine in db.engines:

        @event.listens_for(engine.sync_engine, "connect")
        def _add(dbapi_conn, _record) -> None:
            dbapi_conn.create_function("thread_id", 0, threading.get_ident)


async def thread_of(session) -> int:
    return (await session.exec(text("SELECT thread_id()"))).scalar_one()


async def test_a_short_write_runs_on_the_loops_thread_and_others_in_aiosqlites(sqlite_url):
    db = Database(sqlite_url)
    where_statements_run(db)
    loop_thread = threading.get_ident()
    try:
        async with db.write(short=True) as session:
            assert await thread_of(session) == loop_thread
        async with db.write() as session:  # an import, a rebuild: may run long
            assert await thread_of(session) != loop_thread
        async with db.read() as session:  # a report
            assert await thread_of(session) != loop_thread
        async with db.read(short=True) as session:  # a report over the rollups, as chat runs it
            assert await thread_of(session) == loop_thread
    finally:
        await db.dispose()


async def test_a_lock_held_by_another_process_is_waited_for_off_the_loop(sqlite_url):
    db = Database(sqlite_url)
    path = sqlite_file(sqlite_url)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")  # as every connection of ours sets it
    other.execute("BEGIN IMMEDIATE")  # e.g. an import publishing a chunk
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def step() -> None:
        async with db.write(short=True) as session:
            await session.exec(
                text(
                    "INSERT INTO inbound_event (channel, event_id, received_at) VALUES (:c, :e, :t)"
                ),
                params={"c": "test", "e": "held", "t": "2026-12-01 00:00:00.000000"},
            )

    ticker = asyncio.create_task(ticking())
    try:
        writing = asyncio.create_task(step())
        await asyncio.sleep(0.5)
        assert not writing.done()  # still waiting for the lock…
        assert ticks >= 20  # …and the loop went on meanwhile (0.5 s of 10 ms ticks)
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 5)
        async with db.read() as session:
            found = await session.exec(text("SELECT count(*) FROM inbound_event"))
            assert found.scalar_one() == 1
        # The connection is at busy_timeout 0 again: the next step is not slowed.
        async with db.write(short=True) as session:
            timeout = (await session.exec(text("PRAGMA busy_timeout"))).scalar_one()
            assert timeout == 0
    finally:
        ticker.cancel()
        other.close()
        await db.dispose()


async def test_the_log_is_copied_into_the_file_every_so_many_short_commits(sqlite_url, monkeypatch):
    monkeypatch.setattr(sqlite_inline, "CHECKPOINT_EVERY", 5)
    db = Database(sqlite_url)
    path = sqlite_file(sqlite_url)

    def in_the_file() -> int:
        # ``immutable`` reads the database file alone, not the write-ahead log.
        with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM inbound_event").fetchone()[0]

    async def step(n: int) -> None:
        async with db.write(short=True) as session:
            await session.exec(
                text(
                    "INSERT INTO inbound_event (channel, event_id, received_at) VALUES (:c, :e, :t)"
                ),
                params={"c": "test", "e": f"e{n}", "t": "2026-12-01 00:00:00.000000"},
            )

    try:
        for n in range(4):
            await step(n)
        assert in_the_file() == 0  # no checkpoint at commit on the loop
        await step(4)
        await db._checkpoints.wait()
        assert in_the_file() == 5
    finally:
        await db.dispose()
