"""Whether the database takes writes, not only reads (``GET /healthz``).

A read can succeed while every write fails: a SQLite file whose write lock another
process holds, a full disk, a PostgreSQL server that was made read-only or became a
standby. The probe opens a real write transaction, inserts one row and rolls it back,
within a bounded wait, on a connection of its own (not the process's write queue).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from storage.db import Database
from storage.models import AuditLog

BUSY_TIMEOUT_MS = 10_000  # storage.db's PRAGMA busy_timeout, restored after the probe


async def probe_write(db: Database, wait: float) -> None:
    """Raise when a write cannot be done within ``wait`` seconds; writes nothing."""
    millis = max(int(wait * 1000), 1)
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            await conn.exec_driver_sql(f"PRAGMA busy_timeout = {millis}")
            await conn.commit()  # the PRAGMA began a transaction of its own
            conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
        try:
            async with conn.begin() as transaction:
                if db.is_postgres:
                    await conn.exec_driver_sql(f"SET LOCAL lock_timeout = {millis}")
                    await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {millis}")
                row = {"at": datetime.now(UTC), "actor": "healthz", "action": "probe", "detail": {}}
                await conn.execute(insert(AuditLog.__table__).values(**row))
                await transaction.rollback()
        finally:
            if db.is_sqlite:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                await conn.commit()
