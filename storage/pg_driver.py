"""The chat step's few statements straight on asyncpg, inside the session's transaction.

A statement sent through SQLAlchemy costs ~100 µs of Python on top of the driver's own
work (execution context, greenlet hop, result wrapping). For the three or four
statements of every button press that was about a fifth of the server's time per update
on PostgreSQL. ``DriverStatement`` compiles a Core statement once (SQLAlchemy still
writes the SQL, from the models) and runs it with asyncpg's own prepared-statement cache
on the connection the session holds, in the same transaction: SQLAlchemy commits or
rolls it back as before.

Only for statements whose parameters and result columns need no conversion beyond
what the bind processors do (applied here) and asyncpg's codecs give back (JSON already
decoded by the codec SQLAlchemy installs, ``timestamptz`` as aware UTC datetimes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession


class DriverStatement:
    """A Core statement built by ``build()`` on first use, run on asyncpg directly."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._sql: str | None = None
        self._order: tuple[tuple[str, Callable[[Any], Any] | None], ...] = ()

    def _compile(self, session: AsyncSession) -> None:
        dialect = session.bind.dialect  # type: ignore[union-attr]
        compiled = self._build().compile(dialect=dialect)
        order = []
        for name in compiled.positiontup or ():
            type_ = compiled.binds[name].type
            order.append((name, type_.dialect_impl(dialect).bind_processor(dialect)))
        self._sql, self._order = compiled.string, tuple(order)

    def args(self, session: AsyncSession, params: dict[str, Any]) -> tuple[str, list]:
        """The SQL text and the positional arguments for ``params``."""
        if self._sql is None:
            self._compile(session)
        values = [
            params[name] if process is None else process(params[name])
            for name, process in self._order
        ]
        return self._sql, values  # type: ignore[return-value]

    async def fetchrow(self, session: AsyncSession, params: dict[str, Any]):
        """Run it; the first row as asyncpg gives it (a ``Record``), or None."""
        sql, values = self.args(session, params)
        return await run(session, "fetchrow", sql, values)


async def run(session: AsyncSession, method: str, sql: str, args: Sequence[Any]):
    """``asyncpg.Connection.<method>(sql, *args)`` in the session's transaction (begun
    here if no statement has begun it yet). An error goes through SQLAlchemy's own
    handling, as for its statements: raised as SQLAlchemy's exception, seen by the
    ``handle_error`` listeners (the database error metric), and a lost connection
    invalidates the pool, so the next request gets a fresh connection (there is no
    pre-ping: storage/db.py)."""
    conn, adapted, driver = await _held(session)
    try:
        async with adapted._execute_mutex:  # the adapter's own guard, one statement at a time
            if adapted._transaction is None:
                await adapted._start_transaction()
            return await getattr(driver, method)(sql, *args)
    except BaseException as error:  # a cancellation too: SQLAlchemy invalidates then
        await _handled(conn, adapted, error, sql, args)
        raise


async def _handled(conn, adapted, error: BaseException, sql: str, args) -> None:
    """Raise ``error`` the way SQLAlchemy raises a statement's error (nothing when it
    is neither an exception of the driver nor an exit: it is then raised as it is)."""
    dbapi_error: BaseException = error
    if isinstance(error, Exception):
        try:
            adapted._handle_exception(error)  # asyncpg's error → the DBAPI error it maps to
        except Exception as mapped:
            dbapi_error = mapped
    await greenlet_spawn(
        conn.sync_connection._handle_dbapi_exception, dbapi_error, sql, tuple(args), None, None
    )


_HELD = "sipas_pg_driver"  # session.info: (transaction, connection, adapter, driver)


async def _held(session: AsyncSession):
    """The session's connection, its SQLAlchemy adapter and the asyncpg connection under
    it; looked up once per transaction (each lookup is two greenlet hops), since a
    transaction keeps its connection until it ends."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_HELD)
    if held is not None and transaction is not None and held[0] is transaction:
        return held[1:]
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    held = (
        session.sync_session.get_transaction(),
        conn,
        raw.dbapi_connection,
        raw.driver_connection,
    )
    session.info[_HELD] = held
    return held[1:]
