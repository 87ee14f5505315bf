"""The outbox sender's hot path below the ORM: claims, the ``sending`` mark and batches
of deliveries, as prebuilt Core statements run by the driver on long-lived connections.

The statements and their meaning are storage/outbox.py's ``claim``, ``start_sending``
and ``mark_sent`` (the reference, serving every other caller), compiled once per dialect
by SQLAlchemy, whose bind processors still format the values, and run without a session,
a pool checkout or aiosqlite's thread hand-offs: an ORM session per mark cost more CPU
than the Bot API call it guards.

- SQLite: own ``sqlite3`` connections; a whole transaction (``BEGIN IMMEDIATE`` …
  ``COMMIT``) at once on the event loop's thread when the write lock is free, else in
  one worker thread that waits for it; always under ``Database.writing``, committed
  before the coroutine returns (storage/step_direct.py's writes use it too).
- PostgreSQL on asyncpg: two own connections; the mark is one autocommit statement on
  one, a claim or a batch of deliveries one transaction on the other.

Any driver error closes the connection (the next use opens a new one) and is raised as
``Unavailable``, an ``OSError``: to the sender the database is away, so a mark not made
means no call, and an outcome not written is written again later. Other drivers
(psycopg, in-memory SQLite) get no direct path (``for_database`` returns None).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import make_url

from storage import outbox
from storage.db import CONNECT_TIMEOUT, Database, sqlite_file
from storage.models import Outbox
from storage.outbox import CLAIMED, SENDING, SENT, OutboxItem

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 30.0  # seconds a statement may take on PostgreSQL before it counts as away
# A claim's best plan depends on the backlog's size: planned for each run (about one a
# second), not once for a table that then grows (a plan made while it held a few rows
# ran the heads' grouping once per open row: seconds per claim with a backlog).
_SETTINGS = {"batch": {"plan_cache_mode": "force_custom_plan"}}

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
    .where(*outbox.spacing_condition(_T, bindparam("chan"), bindparam("to"), bindparam("row")))
    .where(_T.c.not_before < bindparam("next"))
    .values(not_before=bindparam("next"))
)


Work = list[tuple[str, list[tuple], bool]]  # (SQL, parameter tuples, rows wanted?) each


class Unavailable(OSError):
    """The database did not take the statement (connection lost, refused, timed out…)."""


class Rollback(Exception):
    """Raised by the work of ``SQLiteDirect.transaction`` to roll back and return ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass(frozen=True)
class Delivery:
    """One plain delivery to record (``storage.outbox.mark_sent``'s arguments)."""

    item: OutboxItem
    at: datetime
    provider_message_id: str | None
    spacing: timedelta


class Statement:
    """A Core statement compiled for one dialect: its SQL and how to order and format
    the parameters of one execution."""

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self._binds = []
        for name in compiled.positiontup or []:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self._binds.append((name, bind.value, process))

    def args(self, **values: Any) -> tuple:
        out = []
        for name, default, process in self._binds:
            value = values.get(name, default)
            out.append(process(value) if process is not None and value is not None else value)
        return tuple(out)


