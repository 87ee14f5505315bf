"""Which serving processes are alive, so the rows of a killed one are released at once.

Each serving process holds a lock named by its instance id for as long as it lives,
and the operating system or the database drops it when the process dies (even by
``kill -9``): on PostgreSQL a session-level advisory lock on a connection kept for the
purpose, on SQLite an exclusive ``flock`` on a small file beside the database. Another
process tells a live owner from a dead one by trying that lock: taken at once means
its owner is gone.

A lock wrongly judged free (the PostgreSQL connection of a live process dropped) can
only delay a message, never send one twice: a released row the live owner still holds
fails its ``start_sending`` check, and a row it is sending is settled as unknown.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, sqlite_file

try:
    import fcntl
except ImportError:  # Windows: no flock; rows wait for their lease as before
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


def _pg_key(instance_id: str) -> int:
    """The advisory-lock key (a signed 64-bit number) of an instance id."""
    digest = hashlib.sha256(b"sipas-instance\x00" + instance_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_dir(db: Database) -> Path | None:
    path = sqlite_file(db.url)
    return None if path is None else path.with_name(path.name + ".instances")


class InstanceLock:
    """The lock a serving process holds while it lives (``hold``/``release``)."""

    def __init__(self, db: Database, instance_id: str) -> None:
        self.db = db
        self.instance_id = instance_id
        self._conn: AsyncConnection | None = None
        self._fd: int | None = None

    async def hold(self) -> bool:
        """Take this process's lock; False where no lock can be had (rows then wait
        for their lease, as before)."""
        if self.db.is_postgres:
            self._conn = await self.db.engine.connect()
            key = _pg_key(self.instance_id)
            await self._conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            await self._conn.commit()
            return True
        folder = _lock_dir(self.db)
        if folder is None or fcntl is None:
            return False
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{self.instance_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fd = fd
        return True

    async def release(self) -> None:
        """Give the lock up (at a clean stop)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
        if self._fd is not None:
            folder = _lock_dir(self.db)
            with contextlib.suppress(OSError):
                (folder / f"{self.instance_id}.lock").unlink()
            os.close(self._fd)
            self._fd = None


async def gone(db: Database, instance_ids: set[str]) -> set[str]:
    """The instances among ``instance_ids`` whose process is no longer alive.

    An instance that never held a lock (a command-line run, or no lock possible) is
    not judged: it is never in the answer on SQLite without its file.
    """
    if not instance_ids:
        return set()
    if db.is_postgres:
        dead = set()
        async with db.engine.connect() as conn:
            for instance in sorted(instance_ids):
                key = _pg_key(instance)
                free = (
                    await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
                ).scalar_one()
                if free:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    dead.add(instance)
            await conn.commit()
        return dead
    folder = _lock_dir(db)
    if folder is None or fcntl is None:
        return set()
    dead = set()
    for instance in instance_ids:
        path = folder / f"{instance}.lock"
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # never held one (or removed at a clean stop): its lease decides
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # alive
        finally:
            os.close(fd)
        dead.add(instance)
        with contextlib.suppress(OSError):
            path.unlink()
    return dead


async def any_alive(db: Database) -> bool:
    """Whether some serving process holds its lock now (a restore must wait)."""
    if db.is_postgres:
        stmt = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        async with db.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one() > 0
    folder = _lock_dir(db)
    if folder is None or fcntl is None or not folder.is_dir():
        return False
    names = {p.stem for p in folder.glob("*.lock")}
    return bool(names - await gone(db, names))
