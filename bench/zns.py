"""ZNS: 1,000 dossiers with phone numbers → 1,000 template sends, paced, once each.

    .venv/bin/python bench/zns.py [--database sqlite|postgres] [--dossiers 1000]
        [--rate 20] [--pg-url URL]

On a fresh database: the dossiers are registered through the intake service (each with
its own mobile number, so the cooldown per citizen holds none back), then the real ZNS
sender (``OutboxSender`` + ``ZnsTransport``, real httpx) sends them to the fake ZNS of
``tests/fake_zns.py`` on 127.0.0.1 at ``--rate`` messages per second. Printed: wall
time, the achieved rate against the set one (the highest count of arrivals in any
sliding second, measured at the fake server), duplicates (the same tracking id or
number sent twice), losses, and how many numbers are still stored in clear (the
database grepped for every number, as digits) or encrypted after the last send.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text

import bot.services  # noqa: F401
from bench.common import DEFAULT_PG, machine, postgres_database
from bot.channels.zalo import zns_service
from bot.core.app import App
from bot.core.outbox_sender import OutboxSender
from bot.core.settings import Settings
from bot.services import intake
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Outbox, ZnsPhone, metadata
from tests.builders import make_org
from tests.fake_zalo import FakeZalo
from tests.zns_world import INVITE, INVITE_PARAMS


def phone(i: int) -> str:
    return f"849{i:08d}"


def max_per_second(times: list[float]) -> int:
    """The most arrivals within any one second."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def stored_text(app: App, url: str) -> bytes:
    if url.startswith("sqlite"):
        await app.db.dispose()
        return await asyncio.to_thread(Path(url.split("///", 1)[1]).read_bytes)
    chunks = []
    async with app.db.read() as session:
        for table in metadata.sorted_tables:
            rows = await session.exec(text(f'SELECT CAST(t AS text) FROM "{table.name}" t'))
            chunks += [str(r[0]) for r in rows]
    return "\n".join(chunks).encode()


async def run(url: str, n: int, rate: float) -> None:
    db = Database(url)
    await upgrade(db)
    await db.dispose()
    async with FakeZalo() as fake:
        fake.add_template(INVITE, INVITE_PARAMS)
        fake.zns_daily_quota = n + 10
        access, refresh = fake.issue_pair()
        settings = Settings(
            _env_file=None,
            database_url=url,
            data_dir=Path(tempfile.mkdtemp()),
            secret_key="bench-secret-key",
            zalo_app_id=fake.app_id,
            zalo_app_secret=fake.app_secret,
            zalo_api_base=fake.api_base,
            zalo_oauth_base=fake.oauth_base,
            zalo_access_token=access,
            zalo_refresh_token=refresh,
            zns_enabled=True,
            zns_api_base=fake.zns_base,
            zns_invite_template_id=INVITE,
            zns_daily_cap=n + 10,
            zns_rate=rate,
            invite_hours="00:00-23:59",
        )
        app = App(settings, clock=lambda: datetime.now(UTC))
        try:
            await make_org(app)
            start = time.perf_counter()
            async with app.db.write() as session:
                lookups = intake.Lookups()
                for i in range(n):
                    data = intake.DossierInput(
                        f"B-{i:06d}", "P.W1", "T-HT-01", datetime.now(UTC), citizen_phone=phone(i)
                    )
                    await intake.register(app, session, data, lookups)
            queued = time.perf_counter() - start
            async with zns_service.open_zns(app) as zns:
                sender = OutboxSender(app, zns.transport, zns_service.limits(app))
                stop = asyncio.Event()
                task = asyncio.create_task(sender.run_forever(stop, idle=0.05))
                sending = time.perf_counter()
                deadline = n / rate * 3 + 30
                while len(fake.zns_sent) < n and time.perf_counter() - sending < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.5)  # anything more would show up as a duplicate
                stop.set()
                await task
                sent_wall = time.perf_counter() - sending
            async with app.db.read() as session:
                open_rows = (
                    await session.exec(
                        select(func.count())
                        .select_from(Outbox)
                        .where(Outbox.channel == "zns", Outbox.status != "sent")
                    )
                ).scalar_one()
                encrypted = (
                    await session.exec(select(func.count()).select_from(ZnsPhone))
                ).scalar_one()
            blob = await stored_text(app, url)
        finally:
            await app.close()
    arrivals = sorted(s.at for s in fake.zns_sent)
    trackings = Counter(s.tracking_id for s in fake.zns_sent)
    numbers = Counter(s.phone for s in fake.zns_sent)
    duplicates = sum(c - 1 for c in trackings.values()) + sum(c - 1 for c in numbers.values())
    clear = sum(1 for i in range(n) if phone(i).encode() in blob or phone(i)[2:].encode() in blob)
    achieved = len(arrivals) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    print(f"machine: {machine()}")
    print(f"database: {url.split(':', 1)[0]}  dossiers: {n}  set rate: {rate:g}/s")
    print(f"queued {n} invitations in {queued:.2f} s")
    print(
        f"sent {len(fake.zns_sent)} in {sent_wall:.1f} s: {achieved:.1f}/s on average, "
        f"at most {max_per_second(arrivals)} in any second (set: {rate:g})"
    )
    print(f"duplicates: {duplicates}  lost: {n - len(set(trackings))}  rows not sent: {open_rows}")
    print(f"numbers in clear in the database: {clear}  numbers still stored encrypted: {encrypted}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            await run(f"sqlite:///{directory}/bench.db", args.dossiers, args.rate)
    else:
        with postgres_database(args.pg_url) as url:
            await run(url, args.dossiers, args.rate)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
