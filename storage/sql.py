"""SQL that differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select, text, true
from sqlmodel.ext.asyncio.session import AsyncSession

_BEFORE_COMMIT = "sipas_before_commit"


def before_commit(
    session: AsyncSession, key: str, hook: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    """Have ``hook`` run once in this transaction, just before its commit (by
    ``Database.write``); registering the same ``key`` again changes nothing."""
    session.info.setdefault(_BEFORE_COMMIT, {}).setdefault(key, hook)


async def run_before_commit(session: AsyncSession) -> None:
    """Run (and forget) the transaction's ``before_commit`` hooks, in registration order;
    hooks that these register run after them."""
    while hooks := session.info.pop(_BEFORE_COMMIT, None):
        for hook in hooks.values():
            await hook(session)


def dialect(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``."""
    return session.bind.dialect.name  # type: ignore[union-attr]


def insert(session: AsyncSession, table: Any):
    """An INSERT that supports ``on_conflict_do_nothing/update`` on either database."""
    return dialect_insert(dialect(session), table)


def dialect_insert(name: str, table: Any):
    """``insert`` for the dialect called ``name`` (for statements built without a
    session: storage/step_direct.py)."""
    table = getattr(table, "__table__", table)
    # Imported here: a process on SQLite never loads PostgreSQL's dialect (~60 ms).
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as made
    else:
        from sqlalchemy.dialects.sqlite import insert as made
    return made(table)


def built_once(build: Callable[[AsyncSession], Any]) -> Callable[[AsyncSession], Any]:
    """Decorate a statement builder so it runs once per dialect (the upsert syntax
    differs); later calls return the same statement, whose compiled form SQLAlchemy
    caches. For statements on the hot path, run with bound parameters on the connection.
    """
    built: dict[str, Any] = {}

    def get(session: AsyncSession) -> Any:
        name = dialect(session)
        if name not in built:
            built[name] = build(session)
        return built[name]

    return get


def for_update(session: AsyncSession, stmt, *, skip_locked: bool = False):
    """``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer, so nothing to add."""
    if dialect(session) == "postgresql":
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt


async def plan_for_these_values(session: AsyncSession) -> None:
    """Have PostgreSQL plan each of this transaction's queries for its actual values.

    asyncpg prepares statements, and after a few runs PostgreSQL may switch to a generic
    plan that cannot see that ``path LIKE '/1/%'`` covers the whole province or that the
    date range is a year: it then walks the rollups a ward at a time (19 ms instead of 5
    ms for ``/quota``). Reports call this first; the cost is one round trip.
    """
    if dialect(session) == "postgresql":
        await session.exec(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def planning_later_queries_for_their_values(session: AsyncSession, stmt):
    """``stmt`` (a SELECT) made to do what ``plan_for_these_values`` does as it runs, on
    PostgreSQL, instead of in a round trip of its own: joined to a one-row
    ``set_config('plan_cache_mode', 'force_custom_plan', true)``, so the transaction's
    later queries are planned for their actual values. ``stmt`` itself is planned as
    usual (meant for a first query on small tables, where a generic plan is as good, and
    whose rows, if there are none, leave nothing else to read). Unchanged on SQLite.
    """
    if dialect(session) != "postgresql":
        return stmt
    plan = select(
        func.set_config("plan_cache_mode", "force_custom_plan", true()).label("plan_cache_mode")
    ).subquery("custom_plans")
    return stmt.join(plan, true())


async def insert_new(session, model, rows: list[dict], unique: list[str]) -> int:
    """Insert ``rows`` in one statement, skipping those whose ``unique`` key exists (written
    by an earlier pass, or by another process a moment ago); how many were new."""
    stmt = insert(session, model).on_conflict_do_nothing(index_elements=unique)
    result = await session.exec(stmt.returning(model.__table__.c[unique[0]]), params=rows)
    return len(result.all())