class DirectOutbox:
    """``claim``, ``start_sending`` and ``mark_sent_many`` on the driver (module doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        dialect = db.engine.sync_engine.dialect
        self._start, self._sent, self._space = (
            Statement(s, dialect) for s in (_START, _SENT, _SPACE)
        )
        self._stale, self._take = (
            Statement(s, dialect) for s in outbox.claim_statements(dialect.name)
        )

    async def claim(
        self, channel: str, now: datetime, *, limit: int, lease: timedelta, owner: str | None
    ) -> list[OutboxItem]:
        """``storage.outbox.claim`` (without ``recipient``), in one transaction."""
        params = outbox.claim_params(channel, now, limit=limit, lease=lease, owner=owner)
        stale, rows = await self._run_claim(self._stale.args(**params), self._take.args(**params))
        if stale:
            log.warning("outbox rows %s: %s", [r[0] for r in stale], outbox.UNKNOWN)
        return outbox.claimed(rows)

    async def start_sending(self, item: OutboxItem, now: datetime, lease: timedelta) -> bool:
        """Mark a claimed row ``sending`` (committed); False when the claim is not ours."""
        args = self._start.args(row=item.id, attempts=item.attempts, until=now + lease)
        return await self._run_start(args)

    async def mark_sent_many(self, deliveries: list[Delivery]) -> None:
        """Record deliveries in one transaction (as ``storage.outbox.mark_sent``)."""
        sent = [
            self._sent.args(row=d.item.id, at=d.at, message_id=d.provider_message_id)
            for d in deliveries
        ]
        spaced = [
            self._space.args(
                chan=d.item.channel, to=d.item.recipient, row=d.item.id, next=d.at + d.spacing
            )
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

    async def _run_claim(self, stale: tuple, take: tuple) -> tuple[list, list]:  # pragma: no cover
        raise NotImplementedError

    async def _run_batch(self, sent: list[tuple], spaced: list[tuple]) -> None:  # pragma: no cover
        raise NotImplementedError

    async def close(self) -> None:
        """Close the connection (a later call opens a new one)."""


class SQLiteDirect(DirectOutbox):
    """The SQLite path; its connections also run storage/step_direct.py's writes."""

    def __init__(self, db: Database, path: str) -> None:
        super().__init__(db)
        self._path = path
        self._conn: sqlite3.Connection | None = None  # the worker thread's
        self._now: sqlite3.Connection | None = None  # the event loop's (see _at_once)
        self._thread: ThreadPoolExecutor | None = None

    def _open(self, busy_ms: int, checkpoints: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=busy_ms / 1000, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={busy_ms}"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("PRAGMA foreign_keys=ON")
        if not checkpoints:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    @staticmethod
    def _transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """``work(conn)`` in the transaction just begun, then COMMIT (ROLLBACK on a raise)."""
        try:
            out = work(conn)
            conn.execute("COMMIT")
            return out
        except Rollback as undo:
            conn.execute("ROLLBACK")
            return undo.value
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _waiting(self, work: Callable[[sqlite3.Connection], Any]) -> Any:  # worker thread
        try:
            if self._conn is None:
                self._conn = self._open(10_000, checkpoints=True)
            self._conn.execute("BEGIN IMMEDIATE")
            return self._transaction(self._conn, work)
        except sqlite3.Error:
            self._close_now()
            raise

    def _at_once(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """The transaction on the event loop's thread when the write lock is free at once
        (busy_timeout 0; this connection never checkpoints, and in WAL with
        ``synchronous=NORMAL`` a commit does not wait for the disk): a hand-off to the
        thread cost more than the transaction. None when another process holds the
        lock: the worker thread waits for it instead (``_BUSY``)."""
        if self._now is None:
            self._now = self._open(0, checkpoints=False)
        try:
            self._now.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return _BUSY
        try:
            return self._transaction(self._now, work)
        except sqlite3.Error:
            now, self._now = self._now, None
            now.close()
            raise

    def _close_now(self) -> None:  # in the worker thread
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """``work(conn)`` in one write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``,
        under ``Database.writing``), on the event loop's thread when the lock is free;
        its result. A driver error is raised as ``Unavailable``."""
        loop = asyncio.get_running_loop()
        async with self.db.writing():
            try:
                done = self._at_once(work)
                if done is not _BUSY:
                    return done
                if self._thread is None:
                    self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox-sqlite")
                return await loop.run_in_executor(self._thread, self._waiting, work)
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc

    async def read(self, sql: str, args: tuple) -> Any:
        """The first row of one SELECT (or None), in autocommit on the event loop's
        connection: a WAL reader takes no lock and waits for none."""
        try:
            if self._now is None:
                self._now = self._open(0, checkpoints=False)
            return self._now.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    async def _run(self, work: Work) -> list:
        return await self.transaction(functools.partial(_statements, work))

    async def _run_start(self, args: tuple) -> bool:
        return (await self._run([(self._start.sql, [args], False)]))[0] == 1

    async def _run_batch(self, sent: list[tuple], spaced: list[tuple]) -> None:
        await self._run([(self._sent.sql, sent, False), (self._space.sql, spaced, False)])

    async def _run_claim(self, stale: tuple, take: tuple) -> tuple[list, list]:
        work = [(self._stale.sql, [stale], True), (self._take.sql, [take], True)]
        settled, rows = await self._run(work)
        return settled, rows

    async def close(self) -> None:
        now, self._now = self._now, None
        if now is not None:
            now.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._close_now)
            thread.shutdown(wait=False)


_BUSY = object()  # _at_once: another process holds the write lock


def _statements(work: Work, conn: sqlite3.Connection) -> list:
    """Per statement of ``work`` its rows (if wanted; one parameter tuple) or rowcount."""
    out: list = []
    for sql, rows, fetch in work:
        if fetch:
            out.append(conn.execute(sql, rows[0]).fetchall())
        else:
            out.append(conn.executemany(sql, rows).rowcount if rows else 0)
    return out


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
                        self._dsn,
                        timeout=CONNECT_TIMEOUT,
                        command_timeout=COMMAND_TIMEOUT,
                        server_settings=_SETTINGS.get(which),
                    )
                return await work(conn)
            except Exception as exc:  # asyncpg's errors have no one base class
                self._drop(which)
                raise self._failed(exc) from exc
            except BaseException:  # cancelled mid-statement: the connection's state is unknown
                self._drop(which)
                raise

    def _drop(self, which: str) -> None:
        conn = self._conns.pop(which, None)
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _run_start(self, args: tuple) -> bool:
        async def mark(conn) -> bool:
            return await conn.execute(self._start.sql, *args) == "UPDATE 1"

        return await self._run("mark", mark)

    async def _run_claim(self, stale: tuple, take: tuple) -> tuple[list, list]:
        async def claim(conn) -> tuple[list, list]:
            async with conn.transaction():
                return await conn.fetch(self._stale.sql, *stale), await conn.fetch(
                    self._take.sql, *take
                )

        return await self._run("batch", claim)

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
    """The direct path for ``db`` (one per database, closed with it); None if not covered."""
    if db not in _direct:
        url = make_url(db.url)
        path = sqlite_file(db.url)
        direct: DirectOutbox | None = None
        if db.is_sqlite and path is not None:
            direct = SQLiteDirect(db, str(path))
        elif db.is_postgres and url.get_driver_name() == "asyncpg":
            direct = _Postgres(db)
        if direct is not None:
            db.on_dispose(direct.close)
        _direct[db] = direct
    return _direct[db]
