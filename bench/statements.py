"""Statements per update: what one citizen's survey costs the database, step by step.

    .venv/bin/python bench/statements.py [--database sqlite|postgres|both] [--pg-url URL]
        [--show]

Runs the real engine in process (no HTTP) over a fresh, migrated database: one ward, a
survey code, ``/start CODE`` and the presses that complete the quick questionnaire.
Counts every statement the driver is given per step (BEGIN/COMMIT/ROLLBACK included,
since each is a round trip) and the time spent in the step. The counts do not depend on
the machine's load, so they are the figure to compare before and after a change to the
hot path; ``--show`` prints each statement of the completing press.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import bot.services  # noqa: E402, F401  (the effect appliers)
from bot.core import engine  # noqa: E402
from bot.core.app import App  # noqa: E402
from bot.core.settings import Settings  # noqa: E402
from storage import outbox_direct, pg_driver, step_direct  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.builders import Citizen, make_org, new_code  # noqa: E402
from tests.builders import event as make_event  # noqa: E402

driver_run = pg_driver.run
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def _kind(sql: str) -> str:
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    return word


async def measure(url: str, show: bool) -> list[tuple[str, Counter, float, list[str]]]:
    db = Database(url)
    await upgrade(db)
    await db.dispose()
    settings = Settings(
        database_url=url,
        data_dir=Path(tempfile.mkdtemp()),
        secret_key="bench-statements",
        _env_file=None,
    )
    app = App(settings)
    try:
        org = await make_org(app)
        code = await new_code(app, org.ward, procedure=org.procedure)
        seen: list[str] = []

        from sqlalchemy import event

        def _count(conn, cursor, statement, params, context, executemany):
            seen.append(statement)

        for each in app.db.engines:  # on SQLite, a step runs on an engine of its own
            event.listen(each.sync_engine, "before_cursor_execute", _count)
            if not app.db.is_sqlite:  # SQLite's BEGIN is a statement of ours, counted above
                event.listen(each.sync_engine, "begin", lambda conn: seen.append("BEGIN"))
            event.listen(each.sync_engine, "commit", lambda conn: seen.append("COMMIT"))
            event.listen(each.sync_engine, "rollback", lambda conn: seen.append("ROLLBACK"))

        # The statements the step sends straight to asyncpg (storage/pg_driver.py).
        async def _driver_run(session, method, sql, args):
            seen.append(sql)
            return await driver_run(session, method, sql, args)

        pg_driver.run = _driver_run
        _count_direct(seen)

        citizen = Citizen(app, user=f"bench-{uuid.uuid4().hex[:8]}")
        steps: list[tuple[str, Counter, float, list[str]]] = []

        async def step(label: str, ev) -> list[dict]:
            seen.clear()
            t0 = time.perf_counter()
            await engine.handle(app, ev)
            elapsed = time.perf_counter() - t0
            statements = list(seen)
            steps.append((label, Counter(_kind(s) for s in statements), elapsed, statements))
            return await citizen.inbox()  # the replies, read outside the count

        user = citizen.user
        replies = await step("/start CODE", make_event(user, text=f"/start {code}", channel="test"))
        presses = 0
        while presses < 20:
            buttons = [b for m in replies for b in m.get("buttons", [])]
            if not buttons:
                break
            choice = buttons[0]
            presses += 1
            press = make_event(user, payload=choice["payload"], channel="test")
            replies = await step(f"press #{presses}", press)
        return steps
    finally:
        pg_driver.run = driver_run
        for cls, name, real in _REAL:
            setattr(cls, name, real)
        await app.close()


_REAL = [
    (step_direct._Postgres, "_run", step_direct._Postgres._run),
    (outbox_direct.SQLiteDirect, "read", outbox_direct.SQLiteDirect.read),
    (outbox_direct.SQLiteDirect, "transaction", outbox_direct.SQLiteDirect.transaction),
]


def _count_direct(seen: list[str]) -> None:
    """Count the direct path's statements too (storage/step_direct.py): on PostgreSQL
    each is one autocommit statement; on SQLite its write is BEGIN … COMMIT."""
    pg_run, read, transaction = (real for _, _, real in _REAL)

    async def run(self, method, sql, args):
        seen.append(sql)
        return await pg_run(self, method, sql, args)

    async def sqlite_read(self, sql, args):
        seen.append(sql)
        return await read(self, sql, args)

    class Counted:
        def __init__(self, conn) -> None:
            self.conn = conn

        def execute(self, sql, *args):
            seen.append(sql)
            return self.conn.execute(sql, *args)

        def executemany(self, sql, rows):
            seen.append(sql)
            return self.conn.executemany(sql, rows)

    async def sqlite_transaction(self, work):
        seen.append("BEGIN")
        try:
            return await transaction(self, lambda conn: work(Counted(conn)))
        finally:
            seen.append("COMMIT")

    step_direct._Postgres._run = run
    outbox_direct.SQLiteDirect.read = sqlite_read
    outbox_direct.SQLiteDirect.transaction = sqlite_transaction


def report(name: str, steps) -> None:
    print(f"  {name}")
    total = Counter()
    for label, kinds, elapsed, _ in steps:
        n = sum(kinds.values())
        total.update(kinds)
        detail = " ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        print(f"    {label:<14} {n:3d} statements  {elapsed * 1000:6.1f} ms   {detail}")
    print(f"    {'all steps':<14} {sum(total.values()):3d} statements over {len(steps)} updates")


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--pg-url", default=os.environ.get("SIPAS_TEST_POSTGRES_URL", DEFAULT_PG))
    p.add_argument("--show", action="store_true", help="print the completing press's SQL")
    args = p.parse_args()
    print("statements per update (engine.handle only; BEGIN, COMMIT count as round trips)")
    if args.database in ("sqlite", "both"):
        path = Path(tempfile.mkdtemp()) / "bench.db"
        steps = await measure(f"sqlite:///{path}", args.show)
        report("sqlite", steps)
        if args.show:
            for s in steps[-1][3]:
                print("      " + " ".join(s.split())[:160])
    if args.database in ("postgres", "both"):
        import psycopg
        from sqlalchemy.engine import make_url

        base = make_url(args.pg_url)
        name = f"sipas_bench_{uuid.uuid4().hex[:8]}"
        admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = base.set(database=name).render_as_string(hide_password=False)
            steps = await measure(url, args.show)
            report("postgres", steps)
            if args.show:
                for s in steps[-1][3]:
                    print("      " + " ".join(s.split())[:160])
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
