"""SQLite for short write transactions, run on the event loop's thread.

aiosqlite hands every call to its own thread and waits for the answer: four hand-offs
per statement (cursor, execute, fetch, close), about 30 per chat step, which cost more
CPU than the statements. This dialect (``sqlite+sipasinline``) calls ``sqlite3``
directly instead. A statement that finds the database locked by another process (an
import, a second server) is not waited for on the loop: it fails at once (busy_timeout
0) and is run again in a worker thread that waits up to ``PATIENCE_MS``. In WAL mode
with ``synchronous=NORMAL`` a commit does not wait for the disk.

Only ``Database.write(short=True)`` uses it (a chat step: a handful of statements on a
few rows); reports, imports and rebuilds keep aiosqlite, so a long statement never holds
the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

DRIVER = "sipasinline"
PATIENCE_MS = 10_000  # how long the worker thread waits for another process's lock
# These connections never checkpoint at commit (that waits for the disk); every this
# many commits, a worker thread copies the log into the database file instead (SQLite's
# own automatic checkpoint comes every 1,000 pages, one to three hundred steps).
CHECKPOINT_EVERY = 200


def _busy(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _Driver:
    """What SQLAlchemy's aiosqlite adapter uses of an ``aiosqlite.Connection``, over a
    plain ``sqlite3`` connection: the coroutines run the call at once."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._conn = raw
        self._connection = raw  # the adapter checks it before commit and rollback

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        # Another process holds the lock: wait for it in a thread, not on the loop.
        return await asyncio.to_thread(self._patiently, call, *args)

    def _patiently(self, call: Callable[..., Any], *args: Any) -> Any:
        self._conn.execute(f"PRAGMA busy_timeout={PATIENCE_MS}")
        try:
            return call(*args)
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

    def cursor(self) -> _DriverCursor:
        return _DriverCursor(self)

    async def commit(self) -> None:
        await self.run(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


class _DriverCursor:
    def __init__(self, driver: _Driver) -> None:
        self._driver = driver
        self._cursor = driver._conn.cursor()

    async def __aenter__(self) -> _DriverCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, operation: str, parameters: Any = ()) -> _DriverCursor:
        await self._driver.run(self._cursor.execute, operation, parameters)
        return self

    async def executemany(self, operation: str, rows: Any) -> _DriverCursor:
        await self._driver.run(self._cursor.executemany, operation, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Adapted(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection._conn.isolation_level = value  # no thread to hand it to


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kw: Any) -> _Adapted:  # type: ignore[override]
        kw.pop("async_creator_fn", None)
        kw["check_same_thread"] = False  # a locked statement is run again in a thread
        kw["timeout"] = 0
        raw = sqlite3.connect(*args, **kw)
        raw.execute("PRAGMA wal_autocheckpoint=0")  # see CHECKPOINT_EVERY
        return _Adapted(self, _Driver(raw))


class Dialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True
    supports_server_side_cursors = False

    @classmethod
    def import_dbapi(cls) -> _DBAPI:  # type: ignore[override]
        return _DBAPI(__import__("aiosqlite"), sqlite3)


class Checkpoints:
    """Counts the short transactions' commits and, every ``CHECKPOINT_EVERY``, runs a
    ``PASSIVE`` checkpoint (it never blocks a writer) in a worker thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._commits = 0
        self._running: asyncio.Future | None = None

    def committed(self) -> None:
        """One more commit; start a checkpoint when it is time and none is running."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or (self._running and not self._running.done()):
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)

    def _checkpoint(self) -> None:
        conn = sqlite3.connect(self._path, timeout=PATIENCE_MS / 1000)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    async def wait(self) -> None:
        """Let a running checkpoint finish (before the database is closed)."""
        if self._running is not None:
            await asyncio.shield(self._running)


registry.register(f"sqlite.{DRIVER}", __name__, "Dialect")
