"""Shared helpers for the benchmarks: the machine they ran on, timing, throwaway databases."""

from __future__ import annotations

import os
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import contextmanager

from sqlalchemy.engine import make_url

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def machine() -> str:
    """One line naming the machine: CPU model, cores, memory, Python."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(line.split()[1] for line in fh if line.startswith("MemTotal")))
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{model} · {os.cpu_count()} cores · {mem} · Python {platform.python_version()} · {platform.system()}"


async def timed(fn: Callable[[], Awaitable[object]], repeat: int = 3) -> tuple[float, object]:
    """Median wall time in seconds of ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


@contextmanager
def postgres_database(url: str):
    """A fresh PostgreSQL database next to ``url``'s, dropped afterwards; yields its URL."""
    import psycopg

    base = make_url(url)
    name = f"sipas_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sync_dsn(url: str) -> str:
    """A psycopg (libpq) connection string for a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def province_of_officials(session, wards: int, officials: int, channel: str, chat_of, now):
    """Province ``B`` with ``wards`` wards and ``officials`` officials spread over them,
    each linked to ``channel`` with the chat id ``chat_of(i)``; returns the wards."""
    from storage import people, units

    province = await units.create_unit(session, "B", "Tỉnh Đo Lường", "province")
    ward_units = [
        await units.create_unit(session, f"B.W{i:03d}", f"Phường {i}", "ward", province)
        for i in range(wards)
    ]
    for i in range(officials):
        person = await people.create_person(
            session,
            name=f"Cán bộ {i:05d}",
            role="official",
            unit_id=ward_units[i % wards].id,
            registration_code_hash=f"bench-{i}",
            registration_expires_at=now,
        )
        await people.link_channel(session, person.id, channel, chat_of(i), f"h{channel}{i}", now)
    return ward_units
