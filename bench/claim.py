"""The outbox claim with a backlog: how long the sender's claim takes on PostgreSQL.

    .venv/bin/python bench/claim.py [--chats 232] [--rows 16] [--pg-url URL]

Builds the outbox a busy minute leaves behind (every chat with a row sent, its head in
flight or held back by the per-chat interval, and the rest of its rows waiting, ids in
time order: thousands of rows waiting for Telegram's 30/s), then runs the claim's two
statements (storage/outbox.py ``claim_statements``) as the sender does: prepared and
planned for their values (``plan_cache_mode = force_custom_plan``, as the sender's
connection is set). Prints the median time of each over 20 runs, rolled back each time,
against a reference in the same run: a primary-key lookup of one outbox row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from common import DEFAULT_PG, postgres_database  # noqa: E402

from storage import outbox  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.types import utcnow  # noqa: E402


def backlog(chats: int, per_chat: int, now) -> list[tuple]:
    """Rows in the order a busy minute writes them: round after round over the chats."""
    rows = []
    for k in range(per_chat):
        for chat in range(chats):
            if k < 2:
                status, not_before = "sent", now - timedelta(seconds=9)
            elif k == 2 and chat % 3 == 0:
                status, not_before = "sending", now
            elif k == 2:  # held back by the per-chat interval
                status, not_before = "pending", now + timedelta(seconds=1)
            else:
                status, not_before = "pending", now - timedelta(seconds=5)
            until = now + timedelta(seconds=60) if status == "sending" else None
            payload = json.dumps({"text": "Câu 2"})
            rows.append(("telegram", str(10_000 + chat), payload, status, 0, not_before, until))
    return rows


def timed(conn, sql: str, args, mode: str, runs: int = 20) -> float:
    """Median ms of one prepared statement under ``mode``, each run rolled back."""
    times = []
    for _ in range(runs):
        with conn.transaction(force_rollback=True):
            conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
            start = time.perf_counter()
            conn.execute(sql, args, prepare=True)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def migrate(url: str) -> None:
    db = Database(url)
    await upgrade(db)
    await db.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chats", type=int, default=232)
    p.add_argument("--rows", type=int, default=16, help="rows per chat")
    p.add_argument("--pg-url", default=os.environ.get("SIPAS_TEST_POSTGRES_URL", DEFAULT_PG))
    args = p.parse_args()

    import psycopg
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.engine import make_url

    with postgres_database(args.pg_url) as url:
        asyncio.run(migrate(url))
        dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        now = utcnow()
        rows = backlog(args.chats, args.rows, now)
        with psycopg.connect(dsn, autocommit=True) as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO outbox (channel, recipient, payload, status, attempts, "
                    "not_before, created_at, claimed_until) "
                    "VALUES (%s, %s, %s::json, %s, %s, %s, now(), %s)",
                    rows,
                )
            conn.execute("ANALYZE outbox")
            params = outbox.claim_params(
                "telegram", now, limit=25, lease=timedelta(seconds=60), owner="bench"
            )
            waiting = sum(1 for r in rows if r[3] != "sent")
            print(f"outbox: {len(rows)} rows, {waiting} open over {args.chats} chats")
            reference = timed(conn, "SELECT payload FROM outbox WHERE id = %s", [1], "auto")
            print(f"  reference, one row by its key: {reference:.2f} ms")
            stale, take = outbox.claim_statements("postgresql")
            for name, stmt in (("settle stale", stale), ("take heads", take)):
                compiled = stmt.compile(dialect=postgresql.dialect())
                values = {k: b.value for k, b in compiled.binds.items()} | params
                ms = timed(conn, str(compiled), values, "force_custom_plan")
                print(f"  {name}: {ms:.2f} ms ({ms / reference:.0f}x the reference)")


if __name__ == "__main__":
    main()
