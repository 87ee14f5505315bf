"""What the write transaction around a chat step costs, against bare asyncpg.

    .venv/bin/python bench/transaction.py [--pg-url URL] [--rounds 5] [--n 2000]

A button press on PostgreSQL is BEGIN, two statements on asyncpg (storage/pg_driver.py)
and COMMIT, inside ``Database.write(short=True)``: an AsyncSession, a pooled connection,
SQLAlchemy's commit and close. This runs that transaction with two trivial statements,
the same on an AsyncConnection without an ORM session, through an asyncpg pool, and on
one bare asyncpg connection (the reference), in alternating rounds in one process, and
prints the CPU and wall time per transaction of each. The differences are what the
session layer and the pool cost every update.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from common import DEFAULT_PG, machine, postgres_database  # noqa: E402

from storage import pg_driver  # noqa: E402
from storage.db import Database  # noqa: E402


async def measure(run, n: int) -> tuple[float, float]:
    """CPU and wall microseconds per call of ``run`` over ``n`` calls."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        await run()
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def main(args) -> None:
    import asyncpg

    print(f"machine: {machine()}")
    with postgres_database(args.pg_url or DEFAULT_PG) as url:
        db = Database(url)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        raw = await asyncpg.connect(dsn)

        async def ours() -> None:
            async with db.write(short=True) as session:
                await pg_driver.run(session, "fetchrow", "SELECT 1", [])
                await pg_driver.run(session, "fetchrow", "SELECT 2", [])

        async def connection() -> None:  # what a step without an ORM session would cost
            async with db.engine.connect() as conn:
                held = await conn.get_raw_connection()
                adapted, driver = held.dbapi_connection, held.driver_connection
                async with adapted._execute_mutex:
                    await adapted._start_transaction()
                    await driver.fetchrow("SELECT 1")
                    await driver.fetchrow("SELECT 2")
                await conn.commit()

        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)

        async def pooled() -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetchrow("SELECT 1")
                await conn.fetchrow("SELECT 2")

        async def bare() -> None:
            async with raw.transaction():
                await raw.fetchrow("SELECT 1")
                await raw.fetchrow("SELECT 2")

        runs = {"ours": ours, "connection": connection, "pooled": pooled, "bare": bare}
        for run in runs.values():  # warm: connections, prepared statements
            await measure(run, 200)
        figures: dict[str, list[tuple[float, float]]] = {key: [] for key in runs}
        for _ in range(args.rounds):
            for key, run in runs.items():
                figures[key].append(await measure(run, args.n))
        await pool.close()
        await raw.close()
        await db.dispose()
    labels = {
        "ours": "Database.write(short=True), 2 driver statements",
        "connection": "an AsyncConnection (no ORM session), the same",
        "pooled": "an asyncpg pool's transaction, 2 statements",
        "bare": "bare asyncpg transaction, 2 statements (reference)",
    }
    median = {k: statistics.median(c for c, _w in v) for k, v in figures.items()}
    for key, label in labels.items():
        cpu = median[key]
        wall = statistics.median(w for _c, w in figures[key])
        print(
            f"  {label:<52} CPU {cpu:6.0f} µs  wall {wall:6.0f} µs per transaction"
            f"  ({min(c for c, _ in figures[key]):.0f}–{max(c for c, _ in figures[key]):.0f})"
        )
    print(
        f"  the session layer: {median['ours'] - median['bare']:.0f} µs of CPU per transaction, "
        f"{median['ours'] / median['bare']:.2f}× the reference (medians of {args.rounds} "
        f"rounds of {args.n})"
    )


def parse(argv: list[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg-url", help="PostgreSQL server to create a throwaway database on")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--n", type=int, default=2000, help="transactions per round")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
