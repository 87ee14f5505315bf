"""Reminder planning and dispatch at a province's scale.

    .venv/bin/python bench/reminders.py [--officials 3000] [--wards 100] [--db URL]

Builds a province with ``--wards`` wards and ``--officials`` linked officials, adds the
CCHC template for all of them, then times (as of 08:00 on a working day 10 working
days before the annual report): the first planning pass (occurrences, assignments,
reminder rows), a second planning pass (what ``serve`` repeats every 15 minutes:
nothing new), and the dispatch of every due reminder into the outbox. Default database:
a fresh SQLite file; pass a PostgreSQL URL of an empty, throwaway database to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import province_of_officials
from bot.core.app import App
from bot.core.settings import Settings
from bot.services.deadlines import DeadlineSpec, create, template_specs
from bot.services.reminders import dispatch_pass, plan_pass
from scheduler.recurrence import Schedule
from storage import people
from storage.migrate import upgrade

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(UTC)


async def build(app: App, wards: int, officials: int) -> None:
    async with app.db.write() as session:
        ward_units = await province_of_officials(
            session, wards, officials, "zalo", lambda i: f"z{i}", NOW
        )
        for ward in ward_units:
            await people.create_person(
                session,
                name=f"Lãnh đạo {ward.code}",
                role="leader",
                unit_id=ward.id,
                registration_code_hash=f"bench-l-{ward.code}",
                registration_expires_at=NOW,
            )
        base = DeadlineSpec("CCHC", "", Schedule("once"), unit_codes=["B"])
        for spec in template_specs("cchc-quarterly", "CCHC", -5, base):
            _deadline, errors = await create(session, spec, NOW.date())
            assert not errors, errors


async def timed(label: str, coro):
    start = time.perf_counter()
    result = await coro
    print(f"{label:<42} {time.perf_counter() - start:8.3f} s")
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officials", type=int, default=3000)
    parser.add_argument("--wards", type=int, default=100)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="sipas-bench-")
    url = args.db or f"sqlite:///{tmp}/bench.db"
    settings = Settings(
        database_url=url, data_dir=Path(tmp), secret_key="bench-secret", _env_file=None
    )
    app = App(settings, clock=lambda: NOW)
    try:
        await upgrade(app.db)
        print(
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {app.db.dialect}"
        )
        print(f"{args.officials} officials in {args.wards} wards, CCHC template (4 deadlines)")
        await timed("setup", build(app, args.wards, args.officials))
        planned, _ = await timed("plan pass 1 (rows written)", plan_pass(app))
        again, _ = await timed("plan pass 2 (nothing new)", plan_pass(app))
        sent = await timed("dispatch (all due, batches of 200)", dispatch_pass(app))
        print(f"reminder rows: {planned.reminders} then {again.reminders}; sent {sent.sent}")
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
