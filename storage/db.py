"""Database setup: one async engine, read and write transactions, SQLite tuning.

SQLite is the default and has one writer, so write transactions are serialised in
process and start with ``BEGIN IMMEDIATE`` (a deferred transaction that reads then writes
can fail with SQLITE_BUSY). PostgreSQL takes row locks instead (``FOR UPDATE``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sql import run_before_commit

CONNECT_TIMEOUT = 10  # seconds to open a PostgreSQL connection

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    # The chat step, the rollups and the imports speak asyncpg's own protocol
    # (storage/pg_driver.py, COPY, $n parameters): one driver, whatever the URL says.
    "postgresql+psycopg": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """The URL with the async driver the project runs on: ``sqlite:///x.db`` →
    ``sqlite+aiosqlite:///x.db``; every PostgreSQL URL (``postgresql://``,
    ``+psycopg``, ``+psycopg2``) → ``postgresql+asyncpg://`` on the same server."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class Database:
    """The engine plus the two kinds of transaction the project uses."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        path = sqlite_file(self.url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {"echo": echo}
        if self.is_postgres:
            # No pre-ping: it cost a round trip at every checkout (an empty BEGIN/ROLLBACK
            # per webhook). A connection the server or the network dropped (a restart, an
            # outage) fails its request with a disconnect error instead, and SQLAlchemy
            # then invalidates the whole pool, so one request answers 5xx (webhooks are
            # delivered again) and the next gets a fresh connection: the process still
            # recovers by itself. A bounded connect: an unreachable server fails a request
            # in seconds instead of hanging.
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)
            if make_url(self.url).get_driver_name() == "asyncpg":
                kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # Short write transactions (a chat step) on the loop's thread: storage/sqlite_inline.py.
        self._short_engine: AsyncEngine | None = None
        self._short_sessions = self._sessions
        self._checkpoints = None
        if self.is_sqlite:
            _tune_sqlite(self.engine, busy_ms=10_000)
            if path is not None:
                from storage import sqlite_inline

                inline = make_url(self.url).set(drivername=f"sqlite+{sqlite_inline.DRIVER}")
                self._short_engine = create_async_engine(inline, echo=echo)
                _tune_sqlite(self._short_engine, busy_ms=0)
                self._short_sessions = async_sessionmaker(
                    self._short_engine, class_=AsyncSession, expire_on_commit=False
                )
                self._checkpoints = sqlite_inline.Checkpoints(str(path))
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # Called with each exception the driver raises (metrics count them).
        self.error_listeners: list[Callable[[BaseException], None]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []
        for engine in self.engines:
            event.listen(engine.sync_engine, "handle_error", self._on_error)

    @property
    def engines(self) -> list[AsyncEngine]:
        """Every engine: ``engine``, and on a SQLite file the short transactions' own
        (for listeners that must see every statement)."""
        return [self.engine] + ([self._short_engine] if self._short_engine else [])

    def _on_error(self, context) -> None:
        for listener in self.error_listeners:
            listener(context.original_exception)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite (one writer, no row locks)."""
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        """Whether this is PostgreSQL."""
        return self.dialect == "postgresql"

    @contextlib.asynccontextmanager
    async def write(self, *, short: bool = False) -> AsyncIterator[AsyncSession]:
        """A transaction that writes: committed on success, rolled back on any error.

        ``short``: a few statements on a few rows (a chat step); on SQLite they run on the
        event loop's thread instead of aiosqlite's (storage/sqlite_inline.py). Nothing
        that may run long (an import, a rebuild, a prune) may say so."""
        lock = self._write_lock or contextlib.nullcontext()
        sessions = self._short_sessions if short else self._sessions
        async with lock:
            session = sessions()
            try:
                if self.is_sqlite:
                    await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                yield session
                await run_before_commit(session)  # e.g. the rollup increments, last
                await session.commit()
            except BaseException:
                async with session:  # closed whatever happens (a shielded close)
                    await session.rollback()
                raise
            if self.is_postgres:
                # Committed: closing hands the connection back with nothing to roll back
                # and no I/O, so nothing can cut it short. SQLAlchemy's shielded close
                # (a task of its own) cost ~50 µs of every chat step.
                await session.close()
            else:  # aiosqlite's close goes through its thread: it can be interrupted
                await session.__aexit__(None, None, None)
        if short and self._checkpoints is not None:
            self._checkpoints.committed()

    def committed_short(self) -> None:
        """A short transaction was committed on a connection of its own (storage/
        step_direct.py): counted towards the next WAL checkpoint as ``write`` counts its
        own."""
        if self._checkpoints is not None:
            self._checkpoints.committed()

    def writing(self) -> contextlib.AbstractAsyncContextManager:
        """The in-process writer's turn on SQLite (held by ``write``), for code that writes
        through a connection of its own (storage/outbox_direct.py); nothing elsewhere."""
        return self._write_lock or contextlib.nullcontext()

    def on_dispose(self, close: Callable[[], Awaitable[None]]) -> None:
        """Have ``dispose`` also close a connection opened outside the engine."""
        self._closers.append(close)

    @contextlib.asynccontextmanager
    async def read(self, *, short: bool = False) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (never committed).

        Closing (not rolling back) ends it, so objects loaded in it stay readable.
        ``short``: as for ``write``, a few quick statements (a report over the rollups, as
        a chat command runs it); on SQLite they run on the event loop's thread, which
        saves the hops to aiosqlite's thread (about a millisecond per transaction).
        """
        async with (self._short_sessions if short else self._sessions)() as session:
            yield session

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        """Close every pooled connection (and those registered with ``on_dispose``)."""
        for close in self._closers:
            await close()
        if self._checkpoints is not None:
            await self._checkpoints.wait()
        for engine in self.engines:
            await engine.dispose()


def _tune_sqlite(engine: AsyncEngine, busy_ms: int) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Take transaction control from the driver so BEGIN is ours (see "begin" below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"busy_timeout={busy_ms}",
            "foreign_keys=ON",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
