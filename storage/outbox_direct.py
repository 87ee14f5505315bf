"""The outbox sender's hot path below the ORM: the ``sending`` mark and batches of
deliveries, as prebuilt Core statements run by the driver on a long-lived connection.

The statements and their meaning are storage/outbox.py's ``start_sending`` and
``mark_sent`` (which stay the reference and serve every other caller). They are
compiled once per dialect by SQLAlchemy, whose bind processors still format the values
(UTC datetimes as SQLite text…), and run without a session, a pool checkout or
aiosqlite's several thread hand-offs per statement: an ORM session per mark cost
more CPU than the Bot API call it guards.

- SQLite: an own ``sqlite3`` connection in one worker thread; a whole transaction
  (``BEGIN IMMEDIATE`` … ``COMMIT``) per hand-off, under the database's in-process
  write lock (``Database.writing``), so it is committed before the call returns.
- PostgreSQL on asyncpg: an own connection; the mark is one statement in autocommit
  (committed when it answers: one round trip), a batch of deliveries one transaction.

Any driver error closes the connection (the next use opens a new one) and is raised as
``Unavailable``, an ``OSError``: to the sender the database is away, so a mark not
made means no call, and an outcome not written is written again later. Other drivers
(psycopg, in-memory SQLite) get no direct path (``for_database`` returns None) and the
sender keeps the ORM one.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import make_url

from storage.db import CONNECT_TIMEOUT, Database, sqlite_file
from storage.models import Outbox
from storage.outbox import CLAIMED, PENDING, SENDING, SENT, OutboxItem

COMMAND_TIMEOUT = 30.0  # seconds a statement may take on PostgreSQL before it counts as away

_T = Outbox.__table__
_START = (
    update(_T)
    .where(
        _T.c.id == bindparam("row"),
        _T.c.status == CLAIMED,
        _T.c.attempts == bindparam("attempts"),
    )
    .values(status=SENDING, claimed_until=bindparam("until"))
)
_SENT = (
    update(_T)
    .where(_T.c.id == bindparam("row"))
    .values(
        status=SENT,
        sent_at=bindparam("at"),
        claimed_until=None,
        provider_message_id=bindparam("message_id"),
    )
)
_SPACE = (
    update(_T)
    .where(
        _T.c.channel == bindparam("chan"),
        _T.c.recipient == bindparam("to"),
        _T.c.status == PENDING,
        _T.c.not_before < bindparam("next"),
    )
    .values(not_before=bindparam("next"))
)


class Unavailable(OSError):
    """The database did not take the statement (connection lost, refused, timed out…)."""


@dataclass(frozen=True)
class Delivery:
    """One plain delivery to record (``storage.outbox.mark_sent``'s arguments)."""

    item: OutboxItem
    at: datetime
    provider_message_id: str | None
    spacing: timedelta


class _Statement:
    """A Core statement compiled for one dialect: its SQL and how to order and format
    the parameters of one execution."""

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self._binds = []
        for name in compiled.positiontup or []:
            bind = compiled.binds[name]
            self._binds.append((name, bind.value, bind.type.bind_processor(dialect)))

    def args(self, **values: Any) -> tuple:
        out = []
        for name, default, process in self._binds:
            value = values.get(name, default)
            out.append(process(value) if process is not None and value is not None else value)
        return tuple(out)


class DirectOutbox:
    """``start_sending`` and ``mark_sent_many`` on the driver (see the module doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        dialect = db.engine.sync_engine.dialect
        self._start, self._sent, self._space = (
            _Statement(s, dialect) for s in (_START, _SENT, _SPACE)
        )

    async def start_sending(self, item: OutboxItem, now: datetime, lease: timedelta) -> bool:
        """Mark a claimed row ``sending`` (committed); False when the claim is not ours."""
        args = self._start.args(row=item.id, attempts=item.attempts, until=now + lease)
        return await self._run_start(args)

    async def mark_sent_many(self, deliveries: list[Delivery]) -> None:
        """Record deliveries in one transaction; each recipient's next message waits
        its ``spacing`` (as ``storage.outbox.mark_sent``)."""
        sent = [
            self._sent.args(row=d.item.id, at=d.at, message_id=d.provider_message_id)
            for d in deliveries
        ]
        spaced = [
            self._space.args(chan=d.item.channel, to=d.item.recipient, next=d.at + d.spacing)
            for d in deliveries
            if d.spacing > timedelta(0)
        ]
        await self._run_batch(sent, spaced)

    def _failed(self, exc: BaseException) -> Unavailable:
        for listener in self.db.error_listeners:
            listener(exc)
        return Unavailable(f"{type(exc).__name__}: {exc}")

    async def _run_start(self, args: tuple) -> bool:  # pragma: no cover - per dialect
        raise NotImplementedError

    async def _run_batch(self, sent: list[tuple], spaced: list[tuple]) -> None:  # pragma: no cover
        raise NotImplementedError

    async def close(self) -> None:
        """Close the connection (a later call opens a new one)."""


class _SQLite(DirectOutbox):
    def __init__(self, db: Database, path: str) -> None:
        super().__init__(db)
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    def _connection(self) -> sqlite3.Connection:  # in the worker thread
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("PRAGMA foreign_keys=ON")
            self._conn = conn
        return self._conn

    def _transaction(self, work: list[tuple[str, list[tuple]]]) -> int:  # in the worker thread
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                changed = 0
                for sql, rows in work:
                    changed += conn.executemany(sql, rows).rowcount if rows else 0
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return changed
        except sqlite3.Error:
            self._close_now()
            raise

    def _close_now(self) -> None:  # in the worker thread
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def _in_thread(self, work: list[tuple[str, list[tuple]]]) -> int:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox-sqlite")
        loop = asyncio.get_running_loop()
        async with self.db.writing():
            try:
                return await loop.run_in_executor(self._thread, self._transaction, work)
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc

    async def _run_start(self, args: tuple) -> bool:
        return await self._in_thread([(self._start.sql, [args])]) == 1

    async def _run_batch(self, sent: list[tuple], spaced: list[tuple]) -> None:
        await self._in_thread([(self._sent.sql, sent), (self._space.sql, spaced)])

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._close_now)
            thread.shutdown(wait=False)


class _Postgres(DirectOutbox):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._dsn = make_url(db.url).set(drivername="postgresql").render_as_string(False)
        # Two connections, so a batch of outcomes never delays the next call's mark.
        self._conns: dict[str, Any] = {}
        self._locks = {"mark": asyncio.Lock(), "batch": asyncio.Lock()}

    async def _run(self, which: str, work) -> Any:
        import asyncpg

        async with self._locks[which]:
            conn = self._conns.get(which)
            try:
                if conn is None or conn.is_closed():
                    conn = self._conns[which] = await asyncpg.connect(
                        self._dsn, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
                    )
                return await work(conn)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                await self._drop(which)
                raise self._failed(exc) from exc

    async def _drop(self, which: str) -> None:
        conn = self._conns.pop(which, None)
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _run_start(self, args: tuple) -> bool:
        async def mark(conn) -> bool:
            return await conn.execute(self._start.sql, *args) == "UPDATE 1"

        return await self._run("mark", mark)

    async def _run_batch(self, sent: list[tuple], spaced: list[tuple]) -> None:
        async def write(conn) -> None:
            async with conn.transaction():
                await conn.executemany(self._sent.sql, sent)
                if spaced:
                    await conn.executemany(self._space.sql, spaced)

        await self._run("batch", write)

    async def close(self) -> None:
        for which in list(self._conns):
            conn = self._conns.pop(which)
            if not conn.is_closed():
                await conn.close()


_direct: weakref.WeakKeyDictionary[Database, DirectOutbox | None] = weakref.WeakKeyDictionary()


def for_database(db: Database) -> DirectOutbox | None:
    """The direct path for ``db`` (one per database object, closed with it); None for a
    driver it does not cover."""
    if db not in _direct:
        url = make_url(db.url)
        path = sqlite_file(db.url)
        direct: DirectOutbox | None = None
        if db.is_sqlite and path is not None:
            direct = _SQLite(db, str(path))
        elif db.is_postgres and url.get_driver_name() == "asyncpg":
            direct = _Postgres(db)
        if direct is not None:
            db.on_dispose(direct.close)
        _direct[db] = direct
    return _direct[db]
